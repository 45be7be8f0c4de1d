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


# -- backend behaviour the published worker relies on (protocol-behaviour sections 3 and 9) ---------


def waits_for_go(ctx: task.OrchestrationContext, _: Any) -> Any:
    value = yield ctx.wait_for_external_event("go")
    return value


def test_resume_of_a_running_instance_delivers_no_resumed_event(client, start_worker) -> None:
    """The published worker fails an orchestration that receives executionResumed while it is not
    suspended (trap 3), so the backend must not deliver one."""
    import time

    start_worker(orchestrators=[waits_for_go])
    iid = client.schedule_new_orchestration(waits_for_go)
    client.wait_for_orchestration_start(iid, timeout=10)
    deadline = time.monotonic() + 10
    while client.get_orchestration_state(iid).runtime_status != OrchestrationStatus.RUNNING:  # type: ignore[union-attr]
        assert time.monotonic() < deadline
        time.sleep(0.02)
    import contextlib

    with contextlib.suppress(Exception):  # refusing the call is acceptable too
        client.resume_orchestration(iid, reason="not suspended")
    client.raise_orchestration_event(iid, "go", data=7)
    state = client.wait_for_orchestration_completion(iid, timeout=10)
    assert state is not None and state.runtime_status == OrchestrationStatus.COMPLETED
    kinds = [e.event_type for e in client.get_orchestration_history(iid)]
    assert "ExecutionResumed" not in kinds


def child_fails(ctx: task.OrchestrationContext, _: Any) -> Any:
    raise KeyError("child key")


def parent_of_failing_child(ctx: task.OrchestrationContext, _: Any) -> Any:
    try:
        yield ctx.call_sub_orchestrator(child_fails)
    except task.TaskFailedError as e:
        return {"type": e.details.error_type, "caused_by_key_error": e.details.is_caused_by(KeyError)}
    return None


def test_sub_orchestration_failure_keeps_the_child_error_type(client, start_worker) -> None:
    start_worker(orchestrators=[parent_of_failing_child, child_fails])
    iid = client.schedule_new_orchestration(parent_of_failing_child)
    state = client.wait_for_orchestration_completion(iid, timeout=10)
    assert state is not None and state.runtime_status == OrchestrationStatus.COMPLETED
    assert state.get_output() == {"type": "builtins.KeyError", "caused_by_key_error": True}


def sends_to_nobody(ctx: task.OrchestrationContext, _: Any) -> Any:
    ctx.send_event("no-such-instance", "ping", data=1)
    yield ctx.create_timer(ctx.current_utc_datetime)
    return "sent"


def test_send_event_to_a_missing_instance_is_dropped(client, start_worker) -> None:
    start_worker(orchestrators=[sends_to_nobody])
    iid = client.schedule_new_orchestration(sends_to_nobody)
    state = client.wait_for_orchestration_completion(iid, timeout=10)
    assert state is not None and state.runtime_status == OrchestrationStatus.COMPLETED
    assert client.get_orchestration_state("no-such-instance") is None


def test_raise_event_for_unknown_instance_is_a_clear_not_found(client) -> None:
    import grpc

    with pytest.raises(grpc.RpcError) as info:
        client.raise_orchestration_event("never-created", "go")
    assert info.value.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
    assert "never-created" in str(info.value)


def child_waits(ctx: task.OrchestrationContext, _: Any) -> Any:
    yield ctx.wait_for_external_event("never")


def parent_waits_on_child(ctx: task.OrchestrationContext, _: Any) -> Any:
    yield ctx.call_sub_orchestrator(child_waits, instance_id=f"{ctx.instance_id}-child")


def test_recursive_terminate_reaches_children(client, start_worker) -> None:
    import time

    start_worker(orchestrators=[parent_waits_on_child, child_waits])
    iid = client.schedule_new_orchestration(parent_waits_on_child)
    child = f"{iid}-child"
    deadline = time.monotonic() + 10
    while client.get_orchestration_state(child) is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    client.terminate_orchestration(iid, output="stop")  # recursive=True by default
    parent_state = client.wait_for_orchestration_completion(iid, timeout=10)
    child_state = client.wait_for_orchestration_completion(child, timeout=10)
    assert parent_state is not None and parent_state.runtime_status == OrchestrationStatus.TERMINATED
    assert child_state is not None and child_state.runtime_status == OrchestrationStatus.TERMINATED


def counter_with_events(ctx: task.OrchestrationContext, seen: Any) -> Any:
    seen = list(seen or [])
    value = yield ctx.wait_for_external_event("add")
    seen.append(value)
    if len(seen) < 3:
        ctx.continue_as_new(seen, save_events=True)
        return None
    return seen


def test_continue_as_new_keeps_events_raised_in_between(client, start_worker) -> None:
    start_worker(orchestrators=[counter_with_events])
    iid = client.schedule_new_orchestration(counter_with_events, input=[])
    for i in range(3):
        client.raise_orchestration_event(iid, "add", data=i)
    state = client.wait_for_orchestration_completion(iid, timeout=15)
    assert state is not None and state.runtime_status == OrchestrationStatus.COMPLETED
    assert state.get_output() == [0, 1, 2]


def chunked_timer(ctx: task.OrchestrationContext, _: Any) -> Any:
    from datetime import timedelta

    start = ctx.current_utc_datetime
    yield ctx.create_timer(timedelta(seconds=0.6))
    return (ctx.current_utc_datetime - start).total_seconds()


def test_long_timer_in_chunks_fires_once_at_its_final_time(client, start_worker) -> None:
    """timerFired.fireAt must be the requested fireAt exactly, or chunking never ends (trap 6)."""
    from datetime import timedelta

    start_worker(orchestrators=[chunked_timer], maximum_timer_interval=timedelta(seconds=0.25))
    iid = client.schedule_new_orchestration(chunked_timer)
    state = client.wait_for_orchestration_completion(iid, timeout=15)
    assert state is not None and state.runtime_status == OrchestrationStatus.COMPLETED
    assert state.get_output() >= 0.6
    created = [e for e in client.get_orchestration_history(iid) if e.event_type == "TimerCreated"]
    assert len(created) == 3  # 0.25 + 0.25 + 0.1


def test_query_continuation_tokens_follow_the_rules(client, start_worker, emulator) -> None:
    """Trap 11: continuation tokens are never "0", never repeated, and unset on the last page."""
    import grpc

    from durabletask._proto import orchestrator_service_pb2 as pb
    from durabletask._proto import orchestrator_service_pb2_grpc as pb_grpc

    start_worker(orchestrators=[quick])
    ids = [client.schedule_new_orchestration(quick, input=i, instance_id=f"tok-{i}") for i in range(5)]
    for iid in ids:
        client.wait_for_orchestration_completion(iid, timeout=10)
    with grpc.insecure_channel(emulator.address) as channel:
        stub = pb_grpc.TaskHubSidecarServiceStub(channel)
        seen_ids: list[str] = []
        tokens: list[str] = []
        token = None
        for _ in range(10):
            query = pb.InstanceQuery(maxInstanceCount=2)
            query.instanceIdPrefix.value = "tok-"
            if token is not None:
                query.continuationToken.value = token
            res = stub.QueryInstances(pb.QueryInstancesRequest(query=query))
            seen_ids += [s.instanceId for s in res.orchestrationState]
            if not res.HasField("continuationToken"):
                break
            token = res.continuationToken.value
            assert token and token != "0" and token not in tokens
            tokens.append(token)
        else:
            raise AssertionError("the query never finished")
    assert sorted(seen_ids) == sorted(ids)


def test_starting_an_instance_id_that_is_running_is_already_exists(client, start_worker) -> None:
    import grpc

    start_worker(orchestrators=[waits_for_go])
    client.schedule_new_orchestration(waits_for_go, instance_id="dup")
    with pytest.raises(grpc.RpcError) as info:
        client.schedule_new_orchestration(waits_for_go, instance_id="dup")
    assert info.value.code() == grpc.StatusCode.ALREADY_EXISTS  # type: ignore[attr-defined]
    client.terminate_orchestration("dup")
