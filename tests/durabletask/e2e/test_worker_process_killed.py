"""A worker process killed (SIGKILL) in the middle of an activity: the activity is redelivered to
another worker and the orchestration completes with the right output."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from durabletask import task
from durabletask.client import OrchestrationStatus, TaskHubGrpcClient

WORKER_SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from durabletask import task
    from durabletask.worker import TaskHubGrpcWorker

    marks = Path(sys.argv[2])

    @task.activity
    def slow_double(ctx, n):
        (marks / f"started-{os.getpid()}-{n}").write_text("")
        time.sleep(600)  # killed long before this ends
        return n * 2

    @task.orchestrator
    def double_it(ctx, n):
        return (yield ctx.call_activity(slow_double, input=n))

    worker = TaskHubGrpcWorker(host_address=sys.argv[1])
    worker.add_orchestrator(double_it)
    worker.add_activity(slow_double)
    worker.start()
    (marks / "ready").write_text("")
    time.sleep(600)
    """
)


@task.activity
def slow_double(ctx: task.ActivityContext, n: int) -> int:  # the healthy worker's version: quick
    return n * 2


@task.orchestrator
def double_it(ctx: task.OrchestrationContext, n: int):
    return (yield ctx.call_activity(slow_double, input=n))


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_activity_of_a_killed_worker_process_is_redelivered(emulator, client: TaskHubGrpcClient, start_worker,
                                                            tmp_path: Path) -> None:
    script = tmp_path / "doomed_worker.py"
    script.write_text(WORKER_SCRIPT, encoding="utf-8")
    marks = tmp_path / "marks"
    marks.mkdir()
    doomed = subprocess.Popen([sys.executable, str(script), emulator.address, str(marks)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for(lambda: (marks / "ready").exists() or doomed.poll() is not None, 60, "the worker process")
        assert doomed.poll() is None, doomed.stderr.read().decode() if doomed.stderr else ""
        instance_id = client.schedule_new_orchestration(double_it, input=21)
        _wait_for(lambda: any(p.name.startswith("started-") for p in marks.iterdir()), 30,
                  "the activity to start in the worker process")
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=30)
    finally:
        if doomed.poll() is None:
            doomed.kill()
            doomed.wait(timeout=30)
        if doomed.stderr:
            doomed.stderr.close()

    state = client.get_orchestration_state(instance_id)
    assert state is not None and state.runtime_status is OrchestrationStatus.RUNNING

    start_worker(orchestrators=[double_it], activities=[slow_double])
    state = client.wait_for_orchestration_completion(instance_id, timeout=60)
    assert state is not None
    assert state.runtime_status is OrchestrationStatus.COMPLETED, state.failure_details
    assert state.serialized_output == "42"
    history = client.get_orchestration_history(instance_id)
    scheduled = [e for e in history if e.event_type == "TaskScheduled"]
    completed = [e for e in history if e.event_type == "TaskCompleted"]
    assert len(scheduled) == 1 and len(completed) == 1, [e.event_type for e in history]
