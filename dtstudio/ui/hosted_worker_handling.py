"""The main window's hosted worker: the Worker menu, the worker dock, and following the connection."""

from __future__ import annotations

import concurrent.futures
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDockWidget, QFileDialog, QMenu

from dtstudio.core.profiles import ConnectionProfile
from dtstudio.core.worker_hosting import HostState, WorkerHostStatus, worker_target_for
from dtstudio.ui.hosted_worker_controller import HostedWorkerController
from dtstudio.ui.worker_panel import WorkerPanel

__all__ = ["HostedWorkerHandling"]

log = logging.getLogger("dtstudio.ui.worker")

if TYPE_CHECKING:
    _WindowPart: Any = object
else:
    _WindowPart = object


class HostedWorkerHandling(_WindowPart):
    """Part of :class:`~dtstudio.ui.main_window.MainWindow`: hosting a worker file (mixed in).

    When the connection changes, a running hosted worker is stopped (and the panel says why);
    Reload starts it on the new connection. Closing the window stops it.
    """

    def _build_worker_dock(self) -> None:
        self.worker_controller = HostedWorkerController(self)
        self.worker_panel = WorkerPanel(self.worker_controller, self)
        dock = QDockWidget("Hosted worker", self)
        dock.setObjectName("worker_dock")
        dock.setWidget(self.worker_panel)
        dock.setAllowedAreas(Qt.DockWidgetArea.RightDockWidgetArea | Qt.DockWidgetArea.BottomDockWidgetArea
                             | Qt.DockWidgetArea.LeftDockWidgetArea)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        dock.hide()
        self.worker_dock = dock
        self.worker_panel.load_requested.connect(self.choose_worker_file)
        self.worker_panel.start_requested.connect(self.start_hosted_orchestration)
        self.worker_controller.status_changed.connect(self._worker_status_changed)
        self.worker_controller.busy_changed.connect(lambda _b: self._update_worker_actions())

    def _build_worker_menu(self, menu: QMenu) -> None:
        mk = self._make_action
        self.act_worker_load = mk("Load worker file…", self.choose_worker_file, QKeySequence("Ctrl+Shift+O"),
                                  "Host a worker from a Python file on the current connection")
        self.act_worker_reload = mk("Reload worker", lambda: self.worker_controller.reload(), QKeySequence("Ctrl+Shift+L"),
                                    "Re-import the worker file and start it on the current connection")
        self.act_worker_stop = mk("Stop worker", lambda: self.worker_controller.stop(), None, "Stop the hosted worker")
        self.act_worker_unload = mk("Unload worker", lambda: self.worker_controller.unload(), None,
                                    "Stop the hosted worker and forget the file")
        self.act_worker_panel = self.worker_dock.toggleViewAction()
        self.act_worker_panel.setText("Show worker panel")
        for a in (self.act_worker_load, self.act_worker_reload, self.act_worker_stop, self.act_worker_unload):
            menu.addAction(a)
        menu.addSeparator()
        menu.addAction(self.act_worker_panel)
        self._update_worker_actions()

    # -- commands --------------------------------------------------------------------------------
    def choose_worker_file(self) -> None:
        """Worker → Load worker file…: pick a .py file and host it."""
        start = str(self.settings.value("worker/last_dir", "") or Path.home())
        path, _filter = QFileDialog.getOpenFileName(self, "Load worker file", start, "Python files (*.py);;All files (*)")
        if path:
            self.load_worker_file(path)

    def load_worker_file(self, path: str | Path) -> concurrent.futures.Future[Any] | None:
        """Host ``path`` (replacing the current worker file) and show the worker panel."""
        p = Path(path)
        self.settings.setValue("worker/last_dir", str(p.parent))
        self.worker_dock.show()
        self.worker_dock.raise_()
        return self.worker_controller.load(p)

    def hosted_orchestrator_names(self) -> list[str]:
        return self.worker_controller.orchestrator_names()

    def start_hosted_orchestration(self, name: str) -> None:
        """Open "Start new…" with ``name`` filled in."""
        dlg = self.open_action_dialog("start")
        if dlg is not None:
            dlg.name.setCurrentText(name)  # type: ignore[attr-defined]

    # -- connection ------------------------------------------------------------------------------
    def _worker_follow_connection(self, profile: ConnectionProfile | None, *, connected: bool = False) -> None:
        """Tell the hosted worker where the window connects (None: nowhere usable).

        ``connected`` says the connection to ``profile`` was just verified.
        """
        target = None
        if profile is not None:
            try:
                target = worker_target_for(profile, self.embedded_address)
            except ValueError:
                target = None
        where = profile.display_target() if profile is not None else "no connection"
        self.worker_controller.set_target(target, where, connected=connected)

    # -- display ---------------------------------------------------------------------------------
    def _worker_status_changed(self, status: WorkerHostStatus) -> None:
        self._update_worker_actions()
        self._update_empty_label()  # its advice depends on whether a worker runs here
        if status.state is HostState.FAILED:
            self.statusBar().showMessage(f"Worker file: {status.message}", 10000)
        elif status.state is HostState.RUNNING:
            # Replaces an earlier "Import failed" line that would otherwise linger after the fix.
            self.statusBar().showMessage(f"Worker running: {', '.join(self.hosted_orchestrator_names()) or 'no orchestrators'}", 5000)

    def _update_worker_actions(self) -> None:
        c = self.worker_controller
        state = c.status.state
        busy = c.busy
        self.act_worker_load.setEnabled(not busy)
        self.act_worker_reload.setEnabled(not busy and state is not HostState.EMPTY)
        self.act_worker_stop.setEnabled(not busy and state is HostState.RUNNING)
        self.act_worker_unload.setEnabled(not busy and state is not HostState.EMPTY)

    def _shutdown_worker(self) -> None:
        self.worker_controller.shutdown()

