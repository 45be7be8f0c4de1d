"""A scripted sidecar for worker tests: a real gRPC server on a free port that streams the work
items a test puts in its queue and records everything the worker sends back."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2

from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask._proto import orchestrator_service_pb2_grpc as pb_grpc

END_STREAM = object()  # put in the queue: end the current stream with OK


class Abort:
    """Put in the queue: end the current stream with this status code."""

    def __init__(self, code: grpc.StatusCode) -> None:
        self.code = code


class FakeSidecar(pb_grpc.TaskHubSidecarServiceServicer):
    def __init__(self) -> None:
        self.items: queue.Queue[Any] = queue.Queue()
        self.cond = threading.Condition()
        self.hellos: list[float] = []
        self.hello_metadata: list[dict[str, str]] = []
        self.stream_metadata: list[dict[str, str]] = []
        self.requests: list[pb.GetWorkItemsRequest] = []
        self.stream_opened_at: list[float] = []
        self.stream_closed = 0
        self.orchestrator_completions: list[pb.OrchestratorResponse] = []
        self.activity_completions: list[pb.ActivityResponse] = []
        self.abandoned: list[tuple[str, str]] = []
        self.fail_hello = 0
        #: Called with each orchestration completion before it is recorded (may sleep or abort).
        self.on_orchestrator_completion: Callable[[pb.OrchestratorResponse, Any], None] | None = None

    def _note(self) -> None:
        with self.cond:
            self.cond.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("condition not reached in time")
                self.cond.wait(min(left, 0.05))

    # --- RPCs ---
    def Hello(self, request: Any, context: grpc.ServicerContext) -> empty_pb2.Empty:  # noqa: N802
        with self.cond:
            self.hellos.append(time.monotonic())
            self.hello_metadata.append(dict(context.invocation_metadata()))
            failing = self.fail_hello > 0
            if failing:
                self.fail_hello -= 1
            self.cond.notify_all()
        if failing:
            context.abort(grpc.StatusCode.UNAVAILABLE, "not yet")
        return empty_pb2.Empty()

    def GetWorkItems(
        self, request: pb.GetWorkItemsRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.WorkItem]:  # noqa: N802
        with self.cond:
            self.requests.append(request)
            self.stream_metadata.append(dict(context.invocation_metadata()))
            self.stream_opened_at.append(time.monotonic())
            self.cond.notify_all()
        try:
            while context.is_active():
                try:
                    item = self.items.get(timeout=0.02)
                except queue.Empty:
                    continue
                if item is END_STREAM:
                    return
                if isinstance(item, Abort):
                    context.abort(item.code, "scripted abort")
                yield item
        finally:
            with self.cond:
                self.stream_closed += 1
                self.cond.notify_all()

    def CompleteOrchestratorTask(
        self, request: pb.OrchestratorResponse, context: Any
    ) -> pb.CompleteTaskResponse:  # noqa: N802
        if self.on_orchestrator_completion is not None:
            self.on_orchestrator_completion(request, context)
        with self.cond:
            self.orchestrator_completions.append(request)
            self.cond.notify_all()
        return pb.CompleteTaskResponse()

    def CompleteActivityTask(self, request: pb.ActivityResponse, context: Any) -> pb.CompleteTaskResponse:  # noqa: N802
        with self.cond:
            self.activity_completions.append(request)
            self.cond.notify_all()
        return pb.CompleteTaskResponse()

    def AbandonTaskActivityWorkItem(self, request: Any, context: Any) -> pb.AbandonActivityTaskResponse:  # noqa: N802
        with self.cond:
            self.abandoned.append(("activity", request.completionToken))
            self.cond.notify_all()
        return pb.AbandonActivityTaskResponse()

    def AbandonTaskOrchestratorWorkItem(
        self, request: Any, context: Any
    ) -> pb.AbandonOrchestrationTaskResponse:  # noqa: N802
        with self.cond:
            self.abandoned.append(("orchestration", request.completionToken))
            self.cond.notify_all()
        return pb.AbandonOrchestrationTaskResponse()

    def AbandonTaskEntityWorkItem(self, request: Any, context: Any) -> pb.AbandonEntityTaskResponse:  # noqa: N802
        with self.cond:
            self.abandoned.append(("entity", request.completionToken))
            self.cond.notify_all()
        return pb.AbandonEntityTaskResponse()


class SidecarServer:
    def __init__(self) -> None:
        self.servicer = FakeSidecar()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
        pb_grpc.add_TaskHubSidecarServiceServicer_to_server(self.servicer, self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.address = f"127.0.0.1:{self.port}"
        self.server.start()

    def stop(self) -> None:
        self.server.stop(None).wait(5)


@pytest.fixture
def sidecar() -> Iterator[SidecarServer]:
    server = SidecarServer()
    try:
        yield server
    finally:
        server.stop()


def activity_item(
    name: str, value: str | None = None, *, task_id: int = 1, token: str = "t1", instance_id: str = "inst"
) -> pb.WorkItem:
    req = pb.ActivityRequest(name=name, taskId=task_id)
    req.orchestrationInstance.instanceId = instance_id
    if value is not None:
        req.input.value = value
    return pb.WorkItem(activityRequest=req, completionToken=token)
