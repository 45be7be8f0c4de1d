"""Document section "Advanced Patterns": fan-out/fan-in, sub-orchestrations, durable timers,
external events with a timeout, retry policies."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from durabletask import task
from durabletask.client import OrchestrationStatus, TaskHubGrpcClient

from . import doc_code
from .conftest import WorkerFactory
from .doc_code import (
    approval_orchestrator,
    fan_out_fan_in_orchestrator,
    parent_orchestrator,
    process_item,
    retry_orchestrator,
    send_approval_request,
    send_reminder,
    ship_order,
    shipping_orchestrator,
    timer_orchestrator,
)


def test_fan_out_fan_in(client: TaskHubGrpcClient, start_worker: WorkerFactory) -> None:
    start_worker(orchestrators=[fan_out_fan_in_orchestrator], activities=[process_item])
    items = [{"id": f"w{i}"} for i in range(10)]
    iid = client.schedule_new_orchestration(fan_out_fan_in_orchestrator, input=items)
    state = client.wait_for_orchestration_completion(iid, timeout=30)
    assert state is not None and state.runtime_status == OrchestrationStatus.COMPLETED
    assert state.get_output() == [{"id": f"w{i}", "status": "processed"} for i in range(10)]
    scheduled = [e for e in client.get_orchestration_history(iid) if e.event_type == "TaskScheduled"]
    assert len(scheduled) == 10


def test_sub_orchestration_sees_its_parent(client: TaskHubGrpcClient, start_worker: WorkerFactory) -> None:
    start_worker(orchestrators=[parent_orchestrator, shipping_orchestrator], activities=[ship_order])
    iid = client.schedule_new_orchestration(parent_orchestrator, input={"id": "o-7", "address": "Pier 1"})
    state = client.wait_for_orchestration_completion(iid, timeout=30)
    assert state is not None and state.runtime_status == OrchestrationStatus.COMPLETED
    out = state.get_output()
    assert out["order_id"] == "o-7" and out["tracking"].startswith("TRACK-o-7-")
    created = [
        e for e in client.get_orchestration_history(iid) if e.event_type == "SubOrchestrationInstanceCreated"
    ]
    [child] = created
    child_state = client.get_orchestration_state(child.instance_id)
    assert child_state is not None and child_state.get_output()["parent"] == iid


def test_durable_timer_waits(client: TaskHubGrpcClient, start_worker: WorkerFactory) -> None:
    start_worker(orchestrators=[timer_orchestrator], activities=[send_reminder])
    t0 = time.monotonic()
    iid = client.schedule_new_orchestration(timer_orchestrator)
    state = client.wait_for_orchestration_completion(iid, timeout=30)
    assert time.monotonic() - t0 >= doc_code.TIMER_DELAY.total_seconds()
    assert state is not None and state.get_output() == "Done"
    kinds = [e.event_type for e in client.get_orchestration_history(iid)]
    assert "TimerCreated" in kinds and "TimerFired" in kinds
    assert kinds.index("TimerFired") < kinds.index("TaskScheduled")


@pytest.fixture
def approval_worker(start_worker: WorkerFactory) -> None:
    start_worker(orchestrators=[approval_orchestrator], activities=[send_approval_request])


@pytest.mark.usefixtures("approval_worker")
def test_external_event_approval(client: TaskHubGrpcClient) -> None:
    iid = client.schedule_new_orchestration(approval_orchestrator, input={"id": 1})
    client.wait_for_orchestration_start(iid, timeout=30)
    client.raise_orchestration_event(iid, "ApprovalReceived", data={"approved": True})
    state = client.wait_for_orchestration_completion(iid, timeout=30)
    assert state is not None and state.get_output() == {"approved": True}


@pytest.mark.usefixtures("approval_worker")
def test_external_event_timeout(client: TaskHubGrpcClient) -> None:
    t0 = time.monotonic()
    iid = client.schedule_new_orchestration(approval_orchestrator, input={"id": 2, "timeout_seconds": 0.5})
    state = client.wait_for_orchestration_completion(iid, timeout=30)
    assert state is not None and state.get_output() == {"approved": False, "reason": "Timeout"}
    assert time.monotonic() - t0 >= 0.5


class FlakyActivity:
    """An activity that fails a set number of times per input key, then succeeds."""

    def __init__(self) -> None:
        self.attempts: dict[str, int] = {}
        self.lock = threading.Lock()

    def __call__(self, ctx: task.ActivityContext, data: dict) -> dict:
        with self.lock:
            n = self.attempts[data["key"]] = self.attempts.get(data["key"], 0) + 1
        if n <= data["failures"]:
            raise ConnectionError(f"attempt {n} failed")
        return {"ok": True, "attempts": n}


@pytest.fixture
def flaky(start_worker: WorkerFactory) -> FlakyActivity:
    activity = FlakyActivity()

    def unreliable_activity(ctx: task.ActivityContext, data: dict) -> dict:
        return activity(ctx, data)

    start_worker(orchestrators=[retry_orchestrator], activities=[unreliable_activity])
    return activity


def test_retry_policy_recovers(client: TaskHubGrpcClient, flaky: FlakyActivity) -> None:
    iid = client.schedule_new_orchestration(
        retry_orchestrator, input={"key": "a", "failures": 2, "first_ms": 100}
    )
    state = client.wait_for_orchestration_completion(iid, timeout=30)
    assert state is not None and state.runtime_status == OrchestrationStatus.COMPLETED
    assert state.get_output() == {"ok": True, "attempts": 3}
    assert flaky.attempts["a"] == 3


def test_retry_policy_gives_up(client: TaskHubGrpcClient, flaky: FlakyActivity) -> None:
    iid = client.schedule_new_orchestration(
        retry_orchestrator, input={"key": "b", "failures": 99, "attempts": 3, "first_ms": 100}
    )
    state = client.wait_for_orchestration_completion(iid, timeout=30)
    assert state is not None and state.runtime_status == OrchestrationStatus.FAILED
    assert flaky.attempts["b"] == 3
    assert state.failure_details is not None
    # As in the published SDK, the orchestration fails with TaskFailedError; the activity's own
    # error (type, message) is its inner failure.
    chain, fd = [], state.failure_details
    while fd is not None:
        chain.append(fd)
        fd = fd.inner_failure
    assert any(f.is_caused_by(ConnectionError) for f in chain)
    assert chain[-1].error_type == "builtins.ConnectionError"
    assert "attempt 3 failed" in state.failure_details.message


def test_retry_policy_timing_follows_backoff(client: TaskHubGrpcClient, flaky: FlakyActivity) -> None:
    t0 = time.monotonic()
    iid = client.schedule_new_orchestration(
        retry_orchestrator, input={"key": "c", "failures": 2, "first_ms": 300}
    )
    client.wait_for_orchestration_completion(iid, timeout=30)
    # 300 ms, then 600 ms (backoff_coefficient 2.0) between the three attempts.
    assert time.monotonic() - t0 >= timedelta(milliseconds=900).total_seconds()
