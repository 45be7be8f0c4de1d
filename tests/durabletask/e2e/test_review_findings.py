"""End-to-end checks from a correctness review of the SDK against the emulator."""

from __future__ import annotations

from typing import Any

import pytest

from durabletask import task
from durabletask.client import OrchestrationFailedError, OrchestrationQuery, OrchestrationStatus


def big_result(ctx: task.ActivityContext, size: int) -> str:
    return "x" * size


def big_payload_orchestrator(ctx: task.OrchestrationContext, size: int) -> Any:
    value = yield ctx.call_activity(big_result, input=size)
    return len(value)


def test_payload_under_the_worker_limit_round_trips(client, start_worker) -> None:
    start_worker(orchestrators=[big_payload_orchestrator], activities=[big_result])
    iid = client.schedule_new_orchestration(big_payload_orchestrator, input=1_000_000)
    state = client.wait_for_orchestration_completion(iid, timeout=30)
    assert state is not None and state.runtime_status == OrchestrationStatus.COMPLETED
    assert state.get_output() == 1_000_000


def test_payload_over_the_worker_limit_fails_the_orchestration(client, start_worker) -> None:
    """An activity result too big for the worker's 4 MiB receive limit must end in FAILED with a
    clear message, not redeliver forever (protocol-behaviour section 2)."""
    start_worker(orchestrators=[big_payload_orchestrator], activities=[big_result])
    iid = client.schedule_new_orchestration(big_payload_orchestrator, input=5 * 1024 * 1024)
    state = client.wait_for_orchestration_completion(iid, timeout=20)
    assert state is not None and state.runtime_status == OrchestrationStatus.FAILED
    with pytest.raises(OrchestrationFailedError):
        state.raise_if_failed()


def fails(ctx: task.OrchestrationContext, _: Any) -> Any:
    raise ValueError("bad input")


def test_raise_if_failed_carries_the_failure(client, start_worker) -> None:
    start_worker(orchestrators=[fails])
    iid = client.schedule_new_orchestration(fails)
    state = client.wait_for_orchestration_completion(iid, timeout=10)
    assert state is not None and state.runtime_status == OrchestrationStatus.FAILED
    with pytest.raises(OrchestrationFailedError) as info:
        state.raise_if_failed()
    assert str(info.value) == f"Orchestration '{iid}' failed: bad input"
    assert info.value.failure_details.is_caused_by(ValueError)


def quick(ctx: task.OrchestrationContext, n: int) -> int:
    return n


def test_get_all_orchestration_states_follows_pages(client, start_worker) -> None:
    start_worker(orchestrators=[quick])
    ids = [client.schedule_new_orchestration(quick, input=i, instance_id=f"page-{i}") for i in range(7)]
    for iid in ids:
        client.wait_for_orchestration_completion(iid, timeout=10)
    states = client.get_all_orchestration_states(
        OrchestrationQuery(instance_id_prefix="page-", max_instance_count=3, fetch_inputs_and_outputs=True)
    )
    assert sorted(s.instance_id for s in states) == sorted(ids)
    assert sorted(s.get_output() for s in states) == list(range(7))


def test_published_test_backend_import_path_and_fixture_pattern() -> None:
    """The published SDK documents ``from durabletask.testing.in_memory_backend import
    create_test_backend`` and a fixture that calls ``stop()`` then ``reset()``."""
    from durabletask.client import TaskHubGrpcClient
    from durabletask.testing import InMemoryOrchestrationBackend
    from durabletask.testing.in_memory_backend import create_test_backend
    from durabletask.worker import TaskHubGrpcWorker

    backend = create_test_backend(port=0)
    assert isinstance(backend, InMemoryOrchestrationBackend)
    try:
        address = f"localhost:{backend.port}"
        with TaskHubGrpcWorker(host_address=address) as worker, TaskHubGrpcClient(host_address=address) as c:
            worker.add_orchestrator(quick)
            worker.start()
            iid = c.schedule_new_orchestration(quick, input=5)
            state = c.wait_for_orchestration_completion(iid, timeout=10)
            assert state is not None and state.get_output() == 5
    finally:
        backend.stop()
        backend.reset()  # after stop, as in the published example: must not raise
