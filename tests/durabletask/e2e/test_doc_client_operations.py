"""Document section "Using the Client": create, schedule, wait (timedelta), query, raise, terminate.

The snippets are the document's; the client points at the test emulator (``http://`` means
plaintext even with ``secure_channel=True``) and the code runs inside an ``async def`` as written.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from durabletask import task
from durabletask.azuremanaged.client import DurableTaskSchedulerClient
from durabletask.client import OrchestrationStatus

from .conftest import Emulator, WorkerFactory
from .doc_code import (
    approval_orchestrator,
    order_processing_orchestrator,
    process_payment,
    send_approval_request,
    ship_order,
    validate_order,
)


@task.orchestrator
def waits_forever(ctx: task.OrchestrationContext, _: object):
    yield ctx.wait_for_external_event("never")


async def test_client_operations(emulator: Emulator, start_worker: WorkerFactory) -> None:
    start_worker(orchestrators=[order_processing_orchestrator, approval_orchestrator, waits_forever],
                 activities=[validate_order, process_payment, ship_order, send_approval_request])
    before = datetime.now(timezone.utc)

    # Create a Client
    client = DurableTaskSchedulerClient(
        host=emulator.endpoint,
        secure_channel=True,
        taskhub="default"
    )

    # Schedule an Orchestration
    instance_id = await client.schedule_new_orchestration(
        orchestrator=order_processing_orchestrator,
        # ADAPTED: the document's placeholder `[...]` (Ellipsis, not JSON) is filled in.
        input={"id": "order-123", "items": ["book"], "total": 99.99, "payment": {"amount": 5},
               "address": "here"}
    )
    print(f"Started orchestration: {instance_id}")

    # Wait for Completion
    result = await client.wait_for_orchestration_completion(
        instance_id,
        timeout=timedelta(seconds=60)
    )
    print(f"Status: {result.runtime_status}")
    print(f"Output: {result.serialized_output}")
    assert result.runtime_status == OrchestrationStatus.COMPLETED
    assert result.get_output()["transaction_id"] == "txn_5"

    # Query Status
    metadata = await client.get_orchestration_metadata(instance_id)
    print(f"Instance ID: {metadata.instance_id}")
    print(f"Status: {metadata.runtime_status}")
    print(f"Created: {metadata.created_at}")
    print(f"Last Updated: {metadata.last_updated_at}")
    assert metadata.instance_id == instance_id
    assert metadata.runtime_status == OrchestrationStatus.COMPLETED
    created = metadata.created_at.astimezone(timezone.utc)
    assert before - timedelta(seconds=5) <= created <= metadata.last_updated_at.astimezone(timezone.utc)
    assert metadata.serialized_output is None  # metadata only, no payloads

    # Raise an Event
    approval_id = await client.schedule_new_orchestration(approval_orchestrator, input={"id": 1})
    await client.wait_for_orchestration_start(approval_id, timeout=30)
    await client.raise_orchestration_event(
        approval_id,
        event_name="ApprovalReceived",
        data={"approved": True, "approved_by": "manager@example.com"}
    )
    approved = await client.wait_for_orchestration_completion(approval_id, timeout=timedelta(seconds=30))
    assert approved.get_output() == {"approved": True}

    # Terminate an Orchestration
    doomed = await client.schedule_new_orchestration(waits_forever)
    await client.wait_for_orchestration_start(doomed, timeout=30)
    await client.terminate_orchestration(doomed, reason="Cancelled by user")
    ended = await client.wait_for_orchestration_completion(doomed, timeout=timedelta(seconds=30))
    assert ended.runtime_status == OrchestrationStatus.TERMINATED
    assert ended.get_output() == "Cancelled by user"
    client.close()
