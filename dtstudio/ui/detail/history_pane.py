"""The History section: the virtual event table, an event-type filter, and the selected event in full."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QSplitter,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from dtstudio.core.json_text import OFF_THREAD_THRESHOLD
from dtstudio.qtmodels.history_model import HistoryIndexRole, HistoryTableModel
from durabletask.history import EVENT_TYPES, HistoryEvent

from .background import BackgroundCalls
from .event_text import describe_event
from .payloads import monospace_font

__all__ = ["HistoryPane"]

_WIDTHS = (48, 60, 210, 170, 56, 105, 70)


class HistoryPane(QWidget):
    """Table of events (filterable by type) above the full text of the selected one."""

    open_instance_requested = Signal(str)
    """A sub-orchestration row was double-clicked: the child's instance id."""
    event_selected = Signal(int)
    """History position of the newly selected event."""
    detail_changed = Signal(str)
    """The text of the selected event (shown below the table, mirrored under the timeline)."""

    def __init__(self, model: HistoryTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self._utc = True
        self._detail_token = 0
        self._background = BackgroundCalls(self)
        self._background.finished.connect(self._on_described)
        self.filter_button = QToolButton()
        self.filter_button.setText("Event types: all \u25be")
        self.filter_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        # The style's own menu arrow is drawn over the text's end; the text carries its own ▾.
        self.filter_button.setStyleSheet("QToolButton::menu-indicator { image: none; width: 0px; }")
        self.filter_menu = QMenu(self.filter_button)
        self.filter_menu.aboutToShow.connect(self._fill_filter_menu)
        self.filter_button.setMenu(self.filter_menu)
        self.count_label = QLabel()
        self.count_label.setStyleSheet("color: gray")

        self.table = QTableView()
        self.table.setModel(model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.setAlternatingRowColors(True)
        self.table.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        vheader = self.table.verticalHeader()
        vheader.setVisible(False)
        vheader.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vheader.setDefaultSectionSize(self.fontMetrics().height() + 6)
        hheader = self.table.horizontalHeader()
        hheader.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hheader.setStretchLastSection(True)
        hheader.setHighlightSections(False)
        for column, width in enumerate(_WIDTHS):
            hheader.resizeSection(column, width)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_changed)
        self.table.doubleClicked.connect(self._on_double_clicked)

        self.detail = QPlainTextEdit()
        self.detail.setReadOnly(True)
        self.detail.setFont(monospace_font())
        self.detail.setPlaceholderText("Select an event to see its payload and failure details.")

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([480, 160])

        top = QHBoxLayout()
        top.addWidget(self.filter_button)
        top.addWidget(self.count_label, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)
        model.modelReset.connect(self._on_model_changed)
        model.rowsInserted.connect(self._on_model_changed)
        self._on_model_changed()

    # ----- filter -----------------------------------------------------------------------------------
    def _fill_filter_menu(self) -> None:
        self.filter_menu.clear()
        counts = self.model.type_counts()
        chosen = self.model.type_filter()
        show_all = self.filter_menu.addAction("Show all types")
        show_all.triggered.connect(lambda: self.set_type_filter(None))
        hide_bookkeeping = self.filter_menu.addAction("Hide orchestrator started/completed")
        hide_bookkeeping.triggered.connect(
            lambda: self.set_type_filter(
                {t for t in counts if t not in ("OrchestratorStarted", "OrchestratorCompleted")}
            )
        )
        self.filter_menu.addSeparator()
        order = {name: i for i, name in enumerate(EVENT_TYPES)}
        for event_type in sorted(counts, key=lambda t: order.get(t, len(order))):
            action = QAction(f"{event_type} ({counts[event_type]})", self.filter_menu)
            action.setCheckable(True)
            action.setChecked(chosen is None or event_type in chosen)
            action.setData(event_type)
            action.toggled.connect(self._on_type_toggled)
            self.filter_menu.addAction(action)

    def _on_type_toggled(self, _checked: bool) -> None:
        types = {a.data() for a in self.filter_menu.actions() if a.isCheckable() and a.isChecked()}
        all_types = set(self.model.type_counts())
        self.set_type_filter(None if types >= all_types else types)

    def set_type_filter(self, types: set[str] | None) -> None:
        """Show only these event types (``None``: all); keeps the selected event when it stays visible."""
        current = self.selected_history_index()
        self.model.set_type_filter(types)
        if types is None:
            self.filter_button.setText("Event types: all \u25be")
        else:
            self.filter_button.setText(f"Event types: {len(types)} selected \u25be")
        if current is not None:
            self.select_history_index(current, clear_filter=False)

    def _on_model_changed(self, *args: object) -> None:
        total = len(self.model.events())
        types = self.model.type_filter()
        if types is None:
            self.count_label.setText(f"{total:,} events")
        else:
            matching = sum(n for t, n in self.model.type_counts().items() if t in types)
            self.count_label.setText(f"{matching:,} of {total:,} events match the filter")

    # ----- selection --------------------------------------------------------------------------------
    def selected_history_index(self) -> int | None:
        index = self.table.selectionModel().currentIndex()
        if not index.isValid():
            return None
        return int(self.model.data(index, HistoryIndexRole))

    def select_history_index(self, history_index: int, *, clear_filter: bool = True) -> bool:
        """Select and scroll to an event; lifts the type filter if it hides the event."""
        row = self.model.row_of(history_index)
        if row is None and clear_filter and self.model.type_filter() is not None:
            self.set_type_filter(None)
            row = self.model.row_of(history_index)
        if row is None:
            return False
        index = self.model.index(row, 0)
        self.table.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        )
        self.table.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        return True

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            self._set_detail("")
            return
        position = int(self.model.data(current, HistoryIndexRole))
        self._describe(position)
        self.event_selected.emit(position)

    def _describe(self, position: int) -> None:
        """Fill the detail area; events with big payloads are formatted in a worker thread."""
        event = self.model.events()[position]
        size = len(event.input or "") + len(event.result or "")
        if size <= OFF_THREAD_THRESHOLD:
            self._detail_token = 0
            self._set_detail(describe_event(event, position, self._utc))
            return
        self._set_detail(f"{event.event_type}: formatting {size:,} characters\u2026")
        self._detail_token = self._background.submit(describe_event, event, position, self._utc)

    def _on_described(self, token: int, text: object) -> None:
        if token == self._detail_token and isinstance(text, str):
            self._detail_token = 0
            self._set_detail(text)

    def _set_detail(self, text: str) -> None:
        self.detail.setPlainText(text)
        self.detail_changed.emit(text)

    def detail_pending(self) -> bool:
        """The selected event's text is still being formatted."""
        return self._detail_token != 0

    def _on_double_clicked(self, index: QModelIndex) -> None:
        if not index.isValid():
            return
        position = int(self.model.data(index, HistoryIndexRole))
        child = child_instance_of(self.model.events(), position)
        if child:
            self.open_instance_requested.emit(child)

    def set_utc(self, utc: bool) -> None:
        self._utc = utc
        self.model.set_utc(utc)
        current = self.selected_history_index()
        if current is not None:
            self._describe(current)

    def clear_selection(self) -> None:
        self.table.selectionModel().clearSelection()
        self.table.selectionModel().setCurrentIndex(QModelIndex(), QItemSelectionModel.SelectionFlag.Clear)
        self._detail_token = 0
        self._set_detail("")


def child_instance_of(events: list[HistoryEvent], position: int) -> str | None:
    """The child instance behind a sub-orchestration row (its creation, completion or failure)."""
    event = events[position]
    if event.event_type == "SubOrchestrationInstanceCreated":
        return event.instance_id
    if event.event_type in ("SubOrchestrationInstanceCompleted", "SubOrchestrationInstanceFailed"):
        task_id = event.task_scheduled_id
        for earlier in reversed(events[:position]):
            if earlier.event_type == "SubOrchestrationInstanceCreated" and earlier.event_id == task_id:
                return earlier.instance_id
    return None
