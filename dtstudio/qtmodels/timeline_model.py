"""The timeline of one instance as a Qt table: one row per timeline row (activity, timer, wait, ...).

The Gantt widget paints from :meth:`TimelineModel.timeline` directly; the table interface serves
accessibility, tests and any plain view (columns: name, kind, attempts, outcome, start, duration).
Colours for kinds and outcomes live here so every view draws the same thing the same way.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from dtstudio.core.timeline import (
    SpanKind,
    SpanOutcome,
    Timeline,
    TimelineRow,
    TimelineSpan,
    format_duration,
    format_time,
)

__all__ = [
    "KIND_COLORS",
    "OUTCOME_COLORS",
    "TIMELINE_COLUMNS",
    "TimelineModel",
    "TimelineRowRole",
    "span_color",
]

TimelineRowRole = Qt.ItemDataRole.UserRole + 11
"""The :class:`~dtstudio.core.timeline.TimelineRow` of a model row."""

TIMELINE_COLUMNS: tuple[str, ...] = ("Name", "Kind", "Attempts", "Outcome", "Start", "Duration")

OUTCOME_COLORS: dict[SpanOutcome, QColor] = {
    SpanOutcome.COMPLETED: QColor(67, 160, 71),
    SpanOutcome.FAILED: QColor(211, 47, 47),
    SpanOutcome.RUNNING: QColor(30, 136, 229),
    SpanOutcome.TERMINATED: QColor(142, 36, 170),
    SpanOutcome.CANCELED: QColor(158, 158, 158),
}
KIND_COLORS: dict[SpanKind, QColor] = {
    SpanKind.TIMER: QColor(121, 134, 203),
    SpanKind.RETRY_DELAY: QColor(189, 189, 189),
    SpanKind.EXTERNAL_EVENT: QColor(251, 140, 0),
    SpanKind.SUSPENDED: QColor(120, 144, 156),
}

_Index = QModelIndex | QPersistentModelIndex


def span_color(span: TimelineSpan) -> QColor:
    """The fill colour of a bar: failures red, timers/events/pauses by kind, else by outcome (running blue)."""
    if span.outcome in (SpanOutcome.FAILED, SpanOutcome.CANCELED, SpanOutcome.TERMINATED):
        return OUTCOME_COLORS[span.outcome]
    return KIND_COLORS.get(span.kind, OUTCOME_COLORS[span.outcome])


class TimelineModel(QAbstractTableModel):
    """Read-only table over a :class:`~dtstudio.core.timeline.Timeline`."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._timeline = Timeline(rows=[], start=None, end=None, finished=True)
        self._utc = True

    def set_timeline(self, timeline: Timeline) -> None:
        self.beginResetModel()
        self._timeline = timeline
        self.endResetModel()

    def timeline(self) -> Timeline:
        return self._timeline

    def clear(self) -> None:
        self.set_timeline(Timeline(rows=[], start=None, end=None, finished=True))

    def set_utc(self, utc: bool) -> None:
        if utc != self._utc:
            self._utc = utc
            if self.rowCount():
                self.dataChanged.emit(self.index(0, 4), self.index(self.rowCount() - 1, 4))

    def row_at(self, row: int) -> TimelineRow:
        return self._timeline.rows[row]

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._timeline.rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(TIMELINE_COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        horizontal = orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole
        if horizontal and 0 <= section < len(TIMELINE_COLUMNS):
            return TIMELINE_COLUMNS[section]
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._timeline.rows):
            return None
        row = self._timeline.rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return row.label
            if column == 1:
                return row.kind.value
            if column == 2:
                return str(row.attempts)
            if column == 3:
                return row.outcome.value
            if column == 4:
                return format_time(row.start, self._utc)
            if column == 5:
                start = row.start
                if start is None:
                    return ""
                end = row.end or datetime.now(timezone.utc)
                return format_duration(end - start)
            return None
        if role == Qt.ItemDataRole.DecorationRole and column == 0 and row.spans:
            return span_color(row.spans[-1])
        if role == TimelineRowRole:
            return row
        return None
