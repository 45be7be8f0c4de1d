"""A real main window connected to a real emulator (in memory, free port)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def make_window(qtbot: Any, qloop: Any, tmp_path: Path) -> Iterator[Any]:
    """Factory: a MainWindow with settings and profiles in ``tmp_path`` (not yet connected)."""
    from PySide6.QtCore import QSettings

    from dtstudio.core.profiles import ProfileStore
    from dtstudio.ui.main_window import MainWindow

    made: list[Any] = []

    def make(config: Path | None = None) -> Any:
        cfg = config or tmp_path / "config"
        store = ProfileStore(cfg)
        store.load()
        settings = QSettings(str(cfg / "dtstudio.ini"), QSettings.Format.IniFormat)
        w = MainWindow(store, settings)
        qtbot.addWidget(w)
        w.confirmations = []

        def confirm(title: str, text: str) -> bool:
            w.confirmations.append(text)
            return True

        w.confirm = confirm
        made.append(w)
        return w

    yield make
    for w in made:
        w.runner.cancel_all()
        closing = w.closing  # a close of its connection that had to wait (rare)
        if closing is not None:
            qtbot.waitUntil(closing.done, timeout=5_000)


@pytest.fixture
def window(make_window: Any, emulator: Any, qtbot: Any) -> Any:
    """The main window connected to the embedded-emulator profile."""
    from dtstudio.core.profiles import EMBEDDED_PROFILE_NAME

    w = make_window()
    w.show()
    w.set_embedded_address(emulator.address)
    w.connect_to(EMBEDDED_PROFILE_NAME)
    try:
        qtbot.waitUntil(lambda: w.connection_state == "connected", timeout=10_000)
    except qtbot.TimeoutError as exc:  # say where it stuck, not only that it did
        raise AssertionError(f"the window did not connect to {emulator.address}: state {w.connection_state!r}, "
                             f"{w.state_label.toolTip()!r} ({exc})") from exc
    return w
