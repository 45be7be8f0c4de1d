"""BackgroundCalls: results reach a live owner on the GUI thread; an owner deleted meanwhile gets nothing
and the process survives (worker threads used to emit on the owner while the GUI thread deleted it)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, QObject

from dtstudio.ui.detail.background import BackgroundCalls


def test_results_and_failures_arrive_on_the_gui_thread(qtbot: Any) -> None:
    owner = QObject()
    calls = BackgroundCalls(owner)
    got: list[tuple[str, int, Any, bool]] = []
    gui = threading.get_ident()
    calls.finished.connect(lambda token, result: got.append(("ok", token, result, threading.get_ident() == gui)))
    calls.failed.connect(lambda token, text: got.append(("failed", token, text, threading.get_ident() == gui)))

    def boom() -> None:
        raise ValueError("no such thing")

    ok_token = calls.submit(sum, [1, 2, 3])
    bad_token = calls.submit(boom)
    qtbot.waitUntil(lambda: len(got) == 2, timeout=5000)
    assert sorted(got, key=lambda g: g[1]) == sorted(
        [("ok", ok_token, 6, True), ("failed", bad_token, "ValueError: no such thing", True)], key=lambda g: g[1])


def test_an_owner_deleted_while_its_call_runs_gets_nothing(qtbot: Any) -> None:
    owner = QObject()
    calls = BackgroundCalls(owner)
    got: list[Any] = []
    calls.finished.connect(lambda token, result: got.append(result))
    release = threading.Event()
    calls.submit(lambda: release.wait(5) and "late")
    owner.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    release.set()
    time.sleep(0.2)
    qtbot.wait(100)
    assert got == []


def test_deleting_owners_while_workers_deliver_does_not_crash() -> None:
    # Run in a child process: the old code died with SIGSEGV within seconds of this loop.
    script = textwrap.dedent("""
        import random, time
        from PySide6.QtCore import QCoreApplication, QEvent, QObject
        from PySide6.QtWidgets import QApplication
        from dtstudio.ui.detail.background import BackgroundCalls
        app = QApplication([])
        def job(n):
            end = time.perf_counter() + n
            while time.perf_counter() < end:
                pass
            return n
        delivered = [0]
        end = time.monotonic() + 4
        while time.monotonic() < end:
            owner = QObject()
            calls = BackgroundCalls(owner)
            calls.finished.connect(lambda token, result: delivered.__setitem__(0, delivered[0] + 1))
            for _ in range(2):
                calls.submit(job, random.uniform(0, 0.0005))
            time.sleep(random.uniform(0, 0.0005))
            if random.random() < 0.5:
                app.processEvents()  # some results reach their owner first
            owner.deleteLater()
            QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
            app.processEvents()
        print("delivered", delivered[0])
    """)
    done = subprocess.run([sys.executable, "-X", "faulthandler", "-c", script], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "delivered" in done.stdout
