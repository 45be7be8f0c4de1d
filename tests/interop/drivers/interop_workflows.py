"""Orchestrators and activities shared by the interop scenarios.

Written only against the public authoring API that the published SDK and ours have in common
(``durabletask.task``), so the very same functions are registered with the published worker (inside the
interop venv) and with our worker (in the test process). Activities that must behave differently on later
attempts keep per-process counters, keyed by a value the scenario chooses.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from durabletask import task

__all__ = ["ACTIVITIES", "ORCHESTRATORS", "register_all"]

_counter_lock = threading.Lock()
_counters: dict[str, int] = {}


def _bump(key: str) -> int:
    with _counter_lock:
        _counters[key] = _counters.get(key, 0) + 1
        return _counters[key]


# ----------------------------------------------------------------------------------------------- activities


def double(ctx: task.ActivityContext, value: int) -> int:
    """Return twice the input."""
    return value * 2


def add(ctx: task.ActivityContext, pair: list[int]) -> int:
    """Return the sum of a two-item list."""
    return pair[0] + pair[1]


def count_runs(ctx: task.ActivityContext, key: str) -> int:
    """Return how many times this activity ran for ``key`` in this worker process."""
    return _bump(f"runs:{key}")


def flaky(ctx: task.ActivityContext, spec: dict[str, Any]) -> int:
    """Fail the first ``spec['fail_times']`` attempts for ``spec['key']``, then return the attempt number."""
    attempt = _bump(f"flaky:{spec['key']}")
    if attempt <= spec["fail_times"]:
        raise RuntimeError(f"attempt {attempt} failed on purpose")
    return attempt


def fail_with_value_error(ctx: task.ActivityContext, message: str) -> None:
    """Always fail with a ValueError carrying ``message``."""
    raise ValueError(message)


# -------------------------------------------------------------------------------------------- orchestrators


def chain(ctx: task.OrchestrationContext, value: int):
    """Three activities in sequence: double, double, add one."""
    first = yield ctx.call_activity(double, input=value)
    second = yield ctx.call_activity(double, input=first)
    third = yield ctx.call_activity(add, input=[second, 1])
    return [first, second, third]


def fan_out(ctx: task.OrchestrationContext, count: int):
    """``count`` activities in parallel, results in order."""
    results = yield task.when_all([ctx.call_activity(double, input=i) for i in range(count)])
    return results


def child_echo(ctx: task.OrchestrationContext, value: int):
    """A sub-orchestration that reports its parent id and a computed value."""
    doubled = yield ctx.call_activity(double, input=value)
    return {"parent": ctx.parent_instance_id, "value": doubled}


def parent_of_child(ctx: task.OrchestrationContext, value: int):
    """Call ``child_echo`` under the id ``<own id>-child``."""
    result = yield ctx.call_sub_orchestrator(child_echo, input=value, instance_id=f"{ctx.instance_id}-child")
    return result


def child_fails(ctx: task.OrchestrationContext, message: str):
    """A sub-orchestration that runs one activity and then raises ValueError."""
    yield ctx.call_activity(double, input=1)
    raise ValueError(message)


def parent_catches_child_failure(ctx: task.OrchestrationContext, message: str):
    """Report the failure details a failing sub-orchestration hands to its parent."""
    try:
        yield ctx.call_sub_orchestrator(child_fails, input=message, instance_id=f"{ctx.instance_id}-child")
    except task.TaskFailedError as error:
        details = error.details
        return {
            "error_type": details.error_type,
            "message": details.message,
            "caused_by_value_error": details.is_caused_by(ValueError),
        }
    return None


def parent_lets_child_failure_through(ctx: task.OrchestrationContext, message: str):
    """Do not catch a failing sub-orchestration: the parent fails too."""
    yield ctx.call_sub_orchestrator(child_fails, input=message, instance_id=f"{ctx.instance_id}-child")


def activity_fails(ctx: task.OrchestrationContext, message: str):
    """An activity raises ValueError and the orchestration does not catch it."""
    yield ctx.call_activity(fail_with_value_error, input=message)


def timer(ctx: task.OrchestrationContext, seconds: float):
    """Sleep on a durable timer; return the orchestration-time that elapsed."""
    started = ctx.current_utc_datetime
    yield ctx.create_timer(timedelta(seconds=seconds))
    return (ctx.current_utc_datetime - started).total_seconds()


def event_or_timeout(ctx: task.OrchestrationContext, seconds: float):
    """Race the external event ``approval`` against a timer."""
    approval = ctx.wait_for_external_event("approval")
    deadline = ctx.create_timer(timedelta(seconds=seconds))
    winner = yield task.when_any([approval, deadline])
    if winner == approval:
        return {"approved": approval.get_result()}
    return "timeout"


def wait_events(ctx: task.OrchestrationContext, names: list[str]):
    """Wait for the named external events one after the other; return their payloads."""
    received = []
    for name in names:
        payload = yield ctx.wait_for_external_event(name)
        received.append(payload)
    return received


def waits_forever(ctx: task.OrchestrationContext, _: Any = None):
    """Wait for an event nobody sends."""
    yield ctx.wait_for_external_event("never")


def parent_of_waiter(ctx: task.OrchestrationContext, _: Any = None):
    """Start ``waits_forever`` as ``<own id>-child`` and wait for it."""
    yield ctx.call_sub_orchestrator(waits_forever, instance_id=f"{ctx.instance_id}-child")


def counted_echo(ctx: task.OrchestrationContext, value: Any):
    """Return the input and how many times this instance id has run (to see restarts)."""
    run = yield ctx.call_activity(count_runs, input=ctx.instance_id)
    return {"input": value, "run": run}


def rewindable(ctx: task.OrchestrationContext, key: str):
    """Fail on the first run of ``flaky`` (no retry policy); succeed after a rewind."""
    first = yield ctx.call_activity(double, input=2)
    second = yield ctx.call_activity(flaky, input={"key": key, "fail_times": 1})
    return [first, second]


def collect_with_continue_as_new(ctx: task.OrchestrationContext, collected: list[Any]):
    """Take one ``item`` event per execution; continue as new (keeping unread events) until five."""
    item = yield ctx.wait_for_external_event("item")
    collected = [*collected, item]
    if len(collected) < 5:
        ctx.continue_as_new(collected, save_events=True)
        return None
    return collected


def with_retries(ctx: task.OrchestrationContext, spec: dict[str, Any]):
    """Call ``flaky`` under a RetryPolicy; report success or the final failure."""
    policy = task.RetryPolicy(
        first_retry_interval=timedelta(milliseconds=300),
        max_number_of_attempts=spec["max_attempts"],
        backoff_coefficient=1.0,
    )
    try:
        attempt = yield ctx.call_activity(flaky, input=spec, retry_policy=policy)
    except task.TaskFailedError as error:
        return {"failed": error.details.error_type, "message": error.details.message}
    return {"succeeded_on_attempt": attempt}


def custom_status(ctx: task.OrchestrationContext, _: Any = None):
    """Publish a custom status while waiting for ``proceed``, and another one at the end."""
    ctx.set_custom_status({"stage": "waiting"})
    value = yield ctx.wait_for_external_event("proceed")
    ctx.set_custom_status({"stage": "done", "value": value})
    return value


ORCHESTRATORS = [
    chain, fan_out, child_echo, parent_of_child, child_fails, parent_catches_child_failure,
    parent_lets_child_failure_through, activity_fails, timer, event_or_timeout, wait_events,
    waits_forever, parent_of_waiter, counted_echo, rewindable, collect_with_continue_as_new,
    with_retries, custom_status,
]
ACTIVITIES = [double, add, count_runs, flaky, fail_with_value_error]


def register_all(worker: Any) -> None:
    """Register every orchestrator and activity above with ``worker`` (published or ours)."""
    for orchestrator in ORCHESTRATORS:
        worker.add_orchestrator(orchestrator)
    for activity in ACTIVITIES:
        worker.add_activity(activity)
