"""Long chains do not replay their whole history every step: the worker continues the live replay
state (and the emulator's history layout keeps that possible)."""

from __future__ import annotations

from durabletask import task
from durabletask.client import OrchestrationStatus, TaskHubGrpcClient

from .conftest import WorkerFactory


def inc(ctx: task.ActivityContext, x: int) -> int:
    return x + 1


@task.orchestrator
def long_chain(ctx: task.OrchestrationContext, n: int):
    x = 0
    for _ in range(n):
        x = yield ctx.call_activity(inc, input=x)
    ctx.set_custom_status(x)
    return x


def test_long_chain_reuses_replay_state(client: TaskHubGrpcClient, start_worker: WorkerFactory) -> None:
    worker = start_worker(orchestrators=[long_chain], activities=[inc])
    iid = client.schedule_new_orchestration(long_chain, input=200)
    state = client.wait_for_orchestration_completion(iid, timeout=60)
    assert state is not None and state.runtime_status == OrchestrationStatus.COMPLETED
    assert state.get_output() == 200 and state.get_custom_status() == 200
    cache = worker._runner.replay_cache  # type: ignore[union-attr]
    assert cache is not None
    assert cache.hits >= 195, (cache.hits, cache.misses)
    assert len(cache) == 0  # the finished instance was dropped
