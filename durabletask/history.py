"""Build and read history events.

:class:`HistoryEvent` is the readable form of a ``HistoryEvent`` proto message, as returned by
``get_orchestration_history``: the event type as a name, its id, time, and the fields people look
at (name, task id, payload, failure). The raw message stays available as ``proto``.

The ``new_*`` builders make proto events for tests and for the replay core's own bookkeeping.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from google.protobuf import json_format

from durabletask._proto import orchestrator_service_pb2 as pb

__all__ = ["EVENT_TYPES", "HistoryEvent", "event_type_name", "to_datetime"]

#: Every event type, in wire order, as the PascalCase name shown to people ("TaskScheduled", ...).
EVENT_TYPES: tuple[str, ...] = tuple(
    f.name[0].upper() + f.name[1:] for f in pb.HistoryEvent.DESCRIPTOR.oneofs_by_name["eventType"].fields
)

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def to_datetime(ts: Any) -> datetime | None:
    """A protobuf Timestamp as an aware UTC datetime (``None`` when unset or zero)."""
    if ts is None or (ts.seconds == 0 and ts.nanos == 0):
        return None
    return ts.ToDatetime(tzinfo=timezone.utc)


def event_type_name(event: pb.HistoryEvent) -> str:
    """The PascalCase type name of a proto history event ("Unknown" if no type is set)."""
    which = event.WhichOneof("eventType")
    if which is None:
        return "Unknown"
    return which[0].upper() + which[1:]


def _sv(msg: Any, field: str) -> str | None:
    return getattr(msg, field).value if msg.HasField(field) else None


@dataclass(frozen=True)
class HistoryEvent:
    """One event of an orchestration's history, in readable form."""

    event_id: int
    timestamp: datetime | None
    event_type: str
    proto: pb.HistoryEvent

    @classmethod
    def from_proto(cls, event: pb.HistoryEvent) -> HistoryEvent:
        return cls(
            event_id=event.eventId,
            timestamp=to_datetime(event.timestamp) if event.HasField("timestamp") else None,
            event_type=event_type_name(event),
            proto=event,
        )

    @property
    def _body(self) -> Any:
        which = self.proto.WhichOneof("eventType")
        return getattr(self.proto, which) if which else None

    @property
    def name(self) -> str | None:
        """Activity, orchestrator, event or sub-orchestration name, where the event has one."""
        body = self._body
        if body is None:
            return None
        fields = body.DESCRIPTOR.fields_by_name
        if "name" in fields:
            value = body.name
            if isinstance(value, str):
                return value or None
            return value.value if body.HasField("name") else None
        if "operation" in fields:
            return body.operation or None
        return None

    @property
    def task_scheduled_id(self) -> int | None:
        """For results (completed/failed/fired), the id of the event they answer."""
        body = self._body
        if body is None:
            return None
        fields = body.DESCRIPTOR.fields_by_name
        if "taskScheduledId" in fields:
            return int(body.taskScheduledId)
        if "timerId" in fields:
            return int(body.timerId)
        return None

    @property
    def input(self) -> str | None:
        """The event's input payload (JSON text), if it has one."""
        body = self._body
        if body is None or "input" not in body.DESCRIPTOR.fields_by_name:
            return None
        return _sv(body, "input")

    @property
    def result(self) -> str | None:
        """The event's result payload (JSON text), if it has one."""
        body = self._body
        if body is None or "result" not in body.DESCRIPTOR.fields_by_name:
            return None
        return _sv(body, "result")

    @property
    def failure_details(self) -> pb.TaskFailureDetails | None:
        body = self._body
        if body is None or "failureDetails" not in body.DESCRIPTOR.fields_by_name:
            return None
        return body.failureDetails if body.HasField("failureDetails") else None

    @property
    def fire_at(self) -> datetime | None:
        body = self._body
        if body is None or "fireAt" not in body.DESCRIPTOR.fields_by_name:
            return None
        return to_datetime(body.fireAt)

    @property
    def instance_id(self) -> str | None:
        """Target instance of a sub-orchestration creation or a sent event."""
        body = self._body
        if body is None or "instanceId" not in body.DESCRIPTOR.fields_by_name:
            return None
        value = body.instanceId
        if isinstance(value, str):
            return value or None
        return value.value if body.HasField("instanceId") else None

    @property
    def payload(self) -> str | None:
        """The most telling payload for display: result, input, or the failure message."""
        if (r := self.result) is not None:
            return r
        if (i := self.input) is not None:
            return i
        fd = self.failure_details
        if fd is not None:
            return f"{fd.errorType}: {fd.errorMessage}"
        return None


# ---------------------------------------------------------------------------------------------------
# Builders: proto history events for tests, the replay core and the backend.
# ---------------------------------------------------------------------------------------------------

__all__ += [
    "events_from_json",
    "events_to_json",
    "failure_details_from_exception",
    "new_event_raised_event",
    "new_event_sent_event",
    "new_execution_completed_event",
    "new_execution_resumed_event",
    "new_execution_rewound_event",
    "new_execution_started_event",
    "new_execution_suspended_event",
    "new_execution_terminated_event",
    "new_failure_details",
    "new_orchestrator_completed_event",
    "new_orchestrator_started_event",
    "new_sub_orchestration_completed_event",
    "new_sub_orchestration_created_event",
    "new_sub_orchestration_failed_event",
    "new_task_completed_event",
    "new_task_failed_event",
    "new_task_scheduled_event",
    "new_timer_created_event",
    "new_timer_fired_event",
]


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _event(event_id: int, timestamp: datetime | None) -> pb.HistoryEvent:
    ev = pb.HistoryEvent(eventId=event_id)
    ev.timestamp.FromDatetime(timestamp if timestamp is not None else _now())
    return ev


def _set_sv(msg: Any, field: str, value: str | None) -> None:
    if value is not None:
        getattr(msg, field).value = value


def new_failure_details(
    error_type: str,
    message: str,
    stack_trace: str | None = None,
    inner_failure: pb.TaskFailureDetails | None = None,
    *,
    is_non_retriable: bool = False,
) -> pb.TaskFailureDetails:
    """A ``TaskFailureDetails`` message from its parts."""
    fd = pb.TaskFailureDetails(errorType=error_type, errorMessage=message, isNonRetriable=is_non_retriable)
    _set_sv(fd, "stackTrace", stack_trace)
    if inner_failure is not None:
        fd.innerFailure.CopyFrom(inner_failure)
    return fd


def _qualified_type_name(exc_type: type) -> str:
    return f"{exc_type.__module__}.{exc_type.__qualname__}"


def failure_details_from_exception(exc: BaseException) -> pb.TaskFailureDetails:
    """Describe an exception as ``TaskFailureDetails``.

    ``errorType`` is the fully qualified type name (``builtins.ValueError``), ``errorMessage`` is
    ``str(exc)``, ``stackTrace`` the formatted traceback, and ``innerFailure`` describes the cause
    (``__cause__``, else an unsuppressed ``__context__``), recursively. A task failure error without a
    cause carries the failure of the task it reports as its inner failure.
    """
    seen: set[int] = set()

    def convert(e: BaseException) -> pb.TaskFailureDetails:
        seen.add(id(e))
        trace = "".join(traceback.format_exception(type(e), e, e.__traceback__)) if e.__traceback__ else None
        fd = new_failure_details(_qualified_type_name(type(e)), str(e), trace)
        inner: BaseException | None = e.__cause__
        if inner is None and not e.__suppress_context__:
            inner = e.__context__
        if inner is not None and id(inner) not in seen:
            fd.innerFailure.CopyFrom(convert(inner))
        elif inner is None:
            task_details = getattr(e, "_failure_proto", None)
            if isinstance(task_details, pb.TaskFailureDetails):
                fd.innerFailure.CopyFrom(task_details)
        return fd

    return convert(exc)


def new_orchestrator_started_event(timestamp: datetime | None = None) -> pb.HistoryEvent:
    """``orchestratorStarted``: first event of every episode; its timestamp is the replay clock."""
    ev = _event(-1, timestamp)
    ev.orchestratorStarted.SetInParent()
    return ev


def new_orchestrator_completed_event(timestamp: datetime | None = None) -> pb.HistoryEvent:
    ev = _event(-1, timestamp)
    ev.orchestratorCompleted.SetInParent()
    return ev


def new_execution_started_event(
    name: str,
    instance_id: str,
    input: str | None = None,
    *,
    version: str | None = None,
    execution_id: str | None = None,
    parent_instance_id: str | None = None,
    parent_execution_id: str | None = None,
    parent_name: str | None = None,
    parent_task_scheduled_id: int = -1,
    tags: dict[str, str] | None = None,
    scheduled_start: datetime | None = None,
    timestamp: datetime | None = None,
) -> pb.HistoryEvent:
    """``executionStarted`` for orchestrator ``name``; ``input`` is JSON text."""
    ev = _event(-1, timestamp)
    es = ev.executionStarted
    es.name = name
    _set_sv(es, "version", version)
    _set_sv(es, "input", input)
    es.orchestrationInstance.instanceId = instance_id
    _set_sv(es.orchestrationInstance, "executionId", execution_id)
    if parent_instance_id is not None:
        pi = es.parentInstance
        pi.taskScheduledId = parent_task_scheduled_id
        _set_sv(pi, "name", parent_name)
        pi.orchestrationInstance.instanceId = parent_instance_id
        _set_sv(pi.orchestrationInstance, "executionId", parent_execution_id)
    if scheduled_start is not None:
        es.scheduledStartTimestamp.FromDatetime(scheduled_start)
    if tags:
        es.tags.update(tags)
    return ev


def new_execution_completed_event(
    status: int,
    result: str | None = None,
    failure_details: pb.TaskFailureDetails | None = None,
    *,
    timestamp: datetime | None = None,
) -> pb.HistoryEvent:
    ev = _event(-1, timestamp)
    ec = ev.executionCompleted
    ec.orchestrationStatus = status  # type: ignore[assignment]
    _set_sv(ec, "result", result)
    if failure_details is not None:
        ec.failureDetails.CopyFrom(failure_details)
    return ev


def new_execution_terminated_event(
    output: str | None = None, *, recurse: bool = False, timestamp: datetime | None = None
) -> pb.HistoryEvent:
    ev = _event(-1, timestamp)
    ev.executionTerminated.recurse = recurse
    _set_sv(ev.executionTerminated, "input", output)
    return ev


def new_execution_suspended_event(
    reason: str | None = None, *, timestamp: datetime | None = None
) -> pb.HistoryEvent:
    ev = _event(-1, timestamp)
    ev.executionSuspended.SetInParent()
    _set_sv(ev.executionSuspended, "input", reason)
    return ev


def new_execution_resumed_event(
    reason: str | None = None, *, timestamp: datetime | None = None
) -> pb.HistoryEvent:
    ev = _event(-1, timestamp)
    ev.executionResumed.SetInParent()
    _set_sv(ev.executionResumed, "input", reason)
    return ev


def new_execution_rewound_event(
    reason: str | None = None,
    *,
    parent_execution_id: str | None = None,
    instance_id: str | None = None,
    timestamp: datetime | None = None,
) -> pb.HistoryEvent:
    ev = _event(-1, timestamp)
    er = ev.executionRewound
    er.SetInParent()
    _set_sv(er, "reason", reason)
    _set_sv(er, "parentExecutionId", parent_execution_id)
    _set_sv(er, "instanceId", instance_id)
    return ev


def new_task_scheduled_event(
    event_id: int,
    name: str,
    input: str | None = None,
    *,
    version: str | None = None,
    tags: dict[str, str] | None = None,
    timestamp: datetime | None = None,
) -> pb.HistoryEvent:
    """``taskScheduled``: confirms a ``scheduleTask`` action (``event_id`` = the action id)."""
    ev = _event(event_id, timestamp)
    ts = ev.taskScheduled
    ts.name = name
    _set_sv(ts, "version", version)
    _set_sv(ts, "input", input)
    if tags:
        ts.tags.update(tags)
    return ev


def new_task_completed_event(
    task_id: int, result: str | None = None, *, timestamp: datetime | None = None
) -> pb.HistoryEvent:
    """``taskCompleted``: the result (JSON text) of the activity scheduled as ``task_id``."""
    ev = _event(-1, timestamp)
    ev.taskCompleted.taskScheduledId = task_id
    _set_sv(ev.taskCompleted, "result", result)
    return ev


def new_task_failed_event(
    task_id: int, failure: pb.TaskFailureDetails | BaseException, *, timestamp: datetime | None = None
) -> pb.HistoryEvent:
    ev = _event(-1, timestamp)
    ev.taskFailed.taskScheduledId = task_id
    if isinstance(failure, BaseException):
        failure = failure_details_from_exception(failure)
    ev.taskFailed.failureDetails.CopyFrom(failure)
    return ev


def new_timer_created_event(
    event_id: int, fire_at: datetime, *, timestamp: datetime | None = None
) -> pb.HistoryEvent:
    ev = _event(event_id, timestamp)
    ev.timerCreated.fireAt.FromDatetime(fire_at)
    return ev


def new_timer_fired_event(
    timer_id: int, fire_at: datetime, *, timestamp: datetime | None = None
) -> pb.HistoryEvent:
    ev = _event(-1, timestamp)
    ev.timerFired.timerId = timer_id
    ev.timerFired.fireAt.FromDatetime(fire_at)
    return ev


def new_sub_orchestration_created_event(
    event_id: int,
    name: str,
    instance_id: str,
    input: str | None = None,
    *,
    version: str | None = None,
    tags: dict[str, str] | None = None,
    timestamp: datetime | None = None,
) -> pb.HistoryEvent:
    ev = _event(event_id, timestamp)
    sc = ev.subOrchestrationInstanceCreated
    sc.name = name
    sc.instanceId = instance_id
    _set_sv(sc, "version", version)
    _set_sv(sc, "input", input)
    if tags:
        sc.tags.update(tags)
    return ev


def new_sub_orchestration_completed_event(
    task_id: int, result: str | None = None, *, timestamp: datetime | None = None
) -> pb.HistoryEvent:
    ev = _event(-1, timestamp)
    ev.subOrchestrationInstanceCompleted.taskScheduledId = task_id
    _set_sv(ev.subOrchestrationInstanceCompleted, "result", result)
    return ev


def new_sub_orchestration_failed_event(
    task_id: int, failure: pb.TaskFailureDetails | BaseException, *, timestamp: datetime | None = None
) -> pb.HistoryEvent:
    ev = _event(-1, timestamp)
    ev.subOrchestrationInstanceFailed.taskScheduledId = task_id
    if isinstance(failure, BaseException):
        failure = failure_details_from_exception(failure)
    ev.subOrchestrationInstanceFailed.failureDetails.CopyFrom(failure)
    return ev


def new_event_raised_event(
    name: str, input: str | None = None, *, timestamp: datetime | None = None
) -> pb.HistoryEvent:
    """``eventRaised``: an external event ``name`` with ``input`` as JSON text."""
    ev = _event(-1, timestamp)
    ev.eventRaised.name = name
    _set_sv(ev.eventRaised, "input", input)
    return ev


def new_event_sent_event(
    event_id: int, instance_id: str, name: str, input: str | None = None, *, timestamp: datetime | None = None
) -> pb.HistoryEvent:
    ev = _event(event_id, timestamp)
    ev.eventSent.instanceId = instance_id
    ev.eventSent.name = name
    _set_sv(ev.eventSent, "input", input)
    return ev


def events_to_json(events: Iterable[pb.HistoryEvent]) -> str:
    """A list of proto history events as JSON text (protobuf JSON form, one object per event)."""
    return json.dumps([json_format.MessageToDict(e) for e in events], indent=2)


def events_from_json(text: str) -> list[pb.HistoryEvent]:
    """Parse JSON text written by :func:`events_to_json` (a JSON list of events) back to protos."""
    data = json.loads(text)
    if not isinstance(data, list):
        raise ValueError("a history must be a JSON list of events")  # noqa: TRY004
    return [json_format.ParseDict(item, pb.HistoryEvent()) for item in data]
