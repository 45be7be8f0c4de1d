"""The Overview section: every field of an instance's state, status coloured, parent as a link.

Fields the state does not carry (older clients, other SDKs) are taken from the history when it has
them: version, tags, parent and execution id from ``executionStarted``, completion from
``executionCompleted``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFormLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from dtstudio.core.json_text import one_line_preview
from dtstudio.core.timeline import format_duration, format_time
from durabletask.history import HistoryEvent, to_datetime

from .failure import failure_chain

__all__ = [
    "STATUS_COLORS",
    "TERMINAL_STATUSES",
    "InstanceFacts",
    "OverviewPane",
    "gather_facts",
    "status_name",
]

STATUS_COLORS: dict[str, str] = {
    "Running": "#1e88e5",
    "Pending": "#757575",
    "Completed": "#2e7d32",
    "Failed": "#c62828",
    "Terminated": "#8e24aa",
    "Canceled": "#757575",
    "Suspended": "#ef6c00",
    "ContinuedAsNew": "#00897b",
}
TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Terminated", "Canceled"})

_STATUS_BY_NUMBER = {
    0: "Running",
    1: "Completed",
    2: "ContinuedAsNew",
    3: "Failed",
    4: "Canceled",
    5: "Terminated",
    6: "Pending",
    7: "Suspended",
}


def status_name(status: Any) -> str:
    """``OrchestrationStatus.CONTINUED_AS_NEW`` (or 2, or "continued_as_new") -> ``"ContinuedAsNew"``."""
    if status is None:
        return "Unknown"
    if isinstance(status, int) and not hasattr(status, "name"):
        return _STATUS_BY_NUMBER.get(status, str(status))
    name = getattr(status, "name", None) or str(status)
    name = name.rsplit(".", 1)[-1].removeprefix("ORCHESTRATION_STATUS_")
    return "".join(part.capitalize() for part in name.lower().split("_")) or "Unknown"


@dataclass
class InstanceFacts:
    """What the Overview shows, from the state first and the history second."""

    instance_id: str = ""
    name: str = ""
    status: str = "Unknown"
    version: str | None = None
    execution_id: str | None = None
    created_at: datetime | None = None
    last_updated_at: datetime | None = None
    completed_at: datetime | None = None
    scheduled_start_at: datetime | None = None
    tags: dict[str, str] = field(default_factory=dict)
    parent_instance_id: str | None = None
    custom_status: str | None = None
    failure: Any = None
    children: list[str] = field(default_factory=list)
    """Sub-orchestration instances started by this execution, in order (from the history)."""

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def duration(self, now: datetime) -> str:
        if self.created_at is None:
            return ""
        end = self.completed_at if self.is_terminal else None
        if end is None:
            end = self.last_updated_at if self.is_terminal else now
        if end is None:
            return ""
        text = format_duration(end - self.created_at)
        return text if self.is_terminal else f"{text} so far"


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def gather_facts(state: Any, history: list[HistoryEvent] | None) -> InstanceFacts:
    """Combine an ``OrchestrationState`` (any SDK's shape) with the history's start/end events."""
    facts = InstanceFacts(
        instance_id=str(getattr(state, "instance_id", "") or ""),
        name=str(getattr(state, "name", "") or ""),
        status=status_name(getattr(state, "runtime_status", None)),
        version=getattr(state, "version", None) or None,
        execution_id=getattr(state, "execution_id", None) or None,
        created_at=_aware(getattr(state, "created_at", None)),
        last_updated_at=_aware(getattr(state, "last_updated_at", None)),
        completed_at=_aware(getattr(state, "completed_at", None)),
        scheduled_start_at=_aware(getattr(state, "scheduled_start_at", None)),
        tags=dict(getattr(state, "tags", None) or {}),
        parent_instance_id=getattr(state, "parent_instance_id", None) or None,
        custom_status=getattr(state, "serialized_custom_status", None),
        failure=getattr(state, "failure_details", None),
    )
    for event in history or ():
        which = event.proto.WhichOneof("eventType")
        if which == "executionStarted":
            started = event.proto.executionStarted
            if facts.version is None and started.HasField("version"):
                facts.version = started.version.value or None
            if facts.execution_id is None and started.orchestrationInstance.HasField("executionId"):
                facts.execution_id = started.orchestrationInstance.executionId.value or None
            if not facts.tags and started.tags:
                facts.tags = dict(started.tags)
            if facts.parent_instance_id is None and started.HasField("parentInstance"):
                facts.parent_instance_id = started.parentInstance.orchestrationInstance.instanceId or None
            if facts.scheduled_start_at is None and started.HasField("scheduledStartTimestamp"):
                facts.scheduled_start_at = to_datetime(started.scheduledStartTimestamp)
            if not facts.name:
                facts.name = started.name
        elif which == "executionCompleted" and facts.completed_at is None and facts.is_terminal:
            facts.completed_at = event.timestamp
        elif which == "subOrchestrationInstanceCreated":
            child = event.proto.subOrchestrationInstanceCreated.instanceId
            if child and child not in facts.children:
                facts.children.append(child)
    return facts


class OverviewPane(QWidget):
    """A form of the instance's fields; the parent id is a link."""

    open_instance_requested = Signal(str)

    _ROWS = (
        "Instance ID",
        "Name",
        "Status",
        "Version",
        "Execution ID",
        "Created",
        "Last updated",
        "Completed",
        "Scheduled start",
        "Duration",
        "Tags",
        "Parent",
        "Children",
        "Custom status",
        "Error",
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._facts: InstanceFacts | None = None
        self._utc = True
        self.labels: dict[str, QLabel] = {}
        form_host = QWidget()
        form = QFormLayout(form_host)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for row in self._ROWS:
            label = QLabel()
            label.setTextInteractionFlags(
                Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.LinksAccessibleByMouse
            )
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.RichText)
            self.labels[row] = label
            form.addRow(f"<b>{row}</b>", label)
        for row in ("Parent", "Children"):
            self.labels[row].linkActivated.connect(self.open_instance_requested)
            self.labels[row].setOpenExternalLinks(False)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(form_host)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(scroll)
        self.show_facts(None)

    def show_facts(self, facts: InstanceFacts | None) -> None:
        self._facts = facts
        self._render()

    def set_utc(self, utc: bool) -> None:
        self._utc = utc
        self._render()

    def text_of(self, row: str) -> str:
        """The plain text of a field (for tests and copying)."""
        label = self.labels[row]
        from PySide6.QtGui import QTextDocument

        doc = QTextDocument()
        doc.setHtml(label.text())
        return doc.toPlainText()

    def _render(self) -> None:
        facts = self._facts
        if facts is None:
            for label in self.labels.values():
                label.setText("")
            return
        esc = html.escape
        dash = "<span style='color:gray'>\u2014</span>"

        def plain(value: Any) -> str:
            return esc(str(value)) if value not in (None, "") else dash

        def when(value: datetime | None) -> str:
            return esc(format_time(value, self._utc)) if value else dash

        color = STATUS_COLORS.get(facts.status, "#757575")
        values = {
            "Instance ID": plain(facts.instance_id),
            "Name": plain(facts.name),
            "Status": f"<span style='color:white; background:{color}; font-weight:bold'>&nbsp;{esc(facts.status)}&nbsp;</span>",
            "Version": plain(facts.version),
            "Execution ID": plain(facts.execution_id),
            "Created": when(facts.created_at),
            "Last updated": when(facts.last_updated_at),
            "Completed": when(facts.completed_at),
            "Scheduled start": when(facts.scheduled_start_at),
            "Duration": plain(facts.duration(datetime.now(timezone.utc))),
            "Tags": ", ".join(f"<code>{esc(k)}</code>={esc(v)}" for k, v in sorted(facts.tags.items()))
            or dash,
            "Parent": (
                f"<a href='{esc(facts.parent_instance_id, quote=True)}'>{esc(facts.parent_instance_id)}</a>"
                if facts.parent_instance_id
                else dash
            ),
            "Children": _children_html(facts.children) or dash,
            "Custom status": (
                f"<code>{esc(one_line_preview(facts.custom_status, 300))}</code>"
                if facts.custom_status
                else dash
            ),
            "Error": dash,
        }
        chain = failure_chain(facts.failure)
        if chain:
            head = chain[0]
            message = f": {esc(one_line_preview(head.message, 400))}" if head.message else ""
            values["Error"] = (
                f"<span style='color:#c62828'><b>{esc(head.error_type)}</b>{message}</span>"
                " <span style='color:gray'>(details in the Failure tab)</span>"
            )
        for row, text in values.items():
            self.labels[row].setText(text)


_MAX_CHILD_LINKS = 20


def _children_html(children: list[str]) -> str:
    """Links to the first children, and how many more there are."""
    links = [
        f"<a href='{html.escape(c, quote=True)}'>{html.escape(c)}</a>" for c in children[:_MAX_CHILD_LINKS]
    ]
    more = len(children) - _MAX_CHILD_LINKS
    if more > 0:
        links.append(f"<span style='color:gray'>and {more:,} more (see History)</span>")
    return ", ".join(links)
