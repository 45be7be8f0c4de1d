"""The full, readable description of one history event (the history's detail area)."""

from __future__ import annotations

from dtstudio.core.json_text import pretty_json
from dtstudio.core.stack_frames import fold_internal_frames
from dtstudio.core.timeline import format_time
from durabletask.history import HistoryEvent

from .failure import FailureInfo, failure_chain, failure_plain_text

__all__ = ["describe_event"]

_STATUS = {
    0: "Running",
    1: "Completed",
    2: "ContinuedAsNew",
    3: "Failed",
    4: "Canceled",
    5: "Terminated",
    6: "Pending",
    7: "Suspended",
}


def describe_event(event: HistoryEvent, position: int, utc: bool = True) -> str:
    """Plain text: the event's fields, then its payloads pretty-printed and its failure chain."""
    lines = [
        f"{event.event_type}    (history #{position + 1}"
        + (f", event id {event.event_id})" if event.event_id >= 0 else ")")
    ]
    lines.append(f"Time:        {format_time(event.timestamp, utc) or '-'}")
    if event.name:
        lines.append(f"Name:        {event.name}")
    if event.task_scheduled_id is not None:
        lines.append(f"Answers id:  {event.task_scheduled_id}")
    if event.instance_id:
        lines.append(f"Instance:    {event.instance_id}")
    if event.fire_at is not None:
        lines.append(f"Fires at:    {format_time(event.fire_at, utc)}")
    proto = event.proto
    which = proto.WhichOneof("eventType")
    if which == "executionCompleted":
        lines.append(f"Status:      {_STATUS.get(proto.executionCompleted.orchestrationStatus, '?')}")
    if which == "executionStarted":
        started = proto.executionStarted
        if started.HasField("version"):
            lines.append(f"Version:     {started.version.value}")
        if started.HasField("parentInstance"):
            lines.append(f"Parent:      {started.parentInstance.orchestrationInstance.instanceId}")
        if started.tags:
            lines.append("Tags:        " + ", ".join(f"{k}={v}" for k, v in sorted(started.tags.items())))
    for label, raw in (("Input", event.input), ("Result", event.result)):
        if raw is not None:
            pretty = pretty_json(raw, limit=200_000)
            lines.append("")
            lines.append(f"{label}:" + ("" if pretty.is_json else "  (not JSON)"))
            lines.append(pretty.text + ("\n\u2026 (cut)" if pretty.truncated else ""))
    if which == "entityOperationCompleted" and proto.entityOperationCompleted.HasField("output"):
        lines.append("")
        lines.append("Output:")
        lines.append(pretty_json(proto.entityOperationCompleted.output.value, limit=200_000).text)
    chain = failure_chain(event.failure_details)
    if chain:
        lines.append("")
        lines.append("Failure:  (stack frames inside the SDK are folded; the Failure tab's Copy keeps them)")
        folded = [FailureInfo(i.error_type, i.message, fold_internal_frames(i.stack_trace) if i.stack_trace else None)
                  for i in chain]
        lines.append(failure_plain_text(folded))
    return "\n".join(lines)
