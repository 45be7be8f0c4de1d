"""Run slow pure functions (JSON formatting, timeline building) off the GUI thread.

Results come back on the GUI thread through a Qt signal, tagged with the token
:meth:`BackgroundCalls.submit` returned, so a caller can drop results it no longer wants. Worker threads
emit only on a relay that is never deleted (:class:`_Relay`), never on the owner, which the GUI thread may
be deleting at that moment.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal

__all__ = ["BackgroundCalls"]

_log = logging.getLogger("dtstudio.ui")
_EXECUTOR = ThreadPoolExecutor(max_workers=2, thread_name_prefix="dtstudio-detail")


class _Relay(QObject):
    """Carries results from worker threads to the GUI thread. Never deleted, so a worker thread's emit
    cannot race a deletion (emitting on a ``BackgroundCalls`` that the GUI thread deletes at that
    moment crashed the process); the slot, on the GUI thread, hands the result on if its owner lives."""

    deliver = Signal(object, int, object, bool)  # (weak reference to the owner, token, payload, ok)

    def __init__(self) -> None:
        super().__init__()
        self.deliver.connect(self._hand_on, Qt.ConnectionType.QueuedConnection)

    @staticmethod
    def _hand_on(ref: weakref.ref[BackgroundCalls], token: int, payload: object, ok: bool) -> None:
        owner = ref()
        if owner is None or not shiboken6.isValid(owner):
            return  # the receiving widget was deleted while the call ran: nobody wants the result
        if ok:
            owner.finished.emit(token, payload)
        else:
            owner.failed.emit(token, str(payload))


_RELAY: _Relay | None = None


def _relay() -> _Relay:
    """The relay, created on first use (on the GUI thread, where ``BackgroundCalls`` are made)."""
    global _RELAY
    if _RELAY is None:
        _RELAY = _Relay()
    return _RELAY


class BackgroundCalls(QObject):
    """Submit ``fn(*args)`` to a worker thread; :attr:`finished` delivers ``(token, result)``."""

    finished = Signal(int, object)
    failed = Signal(int, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._next = 0
        self._relay = _relay()
        self._ref = weakref.ref(self)

    def submit(self, fn: Callable[..., Any], *args: Any) -> int:
        self._next += 1
        token = self._next
        future = _EXECUTOR.submit(fn, *args)
        relay, ref = self._relay, self._ref
        future.add_done_callback(lambda f: _deliver(relay, ref, token, f))
        return token


def _deliver(relay: _Relay, ref: weakref.ref[BackgroundCalls], token: int, future: Future[Any]) -> None:
    """On the worker thread: send the outcome through the relay (never through the owner itself)."""
    try:
        result = future.result()
    except Exception as exc:  # noqa: BLE001 - any failure is reported, never raised into Qt
        _log.exception("background call failed")
        relay.deliver.emit(ref, token, f"{type(exc).__name__}: {exc}", False)
        return
    relay.deliver.emit(ref, token, result, True)
