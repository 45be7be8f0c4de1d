"""Worker robustness found in a correctness review: bad activity results, odd inputs, completion
calls that cannot be made, and a work-item loop that must never die."""

from __future__ import annotations

import json
import logging
import threading
from types import SimpleNamespace
from typing import Any

import grpc
import pytest

from durabletask import task
from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask._worker_stream import StreamSettings, WorkItemStreamLoop
from durabletask.grpc_options import GrpcWorkerResiliencyOptions
from durabletask.worker import TaskHubGrpcWorker

from .conftest import SidecarServer, activity_item

FAST = GrpcWorkerResiliencyOptions(reconnect_backoff_base_seconds=0.02, reconnect_backoff_cap_seconds=0.05)


def _run_one(sidecar: SidecarServer, fn: Any, value: str | None = None) -> pb.ActivityResponse:
    worker = TaskHubGrpcWorker(host_address=sidecar.address, resiliency_options=FAST)
    worker.add_activity(fn)
    with worker:
        worker.start()
        sidecar.servicer.items.put(activity_item(task.get_name(fn), value))
        sidecar.servicer.wait_for(lambda: len(sidecar.servicer.activity_completions) == 1)
    return sidecar.servicer.activity_completions[0]


def test_non_serializable_activity_result_is_a_clear_failure(sidecar: SidecarServer) -> None:
    def make_lock(ctx: task.ActivityContext, _: Any) -> Any:
        return threading.Lock()

    resp = _run_one(sidecar, make_lock)
    assert not resp.HasField("result")
    assert resp.failureDetails.errorType == "builtins.TypeError"
    assert resp.failureDetails.errorMessage.startswith(
        "The result of activity 'make_lock' (a lock) could not be serialized"
    )


def test_activity_returning_a_coroutine_by_mistake_is_awaited(sidecar: SidecarServer) -> None:
    async def later(value: int) -> int:
        return value + 1

    def not_async(ctx: task.ActivityContext, value: int) -> Any:
        return later(value)  # forgot "async def" on the activity itself

    resp = _run_one(sidecar, not_async, "41")
    assert not resp.HasField("failureDetails"), resp.failureDetails.errorMessage
    assert json.loads(resp.result.value) == 42


def test_activity_input_that_is_not_json_fails_the_activity(sidecar: SidecarServer) -> None:
    def echo(ctx: task.ActivityContext, value: Any) -> Any:
        return value

    resp = _run_one(sidecar, echo, "{not json")
    assert resp.HasField("failureDetails")
    assert resp.failureDetails.errorType.startswith("json.")


def test_completion_on_a_closed_channel_is_logged_not_an_unexpected_error(
    sidecar: SidecarServer, caplog: pytest.LogCaptureFixture
) -> None:
    class ClosedStub:
        def CompleteActivityTask(self, *args: Any, **kwargs: Any) -> None:
            raise ValueError("Cannot invoke RPC on closed channel!")

        def CompleteOrchestratorTask(self, *args: Any, **kwargs: Any) -> None:
            raise ValueError("Cannot invoke RPC on closed channel!")

        def AbandonTaskActivityWorkItem(self, *args: Any, **kwargs: Any) -> None:
            raise ValueError("Cannot invoke RPC on closed channel!")

    worker = TaskHubGrpcWorker(host_address=sidecar.address)
    caplog.set_level(logging.INFO, logger="durabletask.worker")
    worker._complete_activity(pb.ActivityResponse(instanceId="i", taskId=1), ClosedStub())  # type: ignore[arg-type]
    worker._abandon("activity", "tok", ClosedStub())  # type: ignore[arg-type]
    messages = [r.getMessage() for r in caplog.records]
    assert any("Could not complete activity i#1" in m for m in messages), messages
    assert any("Could not abandon" in m for m in messages), messages


def test_stream_loop_survives_a_failing_channel_factory() -> None:
    calls: list[int] = []
    made = threading.Event()

    def factory() -> grpc.Channel:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("credentials not ready")
        made.set()
        return grpc.insecure_channel("127.0.0.1:1")  # nothing listens: Hello fails, loop retries

    settings = StreamSettings(
        SimpleNamespace(reconnect_backoff_base_seconds=0.01, reconnect_backoff_cap_seconds=0.02)
    )
    loop = WorkItemStreamLoop(
        channel_factory=factory,
        owns_channel=True,
        metadata=None,
        request_factory=pb.GetWorkItemsRequest,
        on_item=lambda item, stub: None,
        settings=settings,
        logger=logging.getLogger("durabletask.worker"),
    )
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    try:
        assert made.wait(5), "the loop stopped after the channel factory failed"
        assert thread.is_alive()
    finally:
        loop.stop()
        thread.join(5)
        loop.close_channel()
    assert not thread.is_alive()


def test_items_of_an_ended_stream_still_complete(sidecar: SidecarServer) -> None:
    from .conftest import END_STREAM

    release = threading.Event()
    started = threading.Semaphore(0)

    def slow(ctx: task.ActivityContext, value: int) -> int:
        started.release()
        assert release.wait(5)
        return value * 10

    worker = TaskHubGrpcWorker(host_address=sidecar.address, resiliency_options=FAST)
    worker.add_activity(slow)
    with worker:
        worker.start()
        sidecar.servicer.items.put(activity_item("slow", "1", task_id=1, token="a"))
        sidecar.servicer.items.put(activity_item("slow", "2", task_id=2, token="b"))
        assert started.acquire(timeout=5) and started.acquire(timeout=5)
        sidecar.servicer.items.put(END_STREAM)
        sidecar.servicer.wait_for(lambda: sidecar.servicer.stream_closed >= 1)
        release.set()
        sidecar.servicer.wait_for(lambda: len(sidecar.servicer.activity_completions) == 2)
        assert worker.is_running
    results = sorted(json.loads(r.result.value) for r in sidecar.servicer.activity_completions)
    assert results == [10, 20]


def test_activity_calling_sys_exit_fails_instead_of_never_completing(sidecar: SidecarServer) -> None:
    import sys

    def quits(ctx: task.ActivityContext, _: Any) -> None:
        sys.exit(3)

    resp = _run_one(sidecar, quits)
    assert resp.failureDetails.errorType == "builtins.SystemExit"


def test_stop_hands_back_a_coroutine_returned_by_a_plain_activity(
    sidecar: SidecarServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plain activity that returns a coroutine runs on the worker's loop; stopping the worker while
    it waits must hand the item back (redelivery), not report the activity as failed."""
    import asyncio

    import durabletask.worker as worker_module

    monkeypatch.setattr(worker_module, "_STOP_GRACE_SECONDS", 0.3)
    started = threading.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    def plain(ctx: task.ActivityContext, _: Any) -> Any:
        return forever()

    worker = TaskHubGrpcWorker(host_address=sidecar.address, resiliency_options=FAST)
    worker.add_activity(plain)
    worker.start()
    sidecar.servicer.items.put(activity_item("plain", token="run"))
    assert started.wait(5)
    worker.stop()
    sidecar.servicer.wait_for(lambda: ("activity", "run") in sidecar.servicer.abandoned)
    assert sidecar.servicer.activity_completions == []
