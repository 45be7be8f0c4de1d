"""Both clients against the real emulator (real gRPC on a free port) with our worker running orchestrations."""

from __future__ import annotations

import inspect
import threading
from datetime import datetime, timedelta, timezone

import pytest

from durabletask import task
from durabletask.azuremanaged.client import AsyncDurableTaskSchedulerClient, DurableTaskSchedulerClient
from durabletask.client import (
    AsyncTaskHubGrpcClient,
    OrchestrationNotFoundError,
    OrchestrationQuery,
    OrchestrationStatus,
    TaskHubGrpcClient,
)
from durabletask.emulator import EmulatorServer
from durabletask.worker import TaskHubGrpcWorker

FLAKY = {"fail": True}
FLAKY_LOCK = threading.Lock()


def double(ctx: task.ActivityContext, x: int) -> int:
    return x * 2


def flaky(ctx: task.ActivityContext, x: int) -> int:
    with FLAKY_LOCK:
        if FLAKY["fail"]:
            raise ValueError("flaky failed")
    return x


def chain(ctx: task.OrchestrationContext, x: int):
    y = yield ctx.call_activity(double, input=x)
    return y + 1


def approval(ctx: task.OrchestrationContext, _):
    ctx.set_custom_status("waiting")
    data = yield ctx.wait_for_external_event("Approval")
    return {"approved": data}


def uses_flaky(ctx: task.OrchestrationContext, x: int):
    return (yield ctx.call_activity(flaky, input=x))


def child(ctx: task.OrchestrationContext, _):
    return ctx.parent_instance_id


def parent(ctx: task.OrchestrationContext, _):
    return (yield ctx.call_sub_orchestrator(child, instance_id=f"{ctx.instance_id}-child"))


@pytest.fixture(scope="module")
def backend():
    server = EmulatorServer(port=0)
    server.start()
    worker = TaskHubGrpcWorker(host_address=server.address)
    for fn in (chain, approval, uses_flaky, child, parent):
        worker.add_orchestrator(fn)
    worker.add_activity(double)
    worker.add_activity(flaky)
    worker.start()
    try:
        yield server
    finally:
        worker.stop()
        server.stop()


async def call(value):
    return await value if inspect.isawaitable(value) else value


@pytest.fixture(params=["sync", "async"])
async def client(request, backend):
    if request.param == "sync":
        c = TaskHubGrpcClient(host_address=backend.address)
        yield c
        c.close()
    else:
        c = AsyncTaskHubGrpcClient(host_address=backend.address)
        yield c
        await c.close()


WAIT = timedelta(seconds=20)


async def test_hello_and_chain(client):
    await call(client.hello())
    iid = await call(client.schedule_new_orchestration(chain, input=20, tags={"team": "a"}, version="1.0"))
    started = await call(client.wait_for_orchestration_start(iid, timeout=WAIT))
    assert started.runtime_status is not OrchestrationStatus.PENDING
    state = await call(client.wait_for_orchestration_completion(iid, timeout=WAIT))
    assert state.runtime_status is OrchestrationStatus.COMPLETED
    assert state.get_output() == 41 and state.get_input() == 20
    assert state.name == "chain" and state.version == "1.0" and state.tags == {"team": "a"}
    assert state.completed_at is not None and state.completed_at >= state.created_at
    events = await call(client.get_orchestration_history(iid))
    types = [e.event_type for e in events]
    assert (
        types[0] == "OrchestratorStarted" and "TaskScheduled" in types and types[-1] == "ExecutionCompleted"
    )
    assert [e.name for e in events if e.event_type == "TaskScheduled"] == ["double"]


async def test_events_custom_status_suspend_resume(client):
    iid = await call(client.schedule_new_orchestration(approval))
    await call(client.wait_for_orchestration_start(iid, timeout=WAIT))
    meta = await call(client.get_orchestration_metadata(iid))
    assert meta.instance_id == iid and meta.runtime_status in (OrchestrationStatus.RUNNING,)
    await call(client.suspend_orchestration(iid, reason="hold"))
    await call(client.raise_orchestration_event(iid, "Approval", data=True))
    await call(client.resume_orchestration(iid))
    state = await call(client.wait_for_orchestration_completion(iid, timeout=WAIT))
    assert state.get_output() == {"approved": True}
    assert state.get_custom_status() == "waiting"


async def test_terminate_with_reason_and_timeout(client):
    iid = await call(client.schedule_new_orchestration(approval))
    with pytest.raises(TimeoutError):
        await call(client.wait_for_orchestration_completion(iid, timeout=timedelta(milliseconds=300)))
    await call(client.terminate_orchestration(iid, reason="Cancelled by user"))
    state = await call(client.wait_for_orchestration_completion(iid, timeout=WAIT))
    assert state.runtime_status is OrchestrationStatus.TERMINATED
    assert state.get_output() == "Cancelled by user"


async def test_restart_and_purge(client):
    iid = await call(client.schedule_new_orchestration(chain, input=1))
    await call(client.wait_for_orchestration_completion(iid, timeout=WAIT))
    same = await call(client.restart_orchestration(iid))
    assert same == iid
    assert (await call(client.wait_for_orchestration_completion(iid, timeout=WAIT))).get_output() == 3
    other = await call(client.restart_orchestration(iid, restart_with_new_instance_id=True))
    assert other != iid
    for i in (iid, other):
        state = await call(client.wait_for_orchestration_completion(i, timeout=WAIT))
        assert state.get_output() == 3
    result = await call(client.purge_orchestration(iid))
    assert result.deleted_instance_count == 1
    assert await call(client.get_orchestration_state(iid)) is None
    with pytest.raises(OrchestrationNotFoundError):
        await call(client.get_orchestration_history(iid))


async def test_rewind_after_failure(client):
    with FLAKY_LOCK:
        FLAKY["fail"] = True
    iid = await call(client.schedule_new_orchestration(uses_flaky, input=7))
    state = await call(client.wait_for_orchestration_completion(iid, timeout=WAIT))
    assert state.runtime_status is OrchestrationStatus.FAILED
    assert "flaky failed" in state.failure_details.message
    with FLAKY_LOCK:
        FLAKY["fail"] = False
    await call(client.rewind_orchestration(iid, reason="fixed"))
    state = await call(client.wait_for_orchestration_completion(iid, timeout=WAIT))
    assert state.runtime_status is OrchestrationStatus.COMPLETED and state.get_output() == 7


async def test_sub_orchestration_parent_id(client):
    iid = await call(client.schedule_new_orchestration(parent))
    state = await call(client.wait_for_orchestration_completion(iid, timeout=WAIT))
    assert state.get_output() == iid
    child_state = await call(client.get_orchestration_state(f"{iid}-child"))
    assert child_state.parent_instance_id == iid


async def test_unknown_instances(client):
    assert await call(client.get_orchestration_state("no-such-id")) is None
    assert await call(client.get_orchestration_metadata("no-such-id")) is None
    for make in (
        lambda: client.raise_orchestration_event("no-such-id", "e"),
        lambda: client.terminate_orchestration("no-such-id"),
        lambda: client.suspend_orchestration("no-such-id"),
        lambda: client.get_orchestration_history("no-such-id"),
        lambda: client.restart_orchestration("no-such-id"),
        lambda: client.rewind_orchestration("no-such-id"),
    ):
        with pytest.raises(OrchestrationNotFoundError, match="'no-such-id'"):
            await call(make())


async def test_paging_with_query_orchestrations(client):
    prefix = f"page-{type(client).__name__}-"
    ids = [
        await call(client.schedule_new_orchestration(chain, input=i, instance_id=f"{prefix}{i}"))
        for i in range(5)
    ]
    for i in ids:
        await call(client.wait_for_orchestration_completion(i, timeout=WAIT))
    query = OrchestrationQuery(instance_id_prefix=prefix, max_instance_count=2)
    seen, token, pages = [], None, 0
    while True:
        page = await call(client.query_orchestrations(query, continuation_token=token))
        assert len(page.items) <= 2
        seen += [s.instance_id for s in page.items]
        pages += 1
        token = page.continuation_token
        if token is None:
            break
    assert sorted(seen) == sorted(ids) and pages >= 3
    all_states = await call(client.get_all_orchestration_states(query))
    assert sorted(s.instance_id for s in all_states) == sorted(ids)
    completed = await call(
        client.get_all_orchestration_states(
            OrchestrationQuery(
                instance_id_prefix=prefix,
                runtime_status=[OrchestrationStatus.COMPLETED],
                created_time_from=datetime.now(timezone.utc) - timedelta(hours=1),
                fetch_inputs_and_outputs=True,
            )
        )
    )
    assert sorted(s.get_input() for s in completed) == [0, 1, 2, 3, 4]

    listed, token = [], None
    while True:
        page = await call(
            client.list_instance_ids(
                runtime_status=[OrchestrationStatus.COMPLETED], page_size=2, continuation_token=token
            )
        )
        listed += page.items
        token = page.continuation_token
        if token is None:
            break
    assert set(ids) <= set(listed)

    result = await call(
        client.purge_orchestrations_by(
            created_time_from=datetime.now(timezone.utc) - timedelta(hours=1),
            runtime_status=[OrchestrationStatus.COMPLETED],
        )
    )
    assert result.deleted_instance_count >= 5
    assert await call(client.get_orchestration_state(ids[0])) is None


def test_document_quickstart_client_form(backend):
    """The document's client: a sync DTS client used plainly inside asyncio.run(main())."""
    import asyncio

    async def main():
        client = DurableTaskSchedulerClient(
            host_address=f"http://{backend.address}",
            secure_channel=False,
            taskhub="default",
            token_credential=None,
        )
        instance_id = client.schedule_new_orchestration("chain", input=4)
        result = client.wait_for_orchestration_completion(instance_id, timeout=30)
        return result.serialized_output

    assert asyncio.run(main()) == "9"


async def test_document_awaited_forms(backend):
    """The document's ``await client.…`` forms on the same sync DTS client (host=/credential= keywords)."""
    client = DurableTaskSchedulerClient(
        host=f"http://{backend.address}", secure_channel=True, taskhub="default"
    )
    try:
        instance_id = await client.schedule_new_orchestration(
            orchestrator=approval, input={"id": "order-123"}
        )
        await client.wait_for_orchestration_start(instance_id, timeout=timedelta(seconds=20))
        await client.raise_orchestration_event(
            instance_id, event_name="Approval", data={"approved": True, "approved_by": "manager@example.com"}
        )
        result = await client.wait_for_orchestration_completion(instance_id, timeout=timedelta(seconds=60))
        assert str(result.runtime_status) == "COMPLETED"
        assert result.get_output() == {"approved": {"approved": True, "approved_by": "manager@example.com"}}
        metadata = await client.get_orchestration_metadata(instance_id)
        assert metadata.instance_id == instance_id and metadata.created_at <= metadata.last_updated_at
        other = await client.schedule_new_orchestration(orchestrator=approval)
        await client.terminate_orchestration(other, reason="Cancelled by user")
        assert (
            await client.wait_for_orchestration_completion(other)
        ).runtime_status is OrchestrationStatus.TERMINATED
    finally:
        client.close()


async def test_async_dts_client_on_the_emulator(backend):
    async with AsyncDurableTaskSchedulerClient(
        host_address=f"http://{backend.address}", taskhub="default", token_credential=None
    ) as client:
        iid = await client.schedule_new_orchestration(chain, input=5)
        state = await client.wait_for_orchestration_completion(iid, timeout=20)
        assert state.get_output() == 11


def test_unknown_task_hub_is_reported_as_such():
    server = EmulatorServer(port=0, taskhubs=["alpha"])
    server.start()
    try:
        with DurableTaskSchedulerClient(host_address=f"http://{server.address}", taskhub="beta") as client:
            with pytest.raises(Exception, match="has no such task hub: Task hub not found: beta") as info:
                client.get_orchestration_state("x")
            assert not isinstance(info.value, OrchestrationNotFoundError)
        with DurableTaskSchedulerClient(host_address=f"http://{server.address}", taskhub="alpha") as client:
            assert client.get_orchestration_state("x") is None
    finally:
        server.stop()


async def test_entity_calls_report_an_unsupporting_backend_clearly(client):
    from durabletask.client import DurableTaskRpcError

    for make in (
        lambda: client.signal_entity("@counter@k", "add", input=1),
        lambda: client.get_entity("@counter@k"),
        lambda: client.get_all_entities(),
        lambda: client.clean_entity_storage(),
    ):
        with pytest.raises(DurableTaskRpcError, match="does not support") as info:
            await call(make())
        assert info.value.code() is not None and info.value.code().name == "UNIMPLEMENTED"
