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


# -- routing, eviction, bounds, threads ---------------------------------------------------------------


class SpyExecutor(OrchestrationExecutor):
    """Counts full ``execute`` calls; can make the next ``continue_execution`` blow up."""

    def __init__(self, registry: Registry) -> None:
        super().__init__(registry)
        self.execute_calls = 0
        self.fail_next_continue = False

    def execute(self, instance_id, past_events, new_events):  # type: ignore[no-untyped-def]
        self.execute_calls += 1
        return super().execute(instance_id, past_events, new_events)

    def continue_execution(self, run, past_events, new_events):  # type: ignore[no-untyped-def]
        if self.fail_next_continue:
            self.fail_next_continue = False
            raise RuntimeError("broken replay state")
        return super().continue_execution(run, past_events, new_events)


def two_steps(ctx: task.OrchestrationContext, _: Any) -> Any:
    a = yield ctx.call_activity("first")
    b = yield ctx.call_activity("flaky", input=a)
    return b


def spy(*orchestrators: Any) -> SpyExecutor:
    registry = Registry()
    for fn in orchestrators:
        registry.add_orchestrator(fn)
    return SpyExecutor(registry)


def wire(result: Any) -> list[bytes]:
    return [a.SerializeToString(deterministic=True) for a in result.actions]


def start_of(
    name: str, instance_id: str, value: Any = None, execution_id: str = "e1"
) -> list[pb.HistoryEvent]:
    return [
        h.new_orchestrator_started_event(_BASE),
        h.new_execution_started_event(name, instance_id, json.dumps(value), execution_id=execution_id),
    ]


def second_episode(
    start: list[pb.HistoryEvent], first: Any
) -> tuple[list[pb.HistoryEvent], list[pb.HistoryEvent]]:
    """The work item after ``two_steps``' first episode: "first" (id 1) completed with "A"."""
    [action] = first.actions
    assert action.id == 1 and action.scheduleTask.name == "first"
    past = [*start, h.new_task_scheduled_event(1, "first"), h.new_orchestrator_completed_event(_BASE)]
    return past, [
        h.new_orchestrator_started_event(_BASE + timedelta(seconds=1)),
        h.new_task_completed_event(1, '"A"'),
    ]


def test_rewind_goes_through_the_cores_execute() -> None:
    executor = spy(two_steps)
    cache = ReplayStateCache()
    start = start_of("two_steps", "rw")
    first = cache.execute(executor, "rw", [], start)
    past, new = second_episode(start, first)
    second = cache.execute(executor, "rw", past, new)
    past = [*past, *new, h.new_task_scheduled_event(2, "flaky", '"A"'), h.new_orchestrator_completed_event()]
    new = [h.new_orchestrator_started_event(), h.new_task_failed_event(2, RuntimeError("flaky failed"))]
    third = cache.execute(executor, "rw", past, new)
    assert [a.WhichOneof("orchestratorActionType") for a in second.actions] == ["scheduleTask"]
    assert third.actions[-1].completeOrchestration.orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED
    assert "rw" not in cache and executor.execute_calls == 0 and cache.hits == 2

    past = [
        *past,
        *new,
        h.new_orchestrator_completed_event(),
        h.new_execution_completed_event(pb.ORCHESTRATION_STATUS_FAILED, None, None),
    ]
    rewind = [h.new_orchestrator_started_event(), h.new_execution_rewound_event("again")]
    result = cache.execute(executor, "rw", past, rewind)
    assert executor.execute_calls == 1
    [action] = result.actions
    assert action.HasField("rewindOrchestration") and action.id == -1
    assert "rw" not in cache


def test_empty_batch_goes_through_the_cores_execute_and_drops_the_state() -> None:
    executor = spy(two_steps)
    cache = ReplayStateCache()
    start = start_of("two_steps", "eb")
    cache.execute(executor, "eb", [], start)
    assert "eb" in cache
    result = cache.execute(executor, "eb", start, [])
    assert executor.execute_calls == 1
    assert wire(result) == wire(OrchestrationExecutor(Registry()).execute("eb", start, []))
    [action] = result.actions
    assert action.completeOrchestration.orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED
    assert "eb" not in cache


def test_least_recently_used_state_is_dropped_past_the_bound() -> None:
    executor = spy(two_steps)
    cache = ReplayStateCache(max_entries=2)
    starts = {iid: start_of("two_steps", iid) for iid in ("i1", "i2", "i3", "i4")}
    firsts = {iid: cache.execute(executor, iid, [], starts[iid]) for iid in ("i1", "i2", "i3")}
    assert len(cache) == 2 and "i1" not in cache
    cache.execute(executor, "i2", *second_episode(starts["i2"], firsts["i2"]))  # i2 is now the newest
    cache.execute(executor, "i4", [], starts["i4"])
    assert {iid for iid in starts if iid in cache} == {"i2", "i4"}
    assert cache.hits == 1
    # i1 lost its state: its next episode is a full replay with the same result
    past, new = second_episode(starts["i1"], firsts["i1"])
    assert wire(cache.execute(executor, "i1", past, new)) == wire(executor.execute("i1", past, new))
    assert cache.hits == 1 and cache.misses == 5


def test_zero_entries_keeps_nothing() -> None:
    cache = ReplayStateCache(max_entries=0)
    assert simulate(cache) == simulate(None)
    assert cache.hits == 0 and len(cache) == 0
    with pytest.raises(ValueError):
        ReplayStateCache(max_entries=-1)


def test_history_that_differs_in_its_last_applied_event_is_a_miss() -> None:
    executor = spy(two_steps)
    cache = ReplayStateCache()
    start = start_of("two_steps", "d1")
    first = cache.execute(executor, "d1", [], start)
    past, new = second_episode(start, first)
    past[1].timestamp.FromDatetime(_BASE + timedelta(minutes=5))  # not the executionStarted we applied
    result = cache.execute(executor, "d1", past, new)
    assert cache.hits == 0 and cache.misses == 2
    assert wire(result) == wire(executor.execute("d1", past, new))


def test_a_failing_kept_state_falls_back_to_a_full_replay(caplog: pytest.LogCaptureFixture) -> None:
    executor = spy(two_steps)
    cache = ReplayStateCache()
    start = start_of("two_steps", "f1")
    first = cache.execute(executor, "f1", [], start)
    past, new = second_episode(start, first)
    executor.fail_next_continue = True
    with caplog.at_level("ERROR", logger="durabletask.worker"):
        result = cache.execute(executor, "f1", past, new)
    assert "replaying in full" in caplog.text
    assert cache.hits == 1
    assert wire(result) == wire(executor.execute("f1", past, new))
    assert "f1" in cache  # the fresh state replaced the broken one


def simulate_instance(cache: ReplayStateCache | None, instance_id: str) -> list[list[bytes]]:
    """``simulate`` for another instance id (same orchestration, its own history)."""
    registry = Registry()
    registry.add_orchestrator(fan)
    executor = OrchestrationExecutor(registry)
    clock = itertools.count()
    past: list[pb.HistoryEvent] = []
    new = [started_events(clock), h.new_execution_started_event("fan", instance_id, json.dumps(4))]
    out = []
    while True:
        run = executor.execute if cache is None else lambda *a: cache.execute(executor, *a)
        actions = list(run(instance_id, past, new).actions)
        out.append([a.SerializeToString(deterministic=True) for a in actions])
        if any(a.HasField("completeOrchestration") for a in actions):
            return out
        confirmed, results = confirmations(actions)
        past = past + new + confirmed
        new = [started_events(clock), *results]


def test_threads_share_one_cache() -> None:
    from concurrent.futures import ThreadPoolExecutor

    cache = ReplayStateCache()
    ids = [f"t{i}" for i in range(8)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        cached = list(pool.map(lambda iid: simulate_instance(cache, iid), ids))
    for iid, got in zip(ids, cached):
        assert got == simulate_instance(None, iid)
    episodes = sum(len(x) for x in cached)
    assert cache.hits == episodes - len(ids) and cache.misses == len(ids)
    assert len(cache) == 0


def test_the_same_work_item_on_two_threads_at_once() -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    executor = spy(two_steps)
    cache = ReplayStateCache()
    start = start_of("two_steps", "dup")
    first = cache.execute(executor, "dup", [], start)
    past, new = second_episode(start, first)
    barrier = threading.Barrier(2, timeout=10)

    def run(_: int) -> list[bytes]:
        barrier.wait()
        return wire(cache.execute(executor, "dup", past, new))

    with ThreadPoolExecutor(max_workers=2) as pool:
        a, b = pool.map(run, range(2))
    assert a == b == wire(executor.execute("dup", past, new))
    assert cache.hits + cache.misses == 3 and cache.hits <= 1


def test_work_item_runner_uses_the_cache_and_answers_like_a_full_replay() -> None:
    import logging

    from durabletask._worker_execution import WorkItemRunner
    from durabletask.serialization import JsonDataConverter

    def runner(use_cache: bool) -> WorkItemRunner:
        registry = Registry()
        registry.add_orchestrator(two_steps)
        return WorkItemRunner(
            registry,
            data_converter=JsonDataConverter(),
            maximum_timer_interval=timedelta(days=3),
            logger=logging.getLogger("durabletask.worker"),
            use_replay_cache=use_cache,
        )

    cached, plain = runner(True), runner(False)
    assert isinstance(cached.replay_cache, ReplayStateCache) and plain.replay_cache is None
    start = start_of("two_steps", "wr")
    first = pb.OrchestratorRequest(instanceId="wr", newEvents=start)
    responses = [r.run_orchestrator(first, "tok-1") for r in (cached, plain)]
    assert responses[0] == responses[1]
    past, new = second_episode(start, responses[0])
    second = pb.OrchestratorRequest(instanceId="wr", pastEvents=past, newEvents=new)
    responses = [r.run_orchestrator(second, "tok-2") for r in (cached, plain)]
    assert responses[0] == responses[1]
    assert [a.scheduleTask.name for a in responses[0].actions] == ["flaky"]
    assert cached.replay_cache.hits == 1
