"""Fixtures of the detail-pane tests.

``qloop`` here replaces the shared one from ``tests/dtstudio/conftest.py`` for this directory: the
shared fixture stops its loop with ``QEventLoop.stop()``, which calls ``QCoreApplication.exit()``;
from then on every ``QEventLoop.exec()`` in the process returns at once, so ``qtbot.wait``,
``waitSignal`` and ``waitUntil`` in later tests stop processing events. This version marks the loop
stopped without exiting the application, and repairs a process where an earlier test did exit it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest


def _event_loops_work(qapp: Any) -> bool:
    from PySide6.QtCore import QEventLoop, QTimer

    ran: list[bool] = []
    loop = QEventLoop()

    def tick() -> None:
        ran.append(True)
        loop.quit()

    QTimer.singleShot(0, loop, tick)
    loop.exec()
    if not ran:
        # exec() returned before the timer: undo the pending exit (exec() clears it when it ends).
        qapp.processEvents()
        return False
    return True


def _repair_event_loops(qapp: Any) -> None:
    from PySide6.QtCore import QTimer

    if not _event_loops_work(qapp):
        QTimer.singleShot(0, qapp.quit)
        qapp.exec()


@pytest.fixture
def qloop(qapp: Any) -> Iterator[asyncio.AbstractEventLoop]:
    """A qasync loop that runs whenever Qt processes events (qtbot.waitUntil, waitSignal, ...)."""
    import qasync
    from PySide6.QtTest import QTest

    _repair_event_loops(qapp)
    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        for _ in range(200):
            if all(t.done() for t in pending):
                break
            QTest.qWait(5)
        try:
            qapp.aboutToQuit.disconnect(loop._after_run_forever)
        except (RuntimeError, TypeError):
            pass
        # Stopped, without QCoreApplication.exit() (see the module docstring).
        loop._QEventLoop__is_running = False  # type: ignore[attr-defined]
        asyncio.events._set_running_loop(None)
        loop.close()
        asyncio.set_event_loop(None)
