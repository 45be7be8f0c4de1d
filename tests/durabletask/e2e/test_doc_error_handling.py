"""Document section "Error Handling": try/except around an activity in the orchestrator, and the
failing activity itself."""

from __future__ import annotations

from durabletask import task
from durabletask.client import OrchestrationStatus, TaskHubGrpcClient

from . import doc_code
from .conftest import WorkerFactory
from .doc_code import error_handling_orchestrator, log_error, risky_operation


@task.orchestrator
def unhandled(ctx: task.OrchestrationContext, order: dict):
    result = yield ctx.call_activity("risky_operation", input=order)
    return result


def test_orchestrator_catches_activity_error(client: TaskHubGrpcClient, start_worker: WorkerFactory) -> None:
    doc_code.logged_errors.clear()
    start_worker(
        orchestrators=[error_handling_orchestrator, unhandled], activities=[risky_operation, log_error]
    )

    ok = client.schedule_new_orchestration(error_handling_orchestrator, input={"required_field": 1})
    bad = client.schedule_new_orchestration(error_handling_orchestrator, input={})
    ok_state = client.wait_for_orchestration_completion(ok, timeout=30)
    bad_state = client.wait_for_orchestration_completion(bad, timeout=30)

    assert ok_state is not None and ok_state.get_output() == {"success": True, "result": {"processed": True}}
    assert bad_state is not None and bad_state.runtime_status == OrchestrationStatus.COMPLETED
    out = bad_state.get_output()
    assert out["success"] is False and "Missing required field" in out["error"]
    assert doc_code.logged_errors == [out["error"]]  # log_error ran with str(e)


def test_unhandled_activity_error_fails_the_orchestration(
    client: TaskHubGrpcClient, start_worker: WorkerFactory
) -> None:
    start_worker(orchestrators=[unhandled], activities=[risky_operation])
    iid = client.schedule_new_orchestration(unhandled, input={})
    state = client.wait_for_orchestration_completion(iid, timeout=30)
    assert state is not None and state.runtime_status == OrchestrationStatus.FAILED
    assert state.failure_details is not None
    assert "Missing required field" in state.failure_details.message
