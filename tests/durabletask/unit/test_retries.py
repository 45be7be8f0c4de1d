"""Retry policies: re-scheduling with the original action id after a retry timer, and the delay maths."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from durabletask import history as h
from durabletask import task
from durabletask._proto import orchestrator_service_pb2 as pb


def make_orch(policy: task.RetryPolicy):
    def retry_orchestrator(ctx: task.OrchestrationContext, input_data):
        result = yield ctx.call_activity("unreliable_activity", input=input_data, retry_policy=policy)
        return result

    return retry_orchestrator


def timer_delay(r, action: pb.OrchestratorAction) -> timedelta:
    return action.createTimer.fireAt.ToDatetime() - r.now


def test_fails_twice_then_succeeds(replayer):
    policy = task.RetryPolicy(
        first_retry_interval=timedelta(seconds=1), max_number_of_attempts=3, backoff_coefficient=2.0
    )
    r = replayer(make_orch(policy))
    r.start("retry_orchestrator", {"x": 1})
    assert r.kinds() == [("scheduleTask", 1)]

    r.fail_task(1)
    assert r.kinds() == [("createTimer", 2)]
    assert timer_delay(r, r.actions[0]) == timedelta(seconds=1)

    r.fire_timer(2)
    assert r.kinds() == [("scheduleTask", 1)]  # same id as the original call
    assert r.scheduled() == [("unreliable_activity", {"x": 1})]

    r.fail_task(1)
    assert r.kinds() == [("createTimer", 3)]
    assert timer_delay(r, r.actions[0]) == timedelta(seconds=2)

    r.fire_timer(3)
    assert r.kinds() == [("scheduleTask", 1)]
    r.complete_task(1, "finally")
    assert r.output() == "finally"
    assert r.actions[-1].id == 4


def test_exhausts_attempts_then_fails(replayer):
    policy = task.RetryPolicy(first_retry_interval=timedelta(seconds=1), max_number_of_attempts=2)
    r = replayer(make_orch(policy))
    r.start("retry_orchestrator")
    r.fail_task(1, ConnectionError("down"))
    r.fire_timer(2)
    r.fail_task(1, ConnectionError("still down"))
    assert r.status() == "ORCHESTRATION_STATUS_FAILED"
    failure = r.failure()
    assert "still down" in failure.message
    assert failure.inner_failure.error_type == "builtins.ConnectionError"


def test_single_attempt_policy_never_retries(replayer):
    policy = task.RetryPolicy(first_retry_interval=timedelta(seconds=1), max_number_of_attempts=1)
    r = replayer(make_orch(policy))
    r.start("retry_orchestrator")
    r.fail_task(1)
    assert r.status() == "ORCHESTRATION_STATUS_FAILED"


def test_retry_timeout_stops_retries(replayer):
    policy = task.RetryPolicy(
        first_retry_interval=timedelta(seconds=10),
        max_number_of_attempts=10,
        retry_timeout=timedelta(seconds=30),
    )
    r = replayer(make_orch(policy))
    r.start("retry_orchestrator")
    r.step(h.new_task_failed_event(1, RuntimeError("1")), advance=timedelta(seconds=5))
    assert r.kinds() == [("createTimer", 2)]
    r.fire_timer(2)
    # The second failure arrives after the retry timeout measured from the first call.
    r.step(h.new_task_failed_event(1, RuntimeError("2")), advance=timedelta(seconds=40))
    assert r.status() == "ORCHESTRATION_STATUS_FAILED"


def test_retry_that_would_start_after_the_timeout_is_not_made(replayer):
    """As the published SDK's e2e test: 1+2+4+8 s of delays exceed a 13 s timeout: 4 attempts, not 5."""
    policy = task.RetryPolicy(
        first_retry_interval=timedelta(seconds=1),
        max_number_of_attempts=5,
        backoff_coefficient=2,
        max_retry_interval=timedelta(seconds=10),
        retry_timeout=timedelta(seconds=13),
    )
    r = replayer(make_orch(policy))
    r.start("retry_orchestrator")
    attempts = 1
    timer_id = 2
    while True:
        r.fail_task(1)
        if r.status() == "ORCHESTRATION_STATUS_FAILED":
            break
        r.fire_timer(timer_id)
        assert r.kinds() == [("scheduleTask", 1)]
        attempts += 1
        timer_id += 1
    assert attempts == 4


def test_max_retry_interval_caps_the_delay(replayer):
    policy = task.RetryPolicy(
        first_retry_interval=timedelta(seconds=1),
        max_number_of_attempts=5,
        backoff_coefficient=10.0,
        max_retry_interval=timedelta(seconds=5),
    )
    r = replayer(make_orch(policy))
    r.start("retry_orchestrator")
    delays = []
    timer_id = 2
    for _ in range(3):
        r.fail_task(1)
        [action] = r.actions
        assert action.id == timer_id
        delays.append(timer_delay(r, action))
        r.fire_timer(timer_id)
        timer_id += 1
    assert delays == [timedelta(seconds=1), timedelta(seconds=5), timedelta(seconds=5)]


def test_non_retriable_failure_is_not_retried(replayer):
    policy = task.RetryPolicy(first_retry_interval=timedelta(seconds=1), max_number_of_attempts=5)
    r = replayer(make_orch(policy))
    r.start("retry_orchestrator")
    details = h.new_failure_details("app.Fatal", "do not retry", is_non_retriable=True)
    r.step(h.new_task_failed_event(1, details))
    assert r.status() == "ORCHESTRATION_STATUS_FAILED"
    assert r.failure().inner_failure.error_type == "app.Fatal"


def test_retry_then_success_seen_by_when_all(replayer):
    policy = task.RetryPolicy(first_retry_interval=timedelta(seconds=2), max_number_of_attempts=3)

    def orch(ctx, _):
        a = ctx.call_activity("a", retry_policy=policy)
        b = ctx.call_activity("b")
        return (yield task.when_all([a, b]))

    r = replayer(orch)
    r.start("orch")
    r.fail_task(1)
    assert r.kinds() == [("createTimer", 3)]
    r.complete_task(2, "B")
    r.fire_timer(3)
    assert r.kinds() == [("scheduleTask", 1)]
    r.complete_task(1, "A")
    assert r.output() == ["A", "B"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"first_retry_interval": timedelta(seconds=-1), "max_number_of_attempts": 1},
            "first_retry_interval",
        ),
        (
            {"first_retry_interval": timedelta(seconds=1), "max_number_of_attempts": 0},
            "max_number_of_attempts",
        ),
        (
            {
                "first_retry_interval": timedelta(seconds=1),
                "max_number_of_attempts": 2,
                "backoff_coefficient": 0.5,
            },
            "backoff_coefficient",
        ),
        (
            {
                "first_retry_interval": timedelta(seconds=1),
                "max_number_of_attempts": 2,
                "max_retry_interval": timedelta(seconds=-1),
            },
            "max_retry_interval",
        ),
        (
            {
                "first_retry_interval": timedelta(seconds=1),
                "max_number_of_attempts": 2,
                "retry_timeout": timedelta(seconds=-1),
            },
            "retry_timeout",
        ),
    ],
)
def test_policy_validates_its_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        task.RetryPolicy(**kwargs)


def test_policy_rejects_wrong_types():
    with pytest.raises(TypeError):
        task.RetryPolicy(first_retry_interval=1, max_number_of_attempts=2)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        task.RetryPolicy(first_retry_interval=timedelta(seconds=1), max_number_of_attempts=2.5)  # type: ignore[arg-type]


def test_policy_properties_and_defaults():
    p = task.RetryPolicy(first_retry_interval=timedelta(seconds=3), max_number_of_attempts=4)
    assert p.first_retry_interval == timedelta(seconds=3)
    assert p.max_number_of_attempts == 4
    assert p.backoff_coefficient == 1.0
    assert p.max_retry_interval is None and p.retry_timeout is None


@given(
    first=st.integers(min_value=0, max_value=3600),
    coefficient=st.floats(min_value=1.0, max_value=10.0),
    cap=st.one_of(st.none(), st.integers(min_value=0, max_value=7200)),
    attempts=st.integers(min_value=1, max_value=30),
)
def test_delay_maths(first, coefficient, cap, attempts):
    policy = task.RetryPolicy(
        first_retry_interval=timedelta(seconds=first),
        max_number_of_attempts=attempts,
        backoff_coefficient=coefficient,
        max_retry_interval=None if cap is None else timedelta(seconds=cap),
    )
    start = datetime(2025, 1, 1)
    rt = task.RetryableTask(policy, pb.OrchestratorAction(id=1), start, is_sub_orch=False)
    delays = []
    while (delay := rt.compute_next_delay()) is not None:
        delays.append(delay)
        rt.increment_attempt_count()
    assert len(delays) == attempts - 1
    for n, delay in enumerate(delays, start=1):
        expected = first * coefficient ** (n - 1)
        if cap is not None:
            expected = min(expected, cap)
        expected = min(expected, timedelta(days=36500).total_seconds())  # the documented ceiling
        assert delay.total_seconds() == pytest.approx(expected, rel=1e-6, abs=1e-5)
        if cap is not None:
            assert delay <= timedelta(seconds=cap)
    assert delays == sorted(delays)


@given(
    timeout=st.integers(min_value=0, max_value=1000),
    elapsed=st.integers(min_value=0, max_value=2000),
)
def test_retry_timeout_maths(timeout, elapsed):
    policy = task.RetryPolicy(
        first_retry_interval=timedelta(seconds=1),
        max_number_of_attempts=5,
        retry_timeout=timedelta(seconds=timeout),
    )
    start = datetime(2025, 1, 1)
    rt = task.RetryableTask(policy, pb.OrchestratorAction(id=1), start, is_sub_orch=False)
    rt._now = lambda: start + timedelta(seconds=elapsed)
    delay = rt.compute_next_delay()
    # No retry once the timeout passed, nor when the retry (1 s later) would start after it.
    assert (delay is None) == (elapsed + 1 > timeout)
