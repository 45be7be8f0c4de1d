"""Incremental replay gives exactly the actions a full replay gives, and falls back when it must."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from durabletask import history as h
from durabletask import task
from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask._replay import OrchestrationExecutor, Registry
from durabletask._worker_replay_cache import ReplayStateCache, incremental_replay_supported

pytestmark = pytest.mark.skipif(not incremental_replay_supported(), reason="replay core lacks the hooks")


def fan(ctx: task.OrchestrationContext, n: int) -> Any:
    total = 0
    for i in range(n):
        total += yield ctx.call_activity("double", input=i)
    parts = yield task.when_all([ctx.call_activity("double", input=i) for i in range(3)])
    yield ctx.create_timer(timedelta(seconds=1))
    ctx.set_custom_status({"total": total})
    try:
        yield ctx.call_activity("fail", input=None)
    except task.TaskFailedError:
        total += 1000
    return total + sum(parts)


_BASE = datetime(2026, 1, 1)


def started_events(counter: itertools.count) -> pb.HistoryEvent:
    return h.new_orchestrator_started_event(_BASE + timedelta(seconds=next(counter)))


def confirmations(
    actions: list[pb.OrchestratorAction],
) -> tuple[list[pb.HistoryEvent], list[pb.HistoryEvent]]:
    """History events confirming ``actions`` and the results the next episode delivers."""
    confirmed, results = [], []
    for a in actions:
        kind = a.WhichOneof("orchestratorActionType")
        if kind == "scheduleTask":
            confirmed.append(
                h.new_task_scheduled_event(a.id, a.scheduleTask.name, a.scheduleTask.input.value)
            )
            if a.scheduleTask.name == "fail":
                results.append(h.new_task_failed_event(a.id, ValueError("no")))
            else:
                value = json.loads(a.scheduleTask.input.value)
                results.append(h.new_task_completed_event(a.id, json.dumps(value * 2)))
        elif kind == "createTimer":
            fire_at = a.createTimer.fireAt.ToDatetime()
            confirmed.append(h.new_timer_created_event(a.id, fire_at))
            results.append(h.new_timer_fired_event(a.id, fire_at))
    return confirmed, results


def simulate(cache: ReplayStateCache | None, n: int = 6) -> list[list[pb.OrchestratorAction]]:
    registry = Registry()
    registry.add_orchestrator(fan)
    executor = OrchestrationExecutor(registry)
    clock = itertools.count()
    past: list[pb.HistoryEvent] = []
    new = [started_events(clock), h.new_execution_started_event("fan", "i1", json.dumps(n))]
    episodes = []
    for _ in range(100):
        if cache is None:
            result = executor.execute("i1", past, new)
        else:
            result = cache.execute(executor, "i1", past, new)
        actions = list(result.actions)
        episodes.append(actions)
        if any(a.HasField("completeOrchestration") for a in actions):
            break
        confirmed, results = confirmations(actions)
        past = past + new + confirmed
        new = [started_events(clock)] + results[:1]  # one result per episode
        pending = results[1:]
        while pending:  # deliver the rest one by one (fan-in)
            result = (
                executor.execute("i1", past, new)
                if cache is None
                else cache.execute(executor, "i1", past, new)
            )
            episodes.append(list(result.actions))
            past = past + new
            new = [started_events(clock), pending.pop(0)]
    return episodes


def test_incremental_replay_matches_full_replay() -> None:
    cache = ReplayStateCache()
    full = simulate(None)
    fast = simulate(cache)
    assert len(full) == len(fast) > 8
    for a, b in zip(full, fast):
        assert [x.SerializeToString(deterministic=True) for x in a] == [
            x.SerializeToString(deterministic=True) for x in b
        ]
    final = full[-1][-1].completeOrchestration
    assert json.loads(final.result.value) == sum(2 * i for i in range(6)) + 1000 + 6
    assert cache.hits >= len(fast) - 2
    assert len(cache) == 0  # completed instances are dropped


def test_history_that_is_not_an_extension_is_replayed_in_full() -> None:
    registry = Registry()
    registry.add_orchestrator(fan)
    executor = OrchestrationExecutor(registry)
    cache = ReplayStateCache()
    start = [h.new_orchestrator_started_event(), h.new_execution_started_event("fan", "i1", json.dumps(2))]
    first = cache.execute(executor, "i1", [], start)
    confirmed, results = confirmations(first.actions)
    # A redelivery of the same first episode (its completion was lost): state must not be reused.
    again = cache.execute(executor, "i1", [], start)
    assert [a.SerializeToString() for a in again.actions] == [a.SerializeToString() for a in first.actions]
    assert cache.misses == 2 and cache.hits == 0
    # A different execution under the same id (restart): also a miss.
    other = [
        h.new_orchestrator_started_event(),
        h.new_execution_started_event("fan", "i1", json.dumps(5), execution_id="e2"),
    ]
    cache.execute(executor, "i1", [], other)
    third = cache.execute(executor, "i1", start + confirmed, [h.new_orchestrator_started_event(), results[0]])
    assert cache.misses == 4
    expected = executor.execute("i1", start + confirmed, [h.new_orchestrator_started_event(), results[0]])
    assert [a.SerializeToString() for a in third.actions] == [a.SerializeToString() for a in expected.actions]
