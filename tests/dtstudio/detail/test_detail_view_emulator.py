"""The detail widget against a real emulator and our worker on a free port."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
from PySide6.QtCore import Qt

from dtstudio.core.timeline import SpanKind, SpanOutcome
from dtstudio.ui.detail import InstanceDetailView
from durabletask import task

_attempts: dict[str, int] = {}
_ids = itertools.count(1)


# ------------------------------------------------------------------ orchestrations under test
def flaky_step(ctx: Any, key: str) -> str:
    """Fails on its first attempt for each key, then succeeds."""
    _attempts[key] = _attempts.get(key, 0) + 1
    if _attempts[key] == 1:
        raise ConnectionError(f"transient failure for {key}")
    return f"{key} ok after {_attempts[key]} attempts"


def double(ctx: Any, n: int) -> int:
    return n * 2


def refuse(ctx: Any, amount: int) -> None:
    raise ValueError(f"card declined: {amount} is over the limit")


def detail_child(ctx: task.OrchestrationContext, n: int) -> Any:
    return (yield ctx.call_activity(double, input=n))


def detail_parent(ctx: task.OrchestrationContext, key: str) -> Any:
    policy = task.RetryPolicy(first_retry_interval=timedelta(milliseconds=200), max_number_of_attempts=3)
    first = yield ctx.call_activity(flaky_step, input=key, retry_policy=policy)
    child = yield ctx.call_sub_orchestrator(detail_child, input=21, instance_id=f"{ctx.instance_id}-child")
    return {"first": first, "child": child}


def detail_fails(ctx: task.OrchestrationContext, amount: int) -> Any:
    yield ctx.call_activity(refuse, input=amount)


def detail_waits(ctx: task.OrchestrationContext, _: Any) -> Any:
    a = yield ctx.call_activity(double, input=1)
    ctx.set_custom_status({"stage": "waiting for go"})
    go = yield ctx.wait_for_external_event("go")
    b = yield ctx.call_activity(double, input=go)
    return a + b


@pytest.fixture
def detail_worker(emulator: Any) -> Any:
    from durabletask.worker import TaskHubGrpcWorker

    worker = TaskHubGrpcWorker(host_address=emulator.address)
    for fn in (detail_child, detail_parent, detail_fails, detail_waits):
        worker.add_orchestrator(fn)
    for fn in (flaky_step, double, refuse):
        worker.add_activity(fn)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def client(emulator: Any, detail_worker: Any, qloop: Any, run_async: Any) -> Any:
    from durabletask.client import AsyncTaskHubGrpcClient

    c = AsyncTaskHubGrpcClient(host_address=emulator.address)
    yield c
    run_async(c.close())


@pytest.fixture
def view(qtbot: Any, client: Any, monkeypatch: Any) -> InstanceDetailView:
    monkeypatch.setattr(InstanceDetailView, "POLL_INTERVAL_MS", 250)
    widget = InstanceDetailView()
    qtbot.addWidget(widget)
    widget.resize(1200, 720)
    widget.show()
    qtbot.waitExposed(widget)
    widget.set_client(client)
    return widget


def run_to_end(run_async: Any, client: Any, orchestrator: Any, data: Any) -> str:
    instance_id = f"detail-{next(_ids)}-{orchestrator.__name__}"
    run_async(client.schedule_new_orchestration(orchestrator, input=data, instance_id=instance_id))
    state = run_async(client.wait_for_orchestration_completion(instance_id, timeout=20), timeout=25)
    assert state is not None
    return instance_id


def load(qtbot: Any, view: InstanceDetailView, instance_id: str) -> None:
    with qtbot.waitSignal(view.loaded, timeout=10000):
        view.show_instance(instance_id)
    qtbot.waitUntil(lambda: not view.timeline_pending(), timeout=5000)


def settle(qtbot: Any) -> None:
    qtbot.wait(30)  # let pending layout requests run before a screenshot


def test_completed_instance_with_retry_and_child_then_back(qtbot, view, client, run_async):
    instance_id = run_to_end(run_async, client, detail_parent, "k1")
    load(qtbot, view, instance_id)
    facts = view.facts()
    assert facts is not None and facts.status == "Completed" and facts.name == "detail_parent"
    assert '"child": 42' in view.output_view.text()
    assert view.overview.text_of("Status").strip() == "Completed"
    assert not view.is_polling()

    rows = {r.label: r for r in view.timeline_model.timeline().rows}
    flaky = rows["flaky_step"]
    attempts = [s for s in flaky.spans if s.kind is SpanKind.ACTIVITY]
    assert [s.outcome for s in attempts] == [SpanOutcome.FAILED, SpanOutcome.COMPLETED]
    assert attempts[1].is_retry and "ConnectionError" in (attempts[0].failure or "")
    assert any(s.kind is SpanKind.RETRY_DELAY for s in flaky.spans)
    child_row = rows["detail_child"]
    assert child_row.spans[0].instance_id == f"{instance_id}-child"

    assert view.overview.text_of("Children") == f"{instance_id}-child"
    view.tabs.setCurrentIndex(view.TAB_TIMELINE)
    chart = view.timeline_pane.chart
    qtbot.waitUntil(lambda: chart.viewport().width() > 300)
    settle(qtbot)
    view.grab().save("/tmp/detail_completed_timeline.png")
    view.tabs.setCurrentIndex(view.TAB_HISTORY)
    settle(qtbot)
    view.grab().save("/tmp/detail_completed_history.png")

    # Double-click the child's bar: the child opens, and Back returns to the parent.
    view.tabs.setCurrentIndex(view.TAB_TIMELINE)
    settle(qtbot)
    row_index = view.timeline_model.timeline().rows.index(child_row)
    center = chart.bar_rect(row_index, 0).center().toPoint()
    with (
        qtbot.waitSignal(view.open_instance_requested) as opened,
        qtbot.waitSignal(view.loaded, timeout=10000),
    ):
        qtbot.mouseDClick(chart.viewport(), Qt.MouseButton.LeftButton, pos=center)
    assert opened.args == [f"{instance_id}-child"]
    assert view.current_instance_id() == f"{instance_id}-child"
    assert view.overview.text_of("Parent") == instance_id
    assert view.output_view.text() == "42"
    view.tabs.setCurrentIndex(view.TAB_OVERVIEW)
    settle(qtbot)
    view.grab().save("/tmp/detail_child_overview.png")
    with qtbot.waitSignal(view.loaded, timeout=10000):
        view.back_button.click()
    assert view.current_instance_id() == instance_id and view.back_stack() == []


def test_failed_instance_shows_error_type_and_message(qtbot, view, client, run_async):
    instance_id = run_to_end(run_async, client, detail_fails, 5000)
    load(qtbot, view, instance_id)
    assert view.facts().status == "Failed"
    error = view.overview.text_of("Error")
    assert "card declined: 5000 is over the limit" in error
    chain = view.failure_pane.chain()
    assert chain and "card declined: 5000 is over the limit" in chain[0].message
    assert any("ValueError" in f.error_type or "ValueError" in f.message for f in chain)
    assert "card declined" in view.failure_pane.browser.toPlainText()
    failed_rows = [r for r in view.timeline_model.timeline().rows if r.outcome is SpanOutcome.FAILED]
    assert {r.label for r in failed_rows} >= {"refuse", "detail_fails"}
    view.tabs.setCurrentIndex(view.TAB_FAILURE)
    settle(qtbot)
    view.grab().save("/tmp/detail_failed_failure.png")
    view.tabs.setCurrentIndex(view.TAB_OVERVIEW)
    settle(qtbot)
    view.grab().save("/tmp/detail_failed_overview.png")


def test_running_instance_updates_live(qtbot, view, client, run_async):
    instance_id = f"detail-{next(_ids)}-waits"
    run_async(client.schedule_new_orchestration(detail_waits, input=None, instance_id=instance_id))
    load(qtbot, view, instance_id)
    # Live: the view follows the instance until it waits for the event.
    qtbot.waitUntil(lambda: '"stage": "waiting for go"' in view.custom_status_view.text(), timeout=10000)
    assert view.facts().status == "Running" and view.is_polling()
    qtbot.waitUntil(
        lambda: any(
            r.kind is SpanKind.EXTERNAL_EVENT and r.spans[-1].end is None
            for r in view.timeline_model.timeline().rows
        ),
        timeout=10000,
    )
    view.tabs.setCurrentIndex(view.TAB_TIMELINE)
    settle(qtbot)
    view.grab().save("/tmp/detail_running_timeline.png")
    events_before = len(view.history())

    run_async(client.raise_orchestration_event(instance_id, "go", data=20))
    qtbot.waitUntil(lambda: view.facts() is not None and view.facts().status == "Completed", timeout=10000)
    assert len(view.history()) > events_before
    assert view.history_model.rowCount() == len(view.history())
    assert view.output_view.text() == "42"
    assert not view.is_polling()
    labels = [r.label for r in view.timeline_model.timeline().rows]
    # Two calls of the same activity have two ids: two rows, not one row with a retry.
    assert labels == ["detail_waits", "double #1", "event go", "double #2"]
    rows = view.timeline_model.timeline().rows
    assert [len(rows[i].spans) for i in (1, 3)] == [1, 1]
    assert rows[2].spans[0].result == "20" and rows[2].spans[0].end is not None
    settle(qtbot)
    view.grab().save("/tmp/detail_running_done_timeline.png")
