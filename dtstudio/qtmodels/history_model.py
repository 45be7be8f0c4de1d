"""The history of one instance as a virtual Qt table: one row per event, formatted on demand.

Rows are never materialised: ``data()`` formats the few cells the view asks for, so a history of tens
of thousands of events shows at once. Rows are handed to the view in batches (``canFetchMore`` /
``fetchMore``), the event-type filter is applied inside the model (a list of history indices), and a
growing history (a running instance) is appended without resetting the view.

History events are identified by their **position** in the history (``HistoryIndexRole``), never by
``eventId``: retries reuse action ids.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QFont

from dtstudio.core.json_text import one_line_preview
from dtstudio.core.timeline import format_duration, format_time
from durabletask.history import HistoryEvent

__all__ = ["FAILURE_TYPES", "HISTORY_COLUMNS", "HistoryEventRole", "HistoryIndexRole", "HistoryTableModel"]

HistoryIndexRole = Qt.ItemDataRole.UserRole + 1
"""Position of the row's event in the full history (int)."""
HistoryEventRole = Qt.ItemDataRole.UserRole + 2
"""The row's :class:`~durabletask.history.HistoryEvent`."""

HISTORY_COLUMNS: tuple[str, ...] = ("#", "Event id", "Type", "Name", "Task id", "Time", "Elapsed", "Payload")
_SEQ, _EVENT_ID, _TYPE, _NAME, _TASK, _TIME, _ELAPSED, _PAYLOAD = range(len(HISTORY_COLUMNS))

#: Event types that report a failure (shown in red).
FAILURE_TYPES = frozenset({"TaskFailed", "SubOrchestrationInstanceFailed", "EntityOperationFailed"})
_QUIET_TYPES = frozenset({"OrchestratorStarted", "OrchestratorCompleted"})

_Index = QModelIndex | QPersistentModelIndex
_FAILED_COLOR = QColor(198, 40, 40)
_QUIET_COLOR = QColor(128, 128, 128)
_BATCH = 2000


class HistoryTableModel(QAbstractTableModel):
    """A read-only, lazily formatted table over a list of :class:`HistoryEvent`."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._events: list[HistoryEvent] = []
        self._rows: list[int] | None = None  # visible history indices; None = all of them
        self._loaded = 0
        self._types: frozenset[str] | None = None
        self._utc = True
        self._t0: datetime | None = None
        self._mono = QFont("monospace")
        self._mono.setStyleHint(QFont.StyleHint.Monospace)

    # ----- content -------------------------------------------------------------------------------
    def set_events(self, events: Iterable[HistoryEvent]) -> None:
        """Show a new history (resets the view)."""
        self.beginResetModel()
        self._events = list(events)
        self._sched_names: dict[int, str] | None = None
        # Elapsed times count from the earliest stamp (events of one episode are not always in time order).
        self._t0 = min((e.timestamp for e in self._events if e.timestamp is not None), default=None)
        self._rebuild_rows()
        self.endResetModel()

    def update_events(self, events: Sequence[HistoryEvent]) -> None:
        """Show a newer copy of the same history: appends rows when it only grew, else resets."""
        old = len(self._events)
        if old == 0 or len(events) < old or not self._same_prefix(events):
            self.set_events(events)
            return
        if len(events) == old:
            return
        fully_loaded = self._loaded >= self._visible_count()
        new = list(events[old:])
        self._events.extend(new)
        added = [old + i for i, e in enumerate(new) if self._accepts(e)]
        if self._rows is not None:
            self._rows.extend(added)
        if added and fully_loaded:
            first = self._loaded
            self.beginInsertRows(QModelIndex(), first, first + len(added) - 1)
            self._loaded += len(added)
            self.endInsertRows()

    def _same_prefix(self, events: Sequence[HistoryEvent]) -> bool:
        # Checking the ends is enough in practice (histories only grow) and stays O(1).
        old = len(self._events)
        first, last = self._events[0], self._events[old - 1]
        return events[0].proto == first.proto and events[old - 1].proto == last.proto

    def clear(self) -> None:
        self.set_events([])

    def _scheduled_name(self, task_id: int | None) -> str:
        """The name of the TaskScheduled / SubOrchestrationInstanceCreated event with this id."""
        if task_id is None:
            return ""
        names = getattr(self, "_sched_names", None)
        if names is None or getattr(self, "_sched_names_for", -1) != len(self._events):
            names = {e.event_id: e.name or "" for e in self._events
                     if e.event_type in ("TaskScheduled", "SubOrchestrationInstanceCreated")}
            self._sched_names = names
            self._sched_names_for = len(self._events)
        return names.get(task_id, "")

    def events(self) -> list[HistoryEvent]:
        return self._events

    # ----- filter and display options ------------------------------------------------------------
    def set_type_filter(self, types: Iterable[str] | None) -> None:
        """Show only events of these types (``None`` shows all)."""
        self.beginResetModel()
        self._types = None if types is None else frozenset(types)
        self._rebuild_rows()
        self.endResetModel()

    def type_filter(self) -> frozenset[str] | None:
        return self._types

    def type_counts(self) -> Counter[str]:
        """How many events of each type the (unfiltered) history has."""
        return Counter(e.event_type for e in self._events)

    def set_utc(self, utc: bool) -> None:
        if utc == self._utc:
            return
        self._utc = utc
        if self.rowCount() and self.columnCount():
            self.dataChanged.emit(self.index(0, _TIME), self.index(self.rowCount() - 1, _TIME))

    def _accepts(self, event: HistoryEvent) -> bool:
        return self._types is None or event.event_type in self._types

    def _rebuild_rows(self) -> None:
        if self._types is None:
            self._rows = None
        else:
            types = self._types
            self._rows = [i for i, e in enumerate(self._events) if e.event_type in types]
        self._loaded = min(self._visible_count(), _BATCH)

    def _visible_count(self) -> int:
        return len(self._events) if self._rows is None else len(self._rows)

    # ----- mapping rows <-> history positions -------------------------------------------------------
    def history_index(self, row: int) -> int:
        """The history position shown on ``row``."""
        return row if self._rows is None else self._rows[row]

    def row_of(self, history_index: int) -> int | None:
        """The row showing the event at ``history_index`` (loading rows up to it), or ``None`` if filtered."""
        if self._rows is None:
            row = history_index if 0 <= history_index < len(self._events) else None
        else:
            from bisect import bisect_left

            pos = bisect_left(self._rows, history_index)
            row = pos if pos < len(self._rows) and self._rows[pos] == history_index else None
        if row is not None and row >= self._loaded:
            self.beginInsertRows(QModelIndex(), self._loaded, row)
            self._loaded = row + 1
            self.endInsertRows()
        return row

    def event_at(self, row: int) -> HistoryEvent:
        return self._events[self.history_index(row)]

    # ----- Qt model interface ---------------------------------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self._loaded

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HISTORY_COLUMNS)

    def canFetchMore(self, parent: _Index) -> bool:
        return not parent.isValid() and self._loaded < self._visible_count()

    def fetchMore(self, parent: _Index) -> None:
        if parent.isValid():
            return
        remaining = self._visible_count() - self._loaded
        if remaining <= 0:
            return
        count = min(_BATCH, remaining)
        self.beginInsertRows(QModelIndex(), self._loaded, self._loaded + count - 1)
        self._loaded += count
        self.endInsertRows()

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        horizontal = orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole
        if horizontal and 0 <= section < len(HISTORY_COLUMNS):
            return HISTORY_COLUMNS[section]
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (
            not index.isValid()
            or index.row() >= self._loaded
            or not 0 <= index.column() < len(HISTORY_COLUMNS)
        ):
            return None
        position = self.history_index(index.row())
        event = self._events[position]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(position, event, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == _PAYLOAD:
                return one_line_preview(event.payload, 1000) or None
            if column == _TIME:
                # The cell shows the time of day; the tooltip gives the date, in UTC and local time.
                utc, local = format_time(event.timestamp, True), format_time(event.timestamp, False)
                return f"{utc}\n{local} (local)" if event.timestamp else None
            return None
        if role == HistoryIndexRole:
            return position
        if role == HistoryEventRole:
            return event
        if role == Qt.ItemDataRole.ForegroundRole:
            if event.event_type in FAILURE_TYPES or _is_failed_completion(event):
                return _FAILED_COLOR
            if event.event_type in _QUIET_TYPES:
                return _QUIET_COLOR
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            if column in (_SEQ, _EVENT_ID, _TASK, _ELAPSED):
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            return None
        if role == Qt.ItemDataRole.FontRole and column == _PAYLOAD:
            return self._mono
        return None

    def _display(self, position: int, event: HistoryEvent, column: int) -> str:
        if column == _SEQ:
            return str(position + 1)
        if column == _EVENT_ID:
            return str(event.event_id) if event.event_id >= 0 else ""
        if column == _TYPE:
            return event.event_type
        if column == _TIME:
            return format_time(event.timestamp, self._utc, with_date=False)
        if column == _ELAPSED:
            if event.timestamp is None or self._t0 is None:
                return ""
            return format_duration(event.timestamp - self._t0)
        if column == _NAME:
            text = _name_cell(event, self._utc)
            if not text and event.event_type in _ANSWERS:
                # A result names nothing itself: show what it answers (which activity failed?).
                text = self._scheduled_name(event.task_scheduled_id)
            return text
        if column == _TASK:
            tid = event.task_scheduled_id
            return "" if tid is None else str(tid)
        if column == _PAYLOAD:
            return one_line_preview(event.payload)
        return ""  # pragma: no cover - columns are checked by the caller


def _is_failed_completion(event: HistoryEvent) -> bool:
    return (
        event.event_type == "ExecutionCompleted" and event.proto.executionCompleted.orchestrationStatus == 3
    )


#: Result events that carry only the id of the event they answer.
_ANSWERS = frozenset({"TaskCompleted", "TaskFailed", "SubOrchestrationInstanceCompleted", "SubOrchestrationInstanceFailed"})


def _name_cell(event: HistoryEvent, utc: bool) -> str:
    kind = event.event_type
    if kind == "TimerCreated" or kind == "TimerFired":
        fire_at = event.fire_at
        if fire_at is None:
            return ""
        # The date only when the timer is due on another day than the event.
        same_day = (
            event.timestamp is not None
            and format_time(fire_at, utc)[:10] == format_time(event.timestamp, utc)[:10]
        )
        return f"fires {format_time(fire_at, utc, with_date=not same_day)}"
    name = event.name or ""
    if kind in ("SubOrchestrationInstanceCreated", "EventSent"):
        target = event.instance_id
        return f"{name} \u2192 {target}" if target else name
    if kind == "ExecutionCompleted":
        status = event.proto.executionCompleted.orchestrationStatus
        return _STATUS_NAMES.get(status, "")
    return name


_STATUS_NAMES = {
    0: "Running",
    1: "Completed",
    2: "ContinuedAsNew",
    3: "Failed",
    4: "Canceled",
    5: "Terminated",
    6: "Pending",
    7: "Suspended",
}
