"""Durable timers: relative and absolute, and long timers split by maximum_timer_interval."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from durabletask import history as h
from durabletask import task
from durabletask._proto import orchestrator_service_pb2 as pb


def fire_time(action: pb.OrchestratorAction) -> datetime:
    return action.createTimer.fireAt.ToDatetime()


@task.orchestrator
def timer_orchestrator(ctx: task.OrchestrationContext, _):
    """The user's document snippet."""
    yield ctx.create_timer(timedelta(hours=24))
    yield ctx.call_activity("send_reminder", input="Timer completed!")
    return "Done"


def test_relative_timer_fires_from_current_time(replayer):
    r = replayer(timer_orchestrator)
    r.start("timer_orchestrator")
    assert r.kinds() == [("createTimer", 1)]
    assert fire_time(r.actions[0]) == r.now + timedelta(hours=24)
    r.fire_timer(1)
    assert r.scheduled() == [("send_reminder", "Timer completed!")]
    r.complete_task(2)
    assert r.output() == "Done"


def test_absolute_timer_aware_and_naive(replayer):
    target = datetime(2025, 1, 2, 8, 30, tzinfo=timezone(timedelta(hours=2)))

    def orch(ctx, _):
        yield ctx.create_timer(target)
        yield ctx.create_timer(datetime(2025, 1, 3))
        return ctx.current_utc_datetime.isoformat()

    r = replayer(orch)
    r.start("orch")
    assert fire_time(r.actions[0]) == datetime(2025, 1, 2, 6, 30)
    r.fire_timer(1)
    assert fire_time(r.actions[0]) == datetime(2025, 1, 3)
    r.fire_timer(2)
    assert r.output() == "2025-01-03T00:00:00"


def test_create_timer_rejects_other_types(replayer):
    def orch(ctx, _):
        yield ctx.create_timer(10)

    r = replayer(orch)
    r.start("orch")
    assert r.status() == "ORCHESTRATION_STATUS_FAILED"
    assert r.failure().error_type == "builtins.TypeError"
    assert "datetime or a timedelta" in r.failure().message


def test_long_timer_is_chunked(replayer):
    def orch(ctx, _):
        yield ctx.create_timer(timedelta(days=7))
        return ctx.current_utc_datetime.isoformat()

    r = replayer(orch, maximum_timer_interval=timedelta(days=3))
    r.start("orch")
    final = r.now + timedelta(days=7)
    assert r.kinds() == [("createTimer", 1)]
    assert fire_time(r.actions[0]) == r.now + timedelta(days=3)
    r.fire_timer(1)
    assert r.kinds() == [("createTimer", 2)]
    assert fire_time(r.actions[0]) == r.now + timedelta(days=3)
    r.fire_timer(2)
    assert r.kinds() == [("createTimer", 3)]
    assert fire_time(r.actions[0]) == final  # the last chunk ends exactly at the requested time
    r.fire_timer(3)
    assert r.output() == final.isoformat()


def test_long_timer_not_chunked_when_disabled(replayer):
    def orch(ctx, _):
        yield ctx.create_timer(timedelta(days=30))
        return "ok"

    r = replayer(orch, maximum_timer_interval=None)
    r.start("orch")
    start = r.now
    assert fire_time(r.actions[0]) == start + timedelta(days=30)
    r.fire_timer(1)
    assert r.output() == "ok"


def test_timer_fired_early_for_final_time_is_final(replayer):
    """A fired event whose fireAt equals the final time completes the timer even if it arrives late."""

    def orch(ctx, _):
        yield ctx.create_timer(timedelta(days=4))
        return "ok"

    r = replayer(orch, maximum_timer_interval=timedelta(days=3))
    r.start("orch")
    final = r.now + timedelta(days=4)
    r.fire_timer(1)
    # The backend delivers the second chunk very late: the orchestrator still completes once.
    r.step(h.new_timer_fired_event(2, final), advance=timedelta(days=10))
    assert r.output() == "ok"


def test_unknown_timer_id_is_ignored(replayer):
    def orch(ctx, _):
        yield ctx.create_timer(timedelta(seconds=5))
        return "ok"

    r = replayer(orch)
    r.start("orch")
    r.step(h.new_timer_fired_event(99, r.now))
    assert r.actions == []
    r.fire_timer(1)
    assert r.output() == "ok"


def test_cancelled_timer_ignores_its_fired_event(replayer):
    def orch(ctx, _):
        t = ctx.create_timer(timedelta(minutes=1))
        e = ctx.wait_for_external_event("go")
        winner = yield task.when_any([t, e])
        if winner == e:
            assert t.cancel() is True
            assert t.is_cancelled
            yield ctx.create_timer(timedelta(minutes=10))
        return "done"

    r = replayer(orch)
    r.start("orch")
    r.raise_event("go")
    assert r.kinds() == [("createTimer", 2)]
    r.fire_timer(1)
    assert r.actions == []
    r.fire_timer(2)
    assert r.output() == "done"


def test_cancelled_task_result_raises():
    t = task.CancellableTask()
    assert t.cancel()
    assert not t.cancel()
    with pytest.raises(task.TaskCancelledError):
        t.get_result()
