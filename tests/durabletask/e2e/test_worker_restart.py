"""Stopping a worker mid-run and starting another (or the same one again): nothing is lost."""

from __future__ import annotations

import threading
import time

from durabletask import task
from durabletask.client import OrchestrationStatus, TaskHubGrpcClient

from .conftest import WorkerFactory


def test_orchestration_survives_a_worker_restart(
    client: TaskHubGrpcClient, start_worker: WorkerFactory
) -> None:
    first_step = threading.Event()

    def step(ctx: task.ActivityContext, i: int) -> int:
        if i == 0:
            first_step.set()
        return i

    @task.orchestrator
    def steps(ctx: task.OrchestrationContext, n: int):
        total = 0
        for i in range(n):
            total += yield ctx.call_activity(step, input=i)
        return total

    worker = start_worker(orchestrators=[steps], activities=[step])
    iid = client.schedule_new_orchestration(steps, input=30)
    assert first_step.wait(10)
    worker.stop()
    assert not worker.is_running
    # The same object starts again; the instance finishes on the restarted worker.
    worker.start()
    state = client.wait_for_orchestration_completion(iid, timeout=30)
    assert state is not None and state.runtime_status == OrchestrationStatus.COMPLETED
    assert state.get_output() == sum(range(30))


def test_a_second_worker_takes_over(client: TaskHubGrpcClient, start_worker: WorkerFactory) -> None:
    gate = threading.Event()

    def slow(ctx: task.ActivityContext, x: int) -> int:
        gate.wait(5)
        return x * 2

    @task.orchestrator
    def fan(ctx: task.OrchestrationContext, n: int):
        values = yield task.when_all([ctx.call_activity(slow, input=i) for i in range(n)])
        return sum(values)

    first = start_worker(orchestrators=[fan], activities=[slow])
    iid = client.schedule_new_orchestration(fan, input=6)
    client.wait_for_orchestration_start(iid, timeout=10)
    stopper = threading.Thread(target=first.stop)
    stopper.start()
    gate.set()
    stopper.join(15)
    start_worker(orchestrators=[fan], activities=[slow])
    state = client.wait_for_orchestration_completion(iid, timeout=30)
    assert state is not None and state.runtime_status == OrchestrationStatus.COMPLETED
    assert state.get_output() == 30


def test_worker_reconnects_after_the_backend_restarts(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from durabletask.emulator import EmulatorServer
    from durabletask.worker import TaskHubGrpcWorker

    from .conftest import FAST_RECONNECT

    @task.orchestrator
    def waiter(ctx: task.OrchestrationContext, _: object):
        value = yield ctx.wait_for_external_event("go")
        return value

    db = tmp_path / "emu.db"
    server = EmulatorServer(port=0, db_path=str(db))
    server.start()
    port = server.port
    worker = TaskHubGrpcWorker(host_address=f"127.0.0.1:{port}", resiliency_options=FAST_RECONNECT)
    worker.add_orchestrator(waiter)
    worker.start()
    try:
        with TaskHubGrpcClient(host_address=f"127.0.0.1:{port}") as c:
            iid = c.schedule_new_orchestration(waiter)
            c.wait_for_orchestration_start(iid, timeout=10)
        server.stop()
        server = EmulatorServer(port=port, db_path=str(db))
        server.start()
        with TaskHubGrpcClient(host_address=f"127.0.0.1:{port}") as c:
            # gRPC shares sub-channels per process: right after the restart a call may still see the
            # connection backoff left by the outage, so the client retries briefly.
            deadline = time.monotonic() + 10
            while True:
                try:
                    c.raise_orchestration_event(iid, "go", data="back")
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            state = c.wait_for_orchestration_completion(iid, timeout=20)
        assert state is not None and state.runtime_status == OrchestrationStatus.COMPLETED
        assert state.get_output() == "back"
    finally:
        worker.stop()
        server.stop()
