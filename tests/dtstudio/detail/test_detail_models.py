"""The history and timeline Qt models: qtmodeltester, laziness, filtering, live growth."""

from __future__ import annotations

import time

from detail_history_builder import HistoryBuilder, big_history
from PySide6.QtCore import QModelIndex, Qt

from dtstudio.core.timeline import build_timeline
from dtstudio.qtmodels.history_model import HISTORY_COLUMNS, HistoryIndexRole, HistoryTableModel
from dtstudio.qtmodels.timeline_model import TimelineModel, TimelineRowRole


def sample_history():
    return (
        HistoryBuilder()
        .started(0)
        .execution_started(0, "orch", '{"a": 1}')
        .scheduled(0, 1, "flaky", '"in"')
        .done(0)
        .started(1)
        .failed(1, 1, "IOError", "nope")
        .timer_created(1, 2, 5)
        .done(1)
        .started(6)
        .timer_fired(6, 2)
        .scheduled(6, 1, "flaky")
        .done(6)
        .started(7)
        .completed(7, 1, '{"ok": true}')
        .sub_created(7, 3, "child", "orch:0003")
        .done(7)
        .started(9)
        .sub_completed(9, 3, '"c"')
        .done(9)
        .execution_completed(9, result='"r"')
    ).events


def cell(model, row, column, role=Qt.ItemDataRole.DisplayRole):
    return model.data(model.index(row, column), role)


def test_history_model_passes_qtmodeltester(qtmodeltester):
    model = HistoryTableModel()
    model.set_events(sample_history())
    qtmodeltester.check(model, force_py=True)
    model.set_type_filter({"TaskFailed", "TaskCompleted"})
    qtmodeltester.check(model, force_py=True)


def test_history_model_formats_rows_and_filters_by_type():
    events = sample_history()
    model = HistoryTableModel()
    model.set_events(events)
    assert model.rowCount() == len(events) and model.columnCount() == len(HISTORY_COLUMNS)
    col = {name: i for i, name in enumerate(HISTORY_COLUMNS)}
    failed_row = next(r for r in range(model.rowCount()) if cell(model, r, col["Type"]) == "TaskFailed")
    assert cell(model, failed_row, col["Task id"]) == "1"
    assert cell(model, failed_row, col["Payload"]) == "IOError: nope"
    assert cell(model, failed_row, col["Elapsed"]) == "1.0 s"
    assert cell(model, failed_row, col["Time"]) == "03:04:06.000Z"
    assert "2026-01-02 03:04:06.000Z" in cell(model, failed_row, col["Time"], Qt.ItemDataRole.ToolTipRole)
    assert cell(model, failed_row, col["Type"], Qt.ItemDataRole.ForegroundRole).red() > 150
    sub_row = next(
        r for r in range(model.rowCount()) if cell(model, r, col["Type"]) == "SubOrchestrationInstanceCreated"
    )
    assert cell(model, sub_row, col["Name"]) == "child \u2192 orch:0003"
    model.set_utc(False)
    assert not cell(model, failed_row, col["Time"]).endswith("Z")

    model.set_type_filter({"TaskScheduled"})
    assert model.rowCount() == 2
    assert [cell(model, r, col["Name"]) for r in range(2)] == ["flaky", "flaky"]
    positions = [cell(model, r, 0, HistoryIndexRole) for r in range(2)]
    assert [events[p].event_type for p in positions] == ["TaskScheduled", "TaskScheduled"]
    assert model.row_of(positions[1]) == 1 and model.row_of(0) is None
    assert model.type_counts()["TaskScheduled"] == 2
    model.set_type_filter(None)
    assert model.rowCount() == len(events)


def test_history_model_appends_a_grown_history_without_reset(qtbot):
    events = sample_history()
    model = HistoryTableModel()
    model.set_events(events[:10])
    with qtbot.assertNotEmitted(model.modelReset), qtbot.waitSignal(model.rowsInserted) as blocker:
        model.update_events(events)
    assert blocker.args[1:] == [10, len(events) - 1]
    assert model.rowCount() == len(events)
    # A different history (another instance, or a restart) resets.
    other = HistoryBuilder().started(0).execution_started(0, "x").events
    with qtbot.waitSignal(model.modelReset):
        model.update_events(other)
    assert model.rowCount() == 2


def test_history_model_is_lazy_for_large_histories(qtmodeltester):
    events = big_history(2500)
    model = HistoryTableModel()
    t = time.perf_counter()
    model.set_events(events)
    assert time.perf_counter() - t < 0.5
    assert model.rowCount() < len(events) and model.canFetchMore(QModelIndex())
    while model.canFetchMore(QModelIndex()):
        model.fetchMore(QModelIndex())
    assert model.rowCount() == len(events)
    assert cell(model, len(events) - 1, 2) == "ExecutionCompleted"
    # Jumping to an event that is not loaded yet loads up to it.
    model.set_events(events)
    last = len(events) - 1
    assert model.row_of(last) == last and model.rowCount() == len(events)


def test_timeline_model_passes_qtmodeltester(qtmodeltester):
    model = TimelineModel()
    model.set_timeline(build_timeline(sample_history()))
    qtmodeltester.check(model, force_py=True)
    assert [cell(model, r, 0) for r in range(model.rowCount())] == ["orch", "flaky", "child"]
    assert cell(model, 1, 2) == "2" and cell(model, 1, 3) == "completed"
    assert cell(model, 2, 0, TimelineRowRole).spans[0].instance_id == "orch:0003"
    model.clear()
    assert model.rowCount() == 0
    qtmodeltester.check(model, force_py=True)


def test_history_results_name_what_they_answer():
    model = HistoryTableModel()
    model.set_events(sample_history())
    col = {name: i for i, name in enumerate(HISTORY_COLUMNS)}
    by_type = {cell(model, r, col["Type"]): r for r in range(model.rowCount())}
    assert cell(model, by_type["TaskFailed"], col["Name"]) == "flaky"
    assert cell(model, by_type["TaskCompleted"], col["Name"]) == "flaky"
    assert cell(model, by_type["SubOrchestrationInstanceCompleted"], col["Name"]) == "child"
    assert cell(model, by_type["OrchestratorStarted"], col["Name"]) == ""
