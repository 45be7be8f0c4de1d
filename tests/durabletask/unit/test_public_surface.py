"""Pin the public names of durabletask.task and the replay core, and a few cross-cutting behaviours."""

from __future__ import annotations

import inspect
import json
from datetime import timedelta

from durabletask import history as h
from durabletask import task
from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask._replay import OrchestrationExecutor, Registry

# Names of durabletask.task in the published SDK (sdk-api-surface.md) plus the user's decorators.
PUBLISHED_TASK_NAMES = {
    "ActivityContext",
    "CancellableTask",
    "CompletableTask",
    "CompositeTask",
    "FailureDetails",
    "NonDeterminismError",
    "OrchestrationContext",
    "OrchestrationStateError",
    "ReplaySafeLogger",
    "RetryPolicy",
    "RetryableTask",
    "Task",
    "TaskCancelledError",
    "TaskFailedError",
    "TimerTask",
    "WhenAllTask",
    "WhenAnyTask",
    "get_entity_name",
    "get_name",
    "when_all",
    "when_any",
}


def test_task_module_exports():
    assert set(task.__all__) == PUBLISHED_TASK_NAMES | {
        "activity",
        "orchestrator",
        "is_activity",
        "is_orchestrator",
        "is_async_activity",
    }
    for name in task.__all__:
        assert hasattr(task, name), name


def test_replay_exports():
    import durabletask._replay as replay

    assert set(replay.__all__) == {
        "ExecutionResult",
        "OrchestrationExecutor",
        "OrchestratorNotRegisteredError",
        "Registry",
        "ReplayExecution",
        "failure_details_from_exception",
    }


def keyword_defaults(fn):
    return {
        name: (p.kind.name, p.default)
        for name, p in inspect.signature(fn).parameters.items()
        if name != "self"
    }


def test_context_signatures_match_the_published_sdk():
    ctx = task.OrchestrationContext
    assert keyword_defaults(ctx.call_activity) == {
        "activity": ("POSITIONAL_OR_KEYWORD", inspect.Parameter.empty),
        "input": ("KEYWORD_ONLY", None),
        "retry_policy": ("KEYWORD_ONLY", None),
        "tags": ("KEYWORD_ONLY", None),
        "return_type": ("KEYWORD_ONLY", None),
    }
    assert keyword_defaults(ctx.call_sub_orchestrator) == {
        "orchestrator": ("POSITIONAL_OR_KEYWORD", inspect.Parameter.empty),
        "input": ("KEYWORD_ONLY", None),
        "instance_id": ("KEYWORD_ONLY", None),
        "retry_policy": ("KEYWORD_ONLY", None),
        "version": ("KEYWORD_ONLY", None),
        "return_type": ("KEYWORD_ONLY", None),
    }
    assert keyword_defaults(ctx.continue_as_new) == {
        "new_input": ("POSITIONAL_OR_KEYWORD", inspect.Parameter.empty),
        "save_events": ("KEYWORD_ONLY", False),
        "new_version": ("KEYWORD_ONLY", None),
    }
    assert keyword_defaults(ctx.wait_for_external_event)["data_type"] == ("KEYWORD_ONLY", None)
    assert keyword_defaults(ctx.send_event)["data"] == ("KEYWORD_ONLY", None)
    assert keyword_defaults(task.RetryPolicy.__init__)["backoff_coefficient"] == ("KEYWORD_ONLY", 1.0)


class UpperConverter:
    """A data converter that marks every payload, to prove the executor uses the given converter."""

    def serialize(self, value):
        return None if value is None else json.dumps({"wrapped": value})

    def deserialize(self, data, expected_type=None):
        return None if not data else json.loads(data)["wrapped"]


def test_custom_data_converter_is_used_for_all_payloads():
    def orch(ctx, value):
        result = yield ctx.call_activity("a", input=value)
        return result

    reg = Registry()
    reg.add_orchestrator(orch)
    ex = OrchestrationExecutor(reg, data_converter=UpperConverter())
    started = [
        h.new_orchestrator_started_event(),
        h.new_execution_started_event("orch", "i", json.dumps({"wrapped": 3})),
    ]
    first = ex.execute("i", [], started)
    assert first.actions[0].scheduleTask.input.value == json.dumps({"wrapped": 3})
    past = [*started, h.new_task_scheduled_event(1, "a")]
    done = ex.execute(
        "i",
        past,
        [h.new_orchestrator_started_event(), h.new_task_completed_event(1, json.dumps({"wrapped": 4}))],
    )
    assert done.actions[0].completeOrchestration.result.value == json.dumps({"wrapped": 4})


def test_unserializable_output_fails_clearly(replayer):
    def orch(ctx, _):
        return object()

    r = replayer(orch)
    r.start("orch")
    assert r.status() == "ORCHESTRATION_STATUS_FAILED"
    assert r.failure().error_type == "builtins.TypeError"
    assert "not JSON serializable" in r.failure().message


def test_unserializable_continue_as_new_input_fails_clearly(replayer):
    def orch(ctx, _):
        ctx.continue_as_new({1, 2} and object())

    r = replayer(orch)
    r.start("orch")
    assert r.status() == "ORCHESTRATION_STATUS_FAILED"
    assert r.failure().error_type == "builtins.TypeError"


def test_maximum_timer_interval_must_be_positive():
    import pytest

    with pytest.raises(ValueError, match="positive"):
        OrchestrationExecutor(Registry(), maximum_timer_interval=timedelta(0))


def test_version_is_read_from_execution_started(replayer):
    def orch(ctx, _):
        return ctx.version

    r = replayer(orch)
    r.start("orch", version="1.2.3")
    assert r.output() == "1.2.3"
    r2 = replayer(orch)
    r2.start("orch")
    assert r2.output() is None
    assert isinstance(r2.actions[0], pb.OrchestratorAction)
