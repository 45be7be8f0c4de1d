"""The worker panel with a real emulator: load a file, start from the app, stop, reload, errors, log."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from dtstudio.core.worker_hosting import HostState

SAMPLE = Path(__file__).resolve().parents[3] / "resources" / "samples" / "hosted_worker.py"


def wait_state(qtbot: Any, window: Any, state: HostState, timeout: int = 15_000) -> None:
    c = window.worker_controller
    qtbot.waitUntil(lambda: not c.busy and c.status.state is state, timeout=timeout)


def list_status(qtbot: Any, window: Any, iid: str, status: str, timeout: int = 15_000) -> None:
    """Refresh the list until ``iid`` shows ``status`` (e.g. 'Completed')."""

    def shown() -> bool:
        row = window.model.row_of(iid)
        if row < 0 or window.model.is_loading:
            if not window.model.is_loading:
                window.refresh()
            return False
        if window.model.data(window.model.index(row, 2)) == status:
            return True
        window.refresh()
        return False

    qtbot.waitUntil(shown, timeout=timeout)


def start_from_app(qtbot: Any, window: Any, name: str, input_json: str, iid: str) -> Any:
    dlg = window.open_action_dialog("start")
    items = [dlg.name.itemText(i) for i in range(dlg.name.count())]
    dlg.name.setCurrentText(name)
    dlg.instance_id.setText(iid)
    dlg.input.set_text(input_json)
    dlg.submit()
    qtbot.waitUntil(lambda: not dlg.isVisible(), timeout=10_000)
    return items


def items(lst: Any) -> list[str]:
    return [lst.item(i).text() for i in range(lst.count())]


def test_load_start_stop_reload(window: Any, qtbot: Any, tmp_path: Path, sync_client: Any) -> None:
    path = tmp_path / "hosted_worker.py"
    shutil.copy(SAMPLE, path)
    window.load_worker_file(path)
    panel = window.worker_panel
    assert window.worker_dock.isVisible()
    wait_state(qtbot, window, HostState.RUNNING)
    assert items(panel.orchestrator_list) == ["greetings", "place_order"]
    assert items(panel.activity_list) == ["greet", "reserve_stock"]
    assert panel.state_label.text() == f"● Running on embedded emulator at {window.embedded_address} · hub 'default'."
    assert "hosted_worker.py" in panel.file_label.text()
    assert panel.stop_button.isEnabled() and panel.reload_button.isEnabled()

    names = start_from_app(qtbot, window, "greetings", '["Ada"]', "hosted-1")
    assert names[:2] == ["greetings", "place_order"]  # the hosted worker's names come first
    list_status(qtbot, window, "hosted-1", "Completed")
    assert sync_client.get_orchestration_state("hosted-1").serialized_output == '["Hello Ada!"]'
    # The file's own logger reached the panel through the Qt handler.
    qtbot.waitUntil(lambda: any("hosted_worker: greeting Ada" in line for line in panel.log_lines))
    assert any("worker: Worker started" in line for line in panel.log_lines)

    panel.stop_button.click()
    wait_state(qtbot, window, HostState.STOPPED)
    assert not panel.stop_button.isEnabled()
    assert "Stopped" in panel.state_label.text()
    start_from_app(qtbot, window, "greetings", '["Bob"]', "hosted-2")
    list_status(qtbot, window, "hosted-2", "Pending")
    try:
        sync_client.wait_for_orchestration_start("hosted-2", timeout=0.5)
        raise AssertionError("a stopped worker ran the orchestration")
    except TimeoutError:
        pass

    # Edit the file, then Reload: the new code runs.
    path.write_text(path.read_text(encoding="utf-8").replace('f"Hello {name}!"', 'f"Hi {name}!"'), encoding="utf-8")
    panel.reload_button.click()
    wait_state(qtbot, window, HostState.RUNNING)
    list_status(qtbot, window, "hosted-2", "Completed")
    assert sync_client.get_orchestration_state("hosted-2").serialized_output == '["Hi Bob!"]'

    panel.unload_button.click()
    wait_state(qtbot, window, HostState.EMPTY)
    assert panel.orchestrator_list.count() == 0 and not panel.unload_button.isEnabled()
    assert "No worker file loaded" in panel.state_label.text()


def test_syntax_error_shows_line_and_message(window: Any, qtbot: Any, tmp_path: Path) -> None:
    bad = tmp_path / "broken_worker.py"
    bad.write_text("from durabletask import task\n\n@task.orchestrator\ndef flow(ctx, _)\n    return 1\n", encoding="utf-8")
    window.load_worker_file(bad)
    wait_state(qtbot, window, HostState.FAILED)
    panel = window.worker_panel
    text = panel.state_label.text()
    assert text.startswith("✖ Failed to load: Syntax error in broken_worker.py, line 4: ")
    assert "expected ':'" in text
    assert panel.error_source.isVisible() and "def flow(ctx, _)" in panel.error_source.text()
    assert panel.orchestrator_list.count() == 0 and not panel.names_box.isVisible()
    assert panel.reload_button.isEnabled() and not panel.stop_button.isEnabled()
    assert "Syntax error" in window.statusBar().currentMessage()
    # Fix it and Reload.
    bad.write_text("from durabletask import task\n\n@task.orchestrator\ndef flow(ctx, _):\n    return 1\n", encoding="utf-8")
    panel.reload_button.click()
    wait_state(qtbot, window, HostState.RUNNING)
    assert items(panel.orchestrator_list) == ["flow"] and not panel.error_source.isVisible()


def test_import_error_and_file_without_orchestrators(window: Any, qtbot: Any, tmp_path: Path) -> None:
    missing = tmp_path / "needs_lib.py"
    missing.write_text("import not_installed_anywhere_xyz\n", encoding="utf-8")
    window.load_worker_file(missing)
    wait_state(qtbot, window, HostState.FAILED)
    assert window.worker_panel.state_label.text() == (
        "✖ Failed to load: Import failed (needs_lib.py, line 1): "
        "ModuleNotFoundError: No module named 'not_installed_anywhere_xyz'"
    )
    empty = tmp_path / "nothing_here.py"
    empty.write_text("def helper():\n    return 1\n", encoding="utf-8")
    window.load_worker_file(empty)
    wait_state(qtbot, window, HostState.FAILED)
    assert "nothing_here.py has no orchestrators and no activities" in window.worker_panel.state_label.text()


def test_switching_connection_stops_and_closing_unloads(
    make_window: Any, emulator: Any, qtbot: Any, tmp_path: Path
) -> None:
    from dtstudio.core.profiles import EMBEDDED_PROFILE_NAME

    w = make_window()
    w.show()
    w.set_embedded_address(emulator.address)
    w.connect_to(EMBEDDED_PROFILE_NAME)
    qtbot.waitUntil(lambda: w.connection_state == "connected", timeout=10_000)
    w.load_worker_file(SAMPLE)
    wait_state(qtbot, w, HostState.RUNNING)
    # Same backend, other task hub: a different target, so the worker stops and says why.
    w.hub_edit.setText("otherhub")
    w._connect_clicked()
    wait_state(qtbot, w, HostState.STOPPED)
    assert "switched to embedded emulator · hub otherhub" in w.worker_panel.state_label.text()
    assert "Press Reload" in w.worker_panel.state_label.text()
    qtbot.waitUntil(lambda: w.connection_state in ("connected", "error"), timeout=10_000)
    w.worker_panel.reload_button.click()
    wait_state(qtbot, w, HostState.RUNNING)
    assert w.worker_controller.status.target.taskhub == "otherhub"
    w.close()
    assert w.worker_controller.wait_stopped(15)
    assert w.worker_controller.host.status.state is HostState.EMPTY


def test_log_handler_delivers_records_from_other_threads_bounded(qtbot: Any, qloop: Any) -> None:
    import threading

    from dtstudio.ui.hosted_worker_controller import HostedWorkerController
    from dtstudio.ui.worker_panel import LOG_LINES, WorkerPanel

    controller = HostedWorkerController()
    panel = WorkerPanel(controller)
    qtbot.addWidget(panel)
    logger = logging.getLogger("durabletask.worker.hosted")
    main_thread = threading.get_ident()
    seen_threads: list[int] = []
    controller.relay.line.connect(lambda _line: seen_threads.append(threading.get_ident()))

    def spam() -> None:
        for i in range(LOG_LINES + 50):
            logger.info("line %d", i)
        logger.warning("careful")

    t = threading.Thread(target=spam)
    t.start()
    t.join(10)
    qtbot.waitUntil(lambda: bool(panel.log_lines) and panel.log_lines[-1].endswith("worker: careful"))
    assert len(panel.log_lines) == LOG_LINES  # bounded, newest last
    assert panel.log_lines[0].endswith("worker: line 51")
    assert set(seen_threads) == {main_thread}  # delivered on the GUI thread
    controller.shutdown()
    logger.info("after shutdown")  # the handler is detached: nothing arrives, nothing breaks
    assert controller.log_handler not in logger.handlers


def test_loaded_before_connecting_starts_once_connected(make_window: Any, emulator: Any, qtbot: Any) -> None:
    from dtstudio.core.profiles import EMBEDDED_PROFILE_NAME

    w = make_window()  # not connected yet
    w.load_worker_file(SAMPLE)
    wait_state(qtbot, w, HostState.STOPPED)
    assert "connect to a backend, then press Reload" in w.worker_panel.state_label.text()
    assert items(w.worker_panel.orchestrator_list) == ["greetings", "place_order"]
    w.set_embedded_address(emulator.address)
    w.connect_to(EMBEDDED_PROFILE_NAME)
    wait_state(qtbot, w, HostState.RUNNING)
    assert w.worker_controller.status.target.address == "http://" + emulator.address


def test_double_click_on_an_orchestrator_opens_start_with_its_name(window: Any, qtbot: Any) -> None:
    window.load_worker_file(SAMPLE)
    wait_state(qtbot, window, HostState.RUNNING)
    panel = window.worker_panel
    panel.orchestrator_list.itemDoubleClicked.emit(panel.orchestrator_list.item(1))
    dlg = window.active_dialog
    assert dlg is not None and dlg.isVisible()
    assert dlg.name.currentText() == "place_order"
    assert dlg.name.lineEdit().placeholderText() == "e.g. greetings (hosted worker)"
    dlg.reject()
