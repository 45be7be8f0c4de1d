"""The asyncio client (grpc.aio): the same operations as the blocking client, as coroutines.

Public through :mod:`durabletask.client`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import grpc
import grpc.aio

from durabletask import _client_requests as ops
from durabletask._client_base import ClientCore
from durabletask._client_requests import Operation
from durabletask._client_types import (
    CleanEntityStorageResult,
    EntityMetadata,
    EntityQuery,
    OrchestrationQuery,
    OrchestrationState,
    OrchestrationStatus,
    Page,
    PurgeInstancesResult,
)
from durabletask._grpc import AsyncMetadataInterceptor, get_async_grpc_channel
from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask._proto import orchestrator_service_pb2_grpc as pb_grpc
from durabletask.grpc_options import GrpcChannelOptions, GrpcClientResiliencyOptions
from durabletask.history import HistoryEvent
from durabletask.serialization import DataConverter

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["AsyncTaskHubGrpcClient"]

HELLO_TIMEOUT_SECONDS = 10.0


class AsyncTaskHubGrpcClient(ClientCore):
    """An asyncio client for a Durable Task backend; every operation is a coroutine."""

    def __init__(
        self,
        *,
        host_address: str | None = None,
        metadata: list[tuple[str, str]] | None = None,
        log_handler: logging.Handler | None = None,
        log_formatter: logging.Formatter | None = None,
        logger: logging.Logger | None = None,
        channel: grpc.aio.Channel | None = None,
        secure_channel: bool = False,
        interceptors: Sequence[Any] | None = None,
        channel_options: GrpcChannelOptions | None = None,
        resiliency_options: GrpcClientResiliencyOptions | None = None,
        default_version: str | None = None,
        payload_store: Any = None,
        data_converter: DataConverter | None = None,
        emit_trace_spans: bool = True,
    ) -> None:
        self._init_core(
            host_address=host_address,
            secure_channel=secure_channel,
            metadata=metadata,
            channel_given=channel is not None,
            channel_options=channel_options,
            resiliency_options=resiliency_options,
            default_version=default_version,
            data_converter=data_converter,
            payload_store=payload_store,
            emit_trace_spans=emit_trace_spans,
            log_handler=log_handler,
            log_formatter=log_formatter,
            logger=logger,
        )
        self._interceptors = list(interceptors or ())
        if self._metadata:
            self._interceptors.append(AsyncMetadataInterceptor(self._metadata))
        if channel is not None and self._interceptors:
            # grpc.aio fixes a channel's interceptors when it is created; they cannot be added here.
            self._logger.info("interceptors and metadata are not applied to a grpc.aio channel passed in")
        # A grpc.aio channel belongs to the event loop it was created on, so an SDK-owned channel is
        # created on first use inside the running loop (and again if the client is used on a new loop).
        self._channel: grpc.aio.Channel | None = channel
        self._channel_loop: asyncio.AbstractEventLoop | None = None
        self._stub_obj: Any = pb_grpc.TaskHubSidecarServiceStub(channel) if channel is not None else None

    @property
    def _stub(self) -> Any:
        if self._owns_channel:
            loop = asyncio.get_running_loop()
            if self._channel is None or self._channel_loop is not loop:
                self._channel = self._new_channel()
                self._channel_loop = loop
                self._stub_obj = pb_grpc.TaskHubSidecarServiceStub(self._channel)
        return self._stub_obj

    def _new_channel(self) -> grpc.aio.Channel:
        return get_async_grpc_channel(
            self._host_address, self._secure_channel, self._interceptors or None, self._channel_options
        )

    # -- plumbing --------------------------------------------------------------------------------

    async def _run(self, op: Operation) -> Any:
        self._check_open()
        try:
            response = await getattr(self._stub, op.rpc)(op.request, timeout=op.timeout)
        except grpc.RpcError as err:
            error = self._error(err, op)
            if self._should_recreate():
                await self._recreate_channel()
            raise error from err
        self._consecutive_failures = 0
        return op.parse(response)

    async def _recreate_channel(self) -> None:
        old = self._channel
        self._channel = self._new_channel()
        self._channel_loop = asyncio.get_running_loop()
        self._stub_obj = pb_grpc.TaskHubSidecarServiceStub(self._channel)
        if old is not None:
            await old.close()

    async def close(self) -> None:
        """Close the channel if the client created it (a channel passed in stays open)."""
        if self._closed:
            return
        self._closed = True
        if self._owns_channel and self._channel is not None:
            if self._channel_loop is asyncio.get_running_loop():
                await self._channel.close()
            self._channel = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *args: object) -> None:
        await self.close()

    # -- orchestrations --------------------------------------------------------------------------

    async def hello(self, *, timeout: float | timedelta | None = HELLO_TIMEOUT_SECONDS) -> None:
        """Call the backend's Hello RPC: a cheap check that it is reachable (raises if not)."""
        await self._run(ops.hello(ops.normalize_timeout(timeout)))

    async def schedule_new_orchestration(
        self,
        orchestrator: Any,
        *,
        input: Any = None,
        instance_id: str | None = None,
        start_at: datetime | None = None,
        reuse_id_policy: pb.OrchestrationIdReusePolicy | None = None,
        tags: dict[str, str] | None = None,
        version: str | None = None,
    ) -> str:
        """Start an orchestration (a function or its registered name); returns the instance id."""
        op = ops.schedule(
            orchestrator,
            input=input,
            instance_id=instance_id,
            start_at=start_at,
            reuse_id_policy=reuse_id_policy,
            tags=tags,
            version=version if version else self.default_version,
            converter=self._data_converter,
        )
        iid = str(await self._run(op))
        self._logger.info("started orchestration %s (%s)", iid, op.request.name)
        return iid

    async def get_orchestration_state(
        self, instance_id: str, *, fetch_payloads: bool = True
    ) -> OrchestrationState | None:
        """The instance's state, or ``None`` if it does not exist."""
        return await self._run(ops.get_state(instance_id, fetch_payloads, self._data_converter))

    async def get_orchestration_metadata(self, instance_id: str) -> OrchestrationState | None:
        """The instance's state without input and output; ``None`` if unknown."""
        return await self.get_orchestration_state(instance_id, fetch_payloads=False)

    async def get_orchestration_history(
        self, instance_id: str, *, execution_id: str | None = None, for_work_item_processing: bool = False
    ) -> list[HistoryEvent]:
        """The history of the instance's current execution, oldest first."""
        self._check_open()
        request = ops.history_request(instance_id, execution_id, for_work_item_processing)
        op = Operation("StreamInstanceHistory", request, lambda r: r, instance_id)
        events: list[HistoryEvent] = []
        try:
            async for chunk in self._stub.StreamInstanceHistory(request):
                events.extend(HistoryEvent.from_proto(e) for e in chunk.events)
        except grpc.RpcError as err:
            raise self._error(err, op) from err
        return events

    async def list_instance_ids(
        self,
        runtime_status: list[OrchestrationStatus] | None = None,
        completed_time_from: datetime | None = None,
        completed_time_to: datetime | None = None,
        page_size: int | None = None,
        continuation_token: str | None = None,
    ) -> Page[str]:
        """One page of ids of finished instances (ordered by completion time)."""
        return await self._run(
            ops.list_ids(
                runtime_status, completed_time_from, completed_time_to, page_size, continuation_token
            )
        )

    async def query_orchestrations(
        self, query: OrchestrationQuery | None = None, *, continuation_token: str | None = None
    ) -> Page[OrchestrationState]:
        """One page of instances matching ``query`` (page size = ``max_instance_count``)."""
        return await self._run(ops.query_page(query, continuation_token, self._data_converter))

    async def get_all_orchestration_states(
        self, orchestration_query: OrchestrationQuery | None = None
    ) -> list[OrchestrationState]:
        """Every instance matching the query, following continuation tokens to the end."""
        states: list[OrchestrationState] = []
        token: str | None = None
        seen: set[str] = set()
        while True:
            page = await self.query_orchestrations(orchestration_query, continuation_token=token)
            states.extend(page.items)
            if page.continuation_token is None:
                return states
            if page.continuation_token in seen:
                # A backend that cycles between tokens would otherwise keep us here forever.
                self._logger.warning(
                    "the backend returned continuation token %r again; stopping", page.continuation_token
                )
                return states
            token = page.continuation_token
            seen.add(token)

    async def wait_for_orchestration_start(
        self, instance_id: str, *, fetch_payloads: bool = False, timeout: float | timedelta | None = 60
    ) -> OrchestrationState | None:
        """Wait until the instance has started; ``TimeoutError`` after ``timeout`` (seconds or timedelta)."""
        return await self._run(
            ops.wait_for("WaitForInstanceStart", instance_id, fetch_payloads, timeout, self._data_converter)
        )

    async def wait_for_orchestration_completion(
        self, instance_id: str, *, fetch_payloads: bool = True, timeout: float | timedelta | None = 60
    ) -> OrchestrationState | None:
        """Wait until the instance completes, fails or is terminated; ``TimeoutError`` after ``timeout``."""
        state = await self._run(
            ops.wait_for(
                "WaitForInstanceCompletion", instance_id, fetch_payloads, timeout, self._data_converter
            )
        )
        if state is not None and state.failure_details is not None:
            self._logger.info("orchestration %s failed: %s", instance_id, state.failure_details.message)
        return state

    async def raise_orchestration_event(self, instance_id: str, event_name: str, *, data: Any = None) -> None:
        """Send the external event ``event_name`` (with ``data``) to the instance."""
        await self._run(ops.raise_event(instance_id, event_name, data, self._data_converter))

    async def terminate_orchestration(
        self, instance_id: str, *, output: Any = None, recursive: bool = True, reason: Any = None
    ) -> None:
        """Terminate the instance (and, by default, its sub-orchestrations); ``reason`` is sent as the output."""
        await self._run(ops.terminate(instance_id, output, reason, recursive, self._data_converter))

    async def suspend_orchestration(self, instance_id: str, *, reason: str | None = None) -> None:
        """Suspend the instance: it stops processing events until resumed."""
        await self._run(ops.with_reason("SuspendInstance", instance_id, reason))

    async def resume_orchestration(self, instance_id: str, *, reason: str | None = None) -> None:
        """Resume a suspended instance."""
        await self._run(ops.with_reason("ResumeInstance", instance_id, reason))

    async def rewind_orchestration(self, instance_id: str, *, reason: str | None = None) -> None:
        """Rewind a failed instance: its failed steps run again."""
        await self._run(ops.with_reason("RewindInstance", instance_id, reason))

    async def restart_orchestration(
        self, instance_id: str, *, restart_with_new_instance_id: bool = False
    ) -> str:
        """Start a finished instance again with its original input; returns the (possibly new) id."""
        return str(await self._run(ops.restart(instance_id, restart_with_new_instance_id)))

    async def purge_orchestration(self, instance_id: str, recursive: bool = True) -> PurgeInstancesResult:
        """Delete a finished instance and its history (and its sub-orchestrations when recursive)."""
        return await self._run(ops.purge_one(instance_id, recursive))

    async def purge_orchestrations_by(
        self,
        created_time_from: datetime | None = None,
        created_time_to: datetime | None = None,
        runtime_status: list[OrchestrationStatus] | None = None,
        recursive: bool = False,
        timeout: timedelta | None = None,
    ) -> PurgeInstancesResult:
        """Delete finished instances created in a time range (and with a status)."""
        return await self._run(
            ops.purge_by(created_time_from, created_time_to, runtime_status, recursive, timeout)
        )

    # -- entities --------------------------------------------------------------------------------

    async def signal_entity(
        self,
        entity_instance_id: Any,
        operation_name: str,
        input: Any = None,
        signal_time: datetime | None = None,
    ) -> None:
        """Send a one-way operation to an entity (``@name@key``), optionally at ``signal_time``."""
        await self._run(
            ops.signal_entity(entity_instance_id, operation_name, input, signal_time, self._data_converter)
        )

    async def get_entity(self, entity_instance_id: Any, include_state: bool = True) -> EntityMetadata | None:
        """An entity's metadata (and state), or ``None`` if it does not exist."""
        return await self._run(ops.get_entity(entity_instance_id, include_state, self._data_converter))

    async def get_all_entities(self, entity_query: EntityQuery | None = None) -> list[EntityMetadata]:
        """Every entity matching the query, following continuation tokens."""
        out: list[EntityMetadata] = []
        token: str | None = None
        while True:
            page = await self._run(ops.query_entities(entity_query, token, self._data_converter))
            out.extend(page.items)
            if page.continuation_token is None:
                return out
            token = page.continuation_token

    async def clean_entity_storage(
        self, remove_empty_entities: bool = True, release_orphaned_locks: bool = True
    ) -> CleanEntityStorageResult:
        """Remove empty entities and release locks held by finished orchestrations."""
        total = CleanEntityStorageResult(0, 0)
        token: str | None = None
        while True:
            part, token = await self._run(
                ops.clean_entities(remove_empty_entities, release_orphaned_locks, token)
            )
            total.empty_entities_removed += part.empty_entities_removed
            total.orphaned_locks_released += part.orphaned_locks_released
            if token is None:
                return total
