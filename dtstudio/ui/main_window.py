"""The main window: connection bar, filter bar, the instance list, the detail pane, the worker dock."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from PySide6.QtCore import QEvent, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QSplitter,
    QTableView,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from dtstudio.core.action_applicability import why_not_applicable
from dtstudio.core.connection import describe_error
from dtstudio.core.instance_filter import InstanceFilter
from dtstudio.core.profiles import ConnectionProfile, ProfileStore
from dtstudio.core.taskhub_service import TaskHubService
from dtstudio.qtmodels.instance_status_colors import palette_is_dark
from dtstudio.qtmodels.instance_table_model import InstanceTableModel, status_name
from dtstudio.ui.async_tasks import TaskRunner
from dtstudio.ui.batch_dialog import BatchDialog
from dtstudio.ui.connection_handling import ConnectionHandling
from dtstudio.ui.elided_label import ElidedLabel
from dtstudio.ui.filter_bar import FilterBar
from dtstudio.ui.hosted_worker_handling import HostedWorkerHandling
from dtstudio.ui.instance_actions import InstanceActions
from dtstudio.ui.instance_list_handling import InstanceListHandling
from dtstudio.ui.main_window_shutdown import close_client_now

__all__ = ["AUTO_REFRESH_CHOICES", "MainWindow", "make_detail_view"]

log = logging.getLogger("dtstudio.ui")

#: (label, seconds) for the auto-refresh selector; 0 = off.
AUTO_REFRESH_CHOICES: list[tuple[str, int]] = [("Off", 0), ("2 s", 2), ("5 s", 5), ("10 s", 10), ("30 s", 30)]


def make_detail_view(parent: QWidget | None = None) -> QWidget:
    """The instance detail pane (``dtstudio.ui.detail``)."""
    from dtstudio.ui.detail import InstanceDetailView

    return InstanceDetailView(parent)


class MainWindow(ConnectionHandling, InstanceListHandling, InstanceActions, HostedWorkerHandling, QMainWindow):
    """dtstudio's window. Everything slow is awaited on the qasync loop; slots stay thin.

    This module builds the window (widgets, actions, menus), keeps its layout between runs and
    owns theme and time zone; the behaviour lives in the mixed-in parts: connecting
    (:mod:`~dtstudio.ui.connection_handling`), the instance list
    (:mod:`~dtstudio.ui.instance_list_handling`), the actions and batches
    (:mod:`~dtstudio.ui.instance_actions`) and the hosted worker (:mod:`~dtstudio.ui.hosted_worker_handling`).
    """

    def __init__(
        self,
        store: ProfileStore,
        settings: QSettings,
        detail_view: QWidget | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("dtstudio")
        self.store = store
        self.settings = settings
        self.profile: ConnectionProfile | None = None
        self.client: Any = None
        self.service: TaskHubService | None = None
        self.embedded_address: str | None = None
        self.embedded_error: str | None = None
        self.connection_state = "disconnected"
        self.last_connection_error: str | None = None
        self.instance_filter = InstanceFilter()
        self.runner = TaskRunner(self.report_error)
        self._conn_gen = 0
        self._pending_connect: ConnectionProfile | None = None
        self._restore_ids: list[str] = []
        self._restore_current: str | None = None
        self._restore_scroll = 0
        self._select_after_load: str | None = None
        self._counts_task: asyncio.Future[Any] | None = None
        #: A close of the connection that had to wait and goes on after ``closeEvent`` (else None).
        self.closing: asyncio.Task[Any] | None = None
        self._counts_time = 0.0
        self._dialog: QWidget | None = None
        self.batch_dialog: BatchDialog | None = None
        self.last_action_message = ""
        self._connected_message = ""
        self._sort_state: tuple[int, Qt.SortOrder] | None = None
        self.utc = False

        self._build_widgets(detail_view)
        self._build_actions()
        self._restore_layout()
        self._update_palette()
        self._update_action_state()
        self.table.setFocus()  # keyboard users start in the list (arrows pick an instance)

    # ================================================================== construction
    def _build_widgets(self, detail_view: QWidget | None) -> None:
        bar = QToolBar("Connection", self)
        bar.setObjectName("connection_toolbar")
        bar.setMovable(False)
        self.addToolBar(bar)
        self.connection_toolbar = bar
        self.profile_combo = QComboBox(self)
        self.profile_combo.setMinimumWidth(220)
        self.profile_combo.setToolTip("Saved connections (Ctrl+K to edit)")
        self.hub_edit = QLineEdit(self)
        self.hub_edit.setPlaceholderText("task hub")
        self.hub_edit.setMaximumWidth(160)
        self.hub_edit.setToolTip("Task hub; press Enter to switch")
        self.state_label = ElidedLabel("Not connected", self, min_width=160)
        self.state_label.setObjectName("connection_state")
        bar.addWidget(QLabel(" Connection: ", self))
        bar.addWidget(self.profile_combo)
        bar.addWidget(QLabel("  Hub: ", self))
        bar.addWidget(self.hub_edit)
        self.connect_action = QAction("Connect", self)
        bar.addAction(self.connect_action)
        bar.addSeparator()
        bar.addWidget(self.state_label)

        self.action_toolbar = QToolBar("Actions", self)
        self.action_toolbar.setObjectName("action_toolbar")
        self.action_toolbar.setMovable(False)
        self.addToolBarBreak()
        self.addToolBar(self.action_toolbar)

        self.filter_bar = FilterBar(self)
        self.banner = QLabel(self)
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("background: #fdecea; color: #8b1a1a; padding: 6px; border-radius: 3px;")
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.hide()

        self.model = InstanceTableModel(self)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setSortingEnabled(False)
        self.table.horizontalHeader().setSortIndicatorShown(True)
        # The rows come in the server's order until a header is clicked: show no arrow until then.
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.table.horizontalHeader().setSectionsClickable(True)
        self.table.horizontalHeader().sectionClicked.connect(self._header_clicked)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        # Tab leaves the list for the detail pane (arrow keys move between rows); Tab must not walk the cells.
        self.table.setTabKeyNavigation(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.horizontalHeader().setStretchLastSection(True)
        for col, width in enumerate([250, 170, 110, 150, 150, 90, 200, 160]):
            self.table.setColumnWidth(col, width)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        # What to do next when the list is empty: drawn over the (empty) table, centred.
        self.empty_label = QLabel("", self.table.viewport())
        self.empty_label.setObjectName("empty_state")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setTextFormat(Qt.TextFormat.RichText)
        self.empty_label.setStyleSheet("padding: 12px;")
        self.empty_label.hide()
        self.table.viewport().installEventFilter(self)

        left = QWidget(self)
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.setSpacing(2)
        lv.addWidget(self.filter_bar)
        lv.addWidget(self.banner)
        lv.addWidget(self.table, 1)

        self.detail = detail_view if detail_view is not None else make_detail_view(self)
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.setObjectName("main_splitter")
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        self.setCentralWidget(self.splitter)

        self.rows_label = QLabel("", self)
        self.statusBar().addPermanentWidget(self.rows_label)
        self.conn_status_label = QLabel("Not connected", self)
        self.statusBar().addPermanentWidget(self.conn_status_label)

        self.auto_refresh = QComboBox(self)
        for label, seconds in AUTO_REFRESH_CHOICES:
            self.auto_refresh.addItem(label, seconds)
        self.auto_refresh.setToolTip("Refresh the list automatically")
        self.refresh_timer = QTimer(self)
        self.refresh_timer.timeout.connect(self._auto_refresh_tick)

        # signals
        self.filter_bar.filter_changed.connect(self.set_filter)
        self.model.fetch_failed.connect(self._list_failed)
        self.model.rows_loaded.connect(self._rows_loaded)
        self.model.rows_replaced.connect(self._restore_selection)
        self.model.loading_changed.connect(self._loading_changed)
        self.model.dataChanged.connect(lambda *_a: self._update_action_state())  # a selected row's status changed
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.auto_refresh.currentIndexChanged.connect(self._auto_refresh_changed)
        self.connect_action.triggered.connect(self._connect_clicked)
        self.hub_edit.returnPressed.connect(self._connect_clicked)
        self.profile_combo.activated.connect(self._profile_chosen)
        open_req = getattr(self.detail, "open_instance_requested", None)
        if open_req is not None:
            open_req.connect(self.open_instance)
        self._fill_profile_combo()
        self._build_worker_dock()
        own_f5 = getattr(self.detail, "refresh_shortcut", None)
        if own_f5 is not None:
            own_f5.setEnabled(False)  # the window's F5 refreshes the list and the detail
        if hasattr(self.detail, "hosted_orchestrators"):
            self.detail.hosted_orchestrators = self.hosted_orchestrator_names

    def _make_action(self, text: str, slot: Any, shortcut: Any = None, tip: str = "") -> QAction:
        a = QAction(text, self)
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if tip:
            a.setToolTip(f"{tip} ({QKeySequence(shortcut).toString()})" if shortcut is not None else tip)
            a.setStatusTip(tip)
        a.triggered.connect(slot)
        self.addAction(a)
        return a

    def _build_actions(self) -> None:
        mk = self._make_action
        self.act_refresh = mk("Refresh", self.refresh, QKeySequence.StandardKey.Refresh, "Reload the list")
        self.act_refresh.setShortcuts([QKeySequence("F5"), QKeySequence("Ctrl+R")])
        self.act_find = mk("Find", self.filter_bar.focus_search, QKeySequence("Ctrl+F"), "Search by instance ID")
        self.act_start = mk("Start new…", lambda: self.open_action_dialog("start"), QKeySequence("Ctrl+N"), "Start a new orchestration")
        self.act_raise = mk("Raise event…", lambda: self.open_action_dialog("raise_event"), QKeySequence("Ctrl+E"), "Send an event")
        self.act_suspend = mk("Suspend…", lambda: self.open_action_dialog("suspend"), QKeySequence("Ctrl+Shift+P"), "Pause")
        self.act_resume = mk("Resume…", lambda: self.open_action_dialog("resume"), QKeySequence("Ctrl+Shift+U"), "Continue a suspended instance")
        self.act_terminate = mk("Terminate…", lambda: self.open_action_dialog("terminate"), QKeySequence("Ctrl+Shift+T"), "Stop for good")
        self.act_restart = mk("Restart…", lambda: self.open_action_dialog("restart"), QKeySequence("Ctrl+Shift+R"), "Run again from the start")
        self.act_rewind = mk("Rewind…", lambda: self.open_action_dialog("rewind"), QKeySequence("Ctrl+Shift+W"), "Retry a failed instance from where it failed")
        self.act_purge = mk("Purge…", lambda: self.open_action_dialog("purge"), QKeySequence.StandardKey.Delete, "Delete finished instances and history")
        self.act_purge_filter = mk("Purge by filter…", self.open_purge_filter_dialog, None, "Delete many finished instances by date and status")
        self.act_copy = mk("Copy instance ID", self.copy_selected_ids, QKeySequence.StandardKey.Copy, "Copy the selected IDs")
        # Ctrl+C copies IDs only while the list has focus; elsewhere it copies the selected text as usual.
        # Likewise Delete (purge) acts on the list only, never on a key meant for another pane.
        for list_action in (self.act_copy, self.act_purge):
            self.removeAction(list_action)
            list_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.table.addAction(list_action)
        self.act_connections = mk("Connections…", self.open_connection_dialog, QKeySequence("Ctrl+K"), "Edit saved connections")
        self.act_utc = mk("Show times in UTC", self.set_utc_from_action, QKeySequence("Ctrl+U"), "Switch between local time and UTC")
        self.act_utc.setCheckable(True)
        self.act_quit = mk("Quit", self.close, QKeySequence.StandardKey.Quit)

        tb = self.action_toolbar
        tb.addAction(self.act_refresh)
        tb.addWidget(QLabel(" Auto: ", self))
        tb.addWidget(self.auto_refresh)
        tb.addSeparator()
        tb.addAction(self.act_start)
        tb.addSeparator()
        for a in (self.act_raise, self.act_suspend, self.act_resume, self.act_terminate, self.act_restart, self.act_rewind, self.act_purge):
            tb.addAction(a)
        tb.addSeparator()
        tb.addAction(self.act_purge_filter)

        menu = self.menuBar()
        m = menu.addMenu("&File")
        m.addAction(self.act_connections)
        m.addSeparator()
        m.addAction(self.act_quit)
        m = menu.addMenu("&Instances")
        entries: list[QAction | None] = [
            self.act_refresh, self.act_find, None, self.act_start, None, self.act_raise, self.act_suspend,
            self.act_resume, self.act_terminate, self.act_restart, self.act_rewind, self.act_purge, None,
            self.act_purge_filter, None, self.act_copy,
        ]
        for entry in entries:
            if entry is None:
                m.addSeparator()
            else:
                m.addAction(entry)
        m = menu.addMenu("&View")
        m.addAction(self.act_utc)
        self._build_worker_menu(menu.addMenu("&Worker"))
        self._status_actions = {"raise_event": self.act_raise, "suspend": self.act_suspend, "resume": self.act_resume,
                                "terminate": self.act_terminate, "restart": self.act_restart, "rewind": self.act_rewind,
                                "purge": self.act_purge}
        self.instance_actions = [self.act_raise, self.act_suspend, self.act_resume, self.act_terminate,
                                 self.act_restart, self.act_rewind, self.act_purge, self.act_copy]

    # ================================================================== layout persistence
    def _restore_layout(self) -> None:
        s = self.settings
        geom = s.value("window/geometry")
        if geom is not None:
            self.restoreGeometry(geom)
        else:
            self.resize(1280, 820)
        state = s.value("window/state")
        if state is not None:
            self.restoreState(state)
        split = s.value("window/splitter")
        if split is not None:
            self.splitter.restoreState(split)
        header = s.value("list/header")
        if header is not None:
            self.table.horizontalHeader().restoreState(header)
            # The sort itself is not kept between runs, so neither is its arrow.
            self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        saved_filter = s.value("list/filter")
        if saved_filter:
            try:
                data = json.loads(str(saved_filter))
                if isinstance(data, dict):
                    self.filter_bar.restore_settings(data)
                    flt = self.filter_bar.current_filter()
                    flt.validate()
                    self.instance_filter = flt
            except ValueError as exc:
                log.info("ignoring the saved filter: %s", exc)
        utc = str(s.value("view/utc", "false")).lower() == "true"
        self.act_utc.setChecked(utc)
        self.set_utc(utc)
        try:
            seconds = int(str(s.value("list/auto_refresh", 0) or 0))
        except ValueError:
            seconds = 0
        idx = self.auto_refresh.findData(seconds)
        self.auto_refresh.setCurrentIndex(max(0, idx))

    def save_layout(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.setValue("window/splitter", self.splitter.saveState())
        s.setValue("list/header", self.table.horizontalHeader().saveState())
        s.setValue("view/utc", "true" if self.utc else "false")
        s.setValue("list/filter", json.dumps(self.filter_bar.to_settings()))
        s.setValue("list/auto_refresh", int(self.auto_refresh.currentData() or 0))
        s.sync()

    def closeEvent(self, event: Any) -> None:
        self.save_layout()
        self.refresh_timer.stop()
        self.runner.cancel_all()
        self._shutdown_worker()
        client, self.client = self.client, None
        self.service = None
        clear = getattr(self.detail, "set_client", None)
        if clear is not None:
            clear(None)
        if client is not None:
            # Closed now, not merely scheduled: the loop may end before a scheduled close runs.
            self.closing = close_client_now(client)
        super().closeEvent(event)

    def eventFilter(self, watched: Any, event: QEvent) -> bool:
        if watched is self.table.viewport() and event.type() in (QEvent.Type.Resize, QEvent.Type.Show):
            self.empty_label.setGeometry(self.table.viewport().rect())
        return super().eventFilter(watched, event)

    # ================================================================== theme and time zone
    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange, QEvent.Type.ThemeChange):
            self._update_palette()
        super().changeEvent(event)

    def _update_palette(self) -> None:
        dark = palette_is_dark(self.palette())
        self.model.set_dark(dark)
        if hasattr(self, "state_label") and self.connection_state:
            self._recolor_state()
        self.banner.setStyleSheet(
            "background: #5c1f1f; color: #ffd7d7; padding: 6px; border-radius: 3px;" if dark
            else "background: #fdecea; color: #8b1a1a; padding: 6px; border-radius: 3px;"
        )

    def _recolor_state(self) -> None:
        text = self.state_label.toolTip() or self.state_label.text()
        if self.state_label.text():
            self._set_state_label(self.connection_state, text)

    def set_utc_from_action(self) -> None:
        self.set_utc(self.act_utc.isChecked())

    def set_utc(self, utc: bool) -> None:
        self.utc = utc
        self.act_utc.setChecked(utc)
        self.model.set_utc(utc)
        self._fit_time_columns()
        set_tz = getattr(self.detail, "set_time_zone", None)
        if set_tz is not None:
            set_tz(utc)

    def _fit_time_columns(self) -> None:
        """Widen the Created / Last updated columns when their text (e.g. with " UTC") would be cut."""
        from datetime import datetime, timezone

        from dtstudio.core.formatting import format_timestamp

        sample = format_timestamp(datetime(2026, 12, 28, 23, 58, 58, tzinfo=timezone.utc), utc=self.utc)
        need = self.table.fontMetrics().horizontalAdvance(sample) + 16
        for col in (3, 4):
            if self.table.columnWidth(col) < need:
                self.table.setColumnWidth(col, need)

    # ================================================================== messages
    def show_banner(self, text: str) -> None:
        self.banner.setText(text)
        self.banner.show()

    def hide_banner(self) -> None:
        self.banner.hide()

    def report_error(self, exc: BaseException) -> None:
        """Any unexpected failure of a background task: a readable line, never a crash."""
        text = describe_error(exc, self.profile)
        self.statusBar().showMessage(text, 15000)
        self.show_banner(text)

    def _update_action_state(self) -> None:
        connected = self.service is not None
        sel_model = self.table.selectionModel()
        has_sel = bool(sel_model.hasSelection()) if sel_model else False
        for a in self.instance_actions:
            a.setEnabled(connected and has_sel)
        # An action none of the selected instances can take is disabled, and its tooltip says why.
        statuses = [status_name(self.model.state_at(i.row())) for i in sel_model.selectedRows()] if has_sel else []
        for key, action in self._status_actions.items():
            base = action.statusTip()
            reasons = [why_not_applicable(key, st) for st in statuses]
            if connected and statuses and all(reasons):
                action.setEnabled(False)
                action.setToolTip(f"{base}: not possible, the selected instance is {reasons[0]}"
                                  if len(statuses) == 1 else f"{base}: not possible for any selected instance")
            else:
                action.setToolTip(f"{base} ({action.shortcut().toString()})" if not action.shortcut().isEmpty() else base)
        self.act_copy.setEnabled(has_sel)
        self.act_start.setEnabled(connected)
        self.act_purge_filter.setEnabled(connected)
        self.act_refresh.setEnabled(True)

