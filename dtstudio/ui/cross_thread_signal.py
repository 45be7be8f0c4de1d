"""Emitting a Qt signal from a background thread without racing the owner's deletion.

A queued emit from another thread touches the owner's C++ object; if the GUI thread deletes the
owner at that moment (a window closing), the process crashes. :class:`CrossThreadEmitter` emits
under a lock that :meth:`close` also takes: the owner calls ``close()`` (on the GUI thread) before
it can be deleted, so an emit and the deletion never overlap. An emit after the wrapper already
knows its object is gone is refused too.
"""

from __future__ import annotations

import threading
from typing import Any

from PySide6.QtCore import SignalInstance

__all__ = ["CrossThreadEmitter"]


class CrossThreadEmitter:
    """Emits ``signal`` from any thread until :meth:`close`."""

    def __init__(self, signal: SignalInstance) -> None:
        self._lock = threading.Lock()
        self._signal: SignalInstance | None = signal

    def emit(self, *args: Any) -> bool:
        """Emit now if the owner still lives; returns whether it did."""
        with self._lock:
            if self._signal is None:
                return False
            try:
                self._signal.emit(*args)
            except RuntimeError:  # "Signal source has been deleted"
                self._signal = None
                return False
            return True

    def close(self, *_: Any) -> None:
        """No more emits; waits for an emit in progress. Call before the owner may be deleted."""
        with self._lock:
            self._signal = None
