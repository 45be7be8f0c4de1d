"""Replay edge cases found in a correctness review against the published SDK (1.12) behaviour."""

from __future__ import annotations

import json
from datetime import timedelta

from durabletask import history as h
from durabletask import task
from durabletask._proto import orchestrator_service_pb2 as pb

RETRY = task.RetryPolicy(first_retry_interval=timedelta(seconds=5), max_number_of_attempts=3)


def _action_kinds(r) -> list[str]:
    return [a.WhichOneof("orchestratorActionType") for a in r.actions]


# -- when_any: timer and event in the same batch ----------------------------------------------------


def test_when_any_timer_and_event_in_one_batch_first_event_wins(replayer):
    def orch(ctx, _):
        approval = ctx.wait_for_external_event("approval")
        timeout = ctx.create_timer(timedelta(minutes=5))
        winner = yield task.when_any([approval, timeout])
        if winner == approval:
            return {"approved": approval.get_result()}
        return "timeout"

    r = replayer(orch)
    r.start("orch")
    fire_at = r.timer_fire_at(1)
    r.step(
        h.new_timer_fired_event(1, fire_at),
        h.new_event_raised_event("approval", json.dumps("yes")),
        advance=fire_at - r.now,
    )
    assert r.output() == "timeout"
    assert _action_kinds(r) == ["completeOrchestration"]

    r2 = replayer(orch)
    r2.start("orch")
    r2.step(
        h.new_event_raised_event("approval", json.dumps("yes")),
        h.new_timer_fired_event(1, fire_at),
        advance=fire_at - r2.now,
    )
    assert r2.output() == {"approved": "yes"}


# -- events and retries that arrive after the orchestration finished in the same batch -------------


def test_retry_timer_firing_after_completion_in_same_batch_schedules_nothing(replayer):
    def orch(ctx, _):
        work = ctx.call_activity("flaky", retry_policy=RETRY)
        stop = ctx.wait_for_external_event("stop")
        winner = yield task.when_any([work, stop])
        return "stopped" if winner == stop else winner.get_result()

    r = replayer(orch)
    r.start("orch")
    r.fail_task(1)
    assert _action_kinds(r) == ["createTimer"]  # retry timer id 2
    fire_at = r.timer_fire_at(2)
    r.step(
        h.new_event_raised_event("stop"),
        h.new_timer_fired_event(2, fire_at),
        advance=fire_at - r.now,
    )
    assert r.output() == "stopped"
    assert _action_kinds(r) == ["completeOrchestration"]


def test_activity_failing_after_completion_in_same_batch_creates_no_retry_timer(replayer):
    def orch(ctx, _):
        work = ctx.call_activity("flaky", retry_policy=RETRY)
        stop = ctx.wait_for_external_event("stop")
        winner = yield task.when_any([work, stop])
        return "stopped" if winner == stop else winner.get_result()

    r = replayer(orch)
    r.start("orch")
    r.step(h.new_event_raised_event("stop"), h.new_task_failed_event(1, RuntimeError("boom")))
    assert r.output() == "stopped"
    assert _action_kinds(r) == ["completeOrchestration"]


def test_terminate_then_retry_timer_in_same_batch_sends_only_the_termination(replayer):
    def orch(ctx, _):
        return (yield ctx.call_activity("flaky", retry_policy=RETRY))

    r = replayer(orch)
    r.start("orch")
    r.fail_task(1)
    fire_at = r.timer_fire_at(2)
    r.step(
        h.new_execution_terminated_event(json.dumps("bye")),
        h.new_timer_fired_event(2, fire_at),
        advance=fire_at - r.now,
    )
    assert r.status() == "ORCHESTRATION_STATUS_TERMINATED"
    assert _action_kinds(r) == ["completeOrchestration"]


def test_completion_action_is_always_last(replayer):
    def orch(ctx, _):
        work = ctx.call_activity("flaky", retry_policy=RETRY)
        timeout = ctx.create_timer(timedelta(minutes=1))
        winner = yield task.when_any([work, timeout])
        return "timeout" if winner == timeout else "done"

    r = replayer(orch)
    r.start("orch")
    fire_at = r.timer_fire_at(2)
    r.step(
        h.new_timer_fired_event(2, fire_at),
        h.new_task_failed_event(1, RuntimeError("boom")),
        advance=fire_at - r.now,
    )
    assert r.output() == "timeout"
    assert _action_kinds(r)[-1] == "completeOrchestration"
    assert "createTimer" not in _action_kinds(r)


# -- continue_as_new from a when_any branch keeps later events ------------------------------------


def test_continue_as_new_in_when_any_branch_carries_over_events_of_the_same_batch(replayer):
    def orch(ctx, n):
        event = ctx.wait_for_external_event("item")
        tick = ctx.create_timer(timedelta(minutes=1))
        winner = yield task.when_any([event, tick])
        if winner == tick:
            ctx.continue_as_new((n or 0) + 1, save_events=True)
            return None
        return event.get_result()

    r = replayer(orch)
    r.start("orch", 0)
    fire_at = r.timer_fire_at(1)
    r.step(
        h.new_timer_fired_event(1, fire_at),
        h.new_event_raised_event("item", json.dumps("payload")),
        advance=fire_at - r.now,
    )
    completion = r.completion()
    assert completion is not None
    assert completion.orchestrationStatus == pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW
    carried = [(e.eventRaised.name, e.eventRaised.input.value) for e in completion.carryoverEvents]
    assert carried == [("item", json.dumps("payload"))]


# -- when_all waits for every task (published SDK 1.12, like .NET Task.WhenAll) ---------------------


def test_when_all_with_a_failure_waits_for_the_other_tasks(replayer):
    def orch(ctx, _):
        tasks = [ctx.call_activity("work", input=i) for i in range(3)]
        try:
            yield task.when_all(tasks)
        except task.TaskFailedError as e:
            return {"error": e.details.message}
        return "no error"

    r = replayer(orch)
    r.start("orch")
    r.fail_task(2, KeyError("second"))
    assert r.completion() is None  # tasks 1 and 3 still run
    r.complete_task(1, 1)
    r.fail_task(3, ValueError("third"))
    assert "second" in r.output()["error"]  # the first failure observed


def test_when_all_with_duplicate_task_references():
    a, b = task.CompletableTask(), task.CompletableTask()
    both = task.when_all([a, b, a])
    a.complete(1)
    assert not both.is_complete and both.pending_tasks == 1
    b.complete(2)
    assert both.get_result() == [1, 2, 1]
