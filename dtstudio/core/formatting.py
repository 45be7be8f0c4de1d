"""Plain-text rendering of times, durations and statuses for lists and status bars (no Qt)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

__all__ = ["ALL_STATUS_NAMES", "TERMINAL_STATUS_NAMES", "format_duration", "format_timestamp", "status_label"]

#: Statuses in the order the filter bar and the counts show them.
ALL_STATUS_NAMES = ["RUNNING", "PENDING", "SUSPENDED", "COMPLETED", "FAILED", "TERMINATED", "CONTINUED_AS_NEW"]
TERMINAL_STATUS_NAMES = ["COMPLETED", "FAILED", "TERMINATED"]

_LABELS = {
    "RUNNING": "Running",
    "PENDING": "Pending",
    "SUSPENDED": "Suspended",
    "COMPLETED": "Completed",
    "FAILED": "Failed",
    "TERMINATED": "Terminated",
    "CONTINUED_AS_NEW": "Continued as new",
    "CANCELED": "Canceled",
}


def status_label(status: Any) -> str:
    """'Running' for OrchestrationStatus.RUNNING, the string 'RUNNING', or a proto enum name."""
    name = getattr(status, "name", None) or str(status)
    name = name.removeprefix("ORCHESTRATION_STATUS_")
    return _LABELS.get(name, name.title())


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)


def format_timestamp(dt: datetime | None, *, utc: bool = False, with_ms: bool = False) -> str:
    """'2026-11-25 22:43:26' in local time or with a ' UTC' suffix; '' for no time."""
    if dt is None:
        return ""
    dt = _aware(dt)
    dt = dt.astimezone(timezone.utc) if utc else dt.astimezone()
    text = dt.strftime("%Y-%m-%d %H:%M:%S")
    if with_ms:
        text += f".{dt.microsecond // 1000:03d}"
    return text + (" UTC" if utc else "")


def format_duration(seconds: float | timedelta | None) -> str:
    """Compact duration: '850 ms', '12.3 s', '4 min 05 s', '3 h 02 min', '2 d 04 h'."""
    if seconds is None:
        return ""
    if isinstance(seconds, timedelta):
        seconds = seconds.total_seconds()
    s = max(0.0, float(seconds))
    if s < 1:
        return f"{round(s * 1000)} ms"
    if s < 60:
        return f"{s:.1f} s"
    m, sec = divmod(int(s), 60)
    if m < 60:
        return f"{m} min {sec:02d} s"
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h} h {m:02d} min"
    d, h = divmod(h, 24)
    return f"{d} d {h:02d} h"
