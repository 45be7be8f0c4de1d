"""The gRPC face of the emulator: ``TaskHubSidecarService`` over the engine.

Each call is checked here (bearer token, task hub from the ``taskhub`` header) and engine errors become
status codes; nothing escapes as a bare UNKNOWN. The two server-streaming methods yield ready-made wire
bytes, so their handlers are registered with a pass-through serializer (:func:`generic_handler`).
"""

from __future__ import annotations

import functools
import hmac
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import grpc
from google.protobuf import empty_pb2

from durabletask._proto import orchestrator_service_pb2 as pb

from .engine import Engine
from .errors import (
    EmulatorError,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unauthenticated,
    Unimplemented,
)

__all__ = ["DEFAULT_TASK_HUB", "SidecarService", "generic_handler"]

log = logging.getLogger("durabletask.emulator")

DEFAULT_TASK_HUB = "default"
_HEALTH_PING = b"\x22\x00"  # WorkItem{healthPing: {}}
_ENTITIES = ("entities are not supported by this emulator yet; run entity workloads against the DTS "
             "emulator or Azure Durable Task Scheduler")


def _guard(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Unary handler wrapper: authenticate, resolve the hub, map errors to status codes."""

    @functools.wraps(fn)
    def wrapper(self: SidecarService, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            hub = self.enter(context)
            return fn(self, hub, request, context)
        except EmulatorError as exc:
            context.abort(getattr(grpc.StatusCode, exc.code), exc.message)
        except Exception as exc:
            log.exception("internal error in %s", fn.__name__)
            context.abort(grpc.StatusCode.INTERNAL, f"internal emulator error in {fn.__name__}: {exc}")

    return wrapper


class SidecarService:
    """Implements every RPC of ``TaskHubSidecarService`` (entities answer UNIMPLEMENTED)."""

    def __init__(self, engine: Engine, *, taskhubs: Sequence[str] | None = None, token: str | None = None,
                 health_ping_interval: float = 30.0, max_blocking_calls: int | None = None) -> None:
        self.engine = engine
        #: Calls that hold a server thread while they wait (work-item streams, WaitForInstance*). Capped
        #: below the thread pool's size so completions always find a thread: with every thread parked in
        #: a wait, a worker's CompleteXxx call would queue until the waits time out (a hang).
        self.max_blocking_calls = max_blocking_calls
        self._blocking = 0
        self._blocking_lock = threading.Lock()
        self.taskhubs = None if not taskhubs else frozenset(taskhubs)
        self.token = token
        self._expected_auth = f"Bearer {token}".encode() if token is not None else b""
        self.health_ping_interval = health_ping_interval

    # -------------------------------------------------------------------------- call context
    def enter(self, context: grpc.ServicerContext) -> str:
        """Check the caller's token and return its task hub (NOT_FOUND for an unknown hub)."""
        hub = ""
        given = ""
        debug = log.isEnabledFor(logging.DEBUG)
        for key, value in context.invocation_metadata() or ():
            if not isinstance(value, str):
                continue
            if key == "taskhub":
                hub = value
            elif key == "authorization":
                given = value
        if self.token is not None and not hmac.compare_digest(given.encode(), self._expected_auth):
            raise Unauthenticated("missing or wrong bearer token (send 'authorization: Bearer <token>')")
        hub = hub or DEFAULT_TASK_HUB
        if self.taskhubs is not None and hub not in self.taskhubs:
            raise NotFound(f"Task hub not found: {hub}")
        if debug:
            md = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
            if "x-user-agent" in md or "workerid" in md:
                log.debug("call on hub %r from %s worker %s", hub, md.get("x-user-agent", "?"),
                          md.get("workerid", "-"))
        return hub

    # ----------------------------------------------------------------------------- plumbing
    @_guard
    def Hello(self, hub: str, request: empty_pb2.Empty, context: grpc.ServicerContext) -> empty_pb2.Empty:
        return empty_pb2.Empty()

    @_guard
    def CreateTaskHub(self, hub: str, request: Any, context: grpc.ServicerContext) -> Any:
        return pb.CreateTaskHubResponse()

    @_guard
    def DeleteTaskHub(self, hub: str, request: Any, context: grpc.ServicerContext) -> Any:
        return pb.DeleteTaskHubResponse()

    # ------------------------------------------------------------------------------ clients
    @_guard
    def StartInstance(self, hub: str, request: pb.CreateInstanceRequest, context: grpc.ServicerContext) -> Any:
        return pb.CreateInstanceResponse(instanceId=self.engine.start_instance(hub, request))

    @_guard
    def GetInstance(self, hub: str, request: pb.GetInstanceRequest, context: grpc.ServicerContext) -> Any:
        return self.engine.get_instance(hub, request.instanceId, request.getInputsAndOutputs)

    def _enter_blocking(self, what: str) -> None:
        with self._blocking_lock:
            if self.max_blocking_calls is not None and self._blocking >= self.max_blocking_calls:
                raise ResourceExhausted(
                    f"too many concurrent waiting calls ({self._blocking} work-item streams and "
                    f"WaitForInstance calls); {what} refused so that completions keep being served. "
                    "Start the emulator with more RPC threads (max_workers) or wait for fewer instances "
                    "at once")
            self._blocking += 1

    def _leave_blocking(self) -> None:
        with self._blocking_lock:
            self._blocking -= 1

    def _wait(self, hub: str, request: pb.GetInstanceRequest, context: grpc.ServicerContext,
              until_started: bool) -> Any:
        remaining = context.time_remaining()
        timeout = None if remaining is None or remaining > 1e8 else max(0.0, remaining - 0.05)
        self._enter_blocking("this wait was")
        try:
            return self.engine.wait_instance(hub, request.instanceId, request.getInputsAndOutputs,
                                             until_started=until_started, timeout=timeout,
                                             is_active=context.is_active)
        finally:
            self._leave_blocking()

    @_guard
    def WaitForInstanceStart(self, hub: str, request: pb.GetInstanceRequest, context: grpc.ServicerContext) -> Any:
        return self._wait(hub, request, context, True)

    @_guard
    def WaitForInstanceCompletion(self, hub: str, request: pb.GetInstanceRequest,
                                  context: grpc.ServicerContext) -> Any:
        return self._wait(hub, request, context, False)

    @_guard
    def RaiseEvent(self, hub: str, request: pb.RaiseEventRequest, context: grpc.ServicerContext) -> Any:
        self.engine.raise_event(hub, request)
        return pb.RaiseEventResponse()

    @_guard
    def TerminateInstance(self, hub: str, request: pb.TerminateRequest, context: grpc.ServicerContext) -> Any:
        self.engine.terminate(hub, request)
        return pb.TerminateResponse()

    @_guard
    def SuspendInstance(self, hub: str, request: pb.SuspendRequest, context: grpc.ServicerContext) -> Any:
        self.engine.suspend(hub, request)
        return pb.SuspendResponse()

    @_guard
    def ResumeInstance(self, hub: str, request: pb.ResumeRequest, context: grpc.ServicerContext) -> Any:
        self.engine.resume(hub, request)
        return pb.ResumeResponse()

    @_guard
    def RewindInstance(self, hub: str, request: pb.RewindInstanceRequest, context: grpc.ServicerContext) -> Any:
        self.engine.rewind_instance(hub, request)
        return pb.RewindInstanceResponse()

    @_guard
    def RestartInstance(self, hub: str, request: pb.RestartInstanceRequest, context: grpc.ServicerContext) -> Any:
        return pb.RestartInstanceResponse(instanceId=self.engine.restart(hub, request))

    @_guard
    def QueryInstances(self, hub: str, request: pb.QueryInstancesRequest, context: grpc.ServicerContext) -> Any:
        return self.engine.query_instances(hub, request)

    @_guard
    def ListInstanceIds(self, hub: str, request: pb.ListInstanceIdsRequest, context: grpc.ServicerContext) -> Any:
        return self.engine.list_instance_ids(hub, request)

    @_guard
    def PurgeInstances(self, hub: str, request: pb.PurgeInstancesRequest, context: grpc.ServicerContext) -> Any:
        return self.engine.purge(hub, request)

    @_guard
    def SkipGracefulOrchestrationTerminations(self, hub: str, request: Any, context: grpc.ServicerContext) -> Any:
        raise Unimplemented("SkipGracefulOrchestrationTerminations is not supported by this emulator")

    def StreamInstanceHistory(self, request: pb.StreamInstanceHistoryRequest,
                              context: grpc.ServicerContext) -> Iterator[bytes]:
        try:
            hub = self.enter(context)
            chunks = self.engine.history_chunks(hub, request, self.engine.options.history_chunk_bytes)
        except EmulatorError as exc:
            context.abort(getattr(grpc.StatusCode, exc.code), exc.message)
        except Exception as exc:
            log.exception("internal error in StreamInstanceHistory")
            context.abort(grpc.StatusCode.INTERNAL, f"internal emulator error in StreamInstanceHistory: {exc}")
        yield from chunks

    # ------------------------------------------------------------------------------ workers
    def GetWorkItems(self, request: pb.GetWorkItemsRequest, context: grpc.ServicerContext) -> Iterator[bytes]:
        try:
            hub = self.enter(context)
            md = dict(context.invocation_metadata() or ())
            worker = str(md.get("workerid", "") or md.get("x-user-agent", ""))
            self._enter_blocking("this work-item stream was")
        except EmulatorError as exc:
            context.abort(getattr(grpc.StatusCode, exc.code), exc.message)
        try:
            stream = self.engine.open_stream(hub, request, worker)
        except EmulatorError as exc:
            self._leave_blocking()
            context.abort(getattr(grpc.StatusCode, exc.code), exc.message)
        engine = self.engine
        context.add_callback(lambda: engine.close_stream(stream))
        try:
            while True:
                item = engine.next_work_item(stream, self.health_ping_interval)
                if engine.stopping:
                    context.abort(grpc.StatusCode.UNAVAILABLE, "the emulator is shutting down")
                if stream.closed:
                    return
                yield _HEALTH_PING if item is None else item
        finally:
            engine.close_stream(stream)
            self._leave_blocking()

    @_guard
    def CompleteOrchestratorTask(self, hub: str, request: pb.OrchestratorResponse,
                                 context: grpc.ServicerContext) -> Any:
        if not request.completionToken:
            raise InvalidArgument("completionToken must not be empty")
        if not self.engine.complete_orchestration(request):
            log.debug("ignored a stale or duplicate orchestrator completion for %r", request.instanceId)
        return pb.CompleteTaskResponse()

    @_guard
    def CompleteActivityTask(self, hub: str, request: pb.ActivityResponse, context: grpc.ServicerContext) -> Any:
        if not request.completionToken:
            raise InvalidArgument("completionToken must not be empty")
        if not self.engine.complete_activity(request):
            log.debug("ignored a stale or duplicate activity completion for %r", request.instanceId)
        return pb.CompleteTaskResponse()

    @_guard
    def AbandonTaskOrchestratorWorkItem(self, hub: str, request: Any, context: grpc.ServicerContext) -> Any:
        self.engine.abandon(request.completionToken, "o")
        return pb.AbandonOrchestrationTaskResponse()

    @_guard
    def AbandonTaskActivityWorkItem(self, hub: str, request: Any, context: grpc.ServicerContext) -> Any:
        self.engine.abandon(request.completionToken, "a")
        return pb.AbandonActivityTaskResponse()

    # ----------------------------------------------------------------------------- entities
    @_guard
    def CompleteEntityTask(self, hub: str, request: Any, context: grpc.ServicerContext) -> Any:
        raise Unimplemented(_ENTITIES)

    @_guard
    def AbandonTaskEntityWorkItem(self, hub: str, request: Any, context: grpc.ServicerContext) -> Any:
        raise Unimplemented(_ENTITIES)

    @_guard
    def SignalEntity(self, hub: str, request: Any, context: grpc.ServicerContext) -> Any:
        raise Unimplemented(_ENTITIES)

    @_guard
    def GetEntity(self, hub: str, request: Any, context: grpc.ServicerContext) -> Any:
        raise Unimplemented(_ENTITIES)

    @_guard
    def QueryEntities(self, hub: str, request: Any, context: grpc.ServicerContext) -> Any:
        raise Unimplemented(_ENTITIES)

    @_guard
    def CleanEntityStorage(self, hub: str, request: Any, context: grpc.ServicerContext) -> Any:
        raise Unimplemented(_ENTITIES)


def _serialize(message: Any) -> bytes:
    return message if isinstance(message, bytes) else message.SerializeToString()


_STREAMING = {"GetWorkItems": pb.GetWorkItemsRequest, "StreamInstanceHistory": pb.StreamInstanceHistoryRequest}


def generic_handler(service: SidecarService) -> grpc.GenericRpcHandler:
    """The ``TaskHubSidecarService`` handler, built from the proto's service descriptor."""
    from google.protobuf import symbol_database

    db = symbol_database.Default()
    desc = pb.DESCRIPTOR.services_by_name["TaskHubSidecarService"]
    handlers: dict[str, grpc.RpcMethodHandler] = {}
    for method in desc.methods:
        request_cls = db.GetSymbol(method.input_type.full_name)
        response_cls = db.GetSymbol(method.output_type.full_name)
        fn = getattr(service, method.name)
        if method.name in _STREAMING:
            handlers[method.name] = grpc.unary_stream_rpc_method_handler(
                fn, request_deserializer=request_cls.FromString, response_serializer=_serialize)
        else:
            handlers[method.name] = grpc.unary_unary_rpc_method_handler(
                fn, request_deserializer=request_cls.FromString,
                response_serializer=response_cls.SerializeToString)
    return grpc.method_handlers_generic_handler(desc.full_name, handlers)
