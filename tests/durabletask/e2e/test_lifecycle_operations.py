"""Instance lifecycle end to end: continue-as-new, suspend/resume, restart, rewind, purge, custom
status."""

from __future__ import annotations

import threading

from durabletask import task
from durabletask.client import OrchestrationStatus, TaskHubGrpcClient

from .conftest import WorkerFactory


@task.orchestrator
def counter(ctx: task.OrchestrationContext, n: int):
    ctx.set_custom_status({"n": n})
    if n < 5:
        yield ctx.create_timer(ctx.current_utc_datetime)
        ctx.continue_as_new(n + 1)
        return None
    return n


@task.orchestrator
def gated(ctx: task.OrchestrationContext, _: object):
    ctx.set_custom_status("waiting")
    value = yield ctx.wait_for_external_event("go")
    ctx.set_custom_status("done")
    return value


def test_continue_as_new_and_custom_status(client: TaskHubGrpcClient, start_worker: WorkerFactory) -> None:
    start_worker(orchestrators=[counter])
    iid = client.schedule_new_orchestration(counter, input=0)
    state = client.wait_for_orchestration_completion(iid, timeout=30)
    assert state is not None and state.runtime_status == OrchestrationStatus.COMPLETED
    assert state.get_output() == 5
    assert state.get_input() == 5  # the latest execution's input
    assert state.get_custom_status() == {"n": 5}


def test_custom_status_while_running(client: TaskHubGrpcClient, start_worker: WorkerFactory) -> None:
    start_worker(orchestrators=[gated])
    iid = client.schedule_new_orchestration(gated)
    client.wait_for_orchestration_start(iid, timeout=30)
    # wait_for_orchestration_start returns once it is RUNNING; the custom status is from that episode.
    state = client.get_orchestration_state(iid)
    assert state is not None and state.get_custom_status() == "waiting"
    client.raise_orchestration_event(iid, "go", data=1)
    done = client.wait_for_orchestration_completion(iid, timeout=30)
    assert done is not None and done.get_custom_status() == "done" and done.get_output() == 1


def test_suspend_and_resume(client: TaskHubGrpcClient, start_worker: WorkerFactory) -> None:
    start_worker(orchestrators=[gated])
    iid = client.schedule_new_orchestration(gated)
    client.wait_for_orchestration_start(iid, timeout=30)
    client.suspend_orchestration(iid, reason="pause")
    _wait_status(client, iid, OrchestrationStatus.SUSPENDED)
    client.raise_orchestration_event(iid, "go", data="while suspended")
    state = client.get_orchestration_state(iid)
    assert state is not None and state.runtime_status == OrchestrationStatus.SUSPENDED
    client.resume_orchestration(iid, reason="continue")
    done = client.wait_for_orchestration_completion(iid, timeout=30)
    assert done is not None and done.runtime_status == OrchestrationStatus.COMPLETED
    assert done.get_output() == "while suspended"


def test_restart(client: TaskHubGrpcClient, start_worker: WorkerFactory) -> None:
    start_worker(orchestrators=[counter])
    iid = client.schedule_new_orchestration(counter, input=4)
    client.wait_for_orchestration_completion(iid, timeout=30)
    same = client.restart_orchestration(iid)
    assert same == iid
    again = client.wait_for_orchestration_completion(iid, timeout=30)
    assert again is not None and again.get_output() == 5
    other = client.restart_orchestration(iid, restart_with_new_instance_id=True)
    assert other != iid
    fresh = client.wait_for_orchestration_completion(other, timeout=30)
    assert fresh is not None and fresh.get_output() == 5


class Switch:
    def __init__(self) -> None:
        self.fixed = threading.Event()
        self.calls = 0


def test_rewind_after_fix(client: TaskHubGrpcClient, start_worker: WorkerFactory) -> None:
    switch = Switch()

    def fragile(ctx: task.ActivityContext, x: int) -> int:
        switch.calls += 1
        if not switch.fixed.is_set():
            raise RuntimeError("broken dependency")
        return x * 10

    def steady(ctx: task.ActivityContext, x: int) -> int:
        return x + 1

    @task.orchestrator
    def pipeline(ctx: task.OrchestrationContext, x: int):
        a = yield ctx.call_activity(steady, input=x)
        b = yield ctx.call_activity(fragile, input=a)
        return b

    start_worker(orchestrators=[pipeline], activities=[fragile, steady])
    iid = client.schedule_new_orchestration(pipeline, input=1)
    failed = client.wait_for_orchestration_completion(iid, timeout=30)
    assert failed is not None and failed.runtime_status == OrchestrationStatus.FAILED
    switch.fixed.set()
    client.rewind_orchestration(iid, reason="dependency fixed")
    done = _wait_status(client, iid, OrchestrationStatus.COMPLETED)
    assert done.get_output() == 20
    assert switch.calls == 2


def test_purge(client: TaskHubGrpcClient, start_worker: WorkerFactory) -> None:
    start_worker(orchestrators=[counter])
    iid = client.schedule_new_orchestration(counter, input=5)
    client.wait_for_orchestration_completion(iid, timeout=30)
    result = client.purge_orchestration(iid)
    assert result.deleted_instance_count == 1
    assert client.get_orchestration_state(iid) is None


def _wait_status(client: TaskHubGrpcClient, iid: str, status: OrchestrationStatus, timeout: float = 15):  # type: ignore[no-untyped-def]
    import time

    deadline = time.monotonic() + timeout
    while True:
        state = client.get_orchestration_state(iid)
        if state is not None and state.runtime_status == status:
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"{iid} did not reach {status}; last state {state}")
        time.sleep(0.02)
