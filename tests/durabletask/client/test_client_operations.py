"""Every client operation against a recording fake backend, for the sync and the async client.

Checks what goes on the wire (request fields) and how responses and errors come back.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from datetime import datetime, timedelta, timezone

import grpc
import pytest

from durabletask import task
from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask.client import (
    AsyncTaskHubGrpcClient,
    DurableTaskRpcError,
    EntityQuery,
    OrchestrationAlreadyExistsError,
    OrchestrationFailedError,
    OrchestrationNotFoundError,
    OrchestrationQuery,
    OrchestrationState,
    OrchestrationStatus,
    Page,
    PurgeInstancesResult,
    TaskHubGrpcClient,
)
from durabletask.history import HistoryEvent


async def call(value):
    """Await results of the async client; sync results are plain values (maybe awaitable too)."""
    return await value if inspect.isawaitable(value) else value


@pytest.fixture(params=["sync", "async"])
async def client(request, fake_server):
    if request.param == "sync":
        c = TaskHubGrpcClient(host_address=fake_server.address, metadata=[("taskhub", "h1")])
        yield c
        c.close()
    else:
        c = AsyncTaskHubGrpcClient(host_address=fake_server.address, metadata=[("taskhub", "h1")])
        yield c
        await c.close()


def my_orchestrator(ctx, x):
    return x


async def test_schedule_by_function_and_name(client, fake_server):
    iid = await call(client.schedule_new_orchestration(my_orchestrator, input={"a": 1}))
    assert isinstance(iid, str) and len(iid) == 32
    req = fake_server.backend.last("StartInstance")
    assert req.name == "my_orchestrator" and req.instanceId == iid and req.input.value == '{"a": 1}'
    assert not req.HasField("version") and not req.HasField("scheduledStartTimestamp")
    assert fake_server.backend.metadata("StartInstance")[-1]["taskhub"] == "h1"

    start = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    iid2 = await call(
        client.schedule_new_orchestration(
            "named", instance_id="fixed", start_at=start, tags={"k": "v"}, version="2.0"
        )
    )
    assert iid2 == "fixed"
    req = fake_server.backend.last("StartInstance")
    assert req.name == "named" and req.version.value == "2.0" and dict(req.tags) == {"k": "v"}
    assert req.scheduledStartTimestamp.ToDatetime(tzinfo=timezone.utc) == start
    assert not req.HasField("input")
    generated = await call(client.schedule_new_orchestration("named", instance_id=""))
    assert len(generated) == 32


async def test_decorated_orchestrator_name_is_used(client, fake_server):
    @task.orchestrator(name="custom_name")
    def f(ctx, _):
        return None

    await call(client.schedule_new_orchestration(f))
    assert fake_server.backend.last("StartInstance").name == "custom_name"


async def test_default_version_and_reuse_policy(fake_server):
    policy = pb.OrchestrationIdReusePolicy(replaceableStatus=[pb.ORCHESTRATION_STATUS_COMPLETED])
    with TaskHubGrpcClient(host_address=fake_server.address, default_version="1.5") as c:
        c.schedule_new_orchestration("o", reuse_id_policy=policy)
        req = fake_server.backend.last("StartInstance")
        assert req.version.value == "1.5"
        assert list(req.orchestrationIdReusePolicy.replaceableStatus) == [pb.ORCHESTRATION_STATUS_COMPLETED]
        c.schedule_new_orchestration("o", version="9")
        assert fake_server.backend.last("StartInstance").version.value == "9"


async def test_already_exists_is_a_clear_error(client):
    await call(client.schedule_new_orchestration("o", instance_id="dup"))
    with pytest.raises(OrchestrationAlreadyExistsError, match="'dup' already exists") as info:
        await call(client.schedule_new_orchestration("o", instance_id="dup"))
    assert isinstance(info.value, grpc.RpcError) and info.value.code() == grpc.StatusCode.ALREADY_EXISTS


async def test_bad_arguments(client):
    with pytest.raises(TypeError, match="orchestrator"):
        await call(client.schedule_new_orchestration(42))
    with pytest.raises(ValueError, match="instance_id"):
        await call(client.get_orchestration_state(""))
    with pytest.raises(TypeError, match="timeout"):
        await call(client.wait_for_orchestration_completion("x", timeout="soon"))
    with pytest.raises(ValueError, match="negative"):
        await call(client.wait_for_orchestration_completion("x", timeout=-1))
    with pytest.raises(TypeError, match="tags"):
        await call(client.schedule_new_orchestration("o", tags={"k": 1}))
    with pytest.raises(ValueError, match="not both"):
        await call(client.terminate_orchestration("x", output=1, reason="r"))
    with pytest.raises(TypeError, match="OrchestrationStatus"):
        await call(client.list_instance_ids(runtime_status=["COMPLETED"]))


async def test_state_and_metadata(client, fake_server):
    iid = await call(client.schedule_new_orchestration("o", input=[1, 2], tags={"t": "1"}, version="3"))
    assert await call(client.get_orchestration_state("nope")) is None
    state = await call(client.get_orchestration_state(iid))
    assert isinstance(state, OrchestrationState)
    assert state.instance_id == iid and state.name == "o"
    assert state.runtime_status is OrchestrationStatus.PENDING and str(state.runtime_status) == "PENDING"
    assert state.get_input() == [1, 2] and state.serialized_input == "[1, 2]"
    assert state.serialized_output is None and state.failure_details is None
    assert state.version == "3" and state.tags == {"t": "1"} and state.execution_id == "exec-1"
    assert state.created_at.tzinfo is None and abs(
        state.created_at - datetime.now(timezone.utc).replace(tzinfo=None)
    ) < timedelta(minutes=1)
    assert state.completed_at is None and state.scheduled_start_at is None
    meta = await call(client.get_orchestration_metadata(iid))
    assert meta.instance_id == iid and meta.serialized_input is None
    assert fake_server.backend.last("GetInstance").getInputsAndOutputs is False


async def test_wait_for_completion_and_timeouts(client, fake_server):
    iid = await call(client.schedule_new_orchestration("o"))
    with pytest.raises(TimeoutError, match=f"'{iid}' to complete"):
        await call(client.wait_for_orchestration_completion(iid, timeout=timedelta(milliseconds=200)))
    assert fake_server.backend.last("WaitForInstanceCompletion").getInputsAndOutputs is True
    with pytest.raises(TimeoutError, match="to start"):
        await call(client.wait_for_orchestration_start(iid, timeout=0.2))
    assert fake_server.backend.last("WaitForInstanceStart").getInputsAndOutputs is False

    timer = threading.Timer(0.2, fake_server.backend.complete, args=(iid,), kwargs={"output": '"done"'})
    timer.start()
    try:
        state = await call(client.wait_for_orchestration_completion(iid, timeout=timedelta(seconds=10)))
    finally:
        timer.cancel()
    assert state.runtime_status is OrchestrationStatus.COMPLETED and state.get_output() == "done"
    assert state.completed_at is not None
    started = await call(client.wait_for_orchestration_start(iid, timeout=5))
    assert started.runtime_status is OrchestrationStatus.COMPLETED
    assert await call(client.wait_for_orchestration_completion("unknown", timeout=5)) is None


async def test_failed_state_raise_if_failed(client, fake_server):
    iid = await call(client.schedule_new_orchestration("o"))
    failure = pb.TaskFailureDetails(errorType="builtins.ValueError", errorMessage="boom")
    failure.stackTrace.value = "trace"
    failure.innerFailure.errorType = "builtins.KeyError"
    failure.innerFailure.errorMessage = "k"
    fake_server.backend.complete(iid, pb.ORCHESTRATION_STATUS_FAILED, failure=failure)
    state = await call(client.wait_for_orchestration_completion(iid, timeout=5))
    assert state.runtime_status is OrchestrationStatus.FAILED
    fd = state.failure_details
    assert (fd.message, fd.error_type, fd.stack_trace) == ("boom", "builtins.ValueError", "trace")
    assert fd.inner_failure.error_type == "builtins.KeyError"
    with pytest.raises(OrchestrationFailedError, match="boom") as info:
        state.raise_if_failed()
    assert info.value.failure_details is fd


async def test_events_terminate_suspend_resume_rewind_restart(client, fake_server):
    iid = await call(client.schedule_new_orchestration("o"))
    assert await call(client.raise_orchestration_event(iid, "Approval", data={"ok": True})) is None
    req = fake_server.backend.last("RaiseEvent")
    assert (req.instanceId, req.name, req.input.value) == (iid, "Approval", '{"ok": true}')
    await call(client.raise_orchestration_event(iid, "NoData"))
    assert not fake_server.backend.last("RaiseEvent").HasField("input")

    await call(client.suspend_orchestration(iid, reason="pause"))
    assert fake_server.backend.last("SuspendInstance").reason.value == "pause"
    assert (await call(client.get_orchestration_state(iid))).runtime_status is OrchestrationStatus.SUSPENDED
    await call(client.resume_orchestration(iid))
    assert not fake_server.backend.last("ResumeInstance").HasField("reason")

    with pytest.raises(DurableTaskRpcError, match="FAILED_PRECONDITION") as info:
        await call(client.rewind_orchestration(iid, reason="again"))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    await call(client.terminate_orchestration(iid, reason="Cancelled by user"))
    req = fake_server.backend.last("TerminateInstance")
    assert req.output.value == '"Cancelled by user"' and req.recursive is True
    await call(client.terminate_orchestration(iid, output={"x": 1}, recursive=False))
    req = fake_server.backend.last("TerminateInstance")
    assert req.output.value == '{"x": 1}' and req.recursive is False

    assert await call(client.restart_orchestration(iid)) == iid
    new_id = await call(client.restart_orchestration(iid, restart_with_new_instance_id=True))
    assert new_id == "restarted-" + iid
    assert fake_server.backend.last("RestartInstance").restartWithNewInstanceId is True


async def test_unknown_instance_errors_are_clear(client):
    for make in (
        lambda: client.raise_orchestration_event("ghost", "e"),
        lambda: client.terminate_orchestration("ghost"),
        lambda: client.suspend_orchestration("ghost"),
        lambda: client.resume_orchestration("ghost"),
        lambda: client.rewind_orchestration("ghost"),
        lambda: client.restart_orchestration("ghost"),
        lambda: client.get_orchestration_history("ghost"),
    ):
        with pytest.raises(
            OrchestrationNotFoundError, match="No orchestration instance with ID 'ghost'"
        ) as info:
            await call(make())
        assert isinstance(info.value, LookupError) and info.value.code() == grpc.StatusCode.NOT_FOUND


async def test_history(client, fake_server):
    iid = await call(client.schedule_new_orchestration("o", input=5))
    events = await call(client.get_orchestration_history(iid))
    assert [type(e) for e in events] == [HistoryEvent, HistoryEvent]
    assert [e.event_type for e in events] == ["OrchestratorStarted", "ExecutionStarted"]
    assert events[1].name == "o"
    await call(client.get_orchestration_history(iid, execution_id="e1", for_work_item_processing=True))
    req = fake_server.backend.last("StreamInstanceHistory")
    assert req.executionId.value == "e1" and req.forWorkItemProcessing is True


async def test_query_pages_and_get_all(client, fake_server):
    ids = [await call(client.schedule_new_orchestration("o", instance_id=f"q{i}")) for i in range(5)]
    await call(client.schedule_new_orchestration("o", instance_id="other"))
    query = OrchestrationQuery(max_instance_count=2, instance_id_prefix="q", fetch_inputs_and_outputs=True)
    seen, token, pages = [], None, 0
    while True:
        page = await call(client.query_orchestrations(query, continuation_token=token))
        assert isinstance(page, Page) and len(page.items) <= 2
        seen += [s.instance_id for s in page.items]
        pages += 1
        token = page.continuation_token
        if token is None:
            break
    assert seen == ids and pages == 3
    req = fake_server.backend.last("QueryInstances").query
    assert req.maxInstanceCount == 2 and req.instanceIdPrefix.value == "q" and req.fetchInputsAndOutputs

    states = await call(client.get_all_orchestration_states(query))
    assert [s.instance_id for s in states] == ids
    everything = await call(client.get_all_orchestration_states())
    assert len(everything) == 6
    assert fake_server.backend.last("QueryInstances").query.maxInstanceCount == 2**31 - 1

    fake_server.backend.complete("q1")
    done = await call(
        client.get_all_orchestration_states(
            OrchestrationQuery(runtime_status=[OrchestrationStatus.COMPLETED])
        )
    )
    assert [s.instance_id for s in done] == ["q1"]


@pytest.mark.parametrize("token", ["0", ""])
async def test_get_all_stops_on_zero_or_empty_token(client, fake_server, token):
    await call(client.schedule_new_orchestration("o"))
    fake_server.backend.query_token_override = token
    states = await call(client.get_all_orchestration_states(OrchestrationQuery(max_instance_count=10)))
    assert len(states) == 1
    assert len([r for r in fake_server.backend.requests if r[0] == "QueryInstances"]) == 1


async def test_get_all_stops_on_repeated_token(client, fake_server):
    await call(client.schedule_new_orchestration("o"))
    fake_server.backend.query_token_override = "1"
    states = await call(client.get_all_orchestration_states(OrchestrationQuery(max_instance_count=10)))
    # first page (no token) + second page (token "1") which returns the same token "1" again → stop
    assert len([r for r in fake_server.backend.requests if r[0] == "QueryInstances"]) == 2
    assert len(states) == 1


async def test_list_instance_ids_pages(client, fake_server):
    for i in range(3):
        await call(client.schedule_new_orchestration("o", instance_id=f"l{i}"))
        fake_server.backend.complete(f"l{i}")
    page = await call(client.list_instance_ids(page_size=2))
    assert page.items == ["l0", "l1"] and page.continuation_token == "l1"
    page2 = await call(client.list_instance_ids(page_size=2, continuation_token=page.continuation_token))
    assert page2.items == ["l2"] and page2.continuation_token is None
    await call(
        client.list_instance_ids(
            runtime_status=[OrchestrationStatus.COMPLETED],
            completed_time_from=datetime(2020, 1, 1),
            completed_time_to=datetime(2100, 1, 1),
        )
    )
    req = fake_server.backend.last("ListInstanceIds")
    assert list(req.runtimeStatus) == [pb.ORCHESTRATION_STATUS_COMPLETED]
    assert req.completedTimeFrom.ToDatetime() == datetime(2020, 1, 1)


async def test_purge(client, fake_server):
    iid = await call(client.schedule_new_orchestration("o"))
    result = await call(client.purge_orchestration(iid))
    assert result == PurgeInstancesResult(0, None)  # still pending: nothing deleted
    req = fake_server.backend.last("PurgeInstances")
    assert req.instanceId == iid and req.recursive is True and req.isOrchestration is True
    fake_server.backend.complete(iid)
    assert (await call(client.purge_orchestration(iid, recursive=False))).deleted_instance_count == 1
    assert await call(client.get_orchestration_state(iid)) is None

    await call(client.schedule_new_orchestration("o", instance_id="p1"))
    fake_server.backend.complete("p1")
    result = await call(
        client.purge_orchestrations_by(
            created_time_from=datetime(2020, 1, 1),
            runtime_status=[OrchestrationStatus.COMPLETED],
            timeout=timedelta(seconds=30),
        )
    )
    assert result == PurgeInstancesResult(1, True)
    flt = fake_server.backend.last("PurgeInstances").purgeInstanceFilter
    assert flt.timeout.seconds == 30 and list(flt.runtimeStatus) == [pb.ORCHESTRATION_STATUS_COMPLETED]
    assert not flt.HasField("createdTimeTo")


async def test_hello(client, fake_server):
    await call(client.hello())
    assert fake_server.backend.metadata("Hello")[-1]["taskhub"] == "h1"


async def test_entities(client, fake_server):
    await call(client.signal_entity("@Counter@c1", "add", input=5))
    req = fake_server.backend.last("SignalEntity")
    assert req.instanceId == "@counter@c1" and req.name == "add" and req.input.value == "5" and req.requestId
    await call(client.signal_entity("@counter@c2", "add", signal_time=datetime(2030, 1, 1)))
    assert fake_server.backend.last("SignalEntity").scheduledTime.ToDatetime() == datetime(2030, 1, 1)
    meta = await call(client.get_entity("@counter@c1"))
    assert meta.id == "@counter@c1" and meta.get_state() == 5 and meta.get_locked_by() is None
    assert await call(client.get_entity("@counter@none")) is None
    everything = await call(client.get_all_entities(EntityQuery(instance_id_starts_with="@counter")))
    assert sorted(m.id for m in everything) == ["@counter@c1", "@counter@c2"]
    cleaned = await call(client.clean_entity_storage())
    assert (cleaned.empty_entities_removed, cleaned.orphaned_locks_released) == (3, 3)
    with pytest.raises(ValueError, match="@name@key"):
        await call(client.signal_entity("plain", "op"))


async def test_closed_client_refuses_calls(fake_server):
    c = TaskHubGrpcClient(host_address=fake_server.address)
    c.close()
    c.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        c.hello()
    a = AsyncTaskHubGrpcClient(host_address=fake_server.address)
    async with a:
        await a.hello()
    with pytest.raises(RuntimeError, match="closed"):
        await a.hello()


async def test_unreachable_backend_is_a_clear_error():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    expected = f"Cannot reach the Durable Task backend at http://127.0.0.1:{port}"
    with (
        TaskHubGrpcClient(host_address=f"http://127.0.0.1:{port}", secure_channel=True) as c,
        pytest.raises(DurableTaskRpcError, match=expected),
    ):
        c.hello(timeout=2)
    a = AsyncTaskHubGrpcClient(host_address=f"127.0.0.1:{port}")
    try:
        with pytest.raises(DurableTaskRpcError, match="Cannot reach"):
            await a.hello(timeout=2)
    finally:
        await a.close()


async def test_sync_client_in_a_coroutine_blocks_but_works(fake_server):
    """The document's form: a sync client awaited inside asyncio code."""
    client = TaskHubGrpcClient(host_address=fake_server.address)
    try:
        iid = await client.schedule_new_orchestration(my_orchestrator, input="x")
        assert type(iid).__mro__[1] is str and iid == fake_server.backend.last("StartInstance").instanceId
        assert await client.raise_orchestration_event(iid, "e", data=1) is None
        meta = await client.get_orchestration_metadata(iid)
        assert meta.instance_id == iid
        await client.terminate_orchestration(iid, reason="Cancelled by user")
        result = await client.wait_for_orchestration_completion(iid, timeout=timedelta(seconds=5))
        assert result.runtime_status is OrchestrationStatus.TERMINATED
        assert result.serialized_output == '"Cancelled by user"'
        assert isinstance(await client.get_orchestration_history(iid), list)
        assert isinstance(await client.purge_orchestration(iid), PurgeInstancesResult)
        assert isinstance(await client.list_instance_ids(), Page)
        await client.hello()
    finally:
        client.close()
    async with TaskHubGrpcClient(host_address=fake_server.address) as in_async_with:
        await in_async_with.hello()
    with pytest.raises(RuntimeError, match="closed"):
        in_async_with.hello()
    # outside of a running loop, nothing-returning methods return plain None
    result = await asyncio.to_thread(_plain_calls, fake_server.address)
    assert result == (None, True)


def _plain_calls(address):
    with TaskHubGrpcClient(host_address=address) as c:
        iid = c.schedule_new_orchestration("o")
        r = c.raise_orchestration_event(iid, "e")
        return r, iid == str(iid) and hash(iid) == hash(str(iid)) and f"{iid}" == str.__str__(iid)


def test_logging_options(fake_server):
    import logging

    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect()
    log = logging.getLogger("test.client.logging")
    log.setLevel(logging.INFO)
    log.propagate = False
    fmt = logging.Formatter("%(levelname)s %(message)s")
    with TaskHubGrpcClient(
        host_address=fake_server.address,
        logger=log,
        log_handler=handler,
        log_formatter=fmt,
        emit_trace_spans=False,
    ) as c:
        assert c.emit_trace_spans is False
        iid = c.schedule_new_orchestration("o")
    assert any(iid in r.getMessage() for r in records)
    assert handler.formatter is fmt
    log.removeHandler(handler)


class TaggingConverter:
    """Wraps every payload in {"v": ...} so that its use is visible on the wire."""

    def serialize(self, value):
        import json

        return None if value is None else json.dumps({"v": value})

    def deserialize(self, data, expected_type=None):
        import json

        return None if not data else ("decoded", json.loads(data)["v"])


async def test_custom_data_converter(fake_server):
    with TaskHubGrpcClient(host_address=fake_server.address, data_converter=TaggingConverter()) as c:
        iid = c.schedule_new_orchestration("o", input=[1])
        assert fake_server.backend.last("StartInstance").input.value == '{"v": [1]}'
        c.raise_orchestration_event(iid, "e", data="x")
        assert fake_server.backend.last("RaiseEvent").input.value == '{"v": "x"}'
        state = c.get_orchestration_state(iid)
        assert state.get_input() == ("decoded", [1])
    with pytest.raises(TypeError, match="data_converter"):
        TaskHubGrpcClient(host_address=fake_server.address, data_converter=object())
