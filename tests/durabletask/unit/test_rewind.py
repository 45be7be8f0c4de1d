"""Rewind: a failed execution's history is rebuilt without its failures (protocol-behaviour 3.7)."""

from __future__ import annotations

from durabletask import history as h
from durabletask._proto import orchestrator_service_pb2 as pb


def two_steps(ctx, _):
    a = yield ctx.call_activity("first")
    b = yield ctx.call_activity("flaky", input=a)
    return b


def failed_run(replayer, **start_kwargs):
    r = replayer(two_steps)
    r.start("two_steps", execution_id="exec-1", **start_kwargs)
    r.complete_task(1, "A")
    r.fail_task(2, RuntimeError("flaky failed"))
    assert r.status() == "ORCHESTRATION_STATUS_FAILED"
    return r


def types(events):
    return [h.event_type_name(e) for e in events]


def test_rewind_returns_one_action_with_the_cleaned_history(replayer):
    r = failed_run(replayer)
    past_types = types(r.past)
    assert "TaskFailed" in past_types and past_types[-1] == "ExecutionCompleted"
    r.step(h.new_execution_rewound_event("try again"))
    assert len(r.actions) == 1
    action = r.actions[0]
    assert action.id == -1 and action.HasField("rewindOrchestration")
    new_history = list(action.rewindOrchestration.newHistory)
    new_types = types(new_history)
    assert "TaskFailed" not in new_types
    assert "ExecutionCompleted" not in new_types
    scheduled = [e.eventId for e in new_history if e.HasField("taskScheduled")]
    assert scheduled == [1]  # the failed task's scheduling is gone, the successful one stays
    assert new_types[-2:] == ["OrchestratorStarted", "ExecutionRewound"]
    started = next(e for e in new_history if e.HasField("executionStarted")).executionStarted
    assert started.orchestrationInstance.executionId.value not in ("", "exec-1")


def test_replaying_the_rewound_history_reschedules_the_failed_task(replayer):
    r = failed_run(replayer)
    r.step(h.new_execution_rewound_event())
    r.past = list(r.actions[0].rewindOrchestration.newHistory)
    r.step()  # the backend's lone orchestratorStarted after a rewind
    assert r.scheduled() == [("flaky", "A")]
    assert r.kinds() == [("scheduleTask", 2)]
    r.complete_task(2, "B")
    assert r.output() == "B"


def test_rewind_of_a_sub_orchestration_takes_the_parent_execution_id(replayer):
    r = failed_run(replayer, parent_instance_id="parent", parent_execution_id="old")
    r.step(h.new_execution_rewound_event(parent_execution_id="new-parent-exec"))
    history = r.actions[0].rewindOrchestration.newHistory
    started = next(e for e in history if e.HasField("executionStarted")).executionStarted
    assert started.parentInstance.orchestrationInstance.executionId.value == "new-parent-exec"
    assert started.parentInstance.orchestrationInstance.instanceId == "parent"


def test_rewound_event_without_completion_just_replays(replayer):
    def waiting(ctx, _):
        return (yield ctx.call_activity("x"))

    r = replayer(waiting)
    r.start("waiting")
    r.step(h.new_execution_rewound_event())
    assert r.actions == []
    r.complete_task(1, 3)
    assert r.output() == 3


def test_failed_sub_orchestration_event_is_removed(replayer):
    def parent(ctx, _):
        return (yield ctx.call_sub_orchestrator("child"))

    r = replayer(parent)
    r.start("parent")
    r.step(h.new_sub_orchestration_failed_event(1, h.new_failure_details("E", "child failed")))
    assert r.status() == "ORCHESTRATION_STATUS_FAILED"
    r.step(h.new_execution_rewound_event())
    new_types = types(r.actions[0].rewindOrchestration.newHistory)
    assert "SubOrchestrationInstanceFailed" not in new_types
    assert "SubOrchestrationInstanceCreated" in new_types  # the backend rewinds the child itself
    assert r.actions[0].rewindOrchestration.newHistory[0].WhichOneof("eventType") == "orchestratorStarted"
    assert isinstance(r.actions[0], pb.OrchestratorAction)
