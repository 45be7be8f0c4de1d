"""Activity work items: results, failures, unknown names, async activities, shutdown hand-back."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest

from durabletask import task
from durabletask.grpc_options import GrpcWorkerResiliencyOptions
from durabletask.worker import ConcurrencyOptions, TaskHubGrpcWorker

from .conftest import SidecarServer, activity_item

FAST = GrpcWorkerResiliencyOptions(reconnect_backoff_base_seconds=0.05, reconnect_backoff_cap_seconds=0.2)


def worker_for(sidecar: SidecarServer, *activities: object, **kw: object) -> TaskHubGrpcWorker:
    worker = TaskHubGrpcWorker(host_address=sidecar.address, resiliency_options=FAST, **kw)  # type: ignore[arg-type]
    for fn in activities:
        worker.add_activity(fn)  # type: ignore[arg-type]
    return worker


def test_sync_activity_result_and_context(sidecar: SidecarServer) -> None:
    seen = {}

    def greet(ctx: task.ActivityContext, name: str) -> str:
        seen["ctx"] = (ctx.orchestration_id, ctx.task_id)
        return f"Hello {name}!"

    with worker_for(sidecar, greet) as worker:
        worker.start()
        sidecar.servicer.items.put(activity_item("greet", json.dumps("Tokyo"), task_id=4, token="tok-4"))
        sidecar.servicer.wait_for(lambda: len(sidecar.servicer.activity_completions) == 1)
    resp = sidecar.servicer.activity_completions[0]
    assert json.loads(resp.result.value) == "Hello Tokyo!"
    assert resp.taskId == 4 and resp.instanceId == "inst" and resp.completionToken == "tok-4"
    assert not resp.HasField("failureDetails")
    assert seen["ctx"] == ("inst", 4)


def test_none_result_and_no_input(sidecar: SidecarServer) -> None:
    def nothing(ctx: task.ActivityContext, value: object) -> None:
        assert value is None

    with worker_for(sidecar, nothing) as worker:
        worker.start()
        sidecar.servicer.items.put(activity_item("nothing"))
        sidecar.servicer.wait_for(lambda: len(sidecar.servicer.activity_completions) == 1)
    resp = sidecar.servicer.activity_completions[0]
    assert not resp.HasField("result") and not resp.HasField("failureDetails")


def test_failing_activity_reports_qualified_error(sidecar: SidecarServer) -> None:
    def risky(ctx: task.ActivityContext, data: dict) -> dict:
        raise ValueError("Missing required field")

    with worker_for(sidecar, risky) as worker:
        worker.start()
        sidecar.servicer.items.put(activity_item("risky", "{}"))
        sidecar.servicer.wait_for(lambda: len(sidecar.servicer.activity_completions) == 1)
    resp = sidecar.servicer.activity_completions[0]
    assert resp.HasField("failureDetails")
    assert resp.failureDetails.errorType == "builtins.ValueError"
    assert resp.failureDetails.errorMessage == "Missing required field"
    assert "risky" in resp.failureDetails.stackTrace.value


def test_unknown_activity_fails_with_clear_message(sidecar: SidecarServer) -> None:
    with worker_for(sidecar) as worker:
        worker.start()
        sidecar.servicer.items.put(activity_item("nope", "1"))
        sidecar.servicer.wait_for(lambda: len(sidecar.servicer.activity_completions) == 1)
    details = sidecar.servicer.activity_completions[0].failureDetails
    assert "nope" in details.errorMessage and "not registered" in details.errorMessage
    assert details.errorType == "durabletask.worker.ActivityNotRegisteredError"  # as published


def test_async_activities_run_concurrently(sidecar: SidecarServer) -> None:
    @task.activity
    async def pay(ctx: task.ActivityContext, payment: dict) -> dict:
        await asyncio.sleep(0.4)
        return {"transaction_id": f"txn_{payment['amount']}", "status": "completed"}

    with worker_for(sidecar, pay) as worker:
        worker.start()
        t0 = time.monotonic()
        for i in range(5):
            sidecar.servicer.items.put(
                activity_item("pay", json.dumps({"amount": i}), task_id=i, token=f"t{i}")
            )
        sidecar.servicer.wait_for(lambda: len(sidecar.servicer.activity_completions) == 5)
        elapsed = time.monotonic() - t0
    assert elapsed < 1.9  # five 0.4 s activities overlapped (2.0 s one after another)
    results = sorted(
        json.loads(r.result.value)["transaction_id"] for r in sidecar.servicer.activity_completions
    )
    assert results == [f"txn_{i}" for i in range(5)]


def test_async_activity_failure(sidecar: SidecarServer) -> None:
    async def boom(ctx: task.ActivityContext, _: object) -> None:
        await asyncio.sleep(0)
        raise KeyError("x")

    with worker_for(sidecar, boom) as worker:
        worker.start()
        sidecar.servicer.items.put(activity_item("boom"))
        sidecar.servicer.wait_for(lambda: len(sidecar.servicer.activity_completions) == 1)
    assert sidecar.servicer.activity_completions[0].failureDetails.errorType == "builtins.KeyError"


def test_stop_abandons_queued_items_and_finishes_running_ones(sidecar: SidecarServer) -> None:
    started = threading.Event()
    release = threading.Event()

    def slow(ctx: task.ActivityContext, _: object) -> str:
        started.set()
        release.wait(5)
        return "done"

    opts = ConcurrencyOptions(maximum_thread_pool_workers=1)
    worker = worker_for(sidecar, slow, concurrency_options=opts)
    worker.start()
    for i in range(3):
        sidecar.servicer.items.put(activity_item("slow", task_id=i, token=f"t{i}"))
    assert started.wait(5)
    # Let the other two items reach the worker's queue before stopping.
    time.sleep(0.2)
    stopper = threading.Thread(target=worker.stop)
    stopper.start()
    time.sleep(0.1)
    release.set()
    stopper.join(10)
    s = sidecar.servicer
    assert [r.completionToken for r in s.activity_completions] == ["t0"]
    assert sorted(s.abandoned) == [("activity", "t1"), ("activity", "t2")]


def test_exception_properties_provider(sidecar: SidecarServer) -> None:
    def risky(ctx: task.ActivityContext, _: object) -> None:
        raise RuntimeError("bad")

    def provider(exc: BaseException) -> dict:
        return {"kind": type(exc).__name__, "retry": False}

    with worker_for(sidecar, risky, exception_properties_provider=provider) as worker:
        worker.start()
        sidecar.servicer.items.put(activity_item("risky"))
        sidecar.servicer.wait_for(lambda: len(sidecar.servicer.activity_completions) == 1)
    props = sidecar.servicer.activity_completions[0].failureDetails.properties
    assert props["kind"].string_value == "RuntimeError"
    assert props["retry"].bool_value is False


@pytest.mark.parametrize("kind", ["orchestrator", "activity"])
def test_cannot_register_while_running(sidecar: SidecarServer, kind: str) -> None:
    def fn(ctx, x):  # type: ignore[no-untyped-def]
        return x

    with worker_for(sidecar) as worker:
        worker.start()
        with pytest.raises(ValueError, match="running"):
            getattr(worker, f"add_{kind}")(fn)


def test_entity_items_are_handed_back(sidecar: SidecarServer) -> None:
    from durabletask._proto import orchestrator_service_pb2 as pb

    with worker_for(sidecar) as worker:
        worker.start()
        item = pb.WorkItem(completionToken="e1")
        item.entityRequestV2.instanceId = "@counter@a"
        sidecar.servicer.items.put(item)
        sidecar.servicer.wait_for(lambda: len(sidecar.servicer.abandoned) == 1)
    assert sidecar.servicer.abandoned == [("entity", "e1")]
