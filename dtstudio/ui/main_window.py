"""The main window: connection bar, filter bar, the instance list, the detail pane and the actions."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from PySide6.QtCore import QEvent, QItemSelectionModel, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QTableView,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from dtstudio.core.connection import check_connection, describe_error, grpc_code_name, open_client
from dtstudio.core.instance_filter import InstanceFilter
from dtstudio.core.profiles import BackendKind, ConnectionProfile, ProfileStore
from dtstudio.core.taskhub_service import BATCH_OPERATIONS, TaskHubService
from dtstudio.core.worker_hosting import worker_hosting_available
from dtstudio.qtmodels.instance_status_colors import palette_is_dark
from dtstudio.qtmodels.instance_table_model import InstanceTableModel
from dtstudio.ui.action_dialogs import RaiseEventDialog, ReasonDialog, RestartDialog, StartDialog
from dtstudio.ui.async_tasks import TaskRunner
from dtstudio.ui.batch_dialog import BatchDialog
from dtstudio.ui.connection_dialog import ConnectionDialog
from dtstudio.ui.filter_bar import FilterBar
from dtstudio.ui.form_dialog import FormDialog
from dtstudio.ui.purge_filter_dialog import PurgeFilterDialog

__all__ = ["AUTO_REFRESH_CHOICES", "MainWindow", "make_detail_view"]

log = logging.getLogger("dtstudio.ui")

#: (label, seconds) for the auto-refresh selector; 0 = off.
AUTO_REFRESH_CHOICES: list[tuple[str, int]] = [("Off", 0), ("2 s", 2), ("5 s", 5), ("10 s", 10), ("30 s", 30)]
COUNTS_MIN_INTERVAL_S = 10.0


def make_detail_view(parent: QWidget | None = None) -> QWidget:
    """The detail pane (``dtstudio.ui.detail``), or a plain placeholder if it is not installed."""
    try:
        from dtstudio.ui.detail import InstanceDetailView  # type: ignore[attr-defined]

        return InstanceDetailView(parent)  # type: ignore[no-any-return]
    except ImportError:
        from dtstudio.ui.detail_placeholder import DetailPlaceholder

        return DetailPlaceholder(parent)


class MainWindow(QMainWindow):
    """dtstudio's window. Everything slow is awaited on the qasync loop; slots stay thin."""

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
        self.state_label = QLabel("Not connected", self)
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
        self.table.horizontalHeader().setSectionsClickable(True)
        self.table.horizontalHeader().sectionClicked.connect(self._header_clicked)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.horizontalHeader().setStretchLastSection(True)
        for col, width in enumerate([250, 170, 110, 150, 150, 90, 200, 160]):
            self.table.setColumnWidth(col, width)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.empty_label = QLabel("", self)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setStyleSheet("color: palette(mid); padding: 12px;")
        self.empty_label.hide()

        left = QWidget(self)
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.setSpacing(2)
        lv.addWidget(self.filter_bar)
        lv.addWidget(self.banner)
        lv.addWidget(self.table, 1)
        lv.addWidget(self.empty_label)

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
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.auto_refresh.currentIndexChanged.connect(self._auto_refresh_changed)
        self.connect_action.triggered.connect(self._connect_clicked)
        self.hub_edit.returnPressed.connect(self._connect_clicked)
        self.profile_combo.activated.connect(self._profile_chosen)
        open_req = getattr(self.detail, "open_instance_requested", None)
        if open_req is not None:
            open_req.connect(self.open_instance)
        self._fill_profile_combo()

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
        self.act_connections = mk("Connections…", self.open_connection_dialog, QKeySequence("Ctrl+K"), "Edit saved connections")
        self.act_utc = mk("Show times in UTC", self.set_utc_from_action, QKeySequence("Ctrl+U"), "Switch between local time and UTC")
        self.act_utc.setCheckable(True)
        self.act_quit = mk("Quit", self.close, QKeySequence.StandardKey.Quit)
        self.act_worker = QAction("Host a worker from a Python file… (coming later)", self)
        self.act_worker.setEnabled(worker_hosting_available())

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
        m = menu.addMenu("&Worker")
        m.addAction(self.act_worker)
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
        client, self.client = self.client, None
        if client is not None:
            try:
                asyncio.ensure_future(client.close())
            except RuntimeError:
                pass
        super().closeEvent(event)

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
        set_tz = getattr(self.detail, "set_time_zone", None)
        if set_tz is not None:
            set_tz(utc)

    # ================================================================== connections
    def _fill_profile_combo(self) -> None:
        current = self.profile.name if self.profile else self.store.last_used
        self.profile_combo.blockSignals(True)
        self.profile_combo.clear()
        for p in self.store.profiles:
            self.profile_combo.addItem(p.name, p.name)
        i = self.profile_combo.findData(current)
        self.profile_combo.setCurrentIndex(max(0, i))
        self.profile_combo.blockSignals(False)
        chosen = self.store.get(self.profile_combo.currentData() or "")
        if chosen is not None and not self.hub_edit.text():
            self.hub_edit.setText(chosen.taskhub)

    def _profile_chosen(self, index: int) -> None:
        p = self.store.get(self.profile_combo.itemData(index) or "")
        if p is not None:
            self.hub_edit.setText(p.taskhub)
            self.connect_to(p)

    def _connect_clicked(self) -> None:
        p = self.store.get(self.profile_combo.currentData() or "")
        if p is None:
            return
        hub = self.hub_edit.text().strip() or p.taskhub
        if hub != p.taskhub:
            p = ConnectionProfile(p.name, p.kind, p.endpoint, hub, p.credential, p.managed_identity_client_id)
        self.connect_to(p)

    def set_embedded_address(self, address: str | None, error: str | None = None) -> None:
        """Called by the app once the embedded emulator is up (or failed to start)."""
        self.embedded_address = address
        self.embedded_error = error
        pending, self._pending_connect = self._pending_connect, None
        if pending is not None:
            if address is None:
                self._set_state("error", f"The embedded emulator did not start: {error}")
            else:
                self.connect_to(pending)

    def connect_to(self, profile: ConnectionProfile | str) -> asyncio.Future[Any] | None:
        """Connect to a profile (by object or name) asynchronously; the state label tells the outcome."""
        if isinstance(profile, str):
            found = self.store.get(profile)
            if found is None:
                self._set_state("error", f"No saved connection called {profile!r}.")
                return None
            profile = found
        i = self.profile_combo.findData(profile.name)
        if i >= 0:
            self.profile_combo.setCurrentIndex(i)
        self.hub_edit.setText(profile.taskhub)
        return self.runner.spawn(self._connect(profile))

    async def _connect(self, profile: ConnectionProfile) -> None:
        self._conn_gen += 1
        gen = self._conn_gen
        await self._disconnect()
        if profile.kind is BackendKind.EMBEDDED and self.embedded_address is None:
            if self.embedded_error:
                self._set_state("error", f"The embedded emulator did not start: {self.embedded_error}")
                return
            self._pending_connect = profile
            self._set_state("connecting", "Starting the embedded emulator…")
            return
        self._set_state("connecting", f"Connecting to {profile.display_target()}…")
        client = None
        try:
            client = open_client(profile, embedded_address=self.embedded_address)
            await check_connection(client, profile)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - shown to the user
            if client is not None:
                await _close_quietly(client)
            if gen == self._conn_gen:
                self._set_state("error", describe_error(exc, profile, connecting=True))
            return
        if gen != self._conn_gen:
            await _close_quietly(client)
            return
        self.profile = profile
        self.client = client
        self.service = TaskHubService(client)
        set_client = getattr(self.detail, "set_client", None)
        if set_client is not None:
            set_client(client)
        where = "embedded emulator at " + str(self.embedded_address) if profile.kind is BackendKind.EMBEDDED else profile.endpoint
        self._connected_message = f"Connected to {where} · task hub '{profile.taskhub}'"
        self._set_state("connected", self._connected_message)
        self.setWindowTitle(f"dtstudio — {profile.name} · {profile.taskhub}")
        self.store.last_used = profile.name
        try:
            self.store.save()
        except OSError as exc:
            log.info("could not save profiles: %s", exc)
        self.reload_list()

    async def _disconnect(self) -> None:
        client, self.client = self.client, None
        self.service = None
        self.model.set_page_source(None)
        self.filter_bar.set_counts(None)
        clear = getattr(self.detail, "set_client", None)
        if clear is not None:
            clear(None)
        if client is not None:
            await _close_quietly(client)
        self._update_action_state()

    def _set_state(self, state: str, message: str) -> None:
        self.connection_state = state
        self._set_state_label(state, message)
        short = {"connected": "Connected", "connecting": "Connecting…", "error": "Connection failed", "disconnected": "Not connected"}
        self.conn_status_label.setText(short.get(state, state))
        if state == "error":
            self.last_connection_error = message
            self.show_banner(message)
            self.statusBar().showMessage(message, 15000)
        else:
            self.hide_banner()
            self.statusBar().showMessage(message, 8000)
        self._update_action_state()
        self._update_empty_label()

    def _set_state_label(self, state: str, message: str) -> None:
        if palette_is_dark(self.palette()):
            colors = {"connected": "#81c784", "connecting": "#ffb74d", "error": "#ef5350", "disconnected": "palette(mid)"}
        else:
            colors = {"connected": "#2e7d32", "connecting": "#b26a00", "error": "#c62828", "disconnected": "palette(mid)"}
        dots = {"connected": "●", "connecting": "◌", "error": "●", "disconnected": "○"}
        self.state_label.setText(f"{dots.get(state, '')} {message}")
        self.state_label.setStyleSheet(f"color: {colors.get(state, 'palette(text)')};")
        self.state_label.setToolTip(message)

    def open_connection_dialog(self) -> ConnectionDialog:
        dlg = ConnectionDialog(self.store, self.profile.name if self.profile else self.store.last_used, self)
        dlg.connect_requested.connect(self.connect_to)
        dlg.finished.connect(lambda _r: self._fill_profile_combo())
        self._dialog = dlg
        dlg.open()
        return dlg

    # ================================================================== the list
    def set_filter(self, flt: InstanceFilter) -> None:
        try:
            flt.validate()
        except ValueError as exc:
            self.show_banner(str(exc))
            return
        self.instance_filter = flt
        self.reload_list()

    def reload_list(self) -> None:
        service = self.service
        if service is None:
            return
        flt = self.instance_filter
        self.hide_banner()

        async def source(token: str | None) -> Any:
            return await service.fetch_page(flt, token)

        self.model.set_page_source(source)
        self.model.reload()
        self.refresh_counts(force=True)

    def refresh(self) -> None:
        """F5: re-query the list (keeping selection and scroll) and the counts."""
        if self.service is None:
            if self.profile is not None or self.store.get(self.profile_combo.currentData() or ""):
                self._connect_clicked()
            return
        if self.model.last_error is not None or self.model.rowCount() == 0:
            self.reload_list()
            return
        self._remember_selection()
        self.model.refresh()
        self.refresh_counts(force=True)
        refresh_detail = getattr(self.detail, "refresh", None)
        if callable(refresh_detail):
            refresh_detail()

    def refresh_counts(self, force: bool = False) -> None:
        service = self.service
        if service is None:
            return
        loop_time = asyncio.get_event_loop().time()
        if self._counts_task is not None and not self._counts_task.done():
            if not force:
                return
            self._counts_task.cancel()
        elif not force and loop_time - self._counts_time < COUNTS_MIN_INTERVAL_S:
            return
        self._counts_time = loop_time
        flt = self.instance_filter

        async def count() -> None:
            try:
                counts = await service.count_by_status(flt)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001
                self.filter_bar.set_counts(None, "counts unavailable")
                log.info("counting failed: %s", exc)
                return
            if service is self.service:
                self.filter_bar.set_counts(counts)

        self._counts_task = self.runner.spawn(count())

    def _auto_refresh_changed(self) -> None:
        seconds = int(self.auto_refresh.currentData() or 0)
        if seconds:
            self.refresh_timer.start(seconds * 1000)
        else:
            self.refresh_timer.stop()

    def _auto_refresh_tick(self) -> None:
        if self.service is None or self.model.is_loading:
            return
        self._remember_selection()
        if self.model.rowCount() == 0:
            self.model.reload()
        else:
            self.model.refresh()
        self.refresh_counts(force=False)

    def _remember_selection(self) -> None:
        self._restore_ids = self.selected_ids()
        cur = self.table.currentIndex()
        self._restore_current = self.model.state_at(cur.row()).instance_id if cur.isValid() and self.model.state_at(cur.row()) else None
        self._restore_scroll = self.table.verticalScrollBar().value()

    def _restore_selection(self) -> None:
        sel = self.table.selectionModel()
        sel.blockSignals(True)
        try:
            for iid in self._restore_ids:
                row = self.model.row_of(iid)
                if row >= 0:
                    sel.select(self.model.index(row, 0), QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)
            if self._restore_current:
                row = self.model.row_of(self._restore_current)
                if row >= 0:
                    sel.setCurrentIndex(self.model.index(row, 0), QItemSelectionModel.SelectionFlag.NoUpdate)
        finally:
            sel.blockSignals(False)
        self.table.verticalScrollBar().setValue(self._restore_scroll)
        self._update_action_state()

    def _rows_loaded(self, count: int) -> None:
        if self.model.last_error is None and self.connection_state == "connected" and self.conn_status_label.text() != "Connected":
            self._set_state("connected", self._connected_message)
        more = " (scroll for more)" if self.model.has_more else ""
        if self._sort_state is not None and self.model.has_more:
            more += " · sorted among the loaded rows"
        self.rows_label.setText(f"{count:,} instance{'s' if count != 1 else ''} loaded{more}")
        if self._select_after_load:
            row = self.model.row_of(self._select_after_load)
            if row >= 0:
                self._select_after_load = None
                self.table.selectRow(row)
                self.table.scrollTo(self.model.index(row, 0))
        self._update_empty_label()

    def _update_empty_label(self) -> None:
        if self.connection_state != "connected":
            self.empty_label.hide()
            return
        if self.model.rowCount() == 0 and not self.model.is_loading and self.model.last_error is None:
            desc = self.instance_filter.describe()
            self.empty_label.setText(
                "No instances in this task hub yet. Start one with “Start new…” (Ctrl+N)."
                if desc == "all instances"
                else f"No instances match: {desc}."
            )
            self.empty_label.show()
        else:
            self.empty_label.hide()

    def _loading_changed(self, loading: bool) -> None:
        if loading:
            self.rows_label.setText("Loading instances…")
        self._update_empty_label()

    def _list_failed(self, exc: BaseException) -> None:
        text = describe_error(exc, self.profile)
        if grpc_code_name(exc) in ("UNAVAILABLE", "UNAUTHENTICATED", "PERMISSION_DENIED"):
            # The backend went away (or our sign-in expired): say so where the connection is shown.
            self._set_state_label("error", text)
            self.conn_status_label.setText("Connection lost")
        self.show_banner("Could not load instances: " + text + " Press F5 to try again.")

    def _header_clicked(self, section: int) -> None:
        """First click sorts ascending, the next click on the same column flips the order."""
        if self._sort_state is not None and self._sort_state[0] == section:
            asc = self._sort_state[1] == Qt.SortOrder.AscendingOrder
            order = Qt.SortOrder.DescendingOrder if asc else Qt.SortOrder.AscendingOrder
        else:
            order = Qt.SortOrder.AscendingOrder
        self._sort_state = (section, order)
        self.table.horizontalHeader().setSortIndicator(section, order)
        self.model.sort(section, order)

    # ================================================================== selection and detail
    def selected_ids(self) -> list[str]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        ids = []
        for r in rows:
            s = self.model.state_at(r)
            if s is not None:
                ids.append(str(s.instance_id))
        return ids

    def _selection_changed(self) -> None:
        self._update_action_state()
        ids = self.selected_ids()
        if len(ids) == 1:
            self.detail.show_instance(ids[0])  # type: ignore[attr-defined]

    def open_instance(self, instance_id: str) -> None:
        """Show an instance (e.g. a parent/child link) in the detail pane and select it if listed."""
        row = self.model.row_of(instance_id)
        if row >= 0:
            self.table.selectRow(row)
            self.table.scrollTo(self.model.index(row, 0))
        else:
            self.table.clearSelection()
            self.detail.show_instance(instance_id)  # type: ignore[attr-defined]

    def _update_action_state(self) -> None:
        connected = self.service is not None
        has_sel = bool(self.table.selectionModel().hasSelection()) if self.table.selectionModel() else False
        for a in self.instance_actions:
            a.setEnabled(connected and has_sel)
        self.act_copy.setEnabled(has_sel)
        self.act_start.setEnabled(connected)
        self.act_purge_filter.setEnabled(connected)
        self.act_refresh.setEnabled(True)

    def copy_selected_ids(self) -> None:
        ids = self.selected_ids()
        if ids:
            QGuiApplication.clipboard().setText("\n".join(ids))
            self.statusBar().showMessage(f"Copied {len(ids)} instance ID{'s' if len(ids) != 1 else ''}", 4000)

    def _context_menu(self, pos: Any) -> None:
        menu = QMenu(self)
        menu.addAction(self.act_copy)
        menu.addSeparator()
        for a in (self.act_raise, self.act_suspend, self.act_resume, self.act_terminate, self.act_restart, self.act_rewind, self.act_purge):
            menu.addAction(a)
        menu.popup(self.table.viewport().mapToGlobal(pos))

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

    def confirm(self, title: str, text: str) -> bool:
        """Ask before something destructive (tests replace this)."""
        answer = QMessageBox.question(self, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                                      QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Yes

    # ================================================================== actions
    def open_action_dialog(self, key: str, ids: list[str] | None = None) -> FormDialog | None:
        """Open the dialog of an action for the selection (or ``ids``); the action runs on OK."""
        if self.service is None:
            self.statusBar().showMessage("Connect first.", 4000)
            return None
        if key == "start":
            dlg: FormDialog = StartDialog(sorted({str(self.model.state_at(r).name) for r in range(min(self.model.rowCount(), 2000))}), self)
            dlg.submitted.connect(lambda v: self.runner.spawn(self._start(dlg, v)))
            self._show_dialog(dlg)
            return dlg
        ids = ids if ids is not None else self.selected_ids()
        if not ids:
            self.statusBar().showMessage("Select one or more instances first.", 4000)
            return None
        if key == "raise_event":
            dlg = RaiseEventDialog(ids, self)
        elif key in ("suspend", "resume", "rewind"):
            dlg = ReasonDialog(BATCH_OPERATIONS[key], ids, parent=self)
        elif key == "terminate":
            dlg = ReasonDialog(
                "Terminate", ids, recursive_option=True, parent=self,
                intro=f"Stop {_targets(ids)} for good. Terminated instances cannot be resumed (only restarted).",
            )
        elif key == "restart":
            dlg = RestartDialog(ids, self)
        elif key == "purge":
            dlg = ReasonDialog(
                "Purge", ids, ask_reason=False, recursive_option=True, parent=self,
                intro=f"Permanently delete {_targets(ids)} and all history. Only completed, failed or terminated "
                "instances can be purged. This cannot be undone.",
            )
        else:
            raise ValueError(f"unknown action {key!r}")
        dlg.submitted.connect(lambda v: self.runner.spawn(self._run_action(key, ids, v, dlg)))
        self._show_dialog(dlg)
        return dlg

    def _show_dialog(self, dlg: QWidget) -> None:
        self._dialog = dlg
        dlg.open()  # type: ignore[attr-defined]

    @property
    def active_dialog(self) -> QWidget | None:
        return self._dialog

    async def _start(self, dlg: FormDialog, values: dict[str, Any]) -> None:
        service = self.service
        if service is None:
            dlg.show_error("Not connected.")
            return
        try:
            iid = await service.start(**values)
        except Exception as exc:  # noqa: BLE001
            dlg.show_error(describe_error(exc, self.profile))
            return
        dlg.finish()
        self.statusBar().showMessage(f"Started {values['name']} as {iid}", 8000)
        self._select_after_load = iid
        self.reload_list()

    async def _run_action(self, key: str, ids: list[str], options: dict[str, Any], dlg: FormDialog) -> None:
        service = self.service
        if service is None:
            dlg.show_error("Not connected.")
            return
        label = BATCH_OPERATIONS[key]
        if key == "purge" and not self.confirm("Purge", f"Permanently delete {_targets(ids)} and their history?"):
            dlg.set_busy(False)
            return
        op = service.operation(key, **options)
        if len(ids) == 1:
            try:
                text = await op(ids[0])
            except Exception as exc:  # noqa: BLE001
                dlg.show_error(describe_error(exc, self.profile))
                return
            dlg.finish()
            self.last_action_message = f"{label} {ids[0]}: {text}"
            self.statusBar().showMessage(self.last_action_message, 8000)
            self._after_action(ids)
            return
        dlg.finish()
        bd = BatchDialog(label, len(ids), self)
        self.batch_dialog = bd
        bd.open()
        batch = asyncio.ensure_future(
            service.run_batch(ids, op, on_result=bd.add_result, describe=lambda e: describe_error(e, self.profile))
        )
        bd.cancel_requested.connect(batch.cancel)
        try:
            await batch
        except asyncio.CancelledError:
            bd.mark_finished(cancelled=True)
        else:
            bd.mark_finished()
        self._after_action(ids)

    def _after_action(self, ids: list[str]) -> None:
        self.refresh()
        if len(ids) == 1 and self.selected_ids() == ids:
            self.detail.show_instance(ids[0])  # type: ignore[attr-defined]

    def open_purge_filter_dialog(self) -> PurgeFilterDialog | None:
        if self.service is None:
            self.statusBar().showMessage("Connect first.", 4000)
            return None
        dlg = PurgeFilterDialog(self)
        dlg.preview_requested.connect(lambda v: self.runner.spawn(self._preview_purge(dlg, v)))
        dlg.submitted.connect(lambda v: self.runner.spawn(self._purge_by_filter(dlg, v)))
        self._show_dialog(dlg)
        return dlg

    async def _preview_purge(self, dlg: PurgeFilterDialog, values: dict[str, Any]) -> None:
        service = self.service
        if service is None:
            dlg.show_error("Not connected.")
            return
        try:
            n = await service.preview_purge_by_filter(
                created_from=values["created_from"], created_to=values["created_to"], statuses=values["statuses"]
            )
        except Exception as exc:  # noqa: BLE001
            dlg.show_error(describe_error(exc, self.profile))
            return
        dlg.show_preview(n)

    async def _purge_by_filter(self, dlg: PurgeFilterDialog, values: dict[str, Any]) -> None:
        service = self.service
        n = dlg.previewed_count or 0
        if service is None:
            dlg.show_error("Not connected.")
            return
        if not self.confirm("Purge instances", f"Permanently delete {n:,} instances and their history?"):
            dlg.set_busy(False)
            return
        try:
            deleted = await service.purge_by_filter(**values)
        except Exception as exc:  # noqa: BLE001
            dlg.show_error(describe_error(exc, self.profile))
            return
        dlg.show_done(deleted)
        self.statusBar().showMessage(f"Purged {deleted:,} instances", 8000)
        self.reload_list()


def _targets(ids: list[str]) -> str:
    return f"instance {ids[0]}" if len(ids) == 1 else f"{len(ids)} instances"


async def _close_quietly(client: Any) -> None:
    try:
        await client.close()
    except Exception as exc:  # noqa: BLE001
        log.info("closing client: %s", exc)
