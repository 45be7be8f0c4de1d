"""Dialogs on their own, the command line and the last-resort error hook."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from dtstudio.core.profiles import BackendKind, CredentialKind, ProfileStore


def test_connection_dialog_edits_profiles_without_secrets(qtbot: Any, tmp_path: Path) -> None:
    from dtstudio.ui.connection_dialog import ConnectionDialog

    store = ProfileStore(tmp_path)
    store.load()
    dlg = ConnectionDialog(store)
    qtbot.addWidget(dlg)
    azure_row = next(i for i in range(dlg.list.count()) if "Azure" in dlg.list.item(i).text())
    dlg.list.setCurrentRow(azure_row)
    assert dlg.credential.isEnabled()
    assert dlg.current_profile().credential is CredentialKind.DEFAULT
    dlg.endpoint.setText("https://sched.westus2.durabletask.io")
    dlg.taskhub.setText("orders")
    dlg.credential.setCurrentIndex(dlg.credential.findData(CredentialKind.MANAGED_IDENTITY.value))
    assert dlg.client_id.isEnabled()
    dlg.client_id.setText("00000000-aaaa")
    with qtbot.waitSignal(dlg.connect_requested) as sig:
        dlg.connect_button.click()
    assert sig.args == ["Azure Durable Task Scheduler"]
    data = json.loads((tmp_path / "profiles.json").read_text())
    saved = next(p for p in data["profiles"] if p["kind"] == "azure")
    assert saved["credential"] == "managed_identity" and saved["taskhub"] == "orders"
    assert set(saved) == {"name", "kind", "endpoint", "taskhub", "credential", "managed_identity_client_id", "extra"}

    dlg2 = ConnectionDialog(store)
    qtbot.addWidget(dlg2)
    dlg2.new_button.click()
    dlg2.endpoint.setText("")
    assert not dlg2.save_current()
    assert "endpoint" in dlg2.error_label.text()
    embedded_row = next(i for i in range(dlg2.list.count()) if store.profiles[i].kind is BackendKind.EMBEDDED)
    dlg2.list.setCurrentRow(embedded_row)
    assert not dlg2.delete_button.isEnabled() and not dlg2.credential.isEnabled()


def test_batch_dialog_counts_results(qtbot: Any) -> None:
    from dtstudio.core.taskhub_service import BatchResult
    from dtstudio.ui.batch_dialog import BatchDialog

    d = BatchDialog("Terminate", 3)
    qtbot.addWidget(d)
    d.add_result(BatchResult("a", True, "termination requested"))
    d.add_result(BatchResult("b", False, "Not found: b"))
    assert d.progress.value() == 2
    d.mark_finished(cancelled=True)
    assert "1 succeeded, 1 failed, 1 not attempted" in d.summary.text()
    assert d.result_lines()[1] == ("b", "Failed: Not found: b")


def test_raise_event_dialog_refuses_bad_json(qtbot: Any) -> None:
    from dtstudio.ui.action_dialogs import RaiseEventDialog

    d = RaiseEventDialog(["x"])
    qtbot.addWidget(d)
    d.event_name.setText("approve")
    d.data.set_text("[1, 2")
    with qtbot.assertNotEmitted(d.submitted):
        d.submit()
    assert d.data.error_label.text().startswith("Line 1, column")
    d.data.set_text("[1, 2]")
    with qtbot.waitSignal(d.submitted) as sig:
        d.submit()
    assert sig.args == [{"event_name": "approve", "data": [1, 2]}]


def test_tags_parsing() -> None:
    from dtstudio.ui.action_dialogs import parse_tags

    assert parse_tags("a=1, b = two ,") == {"a": "1", "b": "two"}
    with pytest.raises(ValueError, match="key=value"):
        parse_tags("oops")


def test_exception_hook_shows_a_message_instead_of_dying(qtbot: Any, monkeypatch: Any) -> None:
    from PySide6.QtWidgets import QMainWindow

    from dtstudio.ui.error_hook import install_exception_hooks

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    w = QMainWindow()
    qtbot.addWidget(w)
    reporter = install_exception_hooks(w)
    try:
        raise KeyError("boom")
    except KeyError:
        sys.excepthook(*sys.exc_info())
    assert reporter.count == 1 and reporter.box is not None and reporter.box.isVisible()
    assert "KeyError" in reporter.box.text() and "keeps running" in reporter.box.text()
    assert "boom" in w.statusBar().currentMessage()
    reporter.box.close()


def test_cli_delegates_emulator_subcommand(monkeypatch: Any) -> None:
    import dtstudio.__main__ as entry
    import durabletask.emulator

    seen: list[list[str]] = []
    monkeypatch.setattr(durabletask.emulator, "main", lambda argv: seen.append(list(argv)) or 0)
    assert entry.main(["emulator", "--port", "0"]) == 0
    assert seen == [["--port", "0"]]


def test_cli_parser_knows_endpoint_and_taskhub() -> None:
    from dtstudio.app import build_parser

    a = build_parser().parse_args(["--endpoint", "http://localhost:8080", "--taskhub", "orders"])
    assert (a.endpoint, a.taskhub) == ("http://localhost:8080", "orders")


def test_create_window_starts_embedded_emulator_and_connects(qloop: Any, qtbot: Any, tmp_path: Path) -> None:
    from dtstudio.app import build_parser, create_window

    args = build_parser().parse_args(["--db", str(tmp_path / "e.db"), "--port", "0"])
    ctx = create_window(args, config_dir=tmp_path / "cfg")
    qtbot.addWidget(ctx.window)
    try:
        qtbot.waitUntil(lambda: ctx.window.connection_state == "connected", timeout=15_000)
        assert "embedded emulator at 127.0.0.1:" in ctx.window.state_label.text()
        assert (tmp_path / "e.db").exists()
    finally:
        ctx.window.runner.cancel_all()
        ctx.emulator.stop()


def test_create_window_with_endpoint(qloop: Any, qtbot: Any, tmp_path: Path, emulator: Any) -> None:
    from dtstudio.app import build_parser, create_window

    args = build_parser().parse_args(["--endpoint", f"http://{emulator.address}", "--taskhub", "default"])
    ctx = create_window(args, config_dir=tmp_path / "cfg")
    qtbot.addWidget(ctx.window)
    qtbot.waitUntil(lambda: ctx.window.connection_state == "connected", timeout=15_000)
    assert ctx.emulator is None and emulator.address in ctx.window.state_label.text()


def test_python_m_dtstudio_starts_and_quits(tmp_path: Path) -> None:
    """The real entry point: embedded emulator + window (offscreen), then a clean exit."""
    import os
    import subprocess

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", DTSTUDIO_LOG="INFO")
    proc = subprocess.run(
        [sys.executable, "-m", "dtstudio", "--db", str(tmp_path / "e.db"), "--port", "0",
         "--config-dir", str(tmp_path / "cfg"), "--quit-after", "1.5"],
        capture_output=True, text=True, env=env, timeout=90, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "window shown" in proc.stderr and "embedded emulator listening" in proc.stderr
    assert (tmp_path / "e.db").exists()
    assert (tmp_path / "cfg" / "dtstudio.ini").exists()  # the layout was saved on close
