"""Document section "Complete Example": its ``main()`` run as written, with the host pointed at the
test emulator (``http://127.0.0.1:<port>``) instead of a real scheduler."""

# ruff: noqa: E501
from __future__ import annotations

import json
from datetime import timedelta

from durabletask.azuremanaged.client import DurableTaskSchedulerClient
from durabletask.azuremanaged.worker import DurableTaskSchedulerWorker, DurableTaskSchedulerWorkerOptions

from .conftest import Emulator
from .doc_code import aggregate_results, batch_processing_orchestrator, get_work_items, process_item

HOST = "your-scheduler.centralus.durabletask.io"  # replaced per test by the emulator endpoint
outputs: list[str] = []


# Main function
async def main():
    options = DurableTaskSchedulerWorkerOptions(
        host=HOST,
        secure_channel=True,
        taskhub="default"
    )

    # Start worker in background
    async with DurableTaskSchedulerWorker(
        options=options,
        orchestrators=[batch_processing_orchestrator],
        activities=[get_work_items, process_item, aggregate_results]
    ) as worker:
        await worker.start()

        # Create client and start orchestration
        client = DurableTaskSchedulerClient(
            host=HOST,
            secure_channel=True,
            taskhub="default"
        )

        instance_id = await client.schedule_new_orchestration(
            orchestrator=batch_processing_orchestrator,
            input="batch-001"
        )

        print(f"Started: {instance_id}")

        # Wait for completion
        result = await client.wait_for_orchestration_completion(
            instance_id,
            timeout=timedelta(seconds=60)
        )

        print(f"Result: {result.serialized_output}")
        outputs.append(result.serialized_output)
    return worker


async def test_complete_example_main(emulator: Emulator, capsys) -> None:  # type: ignore[no-untyped-def]
    global HOST
    HOST = emulator.endpoint
    outputs.clear()
    worker = await main()
    assert not worker.is_running  # `async with` stopped it
    [output] = outputs
    assert json.loads(output) == {
        "total": 3,
        "items": [
            {"id": "batch-001-1", "status": "processed"},
            {"id": "batch-001-2", "status": "processed"},
            {"id": "batch-001-3", "status": "processed"},
        ],
    }
    printed = capsys.readouterr().out
    assert "Started: " in printed and "Result: " in printed
