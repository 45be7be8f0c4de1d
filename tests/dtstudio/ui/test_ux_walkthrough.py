"""What a person meets on the way: first start, errors, a failed instance, batches (real emulator)."""

from __future__ import annotations

import socket
from typing import Any

from PySide6.QtCore import QItemSelectionModel, Qt

from dtstudio.core.profiles import BackendKind, ConnectionProfile


def _wait_listed(qtbot: Any, window: Any, ids: list[str]) -> None:
    window.refresh()
    qtbot.waitUntil(lambda: all(window.model.row_of(i) >= 0 for i in ids) and not window.model.is_loading, timeout=10_000)


def _select(window: Any, ids: list[str]) -> None:
    sel = window.table.selectionModel()
    sel.clearSelection()
    for iid in ids:
        sel.select(window.model.index(window.model.row_of(iid), 0),
                   QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_empty_hub_says_how_to_get_instances_and_a_worker(window: Any, qtbot: Any) -> None:
    qtbot.waitUntil(lambda: window.empty_label.isVisible(), timeout=10_000)
    text = window.empty_label.text()
    assert "Task hub 'default' has no instances yet" in text
    assert "Start new" in text and "Load worker file" in text
    assert str(window.embedded_address) in text
    # It is drawn over the table, not squeezed below it.
    assert window.empty_label.parent() is window.table.viewport()
    assert window.empty_label.height() > 3 * window.fontMetrics().height()


def test_no_sort_arrow_until_the_user_sorts(window: Any, sync_client: Any, qtbot: Any) -> None:
    header = window.table.horizontalHeader()
    assert header.sortIndicatorSection() == -1
    sync_client.schedule_new_orchestration("x", instance_id="s-1")
    _wait_listed(qtbot, window, ["s-1"])
    assert header.sortIndicatorSection() == -1
    window._header_clicked(1)
    assert header.sortIndicatorSection() == 1


def test_a_long_connection_error_stays_visible_in_the_toolbar(make_window: Any, qtbot: Any) -> None:
    w = make_window()
    w.resize(800, 600)
    w.show()
    w.store.upsert(ConnectionProfile("nowhere", BackendKind.EMULATOR, f"http://127.0.0.1:{_free_port()}", "default"))
    w.connect_to("nowhere")
    qtbot.waitUntil(lambda: w.connection_state == "error", timeout=15_000)
    qtbot.waitUntil(lambda: w.state_label.isVisible(), timeout=2_000)  # not pushed into the toolbar's ›› menu
    assert w.state_label.is_elided() and "Cannot reach" in w.state_label.toolTip()
    assert w.state_label.geometry().right() <= w.connection_toolbar.width()


def test_batch_terminate_skips_finished_instances_and_says_why(window: Any, sync_client: Any, worker: Any, qtbot: Any) -> None:
    sync_client.schedule_new_orchestration("failing_workflow", input=2000, instance_id="done-bad")
    sync_client.wait_for_orchestration_completion("done-bad", timeout=15)
    for iid in ("wait-1", "wait-2"):
        sync_client.schedule_new_orchestration("approval_workflow", instance_id=iid)
    _wait_listed(qtbot, window, ["done-bad", "wait-1", "wait-2"])
    _select(window, ["done-bad", "wait-1", "wait-2"])
    dlg = window.open_action_dialog("terminate")
    assert "1 of them will be skipped (already failed)" in dlg.intro_label.text()
    dlg.submit()
    qtbot.waitUntil(lambda: window.batch_dialog is not None and window.batch_dialog.finished_running, timeout=15_000)
    lines = dict(window.batch_dialog.result_lines())
    assert lines["done-bad"] == "Skipped: already failed"
    assert lines["wait-1"].startswith("OK") and lines["wait-2"].startswith("OK")
    assert "2 succeeded, 0 failed, 1 skipped" in window.batch_dialog.summary.text()
    assert sync_client.get_orchestration_state("done-bad").runtime_status.name == "FAILED"


def test_single_action_that_cannot_apply_explains_itself(window: Any, sync_client: Any, worker: Any, qtbot: Any) -> None:
    sync_client.schedule_new_orchestration("hello_sequence", input="x", instance_id="finished-1")
    sync_client.wait_for_orchestration_completion("finished-1", timeout=15)
    _wait_listed(qtbot, window, ["finished-1"])
    _select(window, ["finished-1"])
    dlg = window.open_action_dialog("suspend")
    dlg.submit()
    qtbot.waitUntil(lambda: dlg.error_label.isVisible(), timeout=5_000)
    assert "finished-1 is already completed" in dlg.error_label.text()


def test_failure_view_leads_with_the_root_cause_and_folds_sdk_frames(window: Any, sync_client: Any, worker: Any, qtbot: Any) -> None:
    sync_client.schedule_new_orchestration("failing_workflow", input=1500, instance_id="refund-1")
    sync_client.wait_for_orchestration_completion("refund-1", timeout=15)
    _wait_listed(qtbot, window, ["refund-1"])
    window.table.selectRow(window.model.row_of("refund-1"))
    pane = window.detail.failure_pane
    qtbot.waitUntil(lambda: bool(pane.chain()), timeout=10_000)
    assert pane.summary.text().startswith("<b>ValueError</b>: card declined: amount 1500.00")
    shown = pane.browser.toPlainText()
    assert "sample_orchestrations.py" in shown and "failing_workflow" in shown
    assert "_replay" not in shown and "frames inside the Durable Task SDK hidden" in shown
    assert pane.hidden_frame_count() > 0
    assert "_replay" in pane.text()  # Copy keeps the stored trace verbatim
    pane.show_internal.setChecked(True)
    assert "_replay" in pane.browser.toPlainText() and pane.hidden_frame_count() == 0


def test_keyboard_tab_leaves_the_list_and_esc_clears_the_search(window: Any, sync_client: Any, qtbot: Any) -> None:
    from PySide6.QtWidgets import QApplication

    for iid in ("k-apple", "k-berry"):
        sync_client.schedule_new_orchestration("x", instance_id=iid)
    _wait_listed(qtbot, window, ["k-apple", "k-berry"])
    window.activateWindow()
    window.table.setFocus()
    qtbot.keyClick(window.table, Qt.Key.Key_Tab)
    focused = QApplication.focusWidget()
    assert focused is not window.table and window.detail.isAncestorOf(focused)
    window.act_find.trigger()
    search = window.filter_bar.id_prefix
    assert search.hasFocus()
    qtbot.keyClicks(search, "k-a")
    qtbot.keyClick(search, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.model.instance_ids() == ["k-apple"] and not window.model.is_loading, timeout=10_000)
    qtbot.keyClick(search, Qt.Key.Key_Escape)
    assert search.text() == ""
    qtbot.waitUntil(lambda: sorted(window.model.instance_ids()) == ["k-apple", "k-berry"], timeout=10_000)


def test_detail_pane_without_a_selection_says_what_to_do(window: Any, sync_client: Any, qtbot: Any) -> None:
    detail = window.detail
    assert not detail.tabs.isVisible() and "Pick an instance in the list" in detail.banner.text()
    sync_client.schedule_new_orchestration("x", instance_id="pick-me")
    _wait_listed(qtbot, window, ["pick-me"])
    window.table.selectRow(window.model.row_of("pick-me"))
    qtbot.waitUntil(lambda: detail.tabs.isVisible() and detail.current_instance_id() == "pick-me", timeout=10_000)


def test_connection_error_banner_says_how_to_recover(make_window: Any, qtbot: Any) -> None:
    w = make_window()
    w.show()
    w.store.upsert(ConnectionProfile("gone", BackendKind.EMULATOR, f"http://127.0.0.1:{_free_port()}", "default"))
    w.connect_to("gone")
    qtbot.waitUntil(lambda: w.connection_state == "error", timeout=15_000)
    assert "Press F5 to try again" in w.banner.text() and "Ctrl+K" in w.banner.text()


def test_utc_times_are_not_cut_off(window: Any, sync_client: Any, qtbot: Any) -> None:
    sync_client.schedule_new_orchestration("x", instance_id="tz-1")
    _wait_listed(qtbot, window, ["tz-1"])
    window.act_utc.trigger()
    text = window.model.data(window.model.index(window.model.row_of("tz-1"), 3))
    assert text.endswith(" UTC")
    for col in (3, 4):
        assert window.table.columnWidth(col) >= window.table.fontMetrics().horizontalAdvance(text) + 8


def test_a_pending_instance_nobody_serves_says_why(window: Any, sync_client: Any, qtbot: Any) -> None:
    window.detail.PENDING_HINT_AFTER_S = 0.0
    sync_client.schedule_new_orchestration("nobody_serves_me", instance_id="stuck-1")
    _wait_listed(qtbot, window, ["stuck-1"])
    window.table.selectRow(window.model.row_of("stuck-1"))
    banner = window.detail.banner
    qtbot.waitUntil(lambda: "no worker has picked it up" in banner.text(), timeout=10_000)
    assert "'nobody_serves_me'" in banner.text() and banner.isVisible()


def test_a_running_instance_has_no_pending_hint(window: Any, sync_client: Any, worker: Any, qtbot: Any) -> None:
    window.detail.PENDING_HINT_AFTER_S = 0.0
    sync_client.schedule_new_orchestration("approval_workflow", instance_id="served-1")
    sync_client.wait_for_orchestration_start("served-1", timeout=10)
    _wait_listed(qtbot, window, ["served-1"])
    window.table.selectRow(window.model.row_of("served-1"))
    qtbot.waitUntil(lambda: window.detail.facts() is not None and window.detail.facts().status == "Running", timeout=10_000)
    assert not window.detail.banner.isVisible()


def test_unreachable_local_emulator_says_how_to_start_one(make_window: Any, qtbot: Any) -> None:
    w = make_window()
    w.show()
    w.store.upsert(ConnectionProfile("local dts", BackendKind.EMULATOR, f"http://localhost:{_free_port()}", "default"))
    w.connect_to("local dts")
    qtbot.waitUntil(lambda: w.connection_state == "error", timeout=15_000)
    assert "docker run -p 8080:8080 mcr.microsoft.com/dts/dts-emulator:latest" in w.banner.text()
    assert "Embedded emulator" in w.banner.text()


def test_actions_that_cannot_apply_to_the_selection_are_disabled(window: Any, sync_client: Any, worker: Any, qtbot: Any) -> None:
    sync_client.schedule_new_orchestration("hello_sequence", input="a", instance_id="st-done")
    sync_client.wait_for_orchestration_completion("st-done", timeout=15)
    sync_client.schedule_new_orchestration("approval_workflow", instance_id="st-running")
    sync_client.wait_for_orchestration_start("st-running", timeout=15)
    _wait_listed(qtbot, window, ["st-done", "st-running"])
    qtbot.waitUntil(lambda: "Running" in str(window.model.data(window.model.index(window.model.row_of("st-running"), 2))),
                    timeout=10_000)
    _select(window, ["st-done"])
    assert not window.act_terminate.isEnabled() and not window.act_suspend.isEnabled()
    assert not window.act_resume.isEnabled() and not window.act_rewind.isEnabled()
    assert window.act_purge.isEnabled() and window.act_restart.isEnabled()
    assert "already completed" in window.act_terminate.toolTip()
    _select(window, ["st-running"])
    assert window.act_terminate.isEnabled() and window.act_suspend.isEnabled()
    assert not window.act_purge.isEnabled() and not window.act_restart.isEnabled()
    _select(window, ["st-done", "st-running"])
    assert window.act_terminate.isEnabled() and window.act_purge.isEnabled()


def test_pending_hint_names_what_the_hosted_worker_serves(window: Any, sync_client: Any, qtbot: Any, tmp_path: Any) -> None:
    from dtstudio.core.worker_hosting import HostState

    (tmp_path / "bad.py").write_text("import no_such_module_anywhere\n")
    window.load_worker_file(tmp_path / "bad.py")
    c = window.worker_controller
    qtbot.waitUntil(lambda: not c.busy and c.status.state is HostState.FAILED, timeout=10_000)
    assert "Import failed" in window.statusBar().currentMessage()
    (tmp_path / "good.py").write_text(
        "from durabletask import task\n\n\n@task.orchestrator\ndef deliver(ctx, x):\n    return x\n"
    )
    window.load_worker_file(tmp_path / "good.py")
    qtbot.waitUntil(lambda: not c.busy and c.status.state is HostState.RUNNING, timeout=10_000)
    assert "Import failed" not in window.statusBar().currentMessage()
    window.detail.PENDING_HINT_AFTER_S = 0.0
    sync_client.schedule_new_orchestration("not_hosted", instance_id="p-2")
    _wait_listed(qtbot, window, ["p-2"])
    window.table.selectRow(window.model.row_of("p-2"))
    qtbot.waitUntil(lambda: "registers only: deliver" in window.detail.banner.text(), timeout=10_000)


def test_a_failed_instance_says_why_at_the_top_and_alt_digit_picks_tabs(window: Any, sync_client: Any, worker: Any, qtbot: Any) -> None:
    sync_client.schedule_new_orchestration("failing_workflow", input=3000, instance_id="top-fail")
    sync_client.wait_for_orchestration_completion("top-fail", timeout=15)
    _wait_listed(qtbot, window, ["top-fail"])
    window.table.selectRow(window.model.row_of("top-fail"))
    detail = window.detail
    qtbot.waitUntil(lambda: "Failed with ValueError: card declined: amount 3000.00" in detail.banner.text(), timeout=10_000)
    assert "Failure tab (Alt+5)" in detail.banner.text()
    window.activateWindow()
    window.table.setFocus()
    qtbot.keyClick(window.table, "5", modifier=Qt.KeyboardModifier.AltModifier)
    assert detail.tabs.currentIndex() == detail.TAB_FAILURE


def test_f5_refreshes_from_the_list_and_from_the_detail(window: Any, sync_client: Any, qtbot: Any) -> None:
    sync_client.schedule_new_orchestration("x", instance_id="f5-1")
    _wait_listed(qtbot, window, ["f5-1"])
    window.table.selectRow(window.model.row_of("f5-1"))
    calls: list[int] = []
    window.act_refresh.triggered.connect(lambda: calls.append(1))
    window.activateWindow()
    window.table.setFocus()
    qtbot.keyClick(window.table, Qt.Key.Key_F5)
    assert calls == [1]
    window.detail.refresh_button.setFocus()
    qtbot.keyClick(window.detail.refresh_button, Qt.Key.Key_F5)
    assert calls == [1, 1]


def test_no_two_enabled_shortcuts_share_a_key(window: Any) -> None:
    from collections import Counter

    from PySide6.QtGui import QAction, QShortcut

    keys: list[str] = []
    for action in window.findChildren(QAction):
        keys += [k.toString() for k in action.shortcuts() if not k.isEmpty()]
    for shortcut in window.findChildren(QShortcut):
        if shortcut.isEnabled() and not shortcut.key().isEmpty():
            keys.append(shortcut.key().toString())
    dupes = [k for k, n in Counter(keys).items() if n > 1]
    assert dupes == [], f"ambiguous shortcuts (Qt fires neither): {dupes}"


def test_ctrl_c_copies_ids_in_the_list_and_text_elsewhere(window: Any, sync_client: Any, qtbot: Any) -> None:
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QPlainTextEdit

    sync_client.schedule_new_orchestration("x", instance_id="cp-1", input={"hello": "world"})
    _wait_listed(qtbot, window, ["cp-1"])
    window.table.selectRow(window.model.row_of("cp-1"))
    qtbot.waitUntil(lambda: window.detail.current_instance_id() == "cp-1", timeout=10_000)
    window.activateWindow()
    window.table.setFocus()
    qtbot.keyClick(window.table, Qt.Key.Key_C, modifier=Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == "cp-1"
    window.detail.tabs.setCurrentIndex(1)
    editor = window.detail.input_view.findChildren(QPlainTextEdit)[0]
    qtbot.waitUntil(lambda: "world" in editor.toPlainText(), timeout=10_000)
    editor.setFocus()
    editor.selectAll()
    qtbot.keyClick(editor, Qt.Key.Key_C, modifier=Qt.KeyboardModifier.ControlModifier)
    assert "world" in QGuiApplication.clipboard().text()


def test_delete_key_purges_only_from_the_list(window: Any, sync_client: Any, qtbot: Any) -> None:
    sync_client.schedule_new_orchestration("x", instance_id="del-1")
    sync_client.terminate_orchestration("del-1")
    qtbot.waitUntil(lambda: sync_client.get_orchestration_state("del-1").runtime_status.name == "TERMINATED", timeout=10_000)
    _wait_listed(qtbot, window, ["del-1"])
    window.table.selectRow(window.model.row_of("del-1"))
    window.activateWindow()
    window.detail.tabs.setCurrentIndex(window.detail.TAB_HISTORY)
    history_table = window.detail.history_pane.table
    history_table.setFocus()
    qtbot.keyClick(history_table, Qt.Key.Key_Delete)
    assert window.active_dialog is None
    window.table.setFocus()
    qtbot.keyClick(window.table, Qt.Key.Key_Delete)
    assert window.active_dialog is not None and window.active_dialog.windowTitle() == "Purge"
    window.active_dialog.reject()


def test_failure_banner_follows_a_dark_palette(window: Any, sync_client: Any, worker: Any, qtbot: Any) -> None:
    from PySide6.QtGui import QColor, QPalette

    sync_client.schedule_new_orchestration("failing_workflow", input=3000, instance_id="dark-fail")
    sync_client.wait_for_orchestration_completion("dark-fail", timeout=15)
    _wait_listed(qtbot, window, ["dark-fail"])
    window.table.selectRow(window.model.row_of("dark-fail"))
    banner = window.detail.banner
    qtbot.waitUntil(lambda: "Failed with" in banner.text(), timeout=10_000)
    assert "#fdecea" in banner.styleSheet()
    window.setPalette(QPalette(QColor("#2b2c2f"), QColor("#202124")))
    qtbot.waitUntil(lambda: "#5c1f1f" in banner.styleSheet(), timeout=2_000)
