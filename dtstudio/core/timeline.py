"""History -> timeline spans: what the Gantt chart of an instance draws.

An orchestration history is a flat list of events. A timeline groups them into *rows* (one per
activity, sub-orchestration, timer, external event name, entity call, suspension, plus one for the
orchestration itself) and *spans* (one bar per attempt, from scheduled to completed).

Facts this relies on (see ``protocol-behaviour.md`` 3.1):

* Action confirmations carry ``eventId == action id``; results point back with ``taskScheduledId`` /
  ``timerId``.
* Action ids are **not unique**: a ``RetryPolicy`` retry re-emits ``taskScheduled`` (or
  ``subOrchestrationInstanceCreated``) with the original id after a back-off timer fires. Such an attempt
  lands on the same row as the first one, marked as a retry, and its back-off timer is drawn on that row
  as a ``RETRY_DELAY`` span instead of getting its own row.
* Waiting for an external event leaves no trace in the history until the event arrives, so an event span
  starts when the orchestrator last went idle (the end of the previous episode) and ends at the arrival.

Spans that have not finished have ``end=None``; a viewer extends them to "now" while the instance runs.
When the execution has ended, unfinished spans stop at its end with the ``CANCELED`` outcome.

This module has no Qt and no I/O; :func:`build_timeline` is a pure function of the history.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from durabletask.history import HistoryEvent

__all__ = [
    "SpanKind",
    "SpanOutcome",
    "Timeline",
    "TimelineRow",
    "TimelineSpan",
    "build_timeline",
    "format_duration",
    "format_time",
]


class SpanKind(enum.Enum):
    """What a bar stands for."""

    ORCHESTRATION = "orchestration"
    ACTIVITY = "activity"
    SUB_ORCHESTRATION = "sub-orchestration"
    TIMER = "timer"
    RETRY_DELAY = "retry delay"
    EXTERNAL_EVENT = "external event"
    ENTITY = "entity call"
    SUSPENDED = "suspended"


class SpanOutcome(enum.Enum):
    """How a bar ended (``RUNNING`` while it has not)."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    TERMINATED = "terminated"
    CANCELED = "not finished"


@dataclass
class TimelineSpan:
    """One bar: an attempt of an activity, a timer, a wait, ..."""

    kind: SpanKind
    name: str
    start: datetime
    end: datetime | None
    outcome: SpanOutcome
    start_index: int
    """Index in the history of the event that opened the span."""
    end_index: int | None = None
    """Index in the history of the event that closed it (``None`` while running)."""
    attempt: int = 1
    task_id: int | None = None
    instance_id: str | None = None
    """The child instance of a sub-orchestration span."""
    input: str | None = None
    result: str | None = None
    failure: str | None = None
    """``"ErrorType: message"`` of a failed span."""
    fire_at: datetime | None = None

    @property
    def is_retry(self) -> bool:
        return self.attempt > 1

    @property
    def focus_index(self) -> int:
        """The history event that tells most about this span: its result if there is one."""
        return self.end_index if self.end_index is not None else self.start_index

    def effective_end(self, now: datetime) -> datetime:
        """Where the bar ends: its end, or ``now`` while running (never before its start)."""
        end = self.end if self.end is not None else now
        return max(end, self.start)

    def duration(self, now: datetime) -> timedelta:
        return self.effective_end(now) - self.start


@dataclass
class TimelineRow:
    """One line of the chart: all attempts of one thing."""

    key: tuple[Any, ...]
    kind: SpanKind
    label: str
    spans: list[TimelineSpan] = field(default_factory=list)

    @property
    def attempts(self) -> int:
        return sum(1 for s in self.spans if s.kind is not SpanKind.RETRY_DELAY)

    @property
    def outcome(self) -> SpanOutcome:
        """The outcome of the last attempt."""
        for span in reversed(self.spans):
            if span.kind is not SpanKind.RETRY_DELAY:
                return span.outcome
        return self.spans[-1].outcome if self.spans else SpanOutcome.RUNNING

    @property
    def start(self) -> datetime | None:
        return self.spans[0].start if self.spans else None

    @property
    def end(self) -> datetime | None:
        """End of the last span, ``None`` if it still runs."""
        if not self.spans:
            return None
        return self.spans[-1].end


@dataclass
class Timeline:
    """All rows of one instance, with the time range they cover."""

    rows: list[TimelineRow]
    start: datetime | None
    """First timestamp in the history."""
    end: datetime | None
    """Last timestamp in the history (the execution end when it finished)."""
    finished: bool
    """The execution completed, failed or was terminated: nothing extends to "now"."""
    span_by_event: dict[int, tuple[int, int]] = field(default_factory=dict)
    """History index -> (row, span) for the events that open or close a span."""
    _pending: tuple[bool, datetime | None] | None = field(default=None, init=False, repr=False, compare=False)

    def range_end(self, now: datetime) -> datetime | None:
        """Right edge of the chart: the last timestamp, or ``now`` (and the next timer due) while running."""
        if self.end is None:
            return None
        pending = self._pending_summary()
        if self.finished or not pending[0]:
            return self.end
        end = max(self.end, now)
        return max(end, pending[1]) if pending[1] is not None else end

    def _pending_summary(self) -> tuple[bool, datetime | None]:
        """(anything still running, latest fire time of a pending timer); computed once."""
        if self._pending is None:
            running = False
            latest: datetime | None = None
            for row in self.rows:
                for span in row.spans:
                    if span.end is None:
                        running = True
                        if span.fire_at is not None and (latest is None or span.fire_at > latest):
                            latest = span.fire_at
            self._pending = (running, latest)
        return self._pending

    @property
    def span_count(self) -> int:
        return sum(len(r.spans) for r in self.rows)


_TERMINAL_STATUS = {
    1: SpanOutcome.COMPLETED,  # ORCHESTRATION_STATUS_COMPLETED
    2: SpanOutcome.COMPLETED,  # CONTINUED_AS_NEW
    3: SpanOutcome.FAILED,
    4: SpanOutcome.TERMINATED,  # CANCELED
    5: SpanOutcome.TERMINATED,
}


def _failure_text(fd: Any) -> str | None:
    if fd is None:
        return None
    error_type = fd.errorType or "Error"
    return f"{error_type}: {fd.errorMessage}" if fd.errorMessage else error_type


def _sv(msg: Any, name: str) -> str | None:
    return getattr(msg, name).value if msg.HasField(name) else None


class _Builder:
    def __init__(self) -> None:
        self.rows: list[TimelineRow] = []
        self.row_by_key: dict[tuple[Any, ...], int] = {}
        self.open: dict[tuple[Any, ...], TimelineSpan] = {}
        self.last_ts: datetime | None = None
        self.first_ts: datetime | None = None
        self.idle_since: datetime | None = None
        self.episode_fired_timers: list[TimelineSpan] = []
        self.failed_at: dict[tuple[Any, ...], int] = {}
        self.orchestration: TimelineSpan | None = None
        self.finished = False
        self.last_type: str | None = None

    def row(self, key: tuple[Any, ...], kind: SpanKind, label: str) -> TimelineRow:
        index = self.row_by_key.get(key)
        if index is None:
            index = len(self.rows)
            self.row_by_key[key] = index
            self.rows.append(TimelineRow(key=key, kind=kind, label=label))
        return self.rows[index]

    def start_span(self, key: tuple[Any, ...], kind: SpanKind, span: TimelineSpan, label: str) -> None:
        """Open a span for an action; a reused action id after a failure is a retry on the same row."""
        existing = self.row_by_key.get(key)
        if existing is not None:
            row = self.rows[existing]
            last = next((s for s in reversed(row.spans) if s.kind is not SpanKind.RETRY_DELAY), None)
            if last is not None and last.outcome is SpanOutcome.FAILED and key in self.failed_at:
                span.attempt = last.attempt + 1
                self._adopt_backoff_timer(row, self.failed_at.pop(key))
                row.spans.append(span)
                self.open[key] = span
                return
            # An id reused for something unrelated: give it a row of its own.
            n = 2
            while (key + (n,)) in self.row_by_key:
                n += 1
            key = key + (n,)
        self.row(key, kind, label).spans.append(span)
        self.open[key] = span

    def _adopt_backoff_timer(self, row: TimelineRow, failed_index: int) -> None:
        """Move the back-off timer of a retry (fired in this episode, created after the failure) here."""
        for timer in reversed(self.episode_fired_timers):
            if timer.start_index > failed_index and timer.kind is SpanKind.TIMER:
                timer_key = ("timer", timer.task_id)
                index = self.row_by_key.get(timer_key)
                if index is None or self.rows[index].spans != [timer]:
                    continue
                self.rows[index].spans.clear()
                timer.kind = SpanKind.RETRY_DELAY
                timer.name = f"retry delay of {row.label}"
                row.spans.append(timer)
                self.episode_fired_timers.remove(timer)
                return

    def close(
        self, key: tuple[Any, ...], index: int, ts: datetime, outcome: SpanOutcome
    ) -> TimelineSpan | None:
        span = self.open.pop(key, None)
        if span is None:
            return None
        span.end = ts
        span.end_index = index
        span.outcome = outcome
        if outcome is SpanOutcome.FAILED:
            self.failed_at[key] = index
        else:
            self.failed_at.pop(key, None)
        return span


def build_timeline(events: Sequence[HistoryEvent]) -> Timeline:
    """Group a history into timeline rows and spans (see the module docstring for the rules)."""
    b = _Builder()
    for index, event in enumerate(events):
        proto = event.proto
        which = proto.WhichOneof("eventType")
        ts = event.timestamp or b.last_ts
        if ts is None:
            # No timestamp yet at all: look ahead for the first one.
            ts = next((e.timestamp for e in events[index:] if e.timestamp is not None), None)
            if ts is None:
                ts = datetime.fromtimestamp(0, timezone.utc)
        if b.first_ts is None:
            b.first_ts = ts
        b.last_ts = ts if b.last_ts is None or ts >= b.last_ts else b.last_ts
        b.last_type = which
        _apply(b, which, proto, event, index, ts)

    end = b.last_ts
    if b.finished and b.orchestration is not None and b.orchestration.end is not None:
        end = max(end, b.orchestration.end) if end else b.orchestration.end
    if b.finished:
        # Nothing can finish any more: timers never fired, activities never answered.
        for key, span in list(b.open.items()):
            span.end = max(end, span.start) if end else span.start
            span.outcome = SpanOutcome.CANCELED
            del b.open[key]
    elif (
        b.last_type == "orchestratorCompleted"
        and b.orchestration is not None
        and not any(key[0] in ("activity", "sub", "timer", "entity", "suspended") for key in b.open)
    ):
        # Idle with nothing pending: it must be waiting for an external event.
        assert b.idle_since is not None
        waiting = TimelineSpan(
            kind=SpanKind.EXTERNAL_EVENT,
            name="waiting for an external event",
            start=b.idle_since,
            end=None,
            outcome=SpanOutcome.RUNNING,
            start_index=len(events) - 1,
        )
        b.row(("waiting",), SpanKind.EXTERNAL_EVENT, "(waiting for an event)").spans.append(waiting)

    rows = [r for r in b.rows if r.spans]
    # Several rows with one name (the same activity called many times): tell them apart by task id.
    seen: dict[str, int] = {}
    for row in rows:
        seen[row.label] = seen.get(row.label, 0) + 1
    for row in rows:
        task_id = row.spans[0].task_id
        if (
            seen[row.label] > 1
            and task_id is not None
            and row.kind in (SpanKind.ACTIVITY, SpanKind.SUB_ORCHESTRATION)
        ):
            row.label = f"{row.label} #{task_id}"
    # Backends stamp events of one episode in slightly different orders; start where the first span does.
    start = b.first_ts
    for row in rows:
        if start is None or row.spans[0].start < start:
            start = row.spans[0].start
    span_by_event: dict[int, tuple[int, int]] = {}
    for r_index, row in enumerate(rows):
        for s_index, span in enumerate(row.spans):
            span_by_event.setdefault(span.start_index, (r_index, s_index))
            if span.end_index is not None:
                span_by_event[span.end_index] = (r_index, s_index)
    return Timeline(rows=rows, start=start, end=end, finished=b.finished, span_by_event=span_by_event)


def _apply(b: _Builder, which: str | None, proto: Any, event: HistoryEvent, index: int, ts: datetime) -> None:
    if which == "orchestratorStarted":
        b.episode_fired_timers = []
    elif which == "orchestratorCompleted":
        b.idle_since = ts
    elif which == "executionStarted":
        body = proto.executionStarted
        span = TimelineSpan(
            kind=SpanKind.ORCHESTRATION,
            name=body.name or "orchestration",
            start=ts,
            end=None,
            outcome=SpanOutcome.RUNNING,
            start_index=index,
            input=_sv(body, "input"),
        )
        b.orchestration = span
        b.row(("orchestration",), SpanKind.ORCHESTRATION, body.name or "orchestration").spans.append(span)
        b.open[("orchestration",)] = span
        b.idle_since = ts
    elif which == "executionCompleted":
        body = proto.executionCompleted
        outcome = _TERMINAL_STATUS.get(body.orchestrationStatus, SpanOutcome.COMPLETED)
        closed = b.close(("orchestration",), index, ts, outcome)
        if closed is not None:
            closed.result = _sv(body, "result")
            closed.failure = _failure_text(body.failureDetails if body.HasField("failureDetails") else None)
        b.finished = True
    elif which == "taskScheduled":
        body = proto.taskScheduled
        key = ("activity", proto.eventId)
        span = TimelineSpan(
            kind=SpanKind.ACTIVITY,
            name=body.name,
            start=ts,
            end=None,
            outcome=SpanOutcome.RUNNING,
            start_index=index,
            task_id=proto.eventId,
            input=_sv(body, "input"),
        )
        b.start_span(key, SpanKind.ACTIVITY, span, body.name or f"activity #{proto.eventId}")
    elif which in ("taskCompleted", "taskFailed"):
        body = getattr(proto, which)
        key = ("activity", body.taskScheduledId)
        _close_result(b, key, which == "taskFailed", body, index, ts)
    elif which == "subOrchestrationInstanceCreated":
        body = proto.subOrchestrationInstanceCreated
        key = ("sub", proto.eventId)
        span = TimelineSpan(
            kind=SpanKind.SUB_ORCHESTRATION,
            name=body.name,
            start=ts,
            end=None,
            outcome=SpanOutcome.RUNNING,
            start_index=index,
            task_id=proto.eventId,
            instance_id=body.instanceId or None,
            input=_sv(body, "input"),
        )
        b.start_span(
            key, SpanKind.SUB_ORCHESTRATION, span, body.name or f"sub-orchestration #{proto.eventId}"
        )
    elif which in ("subOrchestrationInstanceCompleted", "subOrchestrationInstanceFailed"):
        body = getattr(proto, which)
        key = ("sub", body.taskScheduledId)
        _close_result(b, key, which.endswith("Failed"), body, index, ts)
    elif which == "timerCreated":
        fire_at = event.fire_at
        span = TimelineSpan(
            kind=SpanKind.TIMER,
            name="timer",
            start=ts,
            end=None,
            outcome=SpanOutcome.RUNNING,
            start_index=index,
            task_id=proto.eventId,
            fire_at=fire_at,
        )
        b.start_span(("timer", proto.eventId), SpanKind.TIMER, span, f"timer #{proto.eventId}")
    elif which == "timerFired":
        # Some backends stamp timerFired when it was enqueued (at creation): the timer ran until fireAt.
        fire_at = event.fire_at
        end = max(ts, fire_at) if fire_at is not None else ts
        fired = b.close(("timer", proto.timerFired.timerId), index, end, SpanOutcome.COMPLETED)
        if fired is not None:
            b.episode_fired_timers.append(fired)
    elif which == "eventRaised":
        body = proto.eventRaised
        name = body.name
        start = b.idle_since if b.idle_since is not None and b.idle_since <= ts else ts
        span = TimelineSpan(
            kind=SpanKind.EXTERNAL_EVENT,
            name=name,
            start=start,
            end=ts,
            outcome=SpanOutcome.COMPLETED,
            start_index=index,
            end_index=index,
            result=_sv(body, "input"),
        )
        b.row(("event", name.casefold()), SpanKind.EXTERNAL_EVENT, f"event {name}").spans.append(span)
    elif which == "entityOperationCalled":
        body = proto.entityOperationCalled
        target = _sv(body, "targetInstanceId") or "entity"
        key = ("entity", body.requestId)
        span = TimelineSpan(
            kind=SpanKind.ENTITY,
            name=f"{target} {body.operation}",
            start=ts,
            end=None,
            outcome=SpanOutcome.RUNNING,
            start_index=index,
            task_id=proto.eventId,
            input=_sv(body, "input"),
        )
        b.start_span(key, SpanKind.ENTITY, span, f"{body.operation} on {target}")
    elif which in ("entityOperationCompleted", "entityOperationFailed"):
        body = getattr(proto, which)
        key = ("entity", body.requestId)
        failed = which.endswith("Failed")
        answered = b.close(key, index, ts, SpanOutcome.FAILED if failed else SpanOutcome.COMPLETED)
        if answered is not None:
            if failed:
                answered.failure = _failure_text(body.failureDetails)
            else:
                answered.result = _sv(body, "output")
    elif which == "executionSuspended":
        span = TimelineSpan(
            kind=SpanKind.SUSPENDED,
            name="suspended",
            start=ts,
            end=None,
            outcome=SpanOutcome.RUNNING,
            start_index=index,
            input=_sv(proto.executionSuspended, "input"),
        )
        if ("suspended",) not in b.open:
            b.row(("suspended",), SpanKind.SUSPENDED, "suspended").spans.append(span)
            b.open[("suspended",)] = span
    elif which == "executionResumed":
        b.close(("suspended",), index, ts, SpanOutcome.COMPLETED)


def _close_result(
    b: _Builder, key: tuple[Any, ...], failed: bool, body: Any, index: int, ts: datetime
) -> None:
    span = b.close(key, index, ts, SpanOutcome.FAILED if failed else SpanOutcome.COMPLETED)
    if span is None:
        return
    if failed:
        span.failure = _failure_text(body.failureDetails if body.HasField("failureDetails") else None)
    else:
        span.result = _sv(body, "result")


def format_duration(delta: timedelta | None) -> str:
    """A short human duration: ``"850 ms"``, ``"12.4 s"``, ``"3 min 05 s"``, ``"2 h 03 min"``, ``"1 d 04 h"``."""
    if delta is None:
        return ""
    total = delta.total_seconds()
    sign = "-" if total < 0 else ""
    total = abs(total)
    if total < 1:
        return f"{sign}{total * 1000:.0f} ms"
    if total < 60:
        return f"{sign}{total:.1f} s"
    seconds = int(total)
    if seconds < 3600:
        return f"{sign}{seconds // 60} min {seconds % 60:02d} s"
    if seconds < 86400:
        return f"{sign}{seconds // 3600} h {(seconds % 3600) // 60:02d} min"
    return f"{sign}{seconds // 86400} d {(seconds % 86400) // 3600:02d} h"


def format_time(value: datetime | None, utc: bool = True, *, with_date: bool = True) -> str:
    """A timestamp for display, in UTC (suffix ``Z``) or in the local time zone, to the millisecond."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc) if utc else value.astimezone()
    fmt = "%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S"
    text = value.strftime(fmt) + f".{value.microsecond // 1000:03d}"
    return text + ("Z" if utc else "")
