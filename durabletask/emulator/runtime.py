"""Applying a worker's orchestrator response to an instance: pure logic, no SQL and no gRPC.

:func:`apply_response` takes what the engine knows about an instance and the events it dispatched,
and returns an :class:`Outcome`: the history events to append, the new runtime status, the activities
to queue, the timers to arm, the messages for other instances and the children to start. The engine
persists and routes that outcome; nothing here touches storage or the network.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from google.protobuf import timestamp_pb2

from durabletask._proto import orchestrator_service_pb2 as pb

__all__ = [
    "CANCELED",
    "COMPLETED",
    "CONTINUED_AS_NEW",
    "FAILED",
    "PENDING",
    "RUNNING",
    "SUSPENDED",
    "TERMINAL_STATUSES",
    "TERMINATED",
    "ChildStart",
    "ContinueAsNew",
    "InstanceView",
    "Outbound",
    "Outcome",
    "Rewind",
    "apply_response",
    "child_instance_ids",
    "event",
    "failure",
    "new_execution_started",
    "parent_notification",
    "timestamp",
]

RUNNING, COMPLETED, CONTINUED_AS_NEW, FAILED, CANCELED, TERMINATED, PENDING, SUSPENDED = range(8)
TERMINAL_STATUSES = frozenset((COMPLETED, FAILED, TERMINATED))


def timestamp(us: int) -> timestamp_pb2.Timestamp:
    """A protobuf Timestamp from integer microseconds since the epoch."""
    return timestamp_pb2.Timestamp(seconds=us // 1_000_000, nanos=(us % 1_000_000) * 1000)


def event(now_us: int, event_id: int = -1, **body: object) -> pb.HistoryEvent:
    """A history event with a timestamp, e.g. ``event(now, eventRaised=pb.EventRaisedEvent(...))``."""
    e = pb.HistoryEvent(eventId=event_id, **body)  # type: ignore[arg-type]
    ts = e.timestamp  # set in place: cheaper than building a Timestamp for the constructor to copy
    ts.seconds = now_us // 1_000_000
    ts.nanos = (now_us % 1_000_000) * 1000
    return e


def failure(error_type: str, message: str) -> pb.TaskFailureDetails:
    return pb.TaskFailureDetails(errorType=error_type, errorMessage=message)


@dataclass(slots=True)
class InstanceView:
    """What the runtime needs to know about the instance whose response it applies."""

    instance_id: str
    execution_id: str
    name: str
    version: str | None
    status: int
    parent: pb.ParentInstanceInfo | None = None
    tags: dict[str, str] = field(default_factory=dict)
    trace: pb.TraceContext | None = None


@dataclass(slots=True)
class Outbound:
    """An event for another instance's inbox (dropped by the engine if the target is missing or done)."""

    instance_id: str
    event: pb.HistoryEvent
    execution_id: str | None = None


@dataclass(slots=True)
class ChildStart:
    """A sub-orchestration to create; on an id conflict the parent gets a failure for ``task_id``."""

    instance_id: str
    started: pb.HistoryEvent
    task_id: int
    name: str


@dataclass(slots=True)
class ContinueAsNew:
    """The execution restarts: new id, new input; ``start_events`` open the next episode."""

    execution_id: str
    version: str | None
    input: str | None
    start_events: list[pb.HistoryEvent]


@dataclass(slots=True)
class Rewind:
    """The worker's rewritten history for a rewound instance."""

    execution_id: str
    history: list[pb.HistoryEvent]
    parent: pb.ParentInstanceInfo | None


@dataclass(slots=True)
class Outcome:
    """Everything one orchestrator response changes."""

    history: list[pb.HistoryEvent] = field(default_factory=list)
    status: int = RUNNING
    custom_status: str | None = None
    output: str | None = None
    failure: pb.TaskFailureDetails | None = None
    terminal: bool = False
    activities: list[pb.ActivityRequest] = field(default_factory=list)
    timers: list[tuple[pb.HistoryEvent, int]] = field(default_factory=list)
    outbound: list[Outbound] = field(default_factory=list)
    children: list[ChildStart] = field(default_factory=list)
    notify_parent: Outbound | None = None
    terminate_children: str | None = None
    continue_as_new: ContinueAsNew | None = None
    rewind: Rewind | None = None


def _us(ts: timestamp_pb2.Timestamp) -> int:
    return ts.seconds * 1_000_000 + ts.nanos // 1000


def new_execution_started(instance_id: str, execution_id: str, name: str, version: str | None,
                          input: str | None, now_us: int, *, parent: pb.ParentInstanceInfo | None = None,
                          tags: dict[str, str] | None = None, trace: pb.TraceContext | None = None,
                          scheduled_us: int | None = None) -> pb.HistoryEvent:
    """The executionStarted event that opens an execution."""
    started = pb.ExecutionStartedEvent(
        name=name, orchestrationInstance=pb.OrchestrationInstance(instanceId=instance_id))
    started.orchestrationInstance.executionId.value = execution_id
    if version is not None:
        started.version.value = version
    if input is not None:
        started.input.value = input
    if parent is not None:
        started.parentInstance.CopyFrom(parent)
    if tags:
        started.tags.update(tags)
    if trace is not None:
        started.parentTraceContext.CopyFrom(trace)
    if scheduled_us is not None:
        started.scheduledStartTimestamp.CopyFrom(timestamp(scheduled_us))
    return event(now_us, executionStarted=started)


def child_instance_ids(history: Iterable[pb.HistoryEvent]) -> list[str]:
    """The sub-orchestration instance ids a history created, in order, without repeats."""
    seen: dict[str, None] = {}
    for e in history:
        if e.WhichOneof("eventType") == "subOrchestrationInstanceCreated":
            seen.setdefault(e.subOrchestrationInstanceCreated.instanceId, None)
    return list(seen)


def parent_notification(instance_id: str, parent: pb.ParentInstanceInfo | None, status: int,
                        output: str | None, fail: pb.TaskFailureDetails | None, reason: str | None,
                        now_us: int) -> Outbound | None:
    """The event a finished sub-orchestration sends its parent (None when it has no parent)."""
    if parent is None or not parent.orchestrationInstance.instanceId:
        return None
    target = parent.orchestrationInstance
    exec_id = target.executionId.value if target.HasField("executionId") else None
    if status == COMPLETED:
        done = pb.SubOrchestrationInstanceCompletedEvent(taskScheduledId=parent.taskScheduledId)
        if output is not None:
            done.result.value = output
        ev = event(now_us, subOrchestrationInstanceCompleted=done)
    else:
        if status == FAILED:
            details = fail if fail is not None else failure(
                "OrchestrationFailed", f"sub-orchestration '{instance_id}' failed")
        else:
            text = f"sub-orchestration '{instance_id}' was terminated"
            details = failure("TerminatedError", f"{text}: {reason}" if reason else text)
        ev = event(now_us, subOrchestrationInstanceFailed=pb.SubOrchestrationInstanceFailedEvent(
            taskScheduledId=parent.taskScheduledId, failureDetails=details))
    return Outbound(target.instanceId, ev, exec_id)


def _status_after(status: int, new_events: Sequence[pb.HistoryEvent]) -> tuple[int, str | None]:
    """Status after the dispatched events, and the reason of a recursive termination among them."""
    recurse_reason: str | None = None
    for e in new_events:
        kind = e.WhichOneof("eventType")
        if kind == "executionStarted" and status == PENDING:
            status = RUNNING
        elif kind == "executionSuspended":
            status = SUSPENDED
        elif kind == "executionResumed" and status == SUSPENDED or kind == "executionRewound":
            status = RUNNING
        elif kind == "executionTerminated" and e.executionTerminated.recurse:
            recurse_reason = e.executionTerminated.input.value if e.executionTerminated.HasField("input") else ""
    if status == PENDING:
        status = RUNNING
    return status, recurse_reason


def apply_response(view: InstanceView, new_events: Sequence[pb.HistoryEvent], resp: pb.OrchestratorResponse,
                   now_us: int, new_id: Callable[[], str] = lambda: os.urandom(16).hex()) -> Outcome:
    """Apply one OrchestratorResponse to an instance that was sent ``new_events``."""
    out = Outcome()
    out.custom_status = resp.customStatus.value if resp.HasField("customStatus") else None
    status, recurse_reason = _status_after(view.status, new_events)

    actions = [(action.WhichOneof("orchestratorActionType"), action) for action in resp.actions]
    completion: pb.CompleteOrchestrationAction | None = None
    for kind, action in actions:
        if kind == "rewindOrchestration":
            return _apply_rewind(view, action.rewindOrchestration, out)
        if kind == "completeOrchestration":
            completion = action.completeOrchestration
    final: int | None = int(completion.orchestrationStatus) if completion is not None else None
    if final == CANCELED:
        final = TERMINATED
    finished = final is not None  # no new work for this execution once it completes or continues
    out.history.extend(new_events)

    for kind, action in actions:
        aid = action.id
        if kind == "scheduleTask":
            a = action.scheduleTask
            # Optional fields passed as None are left unset (one constructor call instead of a copy each).
            version = a.version if a.HasField("version") else None
            task_input = a.input if a.HasField("input") else None
            trace = a.parentTraceContext if a.HasField("parentTraceContext") else None
            tags = a.tags or None
            out.history.append(event(now_us, aid, taskScheduled=pb.TaskScheduledEvent(
                name=a.name, version=version, input=task_input, parentTraceContext=trace, tags=tags)))
            if not finished:
                req = pb.ActivityRequest(name=a.name, taskId=aid, version=version, input=task_input,
                                         parentTraceContext=trace, tags=tags)
                req.orchestrationInstance.instanceId = view.instance_id
                req.orchestrationInstance.executionId.value = view.execution_id
                if version is None and view.version is not None:
                    req.version.value = view.version
                out.activities.append(req)
        elif kind == "createTimer":
            fire_at = action.createTimer.fireAt
            out.history.append(event(now_us, aid, timerCreated=pb.TimerCreatedEvent(fireAt=fire_at)))
            if not finished:
                fired = pb.HistoryEvent(eventId=-1, timestamp=fire_at,
                                        timerFired=pb.TimerFiredEvent(fireAt=fire_at, timerId=aid))
                out.timers.append((fired, _us(fire_at)))
        elif kind == "createSubOrchestration":
            a2 = action.createSubOrchestration
            child_id = a2.instanceId or f"{view.instance_id}:{aid:04x}"
            created = pb.SubOrchestrationInstanceCreatedEvent(instanceId=child_id, name=a2.name)
            if a2.HasField("version"):
                created.version.CopyFrom(a2.version)
            if a2.HasField("input"):
                created.input.CopyFrom(a2.input)
            if a2.HasField("parentTraceContext"):
                created.parentTraceContext.CopyFrom(a2.parentTraceContext)
            created.tags.update(a2.tags)
            out.history.append(event(now_us, aid, subOrchestrationInstanceCreated=created))
            if not finished:
                parent = pb.ParentInstanceInfo(taskScheduledId=aid)
                parent.name.value = view.name
                if view.version is not None:
                    parent.version.value = view.version
                parent.orchestrationInstance.instanceId = view.instance_id
                parent.orchestrationInstance.executionId.value = view.execution_id
                started = new_execution_started(
                    child_id, new_id(), a2.name, a2.version.value if a2.HasField("version") else None,
                    a2.input.value if a2.HasField("input") else None, now_us, parent=parent,
                    tags=dict(a2.tags),
                    trace=a2.parentTraceContext if a2.HasField("parentTraceContext") else None)
                out.children.append(ChildStart(child_id, started, aid, a2.name))
        elif kind == "sendEvent":
            a3 = action.sendEvent
            sent = pb.EventSentEvent(instanceId=a3.instance.instanceId, name=a3.name)
            if a3.HasField("data"):
                sent.input.CopyFrom(a3.data)
            out.history.append(event(now_us, aid, eventSent=sent))
            raised = pb.EventRaisedEvent(name=a3.name)
            if a3.HasField("data"):
                raised.input.CopyFrom(a3.data)
            target_exec = (a3.instance.executionId.value if a3.instance.HasField("executionId")
                           and a3.instance.executionId.value else None)
            out.outbound.append(Outbound(a3.instance.instanceId, event(now_us, eventRaised=raised), target_exec))
        elif kind == "terminateOrchestration":
            a4 = action.terminateOrchestration
            term = pb.ExecutionTerminatedEvent(recurse=a4.recurse)
            if a4.HasField("reason"):
                term.input.CopyFrom(a4.reason)
            out.outbound.append(Outbound(a4.instanceId, event(now_us, executionTerminated=term)))
        elif kind == "sendEntityMessage":
            msg = action.sendEntityMessage
            which = msg.WhichOneof("EntityMessageType")
            if which is not None:
                # Entities are not implemented: confirm the action so replay stays deterministic.
                out.history.append(event(now_us, aid, **{which: getattr(msg, which)}))

    out.history.append(event(now_us, orchestratorCompleted=pb.OrchestratorCompletedEvent()))

    if completion is None:
        out.status = status
        return out
    if final == CONTINUED_AS_NEW:
        exec_id = new_id()
        version = completion.newVersion.value if completion.HasField("newVersion") else view.version
        new_input = completion.result.value if completion.HasField("result") else None
        started = new_execution_started(view.instance_id, exec_id, view.name, version, new_input, now_us,
                                        parent=view.parent, tags=view.tags, trace=view.trace)
        carry = [pb.HistoryEvent(eventId=-1, timestamp=timestamp(now_us), eventRaised=e.eventRaised)
                 for e in completion.carryoverEvents if e.WhichOneof("eventType") == "eventRaised"]
        out.continue_as_new = ContinueAsNew(exec_id, version, new_input, [started, *carry])
        out.status = RUNNING
        return out

    if final not in TERMINAL_STATUSES:
        final = FAILED
        fail: pb.TaskFailureDetails | None = failure(
            "InvalidCompletion", f"the worker completed the orchestration with status "
            f"{pb.OrchestrationStatus.Name(completion.orchestrationStatus) if completion.orchestrationStatus in pb.OrchestrationStatus.values() else completion.orchestrationStatus}")
        result: str | None = None
    else:
        fail = completion.failureDetails if completion.HasField("failureDetails") else None
        result = completion.result.value if completion.HasField("result") else None
        if final == FAILED and fail is None:
            fail = failure("OrchestrationFailed", "the orchestration failed without failure details")
    done = pb.ExecutionCompletedEvent(orchestrationStatus=final)  # type: ignore[arg-type]
    if result is not None:
        done.result.value = result
    if fail is not None and final == FAILED:
        done.failureDetails.CopyFrom(fail)
    out.history.append(event(now_us, executionCompleted=done))
    out.status = final
    out.terminal = True
    out.output = result
    out.failure = fail if final == FAILED else None
    out.notify_parent = parent_notification(view.instance_id, view.parent, int(final), result, out.failure,
                                            result, now_us)
    if final == TERMINATED and recurse_reason is not None:
        out.terminate_children = recurse_reason
    return out


def _apply_rewind(view: InstanceView, action: pb.RewindOrchestrationAction, out: Outcome) -> Outcome:
    history = list(action.newHistory)
    exec_id = view.execution_id
    parent = view.parent
    for e in history:
        if e.WhichOneof("eventType") == "executionStarted":
            started = e.executionStarted
            if started.orchestrationInstance.HasField("executionId") and started.orchestrationInstance.executionId.value:
                exec_id = started.orchestrationInstance.executionId.value
            if started.HasField("parentInstance"):
                parent = started.parentInstance
            break
    out.rewind = Rewind(exec_id, history, parent)
    out.status = RUNNING
    return out
