"""What the instance list shows: server-side query parts and client-side refinements.

The gRPC ``InstanceQuery`` filters only on runtime status, created time and instance-ID prefix;
"name contains" and "hide sub-orchestrations" are applied by dtstudio to each page it receives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

__all__ = ["TIME_PRESETS", "InstanceFilter", "TimePreset"]


@dataclass(frozen=True)
class TimePreset:
    """A named created-time window ending now ('Last hour'); ``span`` None means no limit."""

    key: str
    label: str
    span: timedelta | None


TIME_PRESETS: list[TimePreset] = [
    TimePreset("any", "Any time", None),
    TimePreset("15m", "Last 15 minutes", timedelta(minutes=15)),
    TimePreset("1h", "Last hour", timedelta(hours=1)),
    TimePreset("24h", "Last 24 hours", timedelta(days=1)),
    TimePreset("7d", "Last 7 days", timedelta(days=7)),
    TimePreset("30d", "Last 30 days", timedelta(days=30)),
    TimePreset("90d", "Last 90 days", timedelta(days=90)),
    TimePreset("custom", "Custom range…", None),
]
_PRESETS = {p.key: p for p in TIME_PRESETS}


@dataclass
class InstanceFilter:
    """The list's filter. ``statuses`` holds status names ('RUNNING', ...); empty means all."""

    statuses: set[str] = field(default_factory=set)
    time_preset: str = "any"
    created_from: datetime | None = None
    created_to: datetime | None = None
    id_prefix: str = ""
    name_contains: str = ""
    hide_sub_orchestrations: bool = False

    def created_range(self, now: datetime | None = None) -> tuple[datetime | None, datetime | None]:
        """The created-time window to send to the server, resolved against ``now``."""
        if self.time_preset == "custom":
            return self.created_from, self.created_to
        preset = _PRESETS.get(self.time_preset)
        if preset is None or preset.span is None:
            return None, None
        now = now or datetime.now(timezone.utc)
        return now - preset.span, None

    def validate(self) -> None:
        """Raise ValueError with a plain message for an impossible filter."""
        if self.time_preset not in _PRESETS:
            raise ValueError(f"Unknown time range {self.time_preset!r}.")
        frm, to = self.created_from, self.created_to
        if self.time_preset == "custom" and frm is not None and to is not None and frm >= to:
            raise ValueError("The custom range ends before it starts.")

    def has_client_side_part(self) -> bool:
        return bool(self.name_contains.strip()) or self.hide_sub_orchestrations

    def accepts(self, state: Any) -> bool:
        """Client-side part: does one OrchestrationState pass 'name contains' and 'hide subs'?"""
        needle = self.name_contains.strip().lower()
        if needle and needle not in (getattr(state, "name", "") or "").lower():
            return False
        return not (self.hide_sub_orchestrations and getattr(state, "parent_instance_id", None))

    def describe(self) -> str:
        """One line for the status bar: 'Failed, Running · last hour · ID starts with "a"'."""
        parts: list[str] = []
        if self.statuses:
            parts.append(", ".join(sorted(s.title().replace("_", " ") for s in self.statuses)))
        if self.time_preset != "any":
            parts.append(_PRESETS[self.time_preset].label.lower().rstrip("…"))
        if self.id_prefix:
            parts.append(f'ID starts with "{self.id_prefix}"')
        if self.name_contains.strip():
            parts.append(f'name contains "{self.name_contains.strip()}"')
        if self.hide_sub_orchestrations:
            parts.append("no sub-orchestrations")
        return " · ".join(parts) if parts else "all instances"
