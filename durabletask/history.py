"""Build and read history events.

:class:`HistoryEvent` is the readable form of a ``HistoryEvent`` proto message, as returned by
``get_orchestration_history``: the event type as a name, its id, time, and the fields people look
at (name, task id, payload, failure). The raw message stays available as ``proto``.

The ``new_*`` builders make proto events for tests and for the replay core's own bookkeeping.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from durabletask._proto import orchestrator_service_pb2 as pb

__all__ = ["HistoryEvent", "EVENT_TYPES", "event_type_name", "to_datetime"]

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
