"""Value types of the client API and their conversion from proto messages.

:class:`OrchestrationState` keeps the published SDK's fields (and positional order) and adds fields the
GUI needs. Datetimes are naive UTC, as in the published SDK. Results also support ``await`` so that
the sync client's results work in code written as ``x = await client.method(...)`` (see
:mod:`durabletask._client_awaitable`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Generic, TypeVar

from durabletask._client_awaitable import AwaitableResult
from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask.serialization import DataConverter, JsonDataConverter
from durabletask.task import FailureDetails

__all__ = [
    "CleanEntityStorageResult",
    "EntityMetadata",
    "EntityQuery",
    "OrchestrationFailedError",
    "OrchestrationQuery",
    "OrchestrationState",
    "OrchestrationStatus",
    "Page",
    "PurgeInstancesResult",
    "new_orchestration_state",
    "new_purge_instances_result",
    "parse_entity_metadata",
    "parse_orchestration_state",
    "to_naive_utc",
]

logger = logging.getLogger("durabletask.client")

TItem = TypeVar("TItem")


class OrchestrationStatus(Enum):
    """The runtime status of an orchestration instance (no CANCELED: it is obsolete on the wire)."""

    RUNNING = pb.ORCHESTRATION_STATUS_RUNNING
    COMPLETED = pb.ORCHESTRATION_STATUS_COMPLETED
    FAILED = pb.ORCHESTRATION_STATUS_FAILED
    TERMINATED = pb.ORCHESTRATION_STATUS_TERMINATED
    CONTINUED_AS_NEW = pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW
    PENDING = pb.ORCHESTRATION_STATUS_PENDING
    SUSPENDED = pb.ORCHESTRATION_STATUS_SUSPENDED

    def __str__(self) -> str:
        return self.name

    @property
    def is_terminal(self) -> bool:
        """Whether the instance has finished (COMPLETED, FAILED or TERMINATED)."""
        return self in (
            OrchestrationStatus.COMPLETED,
            OrchestrationStatus.FAILED,
            OrchestrationStatus.TERMINATED,
        )


def _status_from_wire(value: int) -> OrchestrationStatus:
    try:
        return OrchestrationStatus(value)
    except ValueError:
        raise ValueError(f"the backend returned an unknown orchestration status {value}") from None


class OrchestrationFailedError(Exception):
    """Raised by :meth:`OrchestrationState.raise_if_failed` for a failed orchestration."""

    def __init__(self, message: str, failure_details: FailureDetails) -> None:
        super().__init__(message)
        self._failure_details = failure_details

    @property
    def failure_details(self) -> FailureDetails:
        return self._failure_details


@dataclass
class OrchestrationState(AwaitableResult):
    """A snapshot of an orchestration instance.

    The first ten fields are the published SDK's; the rest (with defaults) add what a GUI shows.
    ``serialized_*`` hold raw JSON text (``None`` when absent or not fetched).
    """

    instance_id: str
    name: str
    runtime_status: OrchestrationStatus
    created_at: datetime
    last_updated_at: datetime
    serialized_input: str | None
    serialized_output: str | None
    serialized_custom_status: str | None
    failure_details: FailureDetails | None
    _data_converter: DataConverter = field(default_factory=JsonDataConverter, repr=False, compare=False)
    version: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    parent_instance_id: str | None = None
    execution_id: str | None = None
    scheduled_start_at: datetime | None = None
    completed_at: datetime | None = None

    def get_input(self, expected_type: type | None = None) -> Any:
        """The input, deserialized (``None`` if there is none or it was not fetched)."""
        return self._data_converter.deserialize(self.serialized_input, expected_type)

    def get_output(self, expected_type: type | None = None) -> Any:
        """The output, deserialized."""
        return self._data_converter.deserialize(self.serialized_output, expected_type)

    def get_custom_status(self, expected_type: type | None = None) -> Any:
        """The custom status, deserialized."""
        return self._data_converter.deserialize(self.serialized_custom_status, expected_type)

    def raise_if_failed(self) -> None:
        """Raise :class:`OrchestrationFailedError` if the orchestration failed."""
        if self.failure_details is not None:
            raise OrchestrationFailedError(
                f"Orchestration '{self.instance_id}' failed: {self.failure_details.message}",
                self.failure_details,
            )


@dataclass
class OrchestrationQuery:
    """Filters for :meth:`get_all_orchestration_states` / :meth:`query_orchestrations`.

    ``max_instance_count`` is the page size sent to the backend.
    """

    created_time_from: datetime | None = None
    created_time_to: datetime | None = None
    runtime_status: list[OrchestrationStatus] | None = None
    max_instance_count: int | None = 2**31 - 1
    fetch_inputs_and_outputs: bool = False
    instance_id_prefix: str | None = None


@dataclass
class Page(AwaitableResult, Generic[TItem]):
    """One page of results and the token for the next (``None`` when there is no more)."""

    items: list[TItem]
    continuation_token: str | None


@dataclass
class PurgeInstancesResult(AwaitableResult):
    """How many instances a purge deleted; ``is_complete`` is ``False`` if a timeout cut it short."""

    deleted_instance_count: int
    is_complete: bool | None


@dataclass
class EntityQuery:
    """Filters for :meth:`get_all_entities`."""

    instance_id_starts_with: str | None = None
    last_modified_from: datetime | None = None
    last_modified_to: datetime | None = None
    include_state: bool = True
    include_transient: bool = False
    page_size: int | None = None


@dataclass
class CleanEntityStorageResult(AwaitableResult):
    """What :meth:`clean_entity_storage` removed."""

    empty_entities_removed: int
    orphaned_locks_released: int


@dataclass
class EntityMetadata(AwaitableResult):
    """An entity as the backend reports it (``id`` is the ``@name@key`` instance id)."""

    id: str
    last_modified: datetime | None
    backlog_queue_size: int
    locked_by: str | None
    includes_state: bool
    serialized_state: str | None
    _data_converter: DataConverter = field(default_factory=JsonDataConverter, repr=False, compare=False)

    def get_state(self, expected_type: type | None = None) -> Any:
        """The entity's state, deserialized."""
        return self._data_converter.deserialize(self.serialized_state, expected_type)

    def get_locked_by(self) -> str | None:
        """The id of the orchestration holding the entity's lock (``None`` when unlocked)."""
        return self.locked_by or None


def to_naive_utc(ts: Any) -> datetime | None:
    """A proto Timestamp as a naive UTC datetime; ``None`` when unset (all zero)."""
    if ts.seconds == 0 and ts.nanos == 0:
        return None
    return ts.ToDatetime()


def _optional_string(msg: Any, name: str) -> str | None:
    if not msg.HasField(name):
        return None
    value = getattr(msg, name).value
    return value if value != "" else None


def parse_failure_details(details: pb.TaskFailureDetails) -> FailureDetails | None:
    """Failure details are present iff the message or the type is non-empty (published rule)."""
    if not details.errorMessage and not details.errorType:
        return None
    return FailureDetails.from_proto(details)


def parse_orchestration_state(
    state: pb.OrchestrationState, data_converter: DataConverter | None = None
) -> OrchestrationState:
    """Convert a proto ``OrchestrationState`` into an :class:`OrchestrationState`."""
    created = to_naive_utc(state.createdTimestamp) or datetime(1970, 1, 1)
    updated = to_naive_utc(state.lastUpdatedTimestamp) or created
    return OrchestrationState(
        state.instanceId,
        state.name,
        _status_from_wire(state.orchestrationStatus),
        created,
        updated,
        _optional_string(state, "input"),
        _optional_string(state, "output"),
        _optional_string(state, "customStatus"),
        parse_failure_details(state.failureDetails) if state.HasField("failureDetails") else None,
        data_converter if data_converter is not None else JsonDataConverter(),
        version=_optional_string(state, "version"),
        tags=dict(state.tags),
        parent_instance_id=_optional_string(state, "parentInstanceId"),
        execution_id=_optional_string(state, "executionId"),
        scheduled_start_at=to_naive_utc(state.scheduledStartTimestamp),
        completed_at=to_naive_utc(state.completedTimestamp),
    )


def new_orchestration_state(
    instance_id: str, res: pb.GetInstanceResponse, data_converter: DataConverter | None = None
) -> OrchestrationState | None:
    """The state in a ``GetInstanceResponse`` (``None`` if the instance does not exist)."""
    if not res.exists:
        return None
    state = parse_orchestration_state(res.orchestrationState, data_converter)
    state.instance_id = instance_id
    return state


def new_purge_instances_result(response: pb.PurgeInstancesResponse) -> PurgeInstancesResult:
    """Convert a ``PurgeInstancesResponse`` (an absent ``isComplete`` gives ``None``)."""
    is_complete = response.isComplete.value if response.HasField("isComplete") else None
    return PurgeInstancesResult(response.deletedInstanceCount, is_complete)


def parse_entity_metadata(
    meta: pb.EntityMetadata, include_state: bool, data_converter: DataConverter | None = None
) -> EntityMetadata:
    """Convert a proto ``EntityMetadata``."""
    return EntityMetadata(
        id=meta.instanceId,
        last_modified=to_naive_utc(meta.lastModifiedTime),
        backlog_queue_size=meta.backlogQueueSize,
        locked_by=_optional_string(meta, "lockedBy"),
        includes_state=include_state,
        serialized_state=_optional_string(meta, "serializedState") if include_state else None,
        _data_converter=data_converter if data_converter is not None else JsonDataConverter(),
    )
