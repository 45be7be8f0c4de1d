"""History -> timeline spans, on hand-built histories."""

from __future__ import annotations

from datetime import timedelta

from detail_history_builder import T0, HistoryBuilder, big_history

from dtstudio.core.timeline import SpanKind, SpanOutcome, build_timeline, format_duration, format_time


def rows_by_label(timeline):
    return {row.label: row for row in timeline.rows}


def test_chaining_gives_one_row_per_activity_in_order():
    b = (
        HistoryBuilder()
        .started(0)
        .execution_started(0, "chain", '"x"')
        .scheduled(0, 1, "a", '"x"')
        .done(0)
        .started(1)
        .completed(1, 1, '"ax"')
        .scheduled(1, 2, "b")
        .done(1)
        .started(3)
        .completed(3, 2, '"axb"')
        .done(3)
        .execution_completed(3, result='"axb"')
    )
    tl = build_timeline(b.events)
    assert [r.label for r in tl.rows] == ["chain", "a", "b"]
    a, bb = tl.rows[1].spans[0], tl.rows[2].spans[0]
    assert (a.start, a.end) == (T0, T0 + timedelta(seconds=1))
    assert (bb.start, bb.end) == (T0 + timedelta(seconds=1), T0 + timedelta(seconds=3))
    assert a.outcome is SpanOutcome.COMPLETED and a.result == '"ax"' and a.input == '"x"'
    orch = tl.rows[0].spans[0]
    assert orch.kind is SpanKind.ORCHESTRATION and orch.outcome is SpanOutcome.COMPLETED
    assert orch.result == '"axb"'
    assert tl.finished and tl.start == T0 and tl.end == T0 + timedelta(seconds=3)
    # Clicking a bar finds its result event; the result event maps back to the bar.
    assert b.events[a.focus_index].event_type == "TaskCompleted"
    assert tl.span_by_event[a.focus_index] == (1, 0)


def test_fan_out_fan_in_overlaps_and_completes_out_of_order():
    b = HistoryBuilder().started(0).execution_started(0)
    for i in range(1, 4):
        b.scheduled(0, i, f"work{i}")
    b.done(0).started(5).completed(5, 3, "3").done(5).started(7).completed(7, 1, "1").completed(
        7, 2, "2"
    ).done(7)
    tl = build_timeline(b.events)
    rows = rows_by_label(tl)
    # All work answered but no completion yet: the orchestration can only be waiting for an event.
    assert {k for k in rows} == {"orch", "work1", "work2", "work3", "(waiting for an event)"}
    assert rows["work3"].spans[0].end == T0 + timedelta(seconds=5)
    assert rows["work1"].spans[0].end == T0 + timedelta(seconds=7)
    assert all(rows[f"work{i}"].spans[0].start == T0 for i in range(1, 4))
    # Still running: the orchestration bar is open and extends to now.
    assert not tl.finished
    orch = rows["orch"].spans[0]
    assert orch.end is None and orch.outcome is SpanOutcome.RUNNING
    now = T0 + timedelta(seconds=60)
    assert orch.effective_end(now) == now and tl.range_end(now) == now


def test_retries_reuse_the_action_id_and_stay_on_one_row():
    b = (
        HistoryBuilder()
        .started(0)
        .execution_started(0)
        .scheduled(0, 1, "flaky")
        .done(0)
        .started(1)
        .failed(1, 1, "IOError", "first")
        .timer_created(1, 2, 5)
        .done(1)
        .started(6)
        .timer_fired(6, 2)
        .scheduled(6, 1, "flaky")
        .done(6)
        .started(7)
        .failed(7, 1, "IOError", "second")
        .timer_created(7, 3, 10)
        .done(7)
        .started(17)
        .timer_fired(17, 3)
        .scheduled(17, 1, "flaky")
        .done(17)
        .started(18)
        .completed(18, 1, '"ok"')
        .done(18)
        .execution_completed(18)
    )
    tl = build_timeline(b.events)
    assert [r.label for r in tl.rows] == ["orch", "flaky"]  # no separate rows for the back-off timers
    row = tl.rows[1]
    attempts = [s for s in row.spans if s.kind is SpanKind.ACTIVITY]
    delays = [s for s in row.spans if s.kind is SpanKind.RETRY_DELAY]
    assert [s.attempt for s in attempts] == [1, 2, 3]
    assert [s.is_retry for s in attempts] == [False, True, True]
    assert [s.outcome for s in attempts] == [SpanOutcome.FAILED, SpanOutcome.FAILED, SpanOutcome.COMPLETED]
    assert attempts[0].failure == "IOError: first" and attempts[1].failure == "IOError: second"
    assert [(d.start, d.end) for d in delays] == [
        (T0 + timedelta(seconds=1), T0 + timedelta(seconds=6)),
        (T0 + timedelta(seconds=7), T0 + timedelta(seconds=17)),
    ]
    assert row.attempts == 3 and row.outcome is SpanOutcome.COMPLETED


def test_a_timer_that_is_not_a_retry_keeps_its_own_row():
    b = (
        HistoryBuilder()
        .started(0)
        .execution_started(0)
        .timer_created(0, 1, 30)
        .done(0)
        .started(30)
        .timer_fired(30, 1)
        .scheduled(30, 2, "after")
        .done(30)
    )
    tl = build_timeline(b.events)
    rows = rows_by_label(tl)
    timer = rows["timer #1"].spans[0]
    assert timer.kind is SpanKind.TIMER and timer.fire_at == T0 + timedelta(seconds=30)
    assert (timer.start, timer.end, timer.outcome) == (T0, T0 + timedelta(seconds=30), SpanOutcome.COMPLETED)
    assert rows["after"].spans[0].end is None


def test_pending_timer_runs_until_now_and_unfinished_work_is_cancelled_when_the_execution_ends():
    b = (
        HistoryBuilder()
        .started(0)
        .execution_started(0)
        .timer_created(0, 1, 3600)
        .scheduled(0, 2, "a")
        .done(0)
    )
    tl = build_timeline(b.events)
    assert rows_by_label(tl)["timer #1"].spans[0].end is None
    # when_any: the activity wins, the orchestration completes, the timer never fires.
    b.started(2).completed(2, 2).done(2).execution_completed(2)
    tl = build_timeline(b.events)
    timer = rows_by_label(tl)["timer #1"].spans[0]
    assert timer.outcome is SpanOutcome.CANCELED and timer.end == T0 + timedelta(seconds=2)


def test_external_event_wait_spans_from_idle_to_arrival_and_pending_wait_is_shown():
    b = (
        HistoryBuilder()
        .started(0)
        .execution_started(0)
        .scheduled(0, 1, "ask")
        .done(0)
        .started(2)
        .completed(2, 1)
        .done(2)
    )
    tl = build_timeline(b.events)
    waiting = [r for r in tl.rows if r.kind is SpanKind.EXTERNAL_EVENT]
    assert len(waiting) == 1 and waiting[0].spans[0].end is None
    assert waiting[0].spans[0].start == T0 + timedelta(seconds=2)
    b.started(10).event_raised(10, "Approval", '{"ok": true}').done(10).execution_completed(10)
    tl = build_timeline(b.events)
    events = [r for r in tl.rows if r.kind is SpanKind.EXTERNAL_EVENT]
    assert [r.label for r in events] == ["event Approval"]
    span = events[0].spans[0]
    assert (span.start, span.end) == (T0 + timedelta(seconds=2), T0 + timedelta(seconds=10))
    assert span.result == '{"ok": true}'


def test_sub_orchestrations_carry_the_child_id_and_failures():
    b = (
        HistoryBuilder()
        .started(0)
        .execution_started(0, "parent")
        .sub_created(0, 1, "child", "parent:0001")
        .sub_created(0, 2, "child", "parent:0002")
        .done(0)
        .started(4)
        .sub_completed(4, 1, '"c1"')
        .sub_failed(4, 2, "KeyError", "missing")
        .done(4)
        .execution_completed(4, status=3, error=("TaskFailedError", "child failed"))
    )
    tl = build_timeline(b.events)
    subs = [r for r in tl.rows if r.kind is SpanKind.SUB_ORCHESTRATION]
    assert [s.spans[0].instance_id for s in subs] == ["parent:0001", "parent:0002"]
    assert subs[0].spans[0].outcome is SpanOutcome.COMPLETED and subs[0].spans[0].result == '"c1"'
    assert subs[1].spans[0].outcome is SpanOutcome.FAILED and subs[1].spans[0].failure == "KeyError: missing"
    orch = tl.rows[0].spans[0]
    assert orch.outcome is SpanOutcome.FAILED and orch.failure == "TaskFailedError: child failed"


def test_terminated_and_suspended():
    b = (
        HistoryBuilder()
        .started(0)
        .execution_started(0)
        .scheduled(0, 1, "slow")
        .done(0)
        .started(1)
        .suspended(1)
        .done(1)
        .started(3)
        .resumed(3)
        .done(3)
        .execution_completed(9, status=5)
    )
    tl = build_timeline(b.events)
    rows = rows_by_label(tl)
    assert rows["suspended"].spans[0].end == T0 + timedelta(seconds=3)
    assert rows["orch"].spans[0].outcome is SpanOutcome.TERMINATED
    assert rows["slow"].spans[0].outcome is SpanOutcome.CANCELED


def test_empty_and_startless_histories_do_not_fail():
    assert build_timeline([]).rows == []
    tl = build_timeline(HistoryBuilder().completed(1, 99).timer_fired(2, 5).events)
    assert tl.rows == [] and tl.start == T0 + timedelta(seconds=1)


def test_large_history_builds_a_row_and_a_span_per_task():
    # Its speed is measured by bench/gui_detail.py (a timed assertion here failed on a loaded machine).
    tl = build_timeline(big_history(2500))
    assert len(tl.rows) == 2501 and tl.span_count == 2501


def test_formatting():
    assert format_duration(timedelta(milliseconds=850)) == "850 ms"
    assert format_duration(timedelta(seconds=12.4)) == "12.4 s"
    assert format_duration(timedelta(seconds=185)) == "3 min 05 s"
    assert format_duration(timedelta(hours=2, minutes=3)) == "2 h 03 min"
    assert format_duration(timedelta(days=1, hours=4)) == "1 d 04 h"
    assert format_duration(None) == ""
    assert format_time(T0 + timedelta(milliseconds=7)) == "2026-01-02 03:04:05.007Z"
    assert format_time(T0, utc=True, with_date=False) == "03:04:05.000Z"
    assert not format_time(T0, utc=False).endswith("Z")


def test_timer_fired_stamped_at_creation_still_lasts_until_fire_at_and_start_covers_all_spans():
    b = (
        HistoryBuilder()
        .started(1)
        .execution_started(0)
        .scheduled(1, 1, "x")
        .done(1)
        .started(2)
        .failed(2, 1)
        .timer_created(2, 2, 3)
        .done(2)
    )
    fired = HistoryBuilder().timer_fired(5, 2).events[0]
    fired.proto.timestamp.FromDatetime(T0 + timedelta(seconds=2))  # stamped when it was enqueued
    b.events.append(fired)
    b.scheduled(5, 1, "x")
    tl = build_timeline(b.events)
    delay = next(s for s in tl.rows[1].spans if s.kind is SpanKind.RETRY_DELAY)
    assert (delay.start, delay.end) == (T0 + timedelta(seconds=2), T0 + timedelta(seconds=5))
    assert tl.start == T0  # the executionStarted stamp is earlier than the first orchestratorStarted


def test_range_of_a_running_instance_reaches_now_and_the_next_pending_timer():
    b = HistoryBuilder().started(0).execution_started(0).timer_created(0, 1, 100).done(0)
    tl = build_timeline(b.events)
    assert tl.range_end(T0 + timedelta(seconds=10)) == T0 + timedelta(seconds=100)
    assert tl.range_end(T0 + timedelta(seconds=500)) == T0 + timedelta(seconds=500)
    b.started(100).timer_fired(100, 1).done(100).execution_completed(100)
    assert build_timeline(b.events).range_end(T0 + timedelta(seconds=500)) == T0 + timedelta(seconds=100)
