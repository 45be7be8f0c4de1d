"""Running single work items: an orchestrator episode or an activity call.

:class:`WorkItemRunner` turns a work-item request into the response the worker sends back. It does
no networking (the worker owns the stream and the completion calls), so it can be tested with plain
protobuf messages.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from google.protobuf import struct_pb2

from durabletask import task
from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask._replay import OrchestrationExecutor, Registry
from durabletask._worker_options import (
    VersionFailureStrategy,
    VersioningOptions,
    VersionMatchStrategy,
    compare_versions,
)
from durabletask._worker_replay_cache import ReplayStateCache, incremental_replay_supported
from durabletask.history import failure_details_from_exception
from durabletask.serialization import DataConverter

__all__ = [
    "ActivityNotRegisteredError",
    "VersionMismatchError",
    "WorkItemRunner",
    "exception_failure_details",
    "is_async_callable",
    "new_registry",
]


def new_registry() -> Registry:
    """A fresh orchestrator/activity registry of the replay core."""
    return Registry()


def exception_failure_details(exc: BaseException) -> pb.TaskFailureDetails:
    """``TaskFailureDetails`` for an exception: qualified type name, message, stack trace."""
    return failure_details_from_exception(exc)


class ActivityNotRegisteredError(ValueError):
    """A work item asked for an activity this worker does not have."""


# Recorded as errorType "durabletask.worker.ActivityNotRegisteredError", like the published SDK.
ActivityNotRegisteredError.__module__ = "durabletask.worker"


class VersionMismatchError(Exception):
    """An orchestration's version is not one this worker may run (``VersionFailureStrategy.FAIL``)."""


def is_async_callable(fn: Callable[..., Any]) -> bool:
    """True when calling ``fn`` gives a coroutine (``async def``, also behind ``functools.wraps``)."""
    target = inspect.unwrap(fn) if hasattr(fn, "__wrapped__") else fn
    if inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(target):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 - callable objects with async __call__
    return call is not None and not inspect.isfunction(fn) and inspect.iscoroutinefunction(call)


def _to_value(obj: Any) -> struct_pb2.Value:
    value = struct_pb2.Value()
    if obj is None:
        value.null_value = struct_pb2.NULL_VALUE
    elif isinstance(obj, bool):
        value.bool_value = obj
    elif isinstance(obj, (int, float)):
        value.number_value = float(obj)
    elif isinstance(obj, str):
        value.string_value = obj
    elif isinstance(obj, dict):
        value.struct_value.update({str(k): v for k, v in obj.items()})
    elif isinstance(obj, (list, tuple)):
        value.list_value.extend(list(obj))
    else:
        value.string_value = str(obj)
    return value


class WorkItemRunner:
    """Executes orchestrator and activity work items with the worker's registry and settings."""

    def __init__(
        self,
        registry: Any,
        *,
        data_converter: DataConverter,
        maximum_timer_interval: timedelta | None,
        logger: logging.Logger,
        versioning: VersioningOptions | None = None,
        exception_properties_provider: Any = None,
        use_replay_cache: bool = True,
    ) -> None:
        self.registry = registry
        self.data_converter = data_converter
        self.maximum_timer_interval = maximum_timer_interval
        self.logger = logger
        self.versioning = versioning
        self.exception_properties_provider = exception_properties_provider
        self._executor: OrchestrationExecutor | None = None
        #: Live replay states between episodes (None: replay the full history every time).
        self.replay_cache: ReplayStateCache | None = (
            ReplayStateCache() if use_replay_cache and incremental_replay_supported() else None
        )

    # -- failures ------------------------------------------------------------------------------

    def failure_details(self, exc: BaseException) -> pb.TaskFailureDetails:
        """Failure details for ``exc`` (qualified error type, message, stack, properties)."""
        details = exception_failure_details(exc)
        provider = self.exception_properties_provider
        if provider is not None:
            try:
                getter = getattr(provider, "get_properties", None) or getattr(
                    provider, "get_exception_properties", None
                )
                props = getter(exc) if getter is not None else provider(exc)
                if props:
                    for key, val in dict(props).items():
                        details.properties[str(key)].CopyFrom(_to_value(val))
            except Exception:  # a broken provider must not lose the failure itself
                self.logger.exception("The exception properties provider failed")
        return details

    # -- orchestrations ------------------------------------------------------------------------

    def check_version(self, req: pb.OrchestratorRequest) -> VersionFailureStrategy | None:
        """Apply the versioning rules; the failure strategy to use when the version is refused."""
        opts = self.versioning
        if opts is None or opts.match_strategy in (None, VersionMatchStrategy.NONE):
            return None
        version: str | None = None
        for events in (req.pastEvents, req.newEvents):
            for ev in events:
                if ev.HasField("executionStarted"):
                    started = ev.executionStarted
                    version = started.version.value if started.HasField("version") else ""
                    break
            if version is not None:
                break
        if version is None:
            return None
        if opts.match_strategy == VersionMatchStrategy.STRICT:
            accepted = compare_versions(version, opts.version) == 0
        else:
            accepted = compare_versions(version, opts.version) <= 0
        if accepted:
            return None
        return opts.failure_strategy or VersionFailureStrategy.REJECT

    def version_mismatch_response(
        self, req: pb.OrchestratorRequest, completion_token: str
    ) -> pb.OrchestratorResponse:
        """Fail the orchestration for its version (``VersionFailureStrategy.FAIL``), with the published
        SDK's failure: errorType ``VersionMismatch``, its message wording, and non-retriable."""
        opts = self.versioning
        worker_version = opts.version if opts is not None else None
        version: str | None = None
        for events in (req.pastEvents, req.newEvents):
            for ev in events:
                if ev.HasField("executionStarted") and ev.executionStarted.HasField("version"):
                    version = ev.executionStarted.version.value
                    break
            if version is not None:
                break
        if opts is not None and opts.match_strategy == VersionMatchStrategy.CURRENT_OR_OLDER:
            message = f"The orchestration version '{version}' is greater than the worker version '{worker_version}'."
        else:
            message = (
                f"The orchestration version '{version}' does not match the worker version '{worker_version}'."
            )
        resp = pb.OrchestratorResponse(instanceId=req.instanceId, completionToken=completion_token)
        action = resp.actions.add(id=-1)
        complete = action.completeOrchestration
        complete.orchestrationStatus = pb.ORCHESTRATION_STATUS_FAILED
        complete.failureDetails.CopyFrom(
            pb.TaskFailureDetails(errorType="VersionMismatch", errorMessage=message, isNonRetriable=True)
        )
        return resp

    def run_orchestrator(self, req: pb.OrchestratorRequest, completion_token: str) -> pb.OrchestratorResponse:
        """Replay the orchestrator over the request's history and return the response to send.

        Crashes of the replay machinery itself become a single failed completion (action id -1), so
        the orchestration fails with a clear error instead of being redelivered forever.
        """
        resp = pb.OrchestratorResponse(instanceId=req.instanceId, completionToken=completion_token)
        try:
            executor = self._executor
            if executor is None:
                executor = self._executor = OrchestrationExecutor(
                    self.registry,
                    maximum_timer_interval=self.maximum_timer_interval,
                    data_converter=self.data_converter,
                )
            if self.replay_cache is not None:
                result = self.replay_cache.execute(executor, req.instanceId, req.pastEvents, req.newEvents)
            else:
                result = executor.execute(req.instanceId, req.pastEvents, req.newEvents)
        except Exception as exc:
            self.logger.exception("Orchestration %s could not be executed", req.instanceId)
            return self.failed_orchestration_response(req, completion_token, exc)
        resp.actions.extend(result.actions)
        custom_status = result.custom_status
        if custom_status is not None:
            resp.customStatus.value = custom_status
        return resp

    def failed_orchestration_response(
        self, req: pb.OrchestratorRequest, completion_token: str, exc: BaseException
    ) -> pb.OrchestratorResponse:
        """A response that fails the orchestration with ``exc``."""
        resp = pb.OrchestratorResponse(instanceId=req.instanceId, completionToken=completion_token)
        action = resp.actions.add(id=-1)
        complete = action.completeOrchestration
        complete.orchestrationStatus = pb.ORCHESTRATION_STATUS_FAILED
        complete.failureDetails.CopyFrom(self.failure_details(exc))
        return resp

    # -- activities ----------------------------------------------------------------------------

    def get_activity(self, name: str) -> Callable[..., Any] | None:
        """The registered activity function called ``name``, or None."""
        return self.registry.get_activity(name)

    def activity_call(self, req: pb.ActivityRequest) -> tuple[Callable[..., Any], Any, Any]:
        """Resolve the function, context and decoded input of an activity request.

        Raises :class:`ActivityNotRegisteredError` for unknown names.
        """
        fn = self.registry.get_activity(req.name)
        if fn is None:
            raise ActivityNotRegisteredError(
                f"Activity function named '{req.name}' was not registered with this worker"
            )
        encoded = req.input.value if req.HasField("input") else None
        value = self.data_converter.deserialize(encoded) if encoded else None
        ctx = task.ActivityContext(req.orchestrationInstance.instanceId, req.taskId)
        return fn, ctx, value

    def activity_success(
        self, req: pb.ActivityRequest, completion_token: str, output: Any
    ) -> pb.ActivityResponse:
        """The response for an activity that returned ``output``."""
        resp = pb.ActivityResponse(
            instanceId=req.orchestrationInstance.instanceId,
            taskId=req.taskId,
            completionToken=completion_token,
        )
        if output is not None:
            try:
                encoded = self.data_converter.serialize(output)
            except (TypeError, ValueError) as ex:
                raise (TypeError if isinstance(ex, TypeError) else ValueError)(
                    f"The result of activity '{req.name}' (a {type(output).__name__}) could not be "
                    f"serialized: {ex}"
                ) from ex
            if encoded is not None:
                resp.result.value = encoded
        return resp

    def activity_failure(
        self, req: pb.ActivityRequest, completion_token: str, exc: BaseException
    ) -> pb.ActivityResponse:
        """The response for an activity that raised ``exc``."""
        resp = pb.ActivityResponse(
            instanceId=req.orchestrationInstance.instanceId,
            taskId=req.taskId,
            completionToken=completion_token,
        )
        resp.failureDetails.CopyFrom(self.failure_details(exc))
        return resp
