"""The detail widget against an in-process fake async client (fast; the real emulator is in another file)."""

from __future__ import annotations

import asyncio
import enum
from datetime import timedelta
from types import SimpleNamespace

import pytest
from detail_history_builder import T0, HistoryBuilder, big_history
from PySide6.QtCore import Qt

from dtstudio.core.timeline import SpanKind
from dtstudio.qtmodels.history_model import HISTORY_COLUMNS
from dtstudio.ui.detail import InstanceDetailView


class Status(enum.Enum):
    RUNNING = 0
    COMPLETED = 1
    FAILED = 3


def state(
    instance_id, status, *, output=None, custom=None, failure=None, name="orch", data='{"a": 1}', updated=1.0
):
    return SimpleNamespace(
        instance_id=instance_id,
        name=name,
        runtime_status=status,
        created_at=T0,
        last_updated_at=T0 + timedelta(seconds=updated),
        serialized_input=data,
        serialized_output=output,
        serialized_custom_status=custom,
        failure_details=failure,
    )


class FakeClient:
    def __init__(self):
        self.states = {}
        self.histories = {}
        self.calls = 0

    async def get_orchestration_state(self, instance_id, fetch_payloads=True):
        self.calls += 1
        await asyncio.sleep(0)
        return self.states.get(instance_id)

    async def get_orchestration_history(self, instance_id):
        await asyncio.sleep(0)
        return list(self.histories.get(instance_id, []))


@pytest.fixture
def view(qtbot, qloop):
    widget = InstanceDetailView()
    qtbot.addWidget(widget)
    widget.resize(1100, 700)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def parent_history():
    return (
        HistoryBuilder()
        .started(0)
        .execution_started(0, "parent", '{"a": 1}')
        .scheduled(0, 1, "flaky", '"x"')
        .done(0)
        .started(1)
        .failed(1, 1, "IOError", "disk on fire")
        .timer_created(1, 2, 2)
        .done(1)
        .started(3)
        .timer_fired(3, 2)
        .scheduled(3, 1, "flaky", '"x"')
        .done(3)
        .started(4)
        .completed(4, 1, '{"ok": true}')
        .sub_created(4, 3, "child", "p:0003")
        .done(4)
        .started(6)
        .sub_completed(6, 3, '"c"')
        .done(6)
        .execution_completed(6, result='{"total": 3}')
    ).events


def test_shows_a_completed_instance_and_clicking_a_bar_selects_its_event(view, qtbot):
    client = FakeClient()
    client.states["p"] = state(
        "p", Status.COMPLETED, output='{"total": 3}', custom='"step 3"', updated=6, name="parent"
    )
    client.histories["p"] = parent_history()
    view.set_client(client)
    with qtbot.waitSignal(view.loaded, timeout=5000):
        view.show_instance("p")
    assert view.overview.text_of("Status").strip() == "Completed"
    assert view.overview.text_of("Name") == "parent"
    assert view.overview.text_of("Duration") == "6.0 s"
    assert view.output_view.text() == '{\n  "total": 3\n}'
    assert view.custom_status_view.text() == '"step 3"'
    assert view.tabs.tabText(view.TAB_HISTORY) == f"History ({len(client.histories['p'])})"
    assert not view.is_polling()  # terminal: no refresh

    view.tabs.setCurrentIndex(view.TAB_TIMELINE)
    chart = view.timeline_pane.chart
    qtbot.waitUntil(lambda: chart.viewport().width() > 300)
    rows = chart.timeline().rows
    flaky = next(i for i, r in enumerate(rows) if r.label == "flaky")
    assert [s.kind for s in rows[flaky].spans] == [SpanKind.ACTIVITY, SpanKind.RETRY_DELAY, SpanKind.ACTIVITY]
    rect = chart.bar_rect(flaky, 0)
    qtbot.mouseClick(chart.viewport(), Qt.MouseButton.LeftButton, pos=rect.center().toPoint())
    selected = view.history_pane.selected_history_index()
    assert selected is not None and view.history()[selected].event_type == "TaskFailed"
    assert "disk on fire" in view.history_pane.detail.toPlainText()
    assert "IOError" in view.timeline_pane.detail.toPlainText()
    assert "retry" in chart.tooltip_at(chart.bar_rect(flaky, 2).center().toPoint())
    view.grab().save("/tmp/detail_fake_timeline.png")
    view.tabs.setCurrentIndex(view.TAB_HISTORY)
    view.grab().save("/tmp/detail_fake_history.png")


def test_failed_instance_shows_error_type_message_and_inner_failure(view, qtbot):
    inner = SimpleNamespace(
        message="socket closed", error_type="ConnectionError", stack_trace="  File x\n", inner_failure=None
    )
    failure = SimpleNamespace(
        message="activity 'pay' failed",
        error_type="TaskFailedError",
        stack_trace='Traceback (most recent call last):\n  File "orch.py", line 3\n',
        inner_failure=inner,
    )
    client = FakeClient()
    client.states["f"] = state("f", Status.FAILED, failure=failure)
    client.histories["f"] = (
        HistoryBuilder()
        .started(0)
        .execution_started(0)
        .scheduled(0, 1, "pay")
        .done(0)
        .started(1)
        .failed(1, 1, "ConnectionError", "socket closed")
        .done(1)
        .execution_completed(1, 3, error=("TaskFailedError", "activity 'pay' failed"))
    ).events
    view.set_client(client)
    with qtbot.waitSignal(view.loaded, timeout=5000):
        view.show_instance("f")
    assert "TaskFailedError" in view.overview.text_of("Error")
    assert "activity 'pay' failed" in view.overview.text_of("Error")
    assert [f.error_type for f in view.failure_pane.chain()] == ["TaskFailedError", "ConnectionError"]
    text = view.failure_pane.text()
    assert "Caused by: ConnectionError: socket closed" in text and "orch.py" in text
    assert view.tabs.tabText(view.TAB_FAILURE).startswith("Failure \u26a0")
    view.tabs.setCurrentIndex(view.TAB_FAILURE)
    view.grab().save("/tmp/detail_fake_failure.png")


def test_running_instance_updates_live_and_stops_when_done(view, qtbot, monkeypatch):
    monkeypatch.setattr(InstanceDetailView, "POLL_INTERVAL_MS", 50)
    view._poll.setInterval(50)
    b = HistoryBuilder().started(0).execution_started(0).scheduled(0, 1, "slow").done(0)
    client = FakeClient()
    client.states["r"] = state("r", Status.RUNNING, updated=0)
    client.histories["r"] = list(b.events)
    view.set_client(client)
    with qtbot.waitSignal(view.loaded, timeout=5000):
        view.show_instance("r")
    assert view.is_polling()
    assert view.timeline_model.rowCount() == 2
    b.started(2).completed(2, 1, '"done"').scheduled(2, 2, "next").done(2)
    client.histories["r"] = list(b.events)
    client.states["r"] = state("r", Status.RUNNING, updated=2)
    qtbot.waitUntil(lambda: view.timeline_model.rowCount() == 3, timeout=5000)
    assert view.history_model.rowCount() == len(b.events)
    b.started(3).completed(3, 2).done(3).execution_completed(3, result='"ok"')
    client.histories["r"] = list(b.events)
    client.states["r"] = state("r", Status.COMPLETED, output='"ok"', updated=3)
    qtbot.waitUntil(lambda: view.facts() is not None and view.facts().status == "Completed", timeout=5000)
    assert not view.is_polling()
    calls = client.calls
    qtbot.wait(200)
    assert client.calls == calls  # terminal: no more polling


def test_open_child_and_back_and_errors(view, qtbot):
    client = FakeClient()
    client.states["p"] = state("p", Status.COMPLETED, updated=6)
    client.histories["p"] = parent_history()
    child_history = HistoryBuilder().started(4).execution_started(4, "child").events
    child_history[1].proto.executionStarted.parentInstance.orchestrationInstance.instanceId = "p"
    client.states["p:0003"] = state("p:0003", Status.COMPLETED, name="child", updated=6)
    client.histories["p:0003"] = child_history
    view.set_client(client)
    with qtbot.waitSignal(view.loaded, timeout=5000):
        view.show_instance("p")
    # Double-click the sub-orchestration row in the history table.
    model = view.history_model
    row = next(
        r
        for r in range(model.rowCount())
        if model.event_at(r).event_type == "SubOrchestrationInstanceCreated"
    )
    table = view.history_pane.table
    view.tabs.setCurrentIndex(view.TAB_HISTORY)
    qtbot.waitUntil(lambda: table.isVisible() and table.viewport().height() > 50)
    table.scrollTo(model.index(row, 2))
    rect = table.visualRect(model.index(row, 2))
    assert rect.isValid() and table.viewport().rect().contains(rect.center())
    with (
        qtbot.waitSignal(view.open_instance_requested) as opened,
        qtbot.waitSignal(view.loaded, timeout=5000),
    ):
        qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert opened.args == ["p:0003"]
    assert view.current_instance_id() == "p:0003" and view.back_stack() == ["p"]
    assert view.overview.text_of("Parent") == "p"
    assert view.back_button.isEnabled()
    view.tabs.setCurrentIndex(view.TAB_OVERVIEW)
    view.grab().save("/tmp/detail_fake_child.png")
    with qtbot.waitSignal(view.loaded, timeout=5000):
        view.back_button.click()
    assert view.current_instance_id() == "p" and not view.back_button.isEnabled()
    # The shell echoing the signal back with show_instance(same id) keeps the stack.
    view.show_instance("p")
    # Unknown instance: a clear message, not an exception.
    with qtbot.waitSignal(view.loaded, timeout=5000):
        view.show_instance("nope")
    assert "was not found" in view.banner.text()


def test_server_errors_are_shown_not_raised(view, qtbot):
    class Broken(FakeClient):
        async def get_orchestration_state(self, instance_id, fetch_payloads=True):
            raise ConnectionError("connection refused")

    view.set_client(Broken())
    view.show_instance("x")
    qtbot.waitUntil(lambda: "connection refused" in view.banner.text(), timeout=5000)
    view.set_client(None)
    view.clear()
    assert view.current_instance_id() is None and view.history_model.rowCount() == 0


def test_non_json_and_large_payloads(view, qtbot):
    big = '{"items": [' + ",".join(f'{{"n": {i}}}' for i in range(20000)) + "]}"
    client = FakeClient()
    client.states["j"] = state("j", Status.COMPLETED, data="not json at all", output=big)
    client.histories["j"] = HistoryBuilder().started(0).execution_started(0).events
    view.set_client(client)
    with qtbot.waitSignal(view.loaded, timeout=5000):
        view.show_instance("j")
    assert view.input_view.text() == "not json at all"
    assert "not JSON" in view.input_view.note.text()
    qtbot.waitUntil(view.output_view.is_ready, timeout=5000)
    assert view.output_view.text().startswith('{\n  "items": [\n    {\n      "n": 0')


def test_large_history_shows_quickly(view, qtbot):
    import time

    events = big_history(2500)
    client = FakeClient()
    client.states["big"] = state("big", Status.COMPLETED)
    client.histories["big"] = events
    view.set_client(client)
    view.tabs.setCurrentIndex(view.TAB_TIMELINE)
    t = time.perf_counter()
    with qtbot.waitSignal(view.loaded, timeout=5000):
        view.show_instance("big")
    qtbot.waitUntil(lambda: view.timeline_model.rowCount() == 2501, timeout=5000)
    view.timeline_pane.chart.viewport().repaint()
    assert time.perf_counter() - t < 3.0
    assert view.history_model.rowCount() > 0
    # Zoom in around a point and back to fit.
    chart = view.timeline_pane.chart
    fit = chart.scale()
    chart.zoom(4.0, anchor_x=400)
    assert chart.scale() == pytest.approx(fit * 4)
    chart.zoom_to_fit()
    assert chart.scale() == pytest.approx(fit)


def test_time_zone_filter_menu_parent_link_zoom_and_hidden_view_stops_polling(view, qtbot, monkeypatch):
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    monkeypatch.setattr(InstanceDetailView, "POLL_INTERVAL_MS", 50)
    view._poll.setInterval(50)
    client = FakeClient()
    history = parent_history()
    history[1].proto.executionStarted.parentInstance.orchestrationInstance.instanceId = "grandparent"
    client.states["p"] = state("p", Status.RUNNING, updated=6, name="parent")
    client.histories["p"] = history
    client.states["grandparent"] = state("grandparent", Status.COMPLETED, name="gp")
    client.histories["grandparent"] = HistoryBuilder().started(0).execution_started(0, "gp").events
    view.set_client(client)
    with qtbot.waitSignal(view.loaded, timeout=5000):
        view.show_instance("p")

    # Local time vs UTC.
    assert view.overview.text_of("Created").endswith("Z")
    view.set_time_zone(False)
    assert not view.overview.text_of("Created").endswith("Z")
    assert not view.history_model.data(view.history_model.index(0, HISTORY_COLUMNS.index("Time"))).endswith(
        "Z"
    )
    view.set_time_zone(True)

    # The event-type menu lists the types with counts; unticking one hides its rows.
    pane = view.history_pane
    pane._fill_filter_menu()
    actions = {a.data(): a for a in pane.filter_menu.actions() if a.isCheckable()}
    assert actions["TaskScheduled"].text() == "TaskScheduled (2)"
    actions["OrchestratorStarted"].setChecked(False)
    actions["OrchestratorCompleted"].setChecked(False)
    shown = {view.history_model.event_at(r).event_type for r in range(view.history_model.rowCount())}
    assert "OrchestratorStarted" not in shown and "TaskFailed" in shown
    assert "match the filter" in pane.count_label.text()
    assert pane.filter_button.text().startswith("Event types:") and "selected" in pane.filter_button.text()
    # Clicking a bar whose event is filtered out lifts the filter so the event can be selected.
    started_index = next(i for i, e in enumerate(view.history()) if e.event_type == "OrchestratorStarted")
    assert pane.select_history_index(started_index)
    assert view.history_model.type_filter() is None

    # Ctrl+wheel zooms the chart around the mouse.
    view.tabs.setCurrentIndex(view.TAB_TIMELINE)
    chart = view.timeline_pane.chart
    qtbot.waitUntil(lambda: chart.viewport().width() > 300)
    before = chart.scale()
    pos = QPointF(600, 60)
    wheel = QWheelEvent(
        pos,
        chart.viewport().mapToGlobal(pos),
        QPoint(0, 0),
        QPoint(0, 120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.ControlModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(chart.viewport(), wheel)
    assert chart.scale() == pytest.approx(before * 1.25)

    # Hidden: no polling; shown again: polling resumes for a running instance.
    assert view.is_polling() or view._task is not None
    view.hide()
    assert not view.is_polling()
    calls = client.calls
    qtbot.wait(200)
    assert client.calls == calls
    view.show()
    qtbot.waitUntil(lambda: client.calls > calls, timeout=3000)

    # The parent link opens the parent (and Back returns).
    view.tabs.setCurrentIndex(view.TAB_OVERVIEW)
    assert view.overview.text_of("Parent") == "grandparent"
    with (
        qtbot.waitSignal(view.open_instance_requested) as opened,
        qtbot.waitSignal(view.loaded, timeout=5000),
    ):
        view.overview.labels["Parent"].linkActivated.emit("grandparent")
    assert opened.args == ["grandparent"] and view.back_stack() == ["p"]


def test_selecting_an_event_with_a_big_payload_formats_it_off_the_gui_thread(view, qtbot):
    big = "[" + ",".join(str(i) for i in range(20000)) + "]"
    b = (
        HistoryBuilder()
        .started(0)
        .execution_started(0)
        .scheduled(0, 1, "load")
        .done(0)
        .started(1)
        .completed(1, 1, big)
        .done(1)
        .execution_completed(1, result='"ok"')
    )
    client = FakeClient()
    client.states["b"] = state("b", Status.COMPLETED)
    client.histories["b"] = b.events
    view.set_client(client)
    with qtbot.waitSignal(view.loaded, timeout=5000):
        view.show_instance("b")
    position = next(i for i, e in enumerate(b.events) if e.event_type == "TaskCompleted")
    view.history_pane.select_history_index(position)
    assert view.history_pane.detail_pending()
    qtbot.waitUntil(lambda: not view.history_pane.detail_pending(), timeout=5000)
    text = view.history_pane.detail.toPlainText()
    assert text.startswith("TaskCompleted") and "\n  19999\n]" in text
    assert view.timeline_pane.detail.toPlainText() == text  # mirrored under the chart


def test_a_new_client_replaces_a_load_stuck_on_the_old_one(view, qtbot):
    class Stuck(FakeClient):
        async def get_orchestration_state(self, instance_id, fetch_payloads=True):
            await asyncio.Event().wait()

    good = FakeClient()
    good.states["s"] = state("s", Status.COMPLETED, output='"from the new client"')
    good.histories["s"] = HistoryBuilder().started(0).execution_started(0).events
    view.set_client(Stuck())
    view.show_instance("s")
    assert "Loading s" in view.banner.text()
    with qtbot.waitSignal(view.loaded, timeout=5000):
        view.set_client(good)
    assert view.output_view.text() == '"from the new client"'


class GatedClient(FakeClient):
    """A client whose calls wait until the test opens their gate (state and history have a gate each)."""

    def __init__(self):
        super().__init__()
        self.state_gate = asyncio.Event()
        self.history_gate = asyncio.Event()
        self.fail = False
        self.waiting = []
        self.cancelled = []

    async def _wait(self, gate, what):
        self.waiting.append(what)
        try:
            await gate.wait()
        except asyncio.CancelledError:
            self.cancelled.append(what)
            raise
        if self.fail:
            raise RuntimeError("backend went away")

    async def get_orchestration_state(self, instance_id, fetch_payloads=True):
        await self._wait(self.state_gate, "state")
        return self.states.get(instance_id)

    async def get_orchestration_history(self, instance_id):
        await self._wait(self.history_gate, "history")
        return list(self.histories.get(instance_id, []))


@pytest.mark.parametrize(
    "how", ["state", "history", "state-fails", "history-fails", "not-found", "refresh-fails", "parent-deleted"]
)
def test_a_deleted_view_cancels_its_load_and_logs_nothing(qtbot, quiet_deletion, how):
    """A state or history still on its way when Qt deletes the view (its window closed) must not reach the
    deleted widgets: the load is cancelled, nothing is logged, no exception escapes into the loop."""
    from PySide6.QtWidgets import QWidget

    owner = QWidget() if how == "parent-deleted" else None  # as the main window owns its detail view
    view = InstanceDetailView(owner)
    client = GatedClient()
    instance_id = "gone" if how == "not-found" else "r"
    client.states["r"] = state("r", Status.RUNNING)
    client.histories["r"] = HistoryBuilder().started(0).execution_started(0).events
    view.set_client(client)
    if how == "refresh-fails":  # a first load is on screen; the refresh is the load on its way
        client.state_gate.set()
        client.history_gate.set()
        with qtbot.waitSignal(view.loaded, timeout=5000):
            view.show_instance(instance_id)
        client.state_gate.clear()
        client.waiting.clear()
        view.refresh()
    else:
        if how.startswith("history"):
            client.state_gate.set()
        view.show_instance(instance_id)
    waits_on = "history" if how.startswith("history") else "state"
    qtbot.waitUntil(lambda: client.waiting[-1:] == [waits_on])
    task = view._task
    assert task is not None and not task.done()
    client.fail = how.endswith("fails")

    with quiet_deletion.deleting(owner or view, view):
        client.state_gate.set()  # the backend answers after all
        client.history_gate.set()
        qtbot.waitUntil(task.done)
        qtbot.wait(20)
        assert task.cancelled(), "the view's load outlived the view"  # so no exception is left unretrieved
    assert client.cancelled == [waits_on]
