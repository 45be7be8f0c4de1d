"""The pure replay core: (registry, past events, new events) -> orchestrator actions.

No gRPC and no I/O: the worker feeds it the history of a work item and sends back what it returns::

    registry = Registry()
    registry.add_orchestrator(my_orchestrator)
    executor = OrchestrationExecutor(registry, maximum_timer_interval=timedelta(days=3))
    result = executor.execute(request.instanceId, request.pastEvents, request.newEvents)
    response.actions.extend(result.actions)
    if result.custom_status is not None:
        response.customStatus.value = result.custom_status

``execute`` never raises for problems of the orchestration (user exceptions, non-determinism,
unknown orchestrator, bad history): they become a FAILED ``completeOrchestration`` action.
Callers that keep replay state between episodes use ``executor.new_execution(instance_id)`` and
``executor.continue_execution(run, unseen_past_events, new_events)`` instead (same results); the
state they keep is a :class:`ReplayExecution` (``run.ctx.is_complete`` says whether it has finished).
"""

from __future__ import annotations

from durabletask._replay._executor import (
    ExecutionResult,
    OrchestrationExecutor,
    OrchestratorNotRegisteredError,
    ReplayExecution,
)
from durabletask._replay._registry import Registry
from durabletask.history import failure_details_from_exception

__all__ = [
    "ExecutionResult",
    "OrchestrationExecutor",
    "OrchestratorNotRegisteredError",
    "Registry",
    "ReplayExecution",
    "failure_details_from_exception",
]
