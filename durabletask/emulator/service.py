"""The gRPC face of the emulator: ``TaskHubSidecarService`` over the engine.

The same handlers are served by the emulator's own HTTP/2 transport (:mod:`.http2`, the default) or by
grpc.aio (:func:`generic_handler`); they use only ``invocation_metadata()``, ``time_remaining()`` and
``abort()`` of their call context, which both provide. Every call runs on the server's event loop. Quick calls (starts, events, completions, reads of one
instance) run the engine inline; the loop itself commits their writes (:func:`.core.deferred_commits`,
:meth:`SidecarService.request_commit`). A client's write is answered once it is durable and is
committed at once; a worker's completion is answered as soon as it is applied (its follow-up work and
waiters only see it after the commit, and a crash before the commit redelivers its work item), so its
commit may wait a few milliseconds to share one fsync with others while work is in flight.
Work-item streams and WaitForInstance* calls are coroutines woken by the engine, so any number of them
cost no thread; calls that may scan the database (queries, purges, history) run on a small thread
pool. One thread doing the Python work of every call, instead of a pool of threads handing the GIL to
each other, is what makes the emulator cheap per call.

Each call is checked here (bearer token, task hub from the ``taskhub`` header) and engine errors become
status codes; nothing escapes as a bare UNKNOWN. The two server-streaming methods yield ready-made wire
bytes, so their handlers are registered with a pass-through serializer (:func:`generic_handler`).
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import grpc
from google.protobuf import empty_pb2

from durabletask._proto import orchestrator_service_pb2 as pb

from .core import deferred_commits
from .engine import Engine
from .errors import (
    DeadlineExceeded,
    EmulatorError,
    InvalidArgument,
    NotFound,
    Unauthenticated,
    Unavailable,
    Unimplemented,
)

__all__ = ["DEFAULT_TASK_HUB", "SERVICE_NAME", "SidecarService", "generic_handler", "method_table"]

log = logging.getLogger("durabletask.emulator")

T = TypeVar("T")
DEFAULT_TASK_HUB = "default"
SERVICE_NAME = "TaskHubSidecarService"
_HEALTH_PING = b"\x22\x00"  # WorkItem{healthPing: {}}
_ENTITIES = ("entities are not supported by this emulator yet; run entity workloads against the DTS "
             "emulator or Azure Durable Task Scheduler")
_DEFERRED = deferred_commits()
#: How long a commit nobody waits for waits for more writes while other work is in flight (request_commit).
COMMIT_GATHER_S = 0.003

Handler = Callable[["SidecarService", str, Any, grpc.aio.ServicerContext], Any]


async def _abort(context: grpc.aio.ServicerContext, exc: EmulatorError) -> None:
    await context.abort(getattr(grpc.StatusCode, exc.code), exc.message)


async def _fail(context: grpc.aio.ServicerContext, method: str, exc: Exception) -> None:
    """End a call that raised: an engine error with its status code, anything else as INTERNAL (logged)."""
    if isinstance(exc, EmulatorError):
        await _abort(context, exc)
    else:
        log.error("internal error in %s", method, exc_info=exc)
        await context.abort(grpc.StatusCode.INTERNAL, f"internal emulator error in {method}: {exc}")


def _inline(fn: Handler) -> Callable[..., Awaitable[Any]]:
    """A quick unary call: authenticate, run ``fn`` on the loop, answer once what it wrote is durable."""
    return _run_inline(fn, answer_before_commit=False)


def _completion(fn: Handler) -> Callable[..., Awaitable[Any]]:
    """A worker's completion or abandon: like :func:`_inline`, but answered before the commit.

    Safe because nobody else can see the change before it is durable (its follow-up work is
    dispatched, and waiters are woken, only after the commit), and if the emulator dies before the
    commit, the work item was never taken off the books: it is delivered again and redone (activities
    run at least once; an orchestration episode replays to the same actions). A worker that blocks on
    each completion call (the published SDK's pool of 6 threads does) gets its thread back without
    waiting for the fsync.
    """
    return _run_inline(fn, answer_before_commit=True)


def _run_inline(fn: Handler, answer_before_commit: bool) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(fn)
    async def handler(self: SidecarService, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            hub = self.enter(context)
            epochs: list[int] = []
            token = _DEFERRED.set(epochs)
            try:
                response = fn(self, hub, request, context)
            finally:
                _DEFERRED.reset(token)
            if epochs:
                self.request_commit(waited_for=not answer_before_commit)
                if not answer_before_commit:
                    for epoch in sorted(set(epochs)):
                        await self.committed(epoch)
            return response
        except Exception as exc:  # noqa: BLE001 - _fail answers every failure (a bug: logged, INTERNAL)
            await _fail(context, fn.__name__, exc)

    return handler


def _pooled(fn: Handler) -> Callable[..., Awaitable[Any]]:
    """A call that may scan the database: run ``fn`` on the service's thread pool."""

    @functools.wraps(fn)
    async def handler(self: SidecarService, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            hub = self.enter(context)
            return await self.in_pool(fn, self, hub, request, context)
        except Exception as exc:  # noqa: BLE001 - _fail answers every failure (a bug: logged, INTERNAL)
            await _fail(context, fn.__name__, exc)

    return handler


class _LoopSignal:
    """Calls ``fn`` on the event loop; callable from any thread, coalescing calls not yet run."""

    def __init__(self, loop: asyncio.AbstractEventLoop, loop_thread: int, fn: Callable[[], None]) -> None:
        self._loop = loop
        self._loop_thread = loop_thread
        self._fn = fn
        self._pending = False

    def __call__(self) -> None:
        if threading.get_ident() == self._loop_thread:
            self._fn()
            return
        if self._pending:
            return
        self._pending = True
        try:
            self._loop.call_soon_threadsafe(self._run)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            pass

    def _run(self) -> None:
        self._pending = False
        self._fn()


class _LoopWaiter:
    """A waiter the engine sets (from any thread); the call awaits :attr:`future` on the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, loop_thread: int) -> None:
        self.future: asyncio.Future[bool] = loop.create_future()  # True once set, False on time-out
        self._signal = _LoopSignal(loop, loop_thread, self._settle)

    def set(self) -> None:
        self._signal()

    def _settle(self) -> None:
        _settle(self.future, True)


class _Wakeup:
    """An event for one coroutine on the loop, cheaper than ``asyncio.Event`` + ``wait_for`` (no task)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._set = False
        self._future: asyncio.Future[bool] | None = None

    def set(self) -> None:
        self._set = True
        future = self._future
        if future is not None and not future.done():
            future.set_result(True)

    def clear(self) -> None:
        self._set = False

    async def wait(self, timeout: float) -> bool:
        """True once set, False after ``timeout`` seconds."""
        if self._set:
            return True
        future = self._future = self._loop.create_future()
        timer = self._loop.call_later(timeout, _settle, future, False)
        try:
            return await future
        finally:
            timer.cancel()
            self._future = None


def _settle(future: asyncio.Future[bool], value: bool) -> None:
    if not future.done():
        future.set_result(value)


class SidecarService:
    """Implements every RPC of ``TaskHubSidecarService`` (entities answer UNIMPLEMENTED).

    Bind it to the serving loop (:meth:`bind`) before the server starts.
    """

    def __init__(self, engine: Engine, *, taskhubs: Sequence[str] | None = None, token: str | None = None,
                 health_ping_interval: float = 30.0, pool_threads: int = 4) -> None:
        self.engine = engine
        self.taskhubs = None if not taskhubs else frozenset(taskhubs)
        self.token = token
        self._expected_auth = f"Bearer {token}".encode() if token is not None else b""
        self.health_ping_interval = health_ping_interval
        self._pool = ThreadPoolExecutor(max_workers=max(1, pool_threads), thread_name_prefix="emulator-scan")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._commit_soon = False
        self._commit_later = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Serve on ``loop`` (call from the loop's thread)."""
        self._loop = loop
        self._loop_thread = threading.get_ident()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("the service is not bound to an event loop")
        return self._loop

    async def in_pool(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.loop.run_in_executor(self._pool, fn, *args)

    def signal(self, fn: Callable[[], None]) -> _LoopSignal:
        """``fn`` wrapped to run on the loop when called from any thread."""
        return _LoopSignal(self.loop, self._loop_thread, fn)

    def request_commit(self, waited_for: bool) -> None:
        """Commit soon, so that every write of a burst shares one fsync.

        The commit runs on the loop (a hand-off to another thread and back costs as much here as the
        fsync it would move). A caller waiting for it (``waited_for``: a client's start, event,
        terminate...) gets it as soon as the loop has run what is ready now. Writes nobody waits
        for (worker completions, answered before their commit) wait up to :data:`COMMIT_GATHER_S`
        for more writes to share the fsync while other work is in flight; with none (a lone
        chain) they too are committed at once, since their follow-up work waits for the commit.
        Under the 500-chain benchmark that cuts the commits per orchestration from ~7 to ~2.
        """
        loop = self.loop
        if waited_for or self.engine.work_in_flight() <= 1:
            if not self._commit_soon:
                self._commit_soon = True
                loop.call_soon(self._commit_now)
        elif not self._commit_later:
            self._commit_later = True
            loop.call_later(COMMIT_GATHER_S, self._commit_gathered)

    def _commit_now(self) -> None:
        self._commit_soon = False
        self.engine.commit_now()

    def _commit_gathered(self) -> None:
        self._commit_later = False
        self.engine.commit_now()

    async def committed(self, epoch: int) -> None:
        """Wait until the transaction of ``epoch`` is durable (UNAVAILABLE if it was rolled back)."""
        future: asyncio.Future[bool] = self.loop.create_future()

        def on_commit(ok: bool) -> None:
            if threading.get_ident() == self._loop_thread:
                _settle(future, ok)
                return
            try:
                self.loop.call_soon_threadsafe(_settle, future, ok)
            except RuntimeError:  # the loop is closed (the server stopped): nobody waits any more
                pass

        self.engine.on_commit(epoch, on_commit)
        if not await future:
            raise Unavailable("the emulator rolled this change back after an internal error; retry it")

    # -------------------------------------------------------------------------- call context
    def enter(self, context: grpc.aio.ServicerContext) -> str:
        """Check the caller's token and return its task hub (NOT_FOUND for an unknown hub)."""
        hub = ""
        given = ""
        metadata = context.invocation_metadata() or ()
        for key, value in metadata:
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
        if log.isEnabledFor(logging.DEBUG):
            md = {k: v for k, v in metadata if isinstance(v, str)}
            if "x-user-agent" in md or "workerid" in md:
                log.debug("call on hub %r from %s worker %s", hub, md.get("x-user-agent", "?"),
                          md.get("workerid", "-"))
        return hub

    # ----------------------------------------------------------------------------- plumbing
    @_inline
    def Hello(self, hub: str, request: empty_pb2.Empty, context: Any) -> empty_pb2.Empty:
        return empty_pb2.Empty()

    @_inline
    def CreateTaskHub(self, hub: str, request: Any, context: Any) -> Any:
        return pb.CreateTaskHubResponse()

    @_inline
    def DeleteTaskHub(self, hub: str, request: Any, context: Any) -> Any:
        return pb.DeleteTaskHubResponse()

    # ------------------------------------------------------------------------------ clients
    @_inline
    def StartInstance(self, hub: str, request: pb.CreateInstanceRequest, context: Any) -> Any:
        return pb.CreateInstanceResponse(instanceId=self.engine.start_instance(hub, request))

    @_inline
    def GetInstance(self, hub: str, request: pb.GetInstanceRequest, context: Any) -> Any:
        return self.engine.get_instance(hub, request.instanceId, request.getInputsAndOutputs)

    async def _wait(self, request: pb.GetInstanceRequest, context: grpc.aio.ServicerContext,
                    until_started: bool) -> Any:
        try:
            hub = self.enter(context)
            loop = self.loop
            remaining = context.time_remaining()
            deadline = None if remaining is None or remaining > 1e8 else loop.time() + max(0.0, remaining - 0.05)
            key = (hub, request.instanceId)
            late = (f"instance '{request.instanceId}' did not "
                    f"{'start' if until_started else 'complete'} in time")
            while True:
                waiter = _LoopWaiter(loop, self._loop_thread)
                reached = self.engine.instance_if_reached(hub, request.instanceId, request.getInputsAndOutputs,
                                                          until_started=until_started, waiter=waiter)
                if reached is not None:
                    return reached
                timer = None
                try:
                    if deadline is not None:
                        if deadline <= loop.time():
                            raise DeadlineExceeded(late)
                        timer = loop.call_at(deadline, _settle, waiter.future, False)
                    if not await waiter.future:
                        raise DeadlineExceeded(late)
                finally:
                    if timer is not None:
                        timer.cancel()
                    self.engine.remove_waiter(key, waiter)
        except EmulatorError as exc:
            await _abort(context, exc)

    async def WaitForInstanceStart(self, request: pb.GetInstanceRequest, context: grpc.aio.ServicerContext) -> Any:
        return await self._wait(request, context, True)

    async def WaitForInstanceCompletion(self, request: pb.GetInstanceRequest,
                                        context: grpc.aio.ServicerContext) -> Any:
        return await self._wait(request, context, False)

    @_inline
    def RaiseEvent(self, hub: str, request: pb.RaiseEventRequest, context: Any) -> Any:
        self.engine.raise_event(hub, request)
        return pb.RaiseEventResponse()

    @_inline
    def TerminateInstance(self, hub: str, request: pb.TerminateRequest, context: Any) -> Any:
        self.engine.terminate(hub, request)
        return pb.TerminateResponse()

    @_inline
    def SuspendInstance(self, hub: str, request: pb.SuspendRequest, context: Any) -> Any:
        self.engine.suspend(hub, request)
        return pb.SuspendResponse()

    @_inline
    def ResumeInstance(self, hub: str, request: pb.ResumeRequest, context: Any) -> Any:
        self.engine.resume(hub, request)
        return pb.ResumeResponse()

    @_inline
    def RewindInstance(self, hub: str, request: pb.RewindInstanceRequest, context: Any) -> Any:
        self.engine.rewind_instance(hub, request)
        return pb.RewindInstanceResponse()

    @_inline
    def RestartInstance(self, hub: str, request: pb.RestartInstanceRequest, context: Any) -> Any:
        return pb.RestartInstanceResponse(instanceId=self.engine.restart(hub, request))

    @_pooled
    def QueryInstances(self, hub: str, request: pb.QueryInstancesRequest, context: Any) -> Any:
        return self.engine.query_instances(hub, request)

    @_pooled
    def ListInstanceIds(self, hub: str, request: pb.ListInstanceIdsRequest, context: Any) -> Any:
        return self.engine.list_instance_ids(hub, request)

    @_pooled
    def PurgeInstances(self, hub: str, request: pb.PurgeInstancesRequest, context: Any) -> Any:
        return self.engine.purge(hub, request)

    @_inline
    def SkipGracefulOrchestrationTerminations(self, hub: str, request: Any, context: Any) -> Any:
        raise Unimplemented("SkipGracefulOrchestrationTerminations is not supported by this emulator")

    async def StreamInstanceHistory(self, request: pb.StreamInstanceHistoryRequest,
                                    context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        try:
            hub = self.enter(context)
            chunks = await self.in_pool(self.engine.history_chunks, hub, request,
                                        self.engine.options.history_chunk_bytes)
        except Exception as exc:  # noqa: BLE001 - _fail answers every failure (a bug: logged, INTERNAL)
            await _fail(context, "StreamInstanceHistory", exc)
            return
        for chunk in chunks:
            yield chunk

    # ------------------------------------------------------------------------------ workers
    async def GetWorkItems(self, request: pb.GetWorkItemsRequest,
                           context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        engine = self.engine
        try:
            hub = self.enter(context)
            md = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
            worker = str(md.get("workerid", "") or md.get("x-user-agent", ""))
            stream = engine.open_stream(hub, request, worker)
        except EmulatorError as exc:
            await _abort(context, exc)
            return
        wake = _Wakeup(self.loop)
        listener = engine.add_work_listener(self.signal(wake.set))
        try:
            while True:
                wake.clear()
                item = engine.next_work_item(stream, 0)
                if engine.stopping:
                    await context.abort(grpc.StatusCode.UNAVAILABLE, "the emulator is shutting down")
                if stream.closed:
                    return
                if item is not None:
                    yield item
                    continue
                if not await wake.wait(self.health_ping_interval):
                    yield _HEALTH_PING
        finally:
            engine.remove_work_listener(listener)
            engine.close_stream(stream)

    @_completion
    def CompleteOrchestratorTask(self, hub: str, request: pb.OrchestratorResponse, context: Any) -> Any:
        if not request.completionToken:
            raise InvalidArgument("completionToken must not be empty")
        if not self.engine.complete_orchestration(request):
            log.debug("ignored a stale or duplicate orchestrator completion for %r", request.instanceId)
        return pb.CompleteTaskResponse()

    @_completion
    def CompleteActivityTask(self, hub: str, request: pb.ActivityResponse, context: Any) -> Any:
        if not request.completionToken:
            raise InvalidArgument("completionToken must not be empty")
        if not self.engine.complete_activity(request):
            log.debug("ignored a stale or duplicate activity completion for %r", request.instanceId)
        return pb.CompleteTaskResponse()

    @_completion
    def AbandonTaskOrchestratorWorkItem(self, hub: str, request: Any, context: Any) -> Any:
        self.engine.abandon(request.completionToken, "o")
        return pb.AbandonOrchestrationTaskResponse()

    @_completion
    def AbandonTaskActivityWorkItem(self, hub: str, request: Any, context: Any) -> Any:
        self.engine.abandon(request.completionToken, "a")
        return pb.AbandonActivityTaskResponse()

    # ----------------------------------------------------------------------------- entities
    @_inline
    def CompleteEntityTask(self, hub: str, request: Any, context: Any) -> Any:
        raise Unimplemented(_ENTITIES)

    @_inline
    def AbandonTaskEntityWorkItem(self, hub: str, request: Any, context: Any) -> Any:
        raise Unimplemented(_ENTITIES)

    @_inline
    def SignalEntity(self, hub: str, request: Any, context: Any) -> Any:
        raise Unimplemented(_ENTITIES)

    @_inline
    def GetEntity(self, hub: str, request: Any, context: Any) -> Any:
        raise Unimplemented(_ENTITIES)

    @_inline
    def QueryEntities(self, hub: str, request: Any, context: Any) -> Any:
        raise Unimplemented(_ENTITIES)

    @_inline
    def CleanEntityStorage(self, hub: str, request: Any, context: Any) -> Any:
        raise Unimplemented(_ENTITIES)


def _serialize(message: Any) -> bytes:
    return message if isinstance(message, bytes) else message.SerializeToString()


_STREAMING = {"GetWorkItems": pb.GetWorkItemsRequest, "StreamInstanceHistory": pb.StreamInstanceHistoryRequest}


def method_table(service: SidecarService) -> dict[str, tuple[Callable[..., Any], Callable[[bytes], Any],
                                                          Callable[[Any], bytes], bool]]:
    """Every method of ``TaskHubSidecarService``: name -> (handler, request parser, serializer, streaming)."""
    from google.protobuf import symbol_database

    db = symbol_database.Default()
    desc = pb.DESCRIPTOR.services_by_name[SERVICE_NAME]
    table: dict[str, tuple[Callable[..., Any], Callable[[bytes], Any], Callable[[Any], bytes], bool]] = {}
    for method in desc.methods:
        request_cls = db.GetSymbol(method.input_type.full_name)
        streaming = method.name in _STREAMING
        serialize = _serialize if streaming else db.GetSymbol(method.output_type.full_name).SerializeToString
        table[method.name] = (getattr(service, method.name), request_cls.FromString, serialize, streaming)
    return table


def generic_handler(service: SidecarService) -> grpc.GenericRpcHandler:
    """The ``TaskHubSidecarService`` handler for a grpc.aio server."""
    handlers: dict[str, grpc.RpcMethodHandler] = {}
    for name, (fn, parse, serialize, streaming) in method_table(service).items():
        make = grpc.unary_stream_rpc_method_handler if streaming else grpc.unary_unary_rpc_method_handler
        handlers[name] = make(fn, request_deserializer=parse, response_serializer=serialize)
    return grpc.method_handlers_generic_handler(pb.DESCRIPTOR.services_by_name[SERVICE_NAME].full_name, handlers)
