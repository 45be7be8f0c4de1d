"""Keeping replay state between episodes (new_execution / continue_execution) equals a full replay."""

from __future__ import annotations

from durabletask import history as h
from durabletask._replay import OrchestrationExecutor, Registry

from . import patterns as p
from .test_recorded_histories import load


def episodes(events):
    """Split a recorded history into (past, new) work items as a backend would have sent them."""
    starts = [i for i, e in enumerate(events) if e.HasField("orchestratorStarted")]
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(events)
        delivered = [start]
        for i in range(start + 1, end):
            kind = events[i].WhichOneof("eventType")
            if kind in ("orchestratorCompleted", "executionCompleted") or events[i].eventId >= 0:
                break
            delivered.append(i)
        yield events[:start], events[start : delivered[-1] + 1]


def test_continuing_a_kept_state_gives_the_full_replay_result():
    events = load("retries")
    registry = Registry()
    registry.add_orchestrator(p.retries)
    executor = OrchestrationExecutor(registry)
    run = executor.new_execution("retry-1")
    applied = 0
    for past, new in episodes(events):
        full = executor.execute("retry-1", past, new)
        incremental = executor.continue_execution(run, past[applied:], new)
        applied = len(past) + len(new)
        assert list(incremental.actions) == list(full.actions)
        assert incremental.custom_status == full.custom_status
    assert full.actions[-1].completeOrchestration.result.value == '"third time lucky"'


def test_episodes_helper_reproduces_the_history():
    events = load("function_chaining")
    work_items = list(episodes(events))
    assert len(work_items) == 4
    assert all(new[0].HasField("orchestratorStarted") for _, new in work_items)
    assert work_items[0][1][1].HasField("executionStarted")
    assert h.event_type_name(work_items[1][1][1]) == "TaskCompleted"
