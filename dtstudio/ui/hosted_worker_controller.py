"""The GUI side of worker hosting: runs :class:`WorkerHost` operations off the GUI thread.

Every operation (load, reload, stop, unload) is queued on one background thread, in order; the
resulting :class:`WorkerHostStatus` comes back to the GUI thread through a queued Qt signal. The
worker's log records arrive the same way (see :mod:`dtstudio.ui.worker_log_handler`).
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from dtstudio.core.worker_hosting import (
    HOSTED_WORKER_LOGGER,
    HostState,
    WorkerHost,
    WorkerHostStatus,
    WorkerTarget,
)
from dtstudio.ui.cross_thread_signal import CrossThreadEmitter
from dtstudio.ui.worker_log_handler import LogRecordRelay, QtLogHandler

__all__ = ["HostedWorkerController"]

log = logging.getLogger("dtstudio.ui.worker")


class HostedWorkerController(QObject):
    """Owns the hosted worker; the window and the worker panel talk to it, never to the host."""

    #: A new :class:`WorkerHostStatus` (after every operation).
    status_changed = Signal(object)
    #: True while an operation runs; ``busy_text`` says which.
    busy_changed = Signal(bool)
    _finished = Signal(object)

    def __init__(self, parent: QObject | None = None, host: WorkerHost | None = None) -> None:
        super().__init__(parent)
        self.host = host or WorkerHost()
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="dtstudio-worker-host")
        self.relay = LogRecordRelay(self)
        self.log_handler = QtLogHandler(self.relay)
        self.log_handler.attach([HOSTED_WORKER_LOGGER])
        self.status: WorkerHostStatus = self.host.status
        #: Where Reload starts the worker: the current connection (None while not connected).
        self.target: WorkerTarget | None = None
        self.busy_text = ""
        self._pending = 0
        self._closed = False
        self._last: concurrent.futures.Future[Any] | None = None
        self._finished.connect(self._on_finished)
        self._finished_emitter = CrossThreadEmitter(self._finished)

    # -- queries ---------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._pending > 0

    @property
    def loaded(self) -> bool:
        return self.status.state is not HostState.EMPTY

    def orchestrator_names(self) -> list[str]:
        """The hosted file's orchestrator names (empty when nothing is loaded)."""
        if self.status.state in (HostState.RUNNING, HostState.STOPPED):
            return list(self.status.orchestrators)
        return []

    # -- operations ------------------------------------------------------------------------------
    def load(self, path: str | Path) -> concurrent.futures.Future[Any] | None:
        """Import ``path`` and run it on the current connection (replacing what runs)."""
        return self._submit(f"Loading {Path(path).name}…", self.host.load, Path(path), self.target)

    def reload(self) -> concurrent.futures.Future[Any] | None:
        """Re-import the file (picking up edits) and start it on the current connection."""
        if self.host.path is None:
            return None
        return self._submit(f"Reloading {self.host.path.name}…", self.host.reload, self.target)

    def stop(self, message: str | None = None) -> concurrent.futures.Future[Any] | None:
        """Stop the worker; the file stays loaded."""
        return self._submit("Stopping the worker…", self.host.stop, message)

    def unload(self) -> concurrent.futures.Future[Any] | None:
        """Stop the worker and forget the file."""
        return self._submit("Unloading…", self.host.unload)

    def set_target(self, target: WorkerTarget | None, description: str = "", *, connected: bool = False) -> None:
        """The connection changed (or is changing): a worker running elsewhere is stopped.

        We stop rather than follow the connection: moving local code onto another backend (maybe
        a production scheduler) should be a deliberate Reload, not a side effect of browsing.
        ``connected=True`` (the connection was just verified) also starts a file that was loaded
        while dtstudio was not connected yet.
        """
        self.target = target
        st = self.status
        if st.state is HostState.RUNNING and st.target != target:
            where = description or "another connection"
            self.stop(f"Stopped because dtstudio switched to {where}. Press Reload to run this file there.")
        elif connected and target is not None and st.state is HostState.STOPPED and st.target is None:
            self.reload()

    def shutdown(self) -> concurrent.futures.Future[Any] | None:
        """Window closing: stop and unload in the background; further operations are refused."""
        if self._closed:
            return self._last
        fut = self._submit("Stopping the worker…", self.host.unload)
        self._closed = True
        # The window may be deleted before the background stop ends: from now on the background
        # thread reports only through the returned future, never through a signal.
        self._finished_emitter.close()
        self.log_handler.detach()
        self._executor.shutdown(wait=False)
        return fut

    def wait_stopped(self, timeout: float = 15.0) -> bool:
        """Block until queued operations (e.g. the stop at shutdown) are done; False on timeout."""
        last = self._last
        if last is None:
            return True
        try:
            last.result(timeout)
        except concurrent.futures.TimeoutError:
            return False
        return True

    # -- plumbing --------------------------------------------------------------------------------
    def _submit(self, text: str, fn: Callable[..., WorkerHostStatus], *args: Any) -> concurrent.futures.Future[Any] | None:
        if self._closed:
            return None
        self._pending += 1
        self.busy_text = text
        self.busy_changed.emit(True)
        self._last = self._executor.submit(self._run, fn, *args)
        return self._last

    def _run(self, fn: Callable[..., WorkerHostStatus], *args: Any) -> WorkerHostStatus:
        try:
            status = fn(*args)
        except Exception:
            log.exception("worker host operation failed")
            status = self.host.status
        self._finished_emitter.emit(status)
        return status

    def _on_finished(self, status: WorkerHostStatus) -> None:
        self._pending = max(0, self._pending - 1)
        self.status = status
        if not self._closed:
            self.log_handler.attach(status.logger_names)
        if self._pending == 0:
            self.busy_text = ""
            self.busy_changed.emit(False)
        self.status_changed.emit(status)
