"""Orchestrator exceptions, unregistered orchestrators, bad yields and failure details."""

from __future__ import annotations

from durabletask import history as h
from durabletask import task
from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask._replay import OrchestrationExecutor, Registry, failure_details_from_exception


class InventoryError(Exception):
    """A user-defined error, to check qualified type names."""


class OutOfStockError(InventoryError):
    pass


def failing(ctx, _):
    yield ctx.call_activity("reserve")
    try:
        raise KeyError("sku-1")
    except KeyError as e:
        raise OutOfStockError("nothing left") from e


def test_exception_becomes_failed_completion(replayer):
    r = replayer(failing)
    r.start("failing")
    r.complete_task(1)
    assert r.kinds() == [("completeOrchestration", 2)]
    c = r.completion()
    assert c.orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED
    fd = c.failureDetails
    assert fd.errorType == f"{__name__}.OutOfStockError"
    assert fd.errorMessage == "nothing left"
    assert "raise OutOfStockError" in fd.stackTrace.value
    assert fd.innerFailure.errorType == "builtins.KeyError"
    assert fd.innerFailure.errorMessage == "'sku-1'"
    details = r.failure()
    assert details.is_caused_by(InventoryError)  # subclass match through import
    assert details.is_caused_by(f"{__name__}.InventoryError")
    assert not details.is_caused_by(ValueError)
    assert details.inner_failure.is_caused_by("KeyError")


def test_exception_in_first_episode_keeps_pending_actions_first(replayer):
    def orch(ctx, _):
        ctx.call_activity("fire_and_forget")
        raise ValueError("bad input")

    r = replayer(orch)
    r.start("orch")
    assert r.kinds() == [("scheduleTask", 1), ("completeOrchestration", 2)]
    assert r.failure().error_type == "builtins.ValueError"


def test_never_awaited_activities_precede_the_completion(replayer):
    def orch(ctx, _):
        ctx.call_activity("audit", input="x")
        return "done"

    r = replayer(orch)
    r.start("orch")
    assert r.kinds() == [("scheduleTask", 1), ("completeOrchestration", 2)]
    assert r.output() == "done"


def test_unregistered_orchestrator_fails_clearly(replayer):
    def known(ctx, _):
        return 1

    r = replayer(known)
    r.start("missing_orchestrator")
    assert r.kinds() == [("completeOrchestration", 1)]
    failure = r.failure()
    assert failure.error_type == "durabletask.worker.OrchestratorNotRegisteredError"  # as published
    assert failure.is_caused_by(ValueError)
    assert "missing_orchestrator" in failure.message and "known" in failure.message


def test_yielding_a_non_task_fails(replayer):
    def orch(ctx, _):
        yield 42

    r = replayer(orch)
    r.start("orch")
    assert r.failure().error_type == "builtins.TypeError"
    assert "only yield tasks" in r.failure().message


def test_async_orchestrator_is_rejected(replayer):
    async def orch(ctx, _):
        return 1

    r = replayer(orch)
    r.start("orch")
    assert "generator functions" in r.failure().message


def test_bad_input_json_fails(replayer):
    def orch(ctx, value):
        return value

    r = replayer(orch)
    r.step(h.new_execution_started_event("orch", r.instance_id, "{not json"))
    assert r.failure().error_type == "json.decoder.JSONDecodeError"


def test_unhandled_history_event_types_fail(replayer):
    def orch(ctx, _):
        return (yield ctx.wait_for_external_event("x"))

    r = replayer(orch)
    r.start("orch")
    bad = h.new_orchestrator_started_event()
    bad.ClearField("orchestratorStarted")
    bad.continueAsNew.SetInParent()
    r.step(bad)
    assert "continueAsNew" in r.failure().message


def test_empty_new_events_gives_a_failure_not_an_exception():
    executor = OrchestrationExecutor(Registry())
    result = executor.execute("i", [], [])
    [action] = result.actions
    assert action.id == -1
    assert action.completeOrchestration.orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED
    assert "at least one event" in action.completeOrchestration.failureDetails.errorMessage


def test_failure_details_from_exception_shapes():
    try:
        try:
            {}["k"]
        except KeyError as inner:
            raise RuntimeError("outer") from inner
    except RuntimeError as exc:
        fd = failure_details_from_exception(exc)
    assert fd.errorType == "builtins.RuntimeError"
    assert fd.errorMessage == "outer"
    assert "Traceback" in fd.stackTrace.value and "RuntimeError: outer" in fd.stackTrace.value
    assert fd.innerFailure.errorType == "builtins.KeyError"
    assert not fd.innerFailure.HasField("innerFailure")


def test_failure_details_uses_context_unless_suppressed():
    try:
        try:
            raise ValueError("first")
        except ValueError:
            raise TypeError("second")
    except TypeError as exc:
        assert failure_details_from_exception(exc).innerFailure.errorType == "builtins.ValueError"
    try:
        try:
            raise ValueError("first")
        except ValueError:
            raise TypeError("second") from None
    except TypeError as exc:
        assert not failure_details_from_exception(exc).HasField("innerFailure")


def test_failure_details_of_a_never_raised_exception():
    fd = failure_details_from_exception(ValueError("fresh"))
    assert fd.errorType == "builtins.ValueError" and not fd.HasField("stackTrace")


def test_is_caused_by_unknown_types_compares_names():
    fd = task.FailureDetails("m", "some.missing.module.Error", None)
    assert fd.is_caused_by("some.missing.module.Error")
    assert not fd.is_caused_by(ValueError)
    assert not fd.is_caused_by("other.Error")


def test_task_failed_error_details_from_exception():
    err = task.TaskFailedError("wrapped", ValueError("v"))
    assert err.details.error_type == "builtins.ValueError"
    assert err.details.message == "v"
    assert str(err) == "wrapped"


def test_malformed_events_fail_instead_of_raising():
    executor = OrchestrationExecutor(Registry())
    result = executor.execute("i", [None], [None, None])  # type: ignore[list-item]
    [action] = result.actions
    assert action.completeOrchestration.orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED
    result = executor.execute("i", [], [h.new_orchestrator_started_event(), None])  # type: ignore[list-item]
    assert result.actions[-1].completeOrchestration.orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED
