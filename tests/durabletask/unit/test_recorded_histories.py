"""Replay the committed JSON histories (histories/*.json) through today's orchestrator code.

A recorded history must replay to exactly what it recorded: no new actions for a running instance,
and for a finished one a single completion equal to the recorded ``executionCompleted``. A history
recorded with older code must fail replay with a clear non-determinism message.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from durabletask import history as h
from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask._replay import ExecutionResult, OrchestrationExecutor, Registry
from durabletask.task import FailureDetails

from . import patterns as p

HISTORIES = Path(__file__).parent / "histories"

CASES: dict[str, tuple[Callable[..., Any], str, Any]] = {
    # file stem: (orchestrator, final status, decoded output or None)
    "function_chaining": (
        p.function_chaining,
        "COMPLETED",
        "Hello World! How are you today? I hope you're doing well!",
    ),
    "fan_out_fan_in": (p.fan_out_fan_in, "COMPLETED", {"total": 3}),
    "human_interaction_approved": (p.human_interaction, "COMPLETED", {"approved": True}),
    "human_interaction_timeout": (p.human_interaction, "COMPLETED", {"approved": False, "reason": "Timeout"}),
    "retries": (p.retries, "COMPLETED", "third time lucky"),
    "sub_orchestration": (p.sub_orchestration, "COMPLETED", {"order_id": "o-7", "tracking": "TRACK-o-7"}),
    "long_timer": (p.long_timer, "COMPLETED", "2025-01-08T12:00:01"),
    "error_handling": (p.error_handling, "COMPLETED", {"success": False, "error": "builtins.ValueError"}),
    "suspend_resume": (p.suspend_resume, "COMPLETED", "value"),
    "terminated": (p.suspend_resume, "TERMINATED", "cancelled by user"),
    "nondeterminism_changed_code": (p.order_flow, "RUNNING", None),
}


def load(stem: str) -> list[pb.HistoryEvent]:
    return h.events_from_json((HISTORIES / f"{stem}.json").read_text(encoding="utf-8"))


def replay_all(
    events: list[pb.HistoryEvent], fn: Callable[..., Any], name: str | None = None
) -> ExecutionResult:
    registry = Registry()
    registry.add_orchestrator(fn, name=name)
    started = next(e for e in events if e.HasField("executionStarted")).executionStarted
    executor = OrchestrationExecutor(registry, maximum_timer_interval=timedelta(days=3))
    last_time = max(h.to_datetime(e.timestamp) for e in events)
    return executor.execute(
        started.orchestrationInstance.instanceId, events, [h.new_orchestrator_started_event(last_time)]
    )


def test_every_committed_history_is_checked():
    assert {f.stem for f in HISTORIES.glob("*.json")} == set(CASES)


@pytest.mark.parametrize("stem", sorted(CASES))
def test_history_replays_to_its_recorded_outcome(stem):
    fn, status, output = CASES[stem]
    events = load(stem)
    result = replay_all(events, fn)
    completed = [e.executionCompleted for e in events if e.HasField("executionCompleted")]
    if status == "RUNNING":
        assert completed == []
        assert list(result.actions) == []
        return
    [recorded] = completed
    [action] = result.actions
    done = action.completeOrchestration
    assert pb.OrchestrationStatus.Name(done.orchestrationStatus) == f"ORCHESTRATION_STATUS_{status}"
    assert done.orchestrationStatus == recorded.orchestrationStatus
    assert done.result == recorded.result
    assert json.loads(done.result.value) == output


def test_json_round_trip_is_lossless():
    for stem in CASES:
        events = load(stem)
        assert h.events_from_json(h.events_to_json(events)) == events


def test_history_file_shape():
    events = load("retries")
    # Retries re-use the action id: two taskScheduled events share eventId 1 with the first attempt.
    scheduled_ids = [e.eventId for e in events if e.HasField("taskScheduled")]
    assert scheduled_ids == [1, 1, 1]
    assert events[0].HasField("orchestratorStarted")


def test_renamed_activity_is_reported_as_non_determinism():
    events = load("nondeterminism_changed_code")
    result = replay_all(events, p.order_flow_v2_renamed, name="order_flow")
    [action] = result.actions
    done = action.completeOrchestration
    assert done.orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED
    failure = FailureDetails.from_proto(done.failureDetails)
    assert failure.error_type == "durabletask.task.NonDeterminismError"
    assert "TaskScheduled(eventId=2, name='charge_card')" in failure.message  # the history event
    assert "call_activity('charge_card') with id 2" in failure.message  # what the history expects
    assert "call_activity('charge_payment') with id 2" in failure.message  # what the code produced


def test_inserted_timer_is_reported_as_non_determinism():
    events = load("nondeterminism_changed_code")
    result = replay_all(events, p.order_flow_v2_timer, name="order_flow")
    failure = FailureDetails.from_proto(result.actions[-1].completeOrchestration.failureDetails)
    assert failure.error_type == "durabletask.task.NonDeterminismError"
    assert "TaskScheduled(eventId=2, name='charge_card')" in failure.message
    assert "create_timer(" in failure.message


def test_non_determinism_on_a_live_work_item():
    """The same history handed out as a worker gets it: past events plus the next result."""
    events = load("nondeterminism_changed_code")
    registry = Registry()
    registry.add_orchestrator(p.order_flow_v2_renamed, name="order_flow")
    executor = OrchestrationExecutor(registry)
    result = executor.execute(
        "order-1", events, [h.new_orchestrator_started_event(), h.new_task_completed_event(3, "true")]
    )
    failure = result.actions[-1].completeOrchestration.failureDetails
    assert failure.errorType == "durabletask.task.NonDeterminismError"
    assert "charge_payment" in failure.errorMessage


def test_confirmation_without_an_action_is_non_determinism():
    events = load("function_chaining")

    def shorter(ctx, name):
        return (yield ctx.call_activity("say_hello", input=name))

    result = replay_all(events, shorter, name="function_chaining")
    failure = result.actions[-1].completeOrchestration.failureDetails
    assert failure.errorType == "durabletask.task.NonDeterminismError"
    assert "TaskScheduled(eventId=2, name='process_greeting')" in failure.errorMessage
    assert "produced completion of the orchestration (ORCHESTRATION_STATUS_COMPLETED) with id 2" in (
        failure.errorMessage
    )


def test_confirmation_with_no_pending_action_names_nothing():
    events = load("function_chaining")

    def waits_instead(ctx, name):
        yield ctx.call_activity("say_hello", input=name)
        return (yield ctx.wait_for_external_event("never"))

    result = replay_all(events, waits_instead, name="function_chaining")
    [action] = result.actions
    failure = action.completeOrchestration.failureDetails
    assert failure.errorType == "durabletask.task.NonDeterminismError"
    assert "records call_activity('process_greeting') with id 2" in failure.errorMessage
    assert "produced no action with id 2" in failure.errorMessage
