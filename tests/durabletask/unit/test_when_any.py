"""when_any: the first task to complete wins; its result is the winning task object."""

from __future__ import annotations

from datetime import timedelta

import pytest

from durabletask import task


def race(ctx, _):
    a = ctx.call_activity("slow")
    b = ctx.call_activity("fast")
    winner = yield task.when_any([a, b])
    return {"winner": "a" if winner == a else "b", "value": winner.get_result()}


def test_first_completed_task_wins(replayer):
    r = replayer(race)
    r.start("race")
    assert r.kinds() == [("scheduleTask", 1), ("scheduleTask", 2)]
    r.complete_task(2, "fast result")
    assert r.output() == {"winner": "b", "value": "fast result"}


def test_winner_can_be_yielded_again(replayer):
    def orch(ctx, _):
        a = ctx.call_activity("a")
        t = ctx.create_timer(timedelta(hours=1))
        winner = yield task.when_any([a, t])
        if winner == a:
            again = yield a  # an already complete task resumes at once
            return again
        return "timeout"

    r = replayer(orch)
    r.start("orch")
    r.complete_task(1, 7)
    assert r.output() == 7


def test_timer_wins_then_late_result_is_ignored(replayer):
    def orch(ctx, _):
        a = ctx.call_activity("a")
        t = ctx.create_timer(timedelta(minutes=5))
        winner = yield task.when_any([a, t])
        if winner == t:
            yield ctx.call_activity("compensate")
            return "timeout"
        return "done"

    r = replayer(orch)
    r.start("orch")
    r.fire_timer(2)
    assert r.scheduled() == [("compensate", None)]
    r.complete_task(1, "late")  # the loser finishes: nothing new happens
    assert r.actions == []
    r.complete_task(3)
    assert r.output() == "timeout"


def test_when_any_failure_is_a_completion_not_an_exception(replayer):
    def orch(ctx, _):
        a = ctx.call_activity("a")
        b = ctx.call_activity("b")
        winner = yield task.when_any([a, b])
        return {"failed": winner.is_failed, "first": winner is a}

    r = replayer(orch)
    r.start("orch")
    r.fail_task(1)
    assert r.output() == {"failed": True, "first": True}


def test_when_any_needs_tasks():
    with pytest.raises(ValueError, match="at least one"):
        task.when_any([])


def test_when_any_with_already_completed_child():
    done = task.CompletableTask()
    done.complete(5)
    any_task = task.when_any([task.CompletableTask(), done])
    assert any_task.is_complete and any_task.get_result() is done
