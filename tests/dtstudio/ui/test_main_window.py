"""The real window against a real emulator: connect, list, filter, page, detail, actions, errors."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta, timezone
from typing import Any

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from dtstudio.core.profiles import BackendKind, ConnectionProfile


def wait_rows(qtbot: Any, window: Any, n: int, timeout: int = 10_000) -> None:
    qtbot.waitUntil(lambda: window.model.rowCount() == n and not window.model.is_loading, timeout=timeout)


def ids_shown(window: Any) -> list[str]:
    return window.model.instance_ids()


def select_ids(window: Any, ids: list[str]) -> None:
    from PySide6.QtCore import QItemSelectionModel

    sel = window.table.selectionModel()
    sel.clearSelection()
    for iid in ids:
        row = window.model.row_of(iid)
        assert row >= 0, f"{iid} is not listed"
        sel.select(window.model.index(row, 0), QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)


def test_connects_and_lists_instances_with_counts(window: Any, sync_client: Any, qtbot: Any) -> None:
    assert "Connected" in window.state_label.text()
    for i in range(3):
        sync_client.schedule_new_orchestration("greet", instance_id=f"list-{i}")
    window.refresh()
    wait_rows(qtbot, window, 3)
    assert sorted(ids_shown(window)) == ["list-0", "list-1", "list-2"]
    assert window.model.data(window.model.index(0, 2)) == "Pending"
    qtbot.waitUntil(lambda: window.filter_bar.status_buttons["PENDING"].text() == "Pending 3")
    assert window.filter_bar.status_buttons["FAILED"].text() == "Failed 0"
    assert "3 instances loaded" in window.rows_label.text()


def test_filters_server_and_client_side(window: Any, sync_client: Any, qtbot: Any) -> None:
    sync_client.schedule_new_orchestration("order_flow", instance_id="alpha-1")
    sync_client.schedule_new_orchestration("ship_flow", instance_id="alpha-2")
    sync_client.schedule_new_orchestration("order_flow", instance_id="beta-1")
    sync_client.schedule_new_orchestration("order_flow", instance_id="gamma-1")
    sync_client.terminate_orchestration("gamma-1")
    sync_client.wait_for_orchestration_completion("gamma-1", timeout=10)
    window.refresh()
    wait_rows(qtbot, window, 4)
    bar = window.filter_bar
    bar.id_prefix.setText("alpha")
    qtbot.waitUntil(lambda: sorted(ids_shown(window)) == ["alpha-1", "alpha-2"])
    bar.name_contains.setText("ORDER")
    qtbot.waitUntil(lambda: ids_shown(window) == ["alpha-1"])
    bar.clear()
    wait_rows(qtbot, window, 4)
    bar.status_buttons["TERMINATED"].click()
    qtbot.waitUntil(lambda: ids_shown(window) == ["gamma-1"])
    bar.status_buttons["PENDING"].click()  # several statuses at once
    wait_rows(qtbot, window, 4)
    bar.all_button.click()
    bar.set_time_preset("1h")
    wait_rows(qtbot, window, 4)
    bar.set_time_preset("custom")
    bar.created_from.setDateTime(bar.created_from.dateTime().addYears(-2))
    bar.created_to.setDateTime(bar.created_from.dateTime().addYears(1))
    qtbot.waitUntil(lambda: window.model.rowCount() == 0 and not window.model.is_loading)
    assert window.empty_label.isVisible() and "No instances match" in window.empty_label.text()


def test_hide_sub_orchestrations(window: Any, sync_client: Any, worker: Any, qtbot: Any) -> None:
    iid = sync_client.schedule_new_orchestration("parent_with_children", input=2, instance_id="parent-1")
    sync_client.wait_for_orchestration_completion(iid, timeout=15)
    window.refresh()
    wait_rows(qtbot, window, 3)
    parents = [window.model.data(window.model.index(r, 6)) for r in range(3)]
    assert parents.count("parent-1") == 2
    window.filter_bar.hide_subs.setChecked(True)
    qtbot.waitUntil(lambda: ids_shown(window) == ["parent-1"])


def test_pages_load_as_the_user_scrolls(window: Any, sync_client: Any, qtbot: Any) -> None:
    for i in range(23):
        sync_client.schedule_new_orchestration("bulk", instance_id=f"page-{i:02d}")
    window.service.page_size = 10
    window.splitter.setSizes([150, 450])  # a list shorter than one page: the view must not fetch more by itself
    window.reload_list()
    wait_rows(qtbot, window, 10)
    assert window.model.has_more and "scroll for more" in window.rows_label.text()
    window.table.scrollToBottom()
    qtbot.waitUntil(lambda: window.model.rowCount() >= 20 and not window.model.is_loading)
    window.table.scrollToBottom()
    qtbot.waitUntil(lambda: window.model.rowCount() == 23 and not window.model.has_more)
    assert len(set(ids_shown(window))) == 23


def test_selecting_a_row_opens_its_detail_and_copy_id(window: Any, sync_client: Any, qtbot: Any) -> None:
    sync_client.schedule_new_orchestration("greet", instance_id="detail-me")
    window.refresh()
    wait_rows(qtbot, window, 1)
    shown: list[str] = []
    original = window.detail.show_instance
    window.detail.show_instance = lambda iid: (shown.append(iid), original(iid))
    window.table.selectRow(0)
    assert shown == ["detail-me"]
    current = getattr(window.detail, "current_instance_id", None)
    if callable(current):  # the real detail pane (the placeholder has no such method)
        qtbot.waitUntil(lambda: current() == "detail-me")
    window.act_copy.trigger()
    assert QGuiApplication.clipboard().text() == "detail-me"
    # a parent/child link in the detail pane selects that instance in the list
    sync_client.schedule_new_orchestration("greet", instance_id="linked")
    window.refresh()
    qtbot.waitUntil(lambda: window.model.row_of("linked") >= 0 and not window.model.is_loading)
    window.detail.open_instance_requested.emit("linked")
    assert window.selected_ids() == ["linked"] and shown[-1] == "linked"


def _open(window: Any, key: str, ids: list[str]) -> Any:
    select_ids(window, ids)
    dlg = window.open_action_dialog(key)
    assert dlg is not None and dlg.isVisible()
    return dlg


def _state(sync_client: Any, iid: str) -> str:
    s = sync_client.get_orchestration_state(iid)
    return "GONE" if s is None else s.runtime_status.name


def test_each_action_has_its_effect(window: Any, sync_client: Any, worker: Any, qtbot: Any) -> None:
    a = sync_client.schedule_new_orchestration("approval_workflow", instance_id="act-a")
    sync_client.wait_for_orchestration_start(a, timeout=10)
    window.refresh()
    wait_rows(qtbot, window, 1)

    dlg = _open(window, "suspend", [a])
    dlg.reason.setText("lunch")
    dlg.submit()
    qtbot.waitUntil(lambda: _state(sync_client, a) == "SUSPENDED", timeout=10_000)
    qtbot.waitUntil(lambda: not dlg.isVisible())
    qtbot.waitUntil(lambda: window.model.data(window.model.index(window.model.row_of(a), 2)) == "Suspended")

    dlg = _open(window, "resume", [a])
    dlg.submit()
    qtbot.waitUntil(lambda: _state(sync_client, a) == "RUNNING", timeout=10_000)

    dlg = _open(window, "raise_event", [a])
    dlg.event_name.setText("approve")
    dlg.data.set_text('{"by": "qa"}')
    dlg.submit()
    qtbot.waitUntil(lambda: _state(sync_client, a) == "COMPLETED", timeout=10_000)
    assert "qa" in sync_client.get_orchestration_state(a).serialized_output

    dlg = _open(window, "restart", [a])
    dlg.new_id.setChecked(True)
    dlg.submit()
    qtbot.waitUntil(lambda: "restarted as" in window.last_action_message, timeout=10_000)
    new_id = window.last_action_message.rsplit(" ", 1)[-1]
    assert new_id != a and _state(sync_client, new_id) in ("PENDING", "RUNNING")

    qtbot.waitUntil(lambda: window.model.row_of(new_id) >= 0 and not window.model.is_loading, timeout=10_000)
    dlg = _open(window, "terminate", [new_id])
    dlg.reason.setText("not needed")
    dlg.submit()
    qtbot.waitUntil(lambda: _state(sync_client, new_id) == "TERMINATED", timeout=10_000)

    dlg = _open(window, "purge", [a])
    dlg.submit()
    qtbot.waitUntil(lambda: _state(sync_client, a) == "GONE", timeout=10_000)
    assert window.confirmations and "act-a" in window.confirmations[-1]
    qtbot.waitUntil(lambda: window.model.row_of(a) < 0, timeout=10_000)


def test_rewind_a_failed_instance(window: Any, sync_client: Any, worker: Any, qtbot: Any) -> None:
    iid = sync_client.schedule_new_orchestration("failing_workflow", input=5000, instance_id="rewind-me")
    sync_client.wait_for_orchestration_completion(iid, timeout=15)
    window.refresh()
    wait_rows(qtbot, window, 1)
    assert window.model.data(window.model.index(0, 2)) == "Failed"
    dlg = _open(window, "rewind", [iid])
    dlg.reason.setText("card limit raised")
    dlg.submit()
    qtbot.waitUntil(lambda: not dlg.isVisible(), timeout=10_000)
    assert not dlg.error_label.isVisible()

    def rewound() -> bool:
        return any(e.event_type == "ExecutionRewound" for e in sync_client.get_orchestration_history(iid))

    qtbot.waitUntil(rewound, timeout=10_000)


def test_action_errors_stay_in_the_dialog(window: Any, sync_client: Any, qtbot: Any) -> None:
    sync_client.schedule_new_orchestration("greet", instance_id="not-failed")
    window.refresh()
    wait_rows(qtbot, window, 1)
    dlg = _open(window, "rewind", ["not-failed"])
    dlg.submit()
    qtbot.waitUntil(lambda: dlg.error_label.isVisible(), timeout=10_000)
    assert dlg.isVisible() and dlg.ok_button.isEnabled()
    assert "Traceback" not in dlg.error_label.text()


def test_batch_terminate_reports_every_instance(window: Any, sync_client: Any, worker: Any, qtbot: Any) -> None:
    ids = [f"batch-{i}" for i in range(4)]
    for iid in ids:
        sync_client.schedule_new_orchestration("approval_workflow", instance_id=iid)
    window.refresh()
    wait_rows(qtbot, window, 4)
    dlg = _open(window, "terminate", ids)
    dlg.submit()
    qtbot.waitUntil(lambda: window.batch_dialog is not None and window.batch_dialog.finished_running, timeout=15_000)
    lines = window.batch_dialog.result_lines()
    assert sorted(i for i, _ in lines) == ids
    assert all(text.startswith("OK") for _, text in lines)
    assert "4 succeeded, 0 failed" in window.batch_dialog.summary.text()
    for iid in ids:
        qtbot.waitUntil(lambda iid=iid: _state(sync_client, iid) == "TERMINATED", timeout=10_000)


def test_purge_by_filter_counts_first(window: Any, sync_client: Any, qtbot: Any) -> None:
    for i in range(3):
        sync_client.schedule_new_orchestration("x", instance_id=f"old-{i}")
        sync_client.terminate_orchestration(f"old-{i}")
    sync_client.schedule_new_orchestration("x", instance_id="keep-running")
    for i in range(3):
        sync_client.wait_for_orchestration_completion(f"old-{i}", timeout=10)
    dlg = window.open_purge_filter_dialog()
    assert not dlg.ok_button.isEnabled()
    dlg.request_preview()
    qtbot.waitUntil(lambda: dlg.previewed_count == 3, timeout=10_000)
    assert "3 instances would be purged" in dlg.count_label.text()
    assert dlg.ok_button.isEnabled() and "3" in dlg.ok_button.text()
    dlg.submit()
    qtbot.waitUntil(lambda: "Purged 3" in dlg.count_label.text(), timeout=10_000)
    assert "3" in window.confirmations[-1]
    assert _state(sync_client, "old-0") == "GONE" and _state(sync_client, "keep-running") == "PENDING"


def test_start_refuses_bad_json_then_starts(window: Any, sync_client: Any, qtbot: Any) -> None:
    dlg = window.open_action_dialog("start")
    dlg.name.setCurrentText("hello_sequence")
    dlg.instance_id.setText("started-here")
    dlg.input.set_text('{"name": "Tokyo",\n "n": }')
    dlg.tags.setText("env=test")
    dlg.submit()
    assert dlg.error_label.isVisible() and "line 2, column" in dlg.error_label.text()
    assert dlg.input.error_label.isVisible() and dlg.input.error_label.text().startswith("Line 2, column")
    assert dlg.input.edit.textCursor().blockNumber() == 1  # the cursor jumped to the mistake
    assert sync_client.get_orchestration_state("started-here") is None
    dlg.input.set_text('{"name": "Tokyo", "n": 2}')
    dlg.submit()
    qtbot.waitUntil(lambda: not dlg.isVisible(), timeout=10_000)
    state = sync_client.get_orchestration_state("started-here")
    assert state is not None and state.name == "hello_sequence"
    assert state.tags == {"env": "test"}
    qtbot.waitUntil(lambda: window.selected_ids() == ["started-here"], timeout=10_000)


def test_start_with_existing_running_id_shows_readable_error(window: Any, sync_client: Any, qtbot: Any) -> None:
    sync_client.schedule_new_orchestration("x", instance_id="dup")
    dlg = window.open_action_dialog("start")
    dlg.name.setCurrentText("x")
    dlg.instance_id.setText("dup")
    dlg.submit()
    qtbot.waitUntil(lambda: dlg.error_label.isVisible(), timeout=10_000)
    assert "already exists" in dlg.error_label.text()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_endpoint_is_reported(make_window: Any, qtbot: Any) -> None:
    w = make_window()
    w.show()
    profile = ConnectionProfile("nowhere", BackendKind.EMULATOR, f"http://127.0.0.1:{_free_port()}", "default")
    w.store.upsert(profile)
    w.connect_to("nowhere")
    qtbot.waitUntil(lambda: w.connection_state == "error", timeout=15_000)
    assert "Cannot reach" in w.state_label.text()
    assert w.banner.isVisible() and "Cannot reach" in w.banner.text()
    assert not w.act_start.isEnabled()


def test_switch_task_hub_and_unknown_hub(make_window: Any, qtbot: Any) -> None:
    from durabletask.emulator import EmulatorServer

    server = EmulatorServer(db_path=None, port=0, taskhubs=["default", "other"])
    server.start()
    try:
        w = make_window()
        w.set_embedded_address(server.address)
        w.connect_to("Embedded emulator")
        qtbot.waitUntil(lambda: w.connection_state == "connected", timeout=10_000)
        w.hub_edit.setText("missing")
        w._connect_clicked()
        qtbot.waitUntil(lambda: w.connection_state == "error", timeout=10_000)
        assert "task hub 'missing' does not exist" in w.state_label.text()
        w.hub_edit.setText("other")
        w._connect_clicked()
        qtbot.waitUntil(lambda: w.connection_state == "connected", timeout=10_000)
        assert "'other'" in w.state_label.text()
    finally:
        server.stop()


def test_auto_refresh_keeps_selection_and_sees_new_instances(window: Any, sync_client: Any, qtbot: Any) -> None:
    for i in range(3):
        sync_client.schedule_new_orchestration("x", instance_id=f"keep-{i}")
    window.refresh()
    wait_rows(qtbot, window, 3)
    select_ids(window, ["keep-1"])
    sync_client.schedule_new_orchestration("x", instance_id="keep-new")
    window.auto_refresh.setCurrentIndex(window.auto_refresh.findData(2))
    assert window.refresh_timer.isActive() and window.refresh_timer.interval() == 2000
    window._auto_refresh_tick()
    qtbot.waitUntil(lambda: "keep-new" in ids_shown(window) and not window.model.is_loading, timeout=10_000)
    assert window.selected_ids() == ["keep-1"]


def test_time_zone_toggle_sorting_and_layout_are_remembered(make_window: Any, window: Any, sync_client: Any, qtbot: Any) -> None:
    for i in range(3):
        sync_client.schedule_new_orchestration(f"n{i}", instance_id=f"sort-{i}")
    window.refresh()
    wait_rows(qtbot, window, 3)
    window._header_clicked(1)
    assert [window.model.data(window.model.index(r, 1)) for r in range(3)] == ["n0", "n1", "n2"]
    window._header_clicked(1)
    assert [window.model.data(window.model.index(r, 1)) for r in range(3)] == ["n2", "n1", "n0"]
    assert window.table.horizontalHeader().sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
    window.act_utc.trigger()
    assert window.utc and str(window.model.data(window.model.index(0, 3))).endswith("UTC")
    # (the offscreen screen is 800x600, so only the height can change visibly here)
    window.resize(window.width(), 560)
    window.splitter.setSizes([300, 200])
    split = window.splitter.sizes()
    window.auto_refresh.setCurrentIndex(window.auto_refresh.findData(5))
    window.close()
    again = make_window()
    assert again.utc and again.act_utc.isChecked()
    assert again.auto_refresh.currentData() == 5
    assert again.height() == 560
    again.show()
    qtbot.waitUntil(lambda: again.splitter.sizes() == split)


def test_keyboard_shortcuts_are_bound(window: Any) -> None:
    keys = {a.text(): a.shortcut().toString() for a in window.actions()}
    assert keys["Refresh"] == "F5"
    assert keys["Find"] == "Ctrl+F"
    assert keys["Start new…"] == "Ctrl+N"
    window.activateWindow()
    window.act_find.trigger()
    assert window.filter_bar.id_prefix.hasFocus() or QApplication.focusWidget() is window.filter_bar.id_prefix


def test_model_with_real_rows_passes_qt_checks(window: Any, sync_client: Any, qtbot: Any, qtmodeltester: Any) -> None:
    for i in range(5):
        sync_client.schedule_new_orchestration("x", instance_id=f"mt-{i}")
    window.refresh()
    wait_rows(qtbot, window, 5)
    qtmodeltester.check(window.model, force_py=True)
    assert not window.model.canFetchMore(QModelIndex())
    created = window.model.state_at(0).created_at
    assert abs(created.astimezone(timezone.utc) - datetime.now(timezone.utc)) < timedelta(minutes=5)


def test_backend_going_away_is_reported_and_recovers(make_window: Any, qtbot: Any) -> None:
    from durabletask.emulator import EmulatorServer

    server = EmulatorServer(db_path=None, port=0)
    server.start()
    w = make_window()
    w.show()
    w.set_embedded_address(server.address)
    w.connect_to("Embedded emulator")
    qtbot.waitUntil(lambda: w.connection_state == "connected", timeout=10_000)
    assert w.windowTitle() == "dtstudio — Embedded emulator · default"
    server.stop()
    w.reload_list()
    qtbot.waitUntil(lambda: w.banner.isVisible() and "Cannot reach" in w.banner.text(), timeout=15_000)
    assert w.conn_status_label.text() == "Connection lost"


def test_filter_is_remembered_and_tags_are_shown(make_window: Any, window: Any, sync_client: Any, qtbot: Any) -> None:
    sync_client.schedule_new_orchestration("x", instance_id="tagged-1", tags={"team": "core", "env": "dev"})
    sync_client.schedule_new_orchestration("x", instance_id="other-1")
    window.refresh()
    wait_rows(qtbot, window, 2)
    row = window.model.row_of("tagged-1")
    assert window.model.data(window.model.index(row, 7)) == "env=dev, team=core"
    bar = window.filter_bar
    bar.id_prefix.setText("tagged")
    bar.status_buttons["PENDING"].click()
    bar.hide_subs.setChecked(True)
    qtbot.waitUntil(lambda: ids_shown(window) == ["tagged-1"])
    window.close()
    again = make_window()
    flt = again.filter_bar.current_filter()
    assert (flt.id_prefix, flt.statuses, flt.hide_sub_orchestrations) == ("tagged", {"PENDING"}, True)
    assert again.instance_filter.id_prefix == "tagged"
    assert not again.filter_bar.all_button.isChecked()


def test_odd_user_input_never_breaks_the_window(window: Any, sync_client: Any, qtbot: Any) -> None:
    sync_client.schedule_new_orchestration("x", instance_id="50%_off'\"")
    window.refresh()
    wait_rows(qtbot, window, 1)
    bar = window.filter_bar
    for prefix, name in [("\x00\x01", ""), ("50%", "💥" * 500), ("50%_", ""), ("'; DROP TABLE instances; --", "x"), ("é" * 3000, "")]:
        bar.id_prefix.setText(prefix)
        bar.name_contains.setText(name)
        bar._emit()
        qtbot.waitUntil(lambda: not window.model.is_loading, timeout=10_000)
        assert "Traceback" not in window.banner.text()
    bar.id_prefix.setText("50%_")
    bar.name_contains.setText("")
    bar._emit()
    qtbot.waitUntil(lambda: ids_shown(window) == ["50%_off'\""], timeout=10_000)
    window.hub_edit.setText("bad hub name with spaces")
    window._connect_clicked()
    qtbot.waitUntil(lambda: window.connection_state in ("error", "connected"), timeout=10_000)
    assert "Traceback" not in window.state_label.text()


def test_embedded_emulator_that_cannot_start_is_explained(make_window: Any, qtbot: Any, tmp_path: Any) -> None:
    from dtstudio.core.embedded_emulator import EmbeddedEmulator

    first = EmbeddedEmulator(tmp_path / "shared.db", preferred_port=0)
    first.start()
    try:
        w = make_window()
        w.connect_to("Embedded emulator")
        qtbot.waitUntil(lambda: w.connection_state == "connecting")
        assert "Starting the embedded emulator" in w.state_label.text()
        second = EmbeddedEmulator(tmp_path / "shared.db", preferred_port=0)
        try:
            second.start()
        except RuntimeError as exc:
            w.set_embedded_address(None, str(exc))
        qtbot.waitUntil(lambda: w.connection_state == "error")
        assert "did not start" in w.state_label.text() and "in use by another" in w.state_label.text()
    finally:
        first.stop()



class _HangingService:
    """A service whose batches run until cancelled (``started`` is set once one runs)."""

    def __init__(self) -> None:
        import asyncio

        self.started = asyncio.Event()

    def operation(self, key: str, **options: Any) -> Any:
        async def op(iid: str) -> str:
            return "OK"

        return op

    async def run_batch(self, ids: list[str], op: Any, **kw: Any) -> None:
        import asyncio

        self.started.set()
        await asyncio.Event().wait()


class _QuietDialog:
    def finish(self) -> None:
        pass

    def show_error(self, text: str) -> None:
        raise AssertionError(text)

    def set_busy(self, busy: bool) -> None:
        pass


def _hanging_batch(window: Any, qtbot: Any, ids: list[str]) -> tuple[Any, list[list[str]]]:
    """Start a batch action on ``ids`` that runs until cancelled; returns its task and the refreshes after it."""
    service = _HangingService()
    after: list[list[str]] = []
    window.service = service
    window._after_action = after.append
    task = window.runner.spawn(window._run_action("terminate", ids, {}, _QuietDialog()))
    qtbot.waitUntil(service.started.is_set, timeout=5_000)
    return task, after


def test_closing_the_window_during_a_batch_stops_it_there(window: Any, qtbot: Any) -> None:
    """The window's close cancels its tasks: a running batch must end with them, not go on to refresh."""
    task, after = _hanging_batch(window, qtbot, ["x-1", "x-2"])
    window.close()
    qtbot.waitUntil(task.done, timeout=5_000)
    assert task.cancelled(), "the batch's task must end cancelled with the window"
    assert after == [], "a closed window must not refresh after the batch"
    assert window.batch_dialog is not None and window.batch_dialog.finished_running


def test_stopping_a_batch_still_refreshes_the_list(window: Any, qtbot: Any) -> None:
    task, after = _hanging_batch(window, qtbot, ["y-1", "y-2"])
    window.batch_dialog.cancel_requested.emit()
    qtbot.waitUntil(task.done, timeout=5_000)
    assert not task.cancelled()
    assert after == [["y-1", "y-2"]], "a batch the user stopped still refreshes what it touched"
