"""The pure replay core: (registry, past events, new events) -> orchestrator actions.

No gRPC and no I/O: the worker feeds it the history of a work item and sends back what it returns.
"""

from __future__ import annotations

from durabletask._replay._executor import (
    ExecutionResult,
    OrchestrationExecutor,
    OrchestratorNotRegisteredError,
)
from durabletask._replay._registry import Registry
from durabletask.history import failure_details_from_exception

__all__ = [
    "ExecutionResult",
    "OrchestrationExecutor",
    "OrchestratorNotRegisteredError",
    "Registry",
    "failure_details_from_exception",
]
