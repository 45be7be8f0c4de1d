"""Run slow pure functions (JSON formatting, timeline building) off the GUI thread.

Results come back on the GUI thread through a Qt signal (a queued connection to a QObject slot), tagged
with the token :meth:`BackgroundCalls.submit` returned, so a caller can drop results it no longer wants.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, Signal

__all__ = ["BackgroundCalls"]

_log = logging.getLogger("dtstudio.ui")
_EXECUTOR = ThreadPoolExecutor(max_workers=2, thread_name_prefix="dtstudio-detail")


class BackgroundCalls(QObject):
    """Submit ``fn(*args)`` to a worker thread; :attr:`finished` delivers ``(token, result)``."""

    finished = Signal(int, object)
    failed = Signal(int, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._next = 0

    def submit(self, fn: Callable[..., Any], *args: Any) -> int:
        self._next += 1
        token = self._next
        future = _EXECUTOR.submit(fn, *args)
        future.add_done_callback(lambda f: self._deliver(token, f))
        return token

    def _deliver(self, token: int, future: Future[Any]) -> None:
        try:
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 - any failure is reported, never raised into Qt
                _log.exception("background call failed")
                self.failed.emit(token, f"{type(exc).__name__}: {exc}")
                return
            self.finished.emit(token, result)
        except RuntimeError:
            # The receiving widget was deleted while the call ran: nobody wants the result.
            pass
