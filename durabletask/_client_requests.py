"""What the sync and async clients share: request building, argument checks and error translation.

Each client operation is described by an :class:`Operation` (which RPC, the request, how to read the
response); the sync client runs it with a blocking stub, the async client with a grpc.aio stub.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import grpc
from google.protobuf import duration_pb2, empty_pb2, timestamp_pb2, wrappers_pb2

from durabletask import task
from durabletask._client_types import (
    CleanEntityStorageResult,
    EntityQuery,
    OrchestrationQuery,
    OrchestrationStatus,
    Page,
    new_orchestration_state,
    new_purge_instances_result,
    parse_entity_metadata,
    parse_orchestration_state,
)
from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask.serialization import DataConverter

__all__ = [
    "DurableTaskRpcError",
    "Operation",
    "OrchestrationAlreadyExistsError",
    "OrchestrationNotFoundError",
    "next_token",
    "normalize_timeout",
    "translate_rpc_error",
]

#: Codes counted as transport failures for channel recreation.
TRANSPORT_FAILURES = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


class DurableTaskRpcError(grpc.RpcError):
    """A failed call to the backend, with a readable message.

    It is a :class:`grpc.RpcError`, so ``code()`` and ``details()`` work as on gRPC's own errors.
    """

    def __init__(self, message: str, code: grpc.StatusCode | None, details: str | None) -> None:
        super().__init__(message)
        self._code = code
        self._details = details

    def code(self) -> grpc.StatusCode | None:
        return self._code

    def details(self) -> str | None:
        return self._details

    def trailing_metadata(self) -> None:
        return None

    def __str__(self) -> str:
        return str(self.args[0])


class OrchestrationNotFoundError(DurableTaskRpcError, LookupError):
    """The backend has no instance with that id (gRPC NOT_FOUND)."""


class OrchestrationAlreadyExistsError(DurableTaskRpcError):
    """An instance with that id already exists and the reuse policy does not allow replacing it."""


def translate_rpc_error(
    err: grpc.RpcError, *, rpc: str, instance_id: str | None, address: str
) -> DurableTaskRpcError | grpc.RpcError:
    """A :class:`DurableTaskRpcError` that says what failed and why (unknown errors pass through)."""
    code_fn = getattr(err, "code", None)
    details_fn = getattr(err, "details", None)
    if not callable(code_fn):
        return err
    code = code_fn()
    details = (details_fn() if callable(details_fn) else None) or ""
    subject = f" for instance '{instance_id}'" if instance_id else ""
    if code == grpc.StatusCode.NOT_FOUND:
        if "task hub not found" in details.lower():
            return DurableTaskRpcError(
                f"The backend at {address} has no such task hub: {details}", code, details
            )
        if instance_id:
            return OrchestrationNotFoundError(
                f"No orchestration instance with ID '{instance_id}' was found ({rpc}): {details}",
                code,
                details,
            )
        return DurableTaskRpcError(f"{rpc}{subject}: not found: {details}", code, details)
    if code == grpc.StatusCode.ALREADY_EXISTS:
        return OrchestrationAlreadyExistsError(
            f"An orchestration instance with ID '{instance_id}' already exists: {details}", code, details
        )
    if code == grpc.StatusCode.UNAVAILABLE:
        return DurableTaskRpcError(
            f"Cannot reach the Durable Task backend at {address} ({rpc}): {details}", code, details
        )
    if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
        return DurableTaskRpcError(
            f"The backend at {address} refused the call {rpc} ({code.name}): {details}", code, details
        )
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return DurableTaskRpcError(
            f"The backend at {address} does not support {rpc}: {details}", code, details
        )
    name = code.name if code is not None else "UNKNOWN"
    return DurableTaskRpcError(f"{rpc}{subject} failed: {name}: {details}", code, details)


def normalize_timeout(timeout: float | timedelta | None, what: str = "timeout") -> float | None:
    """Seconds as a float from seconds or a ``timedelta`` (``None`` = no deadline)."""
    if timeout is None:
        return None
    if isinstance(timeout, bool):
        raise TypeError(f"{what} must be a number of seconds or a timedelta, not a bool")
    if isinstance(timeout, timedelta):
        seconds = timeout.total_seconds()
    elif isinstance(timeout, (int, float)):
        seconds = float(timeout)
    else:
        raise TypeError(f"{what} must be a number of seconds or a timedelta, not {type(timeout).__name__}")
    if seconds < 0:
        raise ValueError(f"{what} must not be negative")
    return seconds


def next_token(current: str | None, received: Any) -> str | None:
    """The next continuation token, or ``None`` to stop (unset, empty, "0" or repeated)."""
    if received is None:
        return None
    value = received.value if hasattr(received, "value") else str(received)
    if not value or value == "0" or value == current:
        return None
    return str(value)


@dataclass
class Operation:
    """One unary call: the RPC name, its request and how to turn the response into the result."""

    rpc: str
    request: Any
    parse: Callable[[Any], Any]
    instance_id: str | None = None
    timeout: float | None = None
    #: DEADLINE_EXCEEDED means the caller's wait timed out (→ TimeoutError), not a transport failure.
    wait_message: str | None = None


# ---------------------------------------------------------------------------------------------------
# Small conversions
# ---------------------------------------------------------------------------------------------------


def _check_id(instance_id: Any, what: str = "instance_id") -> str:
    if not isinstance(instance_id, str):
        raise TypeError(f"{what} must be a string, not {type(instance_id).__name__}")
    if not instance_id:
        raise ValueError(f"{what} must not be empty")
    return instance_id


def _string(value: str | None) -> wrappers_pb2.StringValue | None:
    return wrappers_pb2.StringValue(value=value) if value is not None else None


def _json(converter: DataConverter, value: Any, what: str = "value") -> wrappers_pb2.StringValue | None:
    if value is None:
        return None
    try:
        text = converter.serialize(value)
    except (TypeError, ValueError) as ex:
        raise (TypeError if isinstance(ex, TypeError) else ValueError)(
            f"The {what} (a {type(value).__name__}) could not be serialized: {ex}"
        ) from ex
    return wrappers_pb2.StringValue(value=text) if text is not None else None


def _timestamp(dt: datetime | None, what: str) -> timestamp_pb2.Timestamp | None:
    if dt is None:
        return None
    if not isinstance(dt, datetime):
        raise TypeError(f"{what} must be a datetime, not {type(dt).__name__}")
    if dt.tzinfo is None:  # naive values are UTC, as in the published SDK
        dt = dt.replace(tzinfo=timezone.utc)
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(dt.astimezone(timezone.utc))
    return ts


def _statuses(statuses: Sequence[OrchestrationStatus] | None) -> list[Any]:
    if not statuses:
        return []
    out: list[Any] = []
    for s in statuses:
        if not isinstance(s, OrchestrationStatus):
            raise TypeError(f"runtime_status must list OrchestrationStatus members, got {s!r}")
        out.append(s.value)
    return out


def _now() -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.GetCurrentTime()
    return ts


def _ignore(_: Any) -> None:
    return None


# ---------------------------------------------------------------------------------------------------
# Operations
# ---------------------------------------------------------------------------------------------------


def hello(timeout: float | None) -> Operation:
    return Operation("Hello", empty_pb2.Empty(), _ignore, timeout=timeout)


def schedule(
    orchestrator: Any,
    *,
    input: Any,
    instance_id: str | None,
    start_at: datetime | None,
    reuse_id_policy: pb.OrchestrationIdReusePolicy | None,
    tags: dict[str, str] | None,
    version: str | None,
    converter: DataConverter,
) -> Operation:
    if isinstance(orchestrator, str):
        if not orchestrator:
            raise ValueError("the orchestrator name must not be empty")
        name = orchestrator
    elif callable(orchestrator):
        name = task.get_name(orchestrator)
    else:
        raise TypeError(f"orchestrator must be a function or a name, not {type(orchestrator).__name__}")
    # As in the published SDK, an empty id means "generate one".
    iid = _check_id(instance_id) if instance_id else uuid.uuid4().hex
    if tags is not None and not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise TypeError("tags must map strings to strings")
    if reuse_id_policy is not None and not isinstance(reuse_id_policy, pb.OrchestrationIdReusePolicy):
        raise TypeError("reuse_id_policy must be an OrchestrationIdReusePolicy message")
    req = pb.CreateInstanceRequest(
        instanceId=iid,
        name=name,
        version=_string(version),
        input=_json(converter, input, "input"),
        scheduledStartTimestamp=_timestamp(start_at, "start_at"),
        orchestrationIdReusePolicy=reuse_id_policy,
        tags=tags or {},
        requestTime=_now(),
    )
    return Operation("StartInstance", req, lambda res: res.instanceId or iid, instance_id=iid)


def get_state(instance_id: str, fetch_payloads: bool, converter: DataConverter) -> Operation:
    iid = _check_id(instance_id)
    req = pb.GetInstanceRequest(instanceId=iid, getInputsAndOutputs=bool(fetch_payloads))
    return Operation("GetInstance", req, lambda res: new_orchestration_state(iid, res, converter), iid)


def wait_for(
    rpc: str,
    instance_id: str,
    fetch_payloads: bool,
    timeout: float | timedelta | None,
    converter: DataConverter,
) -> Operation:
    iid = _check_id(instance_id)
    seconds = normalize_timeout(timeout)
    req = pb.GetInstanceRequest(instanceId=iid, getInputsAndOutputs=bool(fetch_payloads))
    what = "start" if rpc == "WaitForInstanceStart" else "complete"
    after = f" after {seconds:g} s" if seconds is not None else ""
    return Operation(
        rpc,
        req,
        lambda res: new_orchestration_state(iid, res, converter),
        iid,
        timeout=seconds,
        wait_message=f"Timed out{after} waiting for orchestration '{iid}' to {what}",
    )


def raise_event(instance_id: str, event_name: str, data: Any, converter: DataConverter) -> Operation:
    iid = _check_id(instance_id)
    _check_id(event_name, "event_name")
    req = pb.RaiseEventRequest(instanceId=iid, name=event_name, input=_json(converter, data, "event data"))
    return Operation("RaiseEvent", req, _ignore, iid)


def terminate(
    instance_id: str, output: Any, reason: Any, recursive: bool, converter: DataConverter
) -> Operation:
    iid = _check_id(instance_id)
    if output is not None and reason is not None:
        raise ValueError("pass either output= or reason= to terminate_orchestration, not both")
    payload = output if output is not None else reason
    req = pb.TerminateRequest(
        instanceId=iid, output=_json(converter, payload, "output"), recursive=bool(recursive)
    )
    return Operation("TerminateInstance", req, _ignore, iid)


def with_reason(rpc: str, instance_id: str, reason: str | None) -> Operation:
    iid = _check_id(instance_id)
    if reason is not None and not isinstance(reason, str):
        raise TypeError("reason must be a string")
    message = {
        "SuspendInstance": pb.SuspendRequest,
        "ResumeInstance": pb.ResumeRequest,
        "RewindInstance": pb.RewindInstanceRequest,
    }[rpc]
    return Operation(rpc, message(instanceId=iid, reason=_string(reason)), _ignore, iid)


def restart(instance_id: str, restart_with_new_instance_id: bool) -> Operation:
    iid = _check_id(instance_id)
    req = pb.RestartInstanceRequest(
        instanceId=iid, restartWithNewInstanceId=bool(restart_with_new_instance_id)
    )
    return Operation("RestartInstance", req, lambda res: res.instanceId, iid)


def purge_one(instance_id: str, recursive: bool) -> Operation:
    iid = _check_id(instance_id)
    req = pb.PurgeInstancesRequest(instanceId=iid, recursive=bool(recursive), isOrchestration=True)
    return Operation("PurgeInstances", req, new_purge_instances_result, iid)


def purge_by(
    created_time_from: datetime | None,
    created_time_to: datetime | None,
    runtime_status: Sequence[OrchestrationStatus] | None,
    recursive: bool,
    timeout: timedelta | float | None,
) -> Operation:
    flt = pb.PurgeInstanceFilter(
        createdTimeFrom=_timestamp(created_time_from, "created_time_from"),
        createdTimeTo=_timestamp(created_time_to, "created_time_to"),
        runtimeStatus=_statuses(runtime_status),
    )
    seconds = normalize_timeout(timeout)
    if seconds is not None:
        flt.timeout.CopyFrom(duration_pb2.Duration(seconds=int(seconds), nanos=int((seconds % 1) * 1e9)))
    req = pb.PurgeInstancesRequest(purgeInstanceFilter=flt, recursive=bool(recursive))
    return Operation("PurgeInstances", req, new_purge_instances_result)


def list_ids(
    runtime_status: Sequence[OrchestrationStatus] | None,
    completed_time_from: datetime | None,
    completed_time_to: datetime | None,
    page_size: int | None,
    continuation_token: str | None,
) -> Operation:
    if page_size is not None and (
        isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 0
    ):
        raise ValueError("page_size must be a non-negative integer")
    req = pb.ListInstanceIdsRequest(
        runtimeStatus=_statuses(runtime_status),
        completedTimeFrom=_timestamp(completed_time_from, "completed_time_from"),
        completedTimeTo=_timestamp(completed_time_to, "completed_time_to"),
        pageSize=page_size or 0,
        lastInstanceKey=_string(continuation_token) if continuation_token else None,
    )

    def parse(res: pb.ListInstanceIdsResponse) -> Page[str]:
        token = res.lastInstanceKey.value if res.HasField("lastInstanceKey") else None
        return Page(items=list(res.instanceIds), continuation_token=token or None)

    return Operation("ListInstanceIds", req, parse)


def query_page(
    query: OrchestrationQuery | None, continuation_token: str | None, converter: DataConverter
) -> Operation:
    q = query if query is not None else OrchestrationQuery()
    if not isinstance(q, OrchestrationQuery):
        raise TypeError("the query must be an OrchestrationQuery")
    count = q.max_instance_count if q.max_instance_count is not None else 2**31 - 1
    if isinstance(count, bool) or not isinstance(count, int) or count <= 0:
        raise ValueError("max_instance_count must be a positive integer")
    req = pb.QueryInstancesRequest(
        query=pb.InstanceQuery(
            runtimeStatus=_statuses(q.runtime_status),
            createdTimeFrom=_timestamp(q.created_time_from, "created_time_from"),
            createdTimeTo=_timestamp(q.created_time_to, "created_time_to"),
            maxInstanceCount=min(count, 2**31 - 1),
            continuationToken=_string(continuation_token) if continuation_token else None,
            instanceIdPrefix=_string(q.instance_id_prefix) if q.instance_id_prefix else None,
            fetchInputsAndOutputs=bool(q.fetch_inputs_and_outputs),
        )
    )

    def parse(res: pb.QueryInstancesResponse) -> Page[Any]:
        states = [parse_orchestration_state(s, converter) for s in res.orchestrationState]
        token = res.continuationToken if res.HasField("continuationToken") else None
        return Page(items=states, continuation_token=next_token(continuation_token, token))

    return Operation("QueryInstances", req, parse)


def history_request(
    instance_id: str, execution_id: str | None, for_work_item_processing: bool
) -> pb.StreamInstanceHistoryRequest:
    iid = _check_id(instance_id)
    return pb.StreamInstanceHistoryRequest(
        instanceId=iid,
        executionId=_string(execution_id),
        forWorkItemProcessing=bool(for_work_item_processing),
    )


# ---------------------------------------------------------------------------------------------------
# Entities (thin calls; the SDK's entity authoring API is a later milestone)
# ---------------------------------------------------------------------------------------------------


def _entity_id(entity_instance_id: Any) -> str:
    text = str(entity_instance_id)
    if not text.startswith("@") or text.count("@") < 2:
        raise ValueError(f"entity id {text!r} is not of the form '@name@key'")
    _, name, key = text.split("@", 2)
    if not name:
        raise ValueError(f"entity id {text!r} has no entity name")
    return f"@{name.lower()}@{key}"


def signal_entity(
    entity_instance_id: Any,
    operation_name: str,
    input: Any,
    signal_time: datetime | None,
    converter: DataConverter,
) -> Operation:
    eid = _entity_id(entity_instance_id)
    _check_id(operation_name, "operation_name")
    req = pb.SignalEntityRequest(
        instanceId=eid,
        name=operation_name,
        input=_json(converter, input, "input"),
        requestId=str(uuid.uuid4()),
        scheduledTime=_timestamp(signal_time, "signal_time"),
        requestTime=_now(),
    )
    return Operation("SignalEntity", req, _ignore, eid)


def get_entity(entity_instance_id: Any, include_state: bool, converter: DataConverter) -> Operation:
    eid = _entity_id(entity_instance_id)
    req = pb.GetEntityRequest(instanceId=eid, includeState=bool(include_state))

    def parse(res: pb.GetEntityResponse) -> Any:
        if not res.exists:
            return None
        return parse_entity_metadata(res.entity, bool(include_state), converter)

    return Operation("GetEntity", req, parse)


def query_entities(
    query: EntityQuery | None, continuation_token: str | None, converter: DataConverter
) -> Operation:
    q = query if query is not None else EntityQuery()
    pq = pb.EntityQuery(
        instanceIdStartsWith=_string(q.instance_id_starts_with) if q.instance_id_starts_with else None,
        lastModifiedFrom=_timestamp(q.last_modified_from, "last_modified_from"),
        lastModifiedTo=_timestamp(q.last_modified_to, "last_modified_to"),
        includeState=bool(q.include_state),
        includeTransient=bool(q.include_transient),
        pageSize=wrappers_pb2.Int32Value(value=q.page_size) if q.page_size else None,
        continuationToken=_string(continuation_token) if continuation_token else None,
    )

    def parse(res: pb.QueryEntitiesResponse) -> Page[Any]:
        items = [parse_entity_metadata(e, bool(q.include_state), converter) for e in res.entities]
        token = res.continuationToken if res.HasField("continuationToken") else None
        return Page(items=items, continuation_token=next_token(continuation_token, token))

    return Operation("QueryEntities", pb.QueryEntitiesRequest(query=pq), parse)


def clean_entities(
    remove_empty_entities: bool, release_orphaned_locks: bool, continuation_token: str | None
) -> Operation:
    req = pb.CleanEntityStorageRequest(
        continuationToken=_string(continuation_token) if continuation_token else None,
        removeEmptyEntities=bool(remove_empty_entities),
        releaseOrphanedLocks=bool(release_orphaned_locks),
    )

    def parse(res: pb.CleanEntityStorageResponse) -> tuple[CleanEntityStorageResult, str | None]:
        token = res.continuationToken if res.HasField("continuationToken") else None
        result = CleanEntityStorageResult(res.emptyEntitiesRemoved, res.orphanedLocksReleased)
        return result, next_token(continuation_token, token)

    return Operation("CleanEntityStorage", req, parse)
