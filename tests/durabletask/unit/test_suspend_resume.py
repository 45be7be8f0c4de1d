"""Suspend and resume: events are buffered while suspended and replayed on resume."""

from __future__ import annotations

from durabletask import history as h


def waits(ctx, _):
    a = yield ctx.call_activity("a")
    e = yield ctx.wait_for_external_event("go")
    return [a, e]


def test_suspended_execution_buffers_events_until_resumed(replayer):
    r = replayer(waits)
    r.start("waits")
    r.step(h.new_execution_suspended_event("pause"))
    assert r.actions == []
    r.step(h.new_task_completed_event(1, '"A"'), h.new_event_raised_event("go", '"G"'))
    assert r.actions == []  # buffered while suspended
    r.step(h.new_execution_resumed_event("continue"))
    assert r.output() == ["A", "G"]


def test_suspend_and_resume_in_one_batch(replayer):
    r = replayer(waits)
    r.start("waits")
    r.step(
        h.new_execution_suspended_event(),
        h.new_task_completed_event(1, '"A"'),
        h.new_execution_resumed_event(),
        h.new_event_raised_event("go", '"G"'),
    )
    assert r.output() == ["A", "G"]


def test_stray_resume_is_ignored(replayer):
    r = replayer(waits)
    r.start("waits")
    r.step(h.new_execution_resumed_event())
    assert r.actions == []
    r.complete_task(1, "A")
    r.raise_event("go", "G")
    assert r.output() == ["A", "G"]
