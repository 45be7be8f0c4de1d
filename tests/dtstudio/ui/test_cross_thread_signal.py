"""CrossThreadEmitter: background threads emit until close(), and a closed emitter never touches Qt."""

from __future__ import annotations

import threading
from typing import Any

from PySide6.QtCore import QObject, Signal

from dtstudio.ui.cross_thread_signal import CrossThreadEmitter


class _Owner(QObject):
    ping = Signal(int)


def test_emits_from_a_thread_until_closed(qtbot: Any) -> None:
    owner = _Owner()
    got: list[int] = []
    owner.ping.connect(got.append)
    emitter = CrossThreadEmitter(owner.ping)
    results: list[bool] = []
    t = threading.Thread(target=lambda: results.append(emitter.emit(1)))
    t.start()
    t.join(5)
    qtbot.waitUntil(lambda: got == [1], timeout=5000)
    emitter.close()
    assert results == [True] and emitter.emit(2) is False


def test_close_then_delete_while_a_thread_keeps_emitting(qtbot: Any) -> None:
    owner = _Owner()
    emitter = CrossThreadEmitter(owner.ping)
    refused = threading.Event()
    errors: list[BaseException] = []

    def spam() -> None:
        try:
            while emitter.emit(0):
                pass
            refused.set()
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)

    t = threading.Thread(target=spam)
    t.start()
    emitter.close()
    owner.deleteLater()
    t.join(5)
    assert refused.is_set() and not errors


def test_an_emit_after_the_object_is_gone_is_refused(qtbot: Any) -> None:
    owner = _Owner()
    emitter = CrossThreadEmitter(owner.ping)
    owner.deleteLater()
    qtbot.waitUntil(lambda: not emitter.emit(0), timeout=5000)
