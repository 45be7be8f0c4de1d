"""A raw-gRPC fake worker for the emulator's tests: scripted orchestrators over full histories.

An orchestrator here is a function ``f(ctx) -> None`` that looks at the whole history (past + new
events) and adds the actions of the current step to ``ctx``; it must be deterministic, like a real
replay. Activities are plain ``f(input_json) -> result_json`` functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing_extensions import Self

import json
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

import grpc
from google.protobuf import empty_pb2

from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask._proto import orchestrator_service_pb2_grpc as pb_grpc


def kind(e: pb.HistoryEvent) -> str:
    return e.WhichOneof("eventType") or ""


class Ctx:
    """What a scripted orchestrator sees and the actions it emits."""

    def __init__(self, req: pb.OrchestratorRequest) -> None:
        self.req = req
        self.past = list(req.pastEvents)
        self.new = list(req.newEvents)
        self.events = self.past + self.new
        self.actions: list[pb.OrchestratorAction] = []
        self.custom_status: str | None = None
        started = [e for e in self.events if kind(e) == "executionStarted"]
        self.started = started[0].executionStarted if started else None
        self.input = json.loads(self.started.input.value) if self.started and self.started.HasField("input") else None
        self.now = next(e.timestamp for e in reversed(self.new) if kind(e) == "orchestratorStarted")
        self.terminated = next((e for e in self.new if kind(e) == "executionTerminated"), None)

    def of(self, k: str) -> list[pb.HistoryEvent]:
        return [e for e in self.events if kind(e) == k]

    def past_of(self, k: str) -> list[pb.HistoryEvent]:
        return [e for e in self.past if kind(e) == k]

    def schedule(self, task_id: int, name: str, value: Any = None) -> None:
        a = pb.OrchestratorAction(id=task_id, scheduleTask=pb.ScheduleTaskAction(name=name))
        a.scheduleTask.input.value = json.dumps(value)
        self.actions.append(a)

    def timer(self, task_id: int, fire_at: datetime) -> None:
        a = pb.OrchestratorAction(id=task_id)
        a.createTimer.fireAt.FromDatetime(fire_at)
        self.actions.append(a)

    def sub(self, task_id: int, name: str, instance_id: str, value: Any = None) -> None:
        a = pb.OrchestratorAction(id=task_id, createSubOrchestration=pb.CreateSubOrchestrationAction(
            name=name, instanceId=instance_id))
        a.createSubOrchestration.input.value = json.dumps(value)
        self.actions.append(a)

    def send_event(self, task_id: int, instance_id: str, name: str, value: Any = None) -> None:
        a = pb.OrchestratorAction(id=task_id)
        a.sendEvent.instance.instanceId = instance_id
        a.sendEvent.name = name
        a.sendEvent.data.value = json.dumps(value)
        self.actions.append(a)

    def complete(self, value: Any = None, status: int = pb.ORCHESTRATION_STATUS_COMPLETED,
                 failure: pb.TaskFailureDetails | None = None, task_id: int = -1) -> None:
        a = pb.OrchestratorAction(id=task_id, completeOrchestration=pb.CompleteOrchestrationAction(
            orchestrationStatus=status))  # type: ignore[arg-type]
        if value is not None:
            a.completeOrchestration.result.value = json.dumps(value)
        if failure is not None:
            a.completeOrchestration.failureDetails.CopyFrom(failure)
        self.actions.append(a)

    def fail(self, message: str, error_type: str = "builtins.ValueError") -> None:
        self.complete(status=pb.ORCHESTRATION_STATUS_FAILED,
                      failure=pb.TaskFailureDetails(errorType=error_type, errorMessage=message))

    def continue_as_new(self, value: Any, carryover: Iterable[pb.HistoryEvent] = ()) -> None:
        a = pb.OrchestratorAction(id=-1, completeOrchestration=pb.CompleteOrchestrationAction(
            orchestrationStatus=pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW))
        a.completeOrchestration.result.value = json.dumps(value)
        a.completeOrchestration.carryoverEvents.extend(carryover)
        self.actions.append(a)

    def result_of(self, e: pb.HistoryEvent) -> Any:
        body = getattr(e, kind(e))
        return json.loads(body.result.value) if body.HasField("result") else None


def handle_common(ctx: Ctx) -> bool:
    """Terminations and rewinds every orchestrator handles alike; True if handled."""
    if ctx.terminated is not None:
        t = ctx.terminated.executionTerminated
        ctx.complete(status=pb.ORCHESTRATION_STATUS_TERMINATED)
        if t.HasField("input"):
            ctx.actions[-1].completeOrchestration.result.value = t.input.value
        return True
    if any(kind(e) == "executionRewound" for e in ctx.new) and any(
            kind(e) == "executionCompleted" for e in ctx.past):
        drop_ids = {e.taskFailed.taskScheduledId for e in ctx.events if kind(e) == "taskFailed"}
        history = []
        for e in ctx.events:
            k = kind(e)
            if k in ("taskFailed", "executionCompleted", "subOrchestrationInstanceFailed"):
                continue
            if k == "taskScheduled" and e.eventId in drop_ids:
                continue
            h = pb.HistoryEvent()
            h.CopyFrom(e)
            if k == "executionStarted":
                h.executionStarted.orchestrationInstance.executionId.value = "rewound-" + ctx.req.instanceId
            history.append(h)
        a = pb.OrchestratorAction(id=-1)
        a.rewindOrchestration.newHistory.extend(history)
        ctx.actions.append(a)
        return True
    return False


Orchestrator = Callable[[Ctx], None]
Activity = Callable[[Any], Any]


class FakeWorker:
    """Opens a GetWorkItems stream and runs scripted orchestrators and activities on a thread pool."""

    def __init__(self, address: str, orchestrators: dict[str, Orchestrator],
                 activities: dict[str, Activity] | None = None, *, metadata: tuple[tuple[str, str], ...] = (),
                 max_orchestrations: int = 0, max_activities: int = 0, threads: int = 4,
                 reconnect: bool = False) -> None:
        self.reconnect = reconnect
        self.reconnects = 0
        self._stopped = threading.Event()
        self.channel = grpc.insecure_channel(address)
        self.stub = pb_grpc.TaskHubSidecarServiceStub(self.channel)
        self.orchestrators = orchestrators
        self.activities = activities or {}
        self.metadata = metadata
        self.request = pb.GetWorkItemsRequest(maxConcurrentOrchestrationWorkItems=max_orchestrations,
                                              maxConcurrentActivityWorkItems=max_activities)
        self.pool = ThreadPoolExecutor(threads)
        self.activity_calls: list[tuple[str, int]] = []
        self.orchestration_requests: list[pb.OrchestratorRequest] = []
        self.pings = 0
        self.lock = threading.Lock()
        self._stream: Any = None
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def start(self) -> FakeWorker:
        if self.reconnect:
            self._thread = threading.Thread(target=self._run_forever, daemon=True)
        else:
            self.stub.Hello(empty_pb2.Empty(), metadata=self.metadata, timeout=10)
            self._stream = self.stub.GetWorkItems(self.request, metadata=self.metadata)
            self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run_forever(self) -> None:
        """Reconnect after every stream failure (the emulator process may be killed and restarted)."""
        while not self._stopped.is_set():
            try:
                self.stub.Hello(empty_pb2.Empty(), metadata=self.metadata, timeout=2)
                self._stream = self.stub.GetWorkItems(self.request, metadata=self.metadata)
                self._run()
            except grpc.RpcError:
                pass
            with self.lock:
                self.reconnects += 1
            self._stopped.wait(0.1)

    def _run(self) -> None:
        try:
            for item in self._stream:
                which = item.WhichOneof("request")
                if which == "healthPing":
                    with self.lock:
                        self.pings += 1
                elif which == "orchestratorRequest":
                    self.pool.submit(self._orchestrate, item.orchestratorRequest, item.completionToken)
                elif which == "activityRequest":
                    self.pool.submit(self._activity, item.activityRequest, item.completionToken)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED and not self.reconnect:
                self.error = exc
        except RuntimeError:
            pass  # the pool was shut down while stopping

    def _orchestrate(self, req: pb.OrchestratorRequest, token: str) -> None:
        with self.lock:
            self.orchestration_requests.append(req)
        ctx = Ctx(req)
        if not handle_common(ctx):
            fn = self.orchestrators.get(ctx.started.name if ctx.started else "")
            if fn is None:
                ctx.fail(f"no orchestrator {ctx.started.name if ctx.started else '?'}")
            else:
                fn(ctx)
        resp = pb.OrchestratorResponse(instanceId=req.instanceId, actions=ctx.actions, completionToken=token)
        if ctx.custom_status is not None:
            resp.customStatus.value = ctx.custom_status
        try:
            self.stub.CompleteOrchestratorTask(resp, metadata=self.metadata, timeout=30)
        except grpc.RpcError:
            pass

    def _activity(self, req: pb.ActivityRequest, token: str) -> None:
        with self.lock:
            self.activity_calls.append((req.orchestrationInstance.instanceId, req.taskId))
        resp = pb.ActivityResponse(instanceId=req.orchestrationInstance.instanceId, taskId=req.taskId,
                                   completionToken=token)
        fn = self.activities.get(req.name)
        try:
            if fn is None:
                raise LookupError(f"no activity {req.name}")
            value = fn(json.loads(req.input.value) if req.HasField("input") else None)
            resp.result.value = json.dumps(value)
        except Exception as exc:  # noqa: BLE001
            resp.failureDetails.errorType = f"builtins.{type(exc).__name__}"
            resp.failureDetails.errorMessage = str(exc)
        try:
            self.stub.CompleteActivityTask(resp, metadata=self.metadata, timeout=30)
        except grpc.RpcError:
            pass

    def stop(self) -> None:
        self._stopped.set()
        if self._stream is not None:
            self._stream.cancel()
        if self._thread is not None:
            self._thread.join(5)
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.channel.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ------------------------------------------------------------------------- stock orchestrators
def chain(ctx: Ctx) -> None:
    """Calls activity ``inc`` n times in sequence on its input {"n": n, "v": v}; returns the final value."""
    n, value = ctx.input["n"], ctx.input["v"]
    done = ctx.of("taskCompleted")
    if ctx.of("taskFailed"):
        ctx.fail("an activity failed")
        return
    if done:
        value = ctx.result_of(done[-1])
    if len(done) == n:
        ctx.complete(value)
    elif len(ctx.past_of("taskScheduled")) == len(done):
        ctx.schedule(len(done) + 1, "inc", value)


def inc(value: int) -> int:
    return value + 1


def utc(ts: Any) -> datetime:
    return ts.ToDatetime(tzinfo=timezone.utc)
