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


# -- retries: suspension, sub-orchestrations ---------------------------------------------------------


def test_retry_timer_fired_while_suspended_retries_after_resume(replayer):
    def orch(ctx, _):
        return (yield ctx.call_activity("flaky", input="x", retry_policy=RETRY))

    r = replayer(orch)
    r.start("orch")
    r.fail_task(1)
    fire_at = r.timer_fire_at(2)
    r.step(h.new_execution_suspended_event("pause"))
    r.step(h.new_timer_fired_event(2, fire_at), advance=max(fire_at - r.now, timedelta(0)))
    assert r.actions == []  # buffered while suspended
    r.step(h.new_execution_resumed_event("go"))
    assert r.kinds() == [("scheduleTask", 1)]  # the retry reuses the original id
    assert r.scheduled() == [("flaky", "x")]
    r.complete_task(1, "ok")
    assert r.output() == "ok"


def test_sub_orchestration_retry_reuses_id_and_instance_id(replayer):
    def orch(ctx, _):
        return (yield ctx.call_sub_orchestrator("child", input=1, retry_policy=RETRY))

    r = replayer(orch, instance_id="parent")
    r.start("orch")
    first = r.actions[0].createSubOrchestration
    assert first.instanceId == "parent:0001"
    r.step(h.new_sub_orchestration_failed_event(1, RuntimeError("child broke")))
    assert r.kinds() == [("createTimer", 2)]
    r.fire_timer(2)
    assert r.kinds() == [("createSubOrchestration", 1)]
    again = r.actions[0].createSubOrchestration
    assert (again.name, again.instanceId, again.input.value) == ("child", "parent:0001", "1")
    r.step(h.new_sub_orchestration_failed_event(1, RuntimeError("child broke")))
    r.fire_timer(3)
    r.step(h.new_sub_orchestration_failed_event(1, RuntimeError("child broke again")))
    assert r.status() == "ORCHESTRATION_STATUS_FAILED"
    failure = r.failure()
    assert failure is not None and failure.is_caused_by(task.TaskFailedError)
    assert "child broke again" in failure.message


# -- bad orchestrator code: a clear FAILED, never a crash ---------------------------------------------


def _failed(r) -> task.FailureDetails:
    assert r.status() == "ORCHESTRATION_STATUS_FAILED", r.kinds()
    assert [a.id for a in r.actions if a.HasField("completeOrchestration")]
    failure = r.failure()
    assert failure is not None
    return failure


def test_non_serializable_orchestrator_result_fails_clearly(replayer):
    def orch(ctx, _):
        yield ctx.create_timer(timedelta(seconds=1))
        return object()

    r = replayer(orch)
    r.start("orch")
    r.fire_timer(1)
    failure = _failed(r)
    assert failure.error_type == "builtins.TypeError"
    assert failure.message.startswith("The orchestration result (a object) could not be serialized")


def test_non_serializable_activity_input_fails_the_orchestration(replayer):
    def orch(ctx, _):
        return (yield ctx.call_activity("a", input=object()))

    r = replayer(orch)
    r.start("orch")
    assert _failed(r).error_type == "builtins.TypeError"
    assert _action_kinds(r) == ["completeOrchestration"]


def test_plain_function_orchestrator_completes_with_its_return_value(replayer):
    def orch(ctx, value):
        return value * 2

    r = replayer(orch)
    r.start("orch", 21)
    assert r.output() == 42


def test_async_orchestrator_fails_clearly(replayer):
    async def orch(ctx, _):
        return 1

    r = replayer(orch)
    r.start("orch")
    failure = _failed(r)
    assert "generator" in failure.message


def test_yield_of_a_non_task_fails_clearly(replayer):
    def orch(ctx, _):
        yield ctx.call_activity("a")
        yield 5

    r = replayer(orch)
    r.start("orch")
    r.complete_task(1)
    failure = _failed(r)
    assert failure.error_type == "builtins.TypeError"
    assert "int" in failure.message


def test_exception_raised_in_finally_fails_with_that_exception(replayer):
    def orch(ctx, _):
        try:
            yield ctx.call_activity("a")
        finally:
            raise ValueError("from finally")

    r = replayer(orch)
    r.start("orch")
    r.fail_task(1)
    failure = _failed(r)
    assert failure.error_type == "builtins.ValueError"
    assert failure.message == "from finally"


def test_non_serializable_continue_as_new_input_fails_clearly(replayer):
    def orch(ctx, _):
        yield ctx.create_timer(timedelta(seconds=1))
        ctx.continue_as_new(object())

    r = replayer(orch)
    r.start("orch")
    r.fire_timer(1)
    assert _failed(r).error_type == "builtins.TypeError"
    assert _action_kinds(r) == ["completeOrchestration"]


def test_discarded_generator_cleanup_errors_do_not_escape(replayer):
    """Each episode's suspended generator is closed by the executor, not by the garbage collector:
    a finally block that raises or yields again is logged, never an unraisable exception."""
    cleanups: list[str] = []

    def orch(ctx, _):
        try:
            yield ctx.call_activity("a")
            yield ctx.call_activity("b")
        finally:
            cleanups.append("ran")
            yield ctx.call_activity("cleanup")  # a yield in finally: "ignored GeneratorExit"

    r = replayer(orch)
    r.start("orch")
    assert cleanups == ["ran"]  # closed right after the episode
    r.complete_task(1)
    assert r.kinds() == [("scheduleTask", 2)]
    assert cleanups == ["ran", "ran"]


def test_terminated_while_waiting_inside_try_finally(replayer):
    def orch(ctx, _):
        try:
            yield ctx.wait_for_external_event("never")
        finally:
            raise RuntimeError("cleanup failed")

    r = replayer(orch)
    r.start("orch")
    r.step(h.new_execution_terminated_event(json.dumps("stop")))
    assert r.status() == "ORCHESTRATION_STATUS_TERMINATED"
    assert _action_kinds(r) == ["completeOrchestration"]


def test_when_all_and_when_any_accept_sequences_of_subtasks_for_type_checkers():
    import collections.abc
    import typing

    for fn in (task.when_all, task.when_any):
        hint = typing.get_type_hints(fn)["tasks"]
        assert typing.get_origin(hint) is collections.abc.Sequence, (fn.__name__, hint)


def test_task_completed_before_it_is_yielded(replayer):
    def orch(ctx, _):
        a = ctx.call_activity("a")
        b = ctx.call_activity("b")
        first = yield a
        second = yield b  # b finished while the orchestrator waited for a
        return [first, second]

    r = replayer(orch)
    r.start("orch")
    r.complete_task(2, "B")
    assert r.actions == []
    r.complete_task(1, "A")
    assert r.output() == ["A", "B"]


def test_orchestrator_calling_sys_exit_fails_the_orchestration(replayer):
    import sys

    def orch(ctx, _):
        yield ctx.call_activity("a")
        sys.exit("bye")

    r = replayer(orch)
    r.start("orch")
    r.complete_task(1)
    assert _failed(r).error_type == "builtins.SystemExit"


def test_yield_of_a_list_of_tasks_suggests_when_all(replayer):
    def orch(ctx, _):
        results = yield [ctx.call_activity("a"), ctx.call_activity("b")]
        return results

    r = replayer(orch)
    r.start("orch")
    failure = _failed(r)
    assert "yielded a list" in failure.message and "task.when_all" in failure.message
    assert _action_kinds(r) == ["scheduleTask", "scheduleTask", "completeOrchestration"]
