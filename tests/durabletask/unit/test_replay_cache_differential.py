"""The worker's replay-state cache gives exactly what a full replay gives, work item by work item.

Differential: every committed history (``histories/*.json``) is cut into work items, as a backend
would deliver them and at random cut points (hypothesis), including work items the cache never
saw (another worker ran them) and redeliveries; each result of ``ReplayStateCache.execute`` must
equal ``OrchestrationExecutor.execute`` on the same input. Two safeguards of the replay core are
pinned on the cached path too: a non-determinism error found after the orchestrator had already
finished, and a ``continue_as_new`` input that cannot be serialized.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from durabletask import history as h
from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask._replay import ExecutionResult, OrchestrationExecutor, Registry
from durabletask._worker_replay_cache import ReplayStateCache

from . import patterns as p
from .conftest import Replayer
from .test_incremental_replay import episodes
from .test_recorded_histories import CASES, load

# (history file stem, orchestrator replayed over it): every committed history, plus the
# non-determinism history under the two changed versions of its code.
HISTORIES: list[tuple[str, Callable[..., Any]]] = [(stem, fn) for stem, (fn, _, _) in sorted(CASES.items())]
HISTORIES += [
    ("nondeterminism_changed_code", p.order_flow_v2_renamed),
    ("nondeterminism_changed_code", p.order_flow_v2_timer),
]
_IDS = [f"{stem}-{fn.__name__}" for stem, fn in HISTORIES]

WorkItem = tuple[int, int]  # (length of past, end of new): past = events[:a], new = events[a:b]


def _executor(events: Sequence[pb.HistoryEvent], fn: Callable[..., Any]) -> tuple[OrchestrationExecutor, str]:
    started = next(e for e in events if e.HasField("executionStarted")).executionStarted
    registry = Registry()
    registry.add_orchestrator(fn, name=started.name)
    executor = OrchestrationExecutor(registry, maximum_timer_interval=timedelta(days=3))
    return executor, started.orchestrationInstance.instanceId


def _wire(result: ExecutionResult) -> tuple[list[bytes], str | None]:
    return [a.SerializeToString(deterministic=True) for a in result.actions], result.custom_status


def _finished(result: ExecutionResult) -> bool:
    return any(a.HasField("completeOrchestration") for a in result.actions)


def check_work_items(
    events: Sequence[pb.HistoryEvent], fn: Callable[..., Any], items: Sequence[WorkItem]
) -> ReplayStateCache:
    """Feed ``items`` to a cache and to full replays; every result must be the same. Also checks
    that the cache continued kept state exactly when it could (so the test exercises it)."""
    executor, instance_id = _executor(events, fn)
    cache = ReplayStateCache()
    kept: int | None = None  # history length applied by the state the cache should hold
    expected_hits = 0
    for a, b in items:
        past, new = list(events[:a]), list(events[a:b])
        if kept is not None and a >= kept:
            expected_hits += 1
        cached = cache.execute(executor, instance_id, past, new)
        full = executor.execute(instance_id, past, new)
        assert _wire(cached) == _wire(full), f"work item past[:{a}] new[{a}:{b}]"
        kept = None if _finished(full) else b
        assert (instance_id in cache) == (kept is not None)
    assert cache.hits == expected_hits
    assert cache.hits + cache.misses == len(items)
    return cache


def backend_work_items(events: Sequence[pb.HistoryEvent]) -> list[WorkItem]:
    """The work items a backend sent while the history was recorded."""
    return [(len(past), len(past) + len(new)) for past, new in episodes(list(events))]


@pytest.mark.parametrize(("stem", "fn"), HISTORIES, ids=_IDS)
def test_committed_history_episode_by_episode(stem: str, fn: Callable[..., Any]) -> None:
    events = load(stem)
    items = backend_work_items(events)
    cache = check_work_items(events, fn, items)
    assert len(items) >= 2
    if stem != "nondeterminism_changed_code":
        assert cache.hits == len(items) - 1 and cache.misses == 1


@st.composite
def work_item_plans(draw: st.DrawFn, n: int) -> list[WorkItem]:
    """Random work items over a history of ``n`` events: increasing cut points, each work item's
    new batch may stop short of the next cut (the next past then holds events this cache never
    applied, like an episode run by another worker), and any item may be redelivered."""
    cuts = sorted(draw(st.sets(st.integers(min_value=1, max_value=n - 1), max_size=min(n - 1, 12))))
    bounds = [0, *cuts, n]
    items: list[WorkItem] = []
    for start, stop in itertools.pairwise(bounds):
        end = draw(st.integers(min_value=start + 1, max_value=stop))
        items.append((start, end))
        if draw(st.integers(min_value=0, max_value=5)) == 0:
            items.append((start, end))  # redelivered (its completion was lost)
    return items


@pytest.mark.parametrize(("stem", "fn"), HISTORIES, ids=_IDS)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_committed_history_at_random_cut_points(
    stem: str, fn: Callable[..., Any], data: st.DataObject
) -> None:
    events = load(stem)
    check_work_items(events, fn, data.draw(work_item_plans(len(events))))


# -- safeguard 1: non-determinism found after the orchestrator already finished ----------------------


def flow_v1(ctx: Any, _: Any) -> Any:
    first = yield ctx.call_activity("a")
    second = yield ctx.call_activity("b")
    return [first, second]


def flow_v2(ctx: Any, _: Any) -> Any:
    """After a deploy: returns after the first activity, so a history with ``b`` scheduled is
    non-deterministic only after the orchestrator has already returned."""
    first = yield ctx.call_activity("a")
    return [first]


def _registry(fn: Callable[..., Any]) -> Registry:
    registry = Registry()
    registry.add_orchestrator(fn, name="flow")
    return registry


@pytest.mark.parametrize("warm", [True, False], ids=["kept-state", "cold"])
def test_non_determinism_after_completion_fails_the_orchestration(warm: bool) -> None:
    # Recorded by a worker still running v1: a(1) completed, then b(2) scheduled.
    old = Replayer(registry=_registry(flow_v1), instance_id="nd-1")
    first = old.start("flow")
    first_new = list(old.past[:2])  # [orchestratorStarted, executionStarted]
    old.complete_task(1, "A")
    assert old.scheduled() == [("b", None)]
    past, new = (
        list(old.past),
        [h.new_orchestrator_started_event(old.now), h.new_task_completed_event(2, '"B"')],
    )

    executor = OrchestrationExecutor(_registry(flow_v2))
    cache = ReplayStateCache()
    if warm:  # this worker (already on v2) ran the first episode and kept its state
        assert _wire(cache.execute(executor, "nd-1", [], first_new)) == _wire(first)
    cached = cache.execute(executor, "nd-1", past, new)
    full = executor.execute("nd-1", past, new)

    [done] = [a.completeOrchestration for a in cached.actions if a.HasField("completeOrchestration")]
    assert (
        pb.OrchestrationStatus.Name(done.orchestrationStatus) == "ORCHESTRATION_STATUS_FAILED"
    )  # not v2's COMPLETED
    assert done.failureDetails.errorType.endswith("NonDeterminismError")
    assert "call_activity('b')" in done.failureDetails.errorMessage
    assert _wire(cached) == _wire(full)
    assert cache.hits == (1 if warm else 0)
    assert "nd-1" not in cache


# -- safeguard 2: a continue_as_new input that cannot be serialized -----------------------------------


def restart_with(ctx: Any, value: Any) -> Any:
    yield ctx.call_activity("a")
    ctx.continue_as_new(object())  # not JSON-serializable


@pytest.mark.parametrize("warm", [True, False], ids=["kept-state", "cold"])
def test_unserializable_continue_as_new_input_fails_the_orchestration(warm: bool) -> None:
    registry = Registry()
    registry.add_orchestrator(restart_with)
    executor = OrchestrationExecutor(registry)
    start = [h.new_orchestrator_started_event(), h.new_execution_started_event("restart_with", "can-1", "1")]
    cache = ReplayStateCache()
    first = cache.execute(executor, "can-1", [], start)
    assert [a.WhichOneof("orchestratorActionType") for a in first.actions] == ["scheduleTask"]
    if not warm:
        cache.forget("can-1")
    past = [
        *start,
        h.new_task_scheduled_event(1, "a"),
        h.new_orchestrator_completed_event(),
    ]
    new = [h.new_orchestrator_started_event(), h.new_task_completed_event(1, json.dumps("x"))]

    cached = cache.execute(executor, "can-1", past, new)  # must not raise
    full = executor.execute("can-1", past, new)

    [done] = [a.completeOrchestration for a in cached.actions if a.HasField("completeOrchestration")]
    assert pb.OrchestrationStatus.Name(done.orchestrationStatus) == "ORCHESTRATION_STATUS_FAILED"
    assert done.failureDetails.errorType.endswith("TypeError")
    assert _wire(cached) == _wire(full)
    assert cache.hits == (1 if warm else 0)
    assert "can-1" not in cache
