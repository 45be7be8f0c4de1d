"""The worker: runs registered orchestrators and activities for work items pulled from a backend.

:class:`TaskHubGrpcWorker` opens one ``GetWorkItems`` stream to a Durable Task backend (our
emulator, the DTS emulator, Azure Durable Task Scheduler), replays orchestrators over the history
in each orchestration work item, calls activities, and reports the results. ``start()`` returns at
once (the worker runs in the background) and can also be awaited; ``stop()`` shuts down cleanly.

Threads, chosen to keep the hand-offs per work item few (on a busy worker, waking threads and passing
the GIL between them costs more CPU than the work itself):

* the stream thread reads the work items (it polls the stream itself: gRPC's single-threaded
  unary-stream mode on the worker's own channel) and runs orchestration episodes right there. An
  episode is a short, deterministic replay; its completion call is started without waiting for it;
* plain activities run on a thread pool (``maximum_thread_pool_workers`` threads) that also makes
  their completion calls;
* ``async def`` activities run on an event loop thread owned by the worker.

Between episodes of a running orchestration the worker keeps its live replay state (see
``_worker_replay_cache``): when the next work item extends the history already replayed, only the
new events are applied, so long chains cost O(n) instead of O(n^2). Everything else falls back to a
full replay.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import grpc

from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask._proto import orchestrator_service_pb2_grpc as pb_grpc
from durabletask._replay import OrchestratorNotRegisteredError
from durabletask._worker_execution import (
    ActivityNotRegisteredError,
    VersionMismatchError,
    WorkItemRunner,
    is_async_callable,
    new_registry,
)
from durabletask._worker_loop import EventLoopThread
from durabletask._worker_options import (
    AUTO_FILTERS,
    ActivityWorkItemFilter,
    ConcurrencyOptions,
    EntityWorkItemFilter,
    OrchestrationWorkItemFilter,
    VersionFailureStrategy,
    VersioningOptions,
    VersionMatchStrategy,
    WorkItemFilters,
    build_work_items_request,
)
from durabletask._worker_pool import WorkerPool
from durabletask._worker_stream import StreamSettings, WorkItemStreamLoop
from durabletask.serialization import DataConverter, JsonDataConverter

__all__ = [
    "ActivityNotRegisteredError",
    "ActivityWorkItemFilter",
    "ConcurrencyOptions",
    "EntityWorkItemFilter",
    "OrchestrationWorkItemFilter",
    "OrchestratorNotRegisteredError",
    "TaskHubGrpcWorker",
    "VersionFailureStrategy",
    "VersionMatchStrategy",
    "VersionMismatchError",
    "VersioningOptions",
    "WorkItemFilters",
]

_DEFAULT_HOST = "localhost:4001"
#: How long ``stop()`` waits for work items that are already running.
_STOP_GRACE_SECONDS = 5.0
_AUTO_FILTERS: Any = AUTO_FILTERS
#: ``grpc.experimental.ChannelOptions.SingleThreadedUnaryStream``: the thread reading a unary-stream
#: call polls it itself (a gRPC version without the option ignores it and uses its channel thread).
_SINGLE_THREADED_UNARY_STREAM = "SingleThreadedUnaryStream"


class WorkerRunningError(ValueError, RuntimeError):
    """Raised when the worker is changed (or started twice) while it is running."""


class _StartedWorker:
    """What ``start()`` returns: nothing to wait for, but ``await worker.start()`` also works."""

    __slots__ = ()

    def __await__(self) -> Any:
        return None
        yield  # pragma: no cover - makes this a generator

    def __repr__(self) -> str:
        return "<worker started>"


class TaskHubGrpcWorker:
    """Pulls work items from a Durable Task backend and runs registered orchestrators/activities.

    The constructor takes the published SDK's keywords. ``host_address`` defaults to
    ``localhost:4001``; an ``http://``/``grpc://`` prefix means plaintext, ``https://``/``grpcs://``
    TLS, otherwise ``secure_channel`` decides. ``metadata`` pairs are sent with every call.
    """

    def __init__(
        self,
        *,
        host_address: str | None = None,
        metadata: list[tuple[str, str]] | None = None,
        log_handler: logging.Handler | None = None,
        log_formatter: logging.Formatter | None = None,
        logger: logging.Logger | None = None,
        channel: grpc.Channel | None = None,
        secure_channel: bool = False,
        interceptors: Sequence[Any] | None = None,
        channel_options: Any = None,
        resiliency_options: Any = None,
        concurrency_options: ConcurrencyOptions | None = None,
        maximum_timer_interval: timedelta | None = timedelta(days=3),
        payload_store: Any = None,
        data_converter: DataConverter | None = None,
        exception_properties_provider: Any = None,
        emit_trace_spans: bool = True,
    ) -> None:
        if metadata is not None:
            metadata = [(str(k), str(v)) for k, v in metadata]
        if concurrency_options is not None and not isinstance(concurrency_options, ConcurrencyOptions):
            raise TypeError("concurrency_options must be a durabletask.worker.ConcurrencyOptions")
        if maximum_timer_interval is not None and not isinstance(maximum_timer_interval, timedelta):
            raise TypeError("maximum_timer_interval must be a datetime.timedelta or None")
        if maximum_timer_interval is not None and maximum_timer_interval <= timedelta(0):
            raise ValueError("maximum_timer_interval must be positive")
        self._host_address = host_address or _DEFAULT_HOST
        self._metadata = metadata
        self._channel = channel
        self._secure_channel = secure_channel
        self._interceptors = list(interceptors) if interceptors else None
        self._channel_options = channel_options
        self._resiliency_options = resiliency_options
        self._concurrency_options = concurrency_options or ConcurrencyOptions()
        self._maximum_timer_interval = maximum_timer_interval
        self._payload_store = payload_store
        self._data_converter: DataConverter = data_converter or JsonDataConverter()
        self._exception_properties_provider = exception_properties_provider
        self._emit_trace_spans = emit_trace_spans
        self._logger = logger or logging.getLogger("durabletask.worker")
        if log_handler is not None:
            if log_formatter is not None:
                log_handler.setFormatter(log_formatter)
            if log_handler not in self._logger.handlers:
                self._logger.addHandler(log_handler)
        if payload_store is not None:
            self._logger.info("payload_store is accepted but not used: payloads travel inline")

        self._registry = new_registry()
        self._async_activities: set[str] = set()
        self._versioning: VersioningOptions | None = None
        self._filters: WorkItemFilters | None | Any = None
        self._capabilities: set[int] = set()

        self._state_lock = threading.RLock()
        self._running = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._stream_loop: WorkItemStreamLoop | None = None
        self._activity_pool: WorkerPool | None = None
        self._loop: EventLoopThread | None = None
        self._runner: WorkItemRunner | None = None
        #: Work items being processed plus completion calls not answered yet (``stop`` waits for them).
        self._inflight = 0
        self._inflight_lock = threading.Lock()
        self._idle = threading.Event()
        self._warned_entities = False

    # -- properties ----------------------------------------------------------------------------

    @property
    def concurrency_options(self) -> ConcurrencyOptions:
        """The concurrency limits this worker announces and uses."""
        return self._concurrency_options

    @property
    def maximum_timer_interval(self) -> timedelta | None:
        """Longest single durable timer; longer timers are split in chunks (None: never split)."""
        return self._maximum_timer_interval

    @property
    def emit_trace_spans(self) -> bool:
        """Whether trace spans would be emitted (accepted for compatibility; no tracer is wired)."""
        return self._emit_trace_spans

    @property
    def is_running(self) -> bool:
        """True between ``start()`` and ``stop()``."""
        return self._running

    # -- registration --------------------------------------------------------------------------

    def _check_not_running(self, what: str) -> None:
        if self._running:
            raise WorkerRunningError(f"{what} cannot be added while the worker is running")

    def add_orchestrator(self, fn: Callable[..., Any]) -> str:
        """Register an orchestrator function; returns the name it is registered under."""
        self._check_not_running("Orchestrators")
        if not callable(fn):
            raise TypeError(f"An orchestrator must be a function, not {type(fn).__name__}")
        return self._registry.add_orchestrator(fn)

    def add_activity(self, fn: Callable[..., Any]) -> str:
        """Register an activity function (plain or ``async def``); returns its name."""
        self._check_not_running("Activities")
        if not callable(fn):
            raise TypeError(f"An activity must be a function, not {type(fn).__name__}")
        name = self._registry.add_activity(fn)
        if is_async_callable(fn):
            self._async_activities.add(name)
        return name

    def add_entity(self, fn: Any, name: str | None = None) -> str:
        """Register an entity (needs entity support in the replay core)."""
        self._check_not_running("Entities")
        add = getattr(self._registry, "add_entity", None)
        if add is None:
            raise NotImplementedError("Durable entities are not supported by this SDK yet")
        return add(fn, name) if name is not None else add(fn)

    def add_capability(self, capability: int) -> None:
        """Announce a ``WorkerCapability`` value in the GetWorkItems request."""
        self._check_not_running("Capabilities")
        if int(capability) not in pb.WorkerCapability.values():
            raise ValueError(f"Unknown worker capability: {capability!r}")
        self._capabilities.add(int(capability))

    def configure_scheduled_tasks(self) -> None:
        """Announce the scheduled-tasks capability (entity-based schedules need entity support)."""
        self.add_capability(pb.WORKER_CAPABILITY_SCHEDULED_TASKS)

    def use_versioning(self, version: VersioningOptions) -> None:
        """Run only orchestrations whose version matches (see :class:`VersioningOptions`)."""
        self._check_not_running("Versioning options")
        if not isinstance(version, VersioningOptions):
            raise TypeError("use_versioning() takes a durabletask.worker.VersioningOptions")
        self._versioning = version

    def use_work_item_filters(self, filters: WorkItemFilters | None | Any = _AUTO_FILTERS) -> None:
        """Ask the backend for only the work items this worker can run.

        With no argument the filters list every registered orchestrator and activity (with the
        worker version under ``VersionMatchStrategy.STRICT``); ``None`` turns filtering off.
        """
        self._check_not_running("Work item filters")
        if filters is not _AUTO_FILTERS and filters is not None and not isinstance(filters, WorkItemFilters):
            raise TypeError("use_work_item_filters() takes a WorkItemFilters, None, or no argument")
        self._filters = filters

    def _work_items_request(self) -> pb.GetWorkItemsRequest:
        return build_work_items_request(
            self._concurrency_options,
            capabilities=self._capabilities,
            filters=self._filters,
            versioning=self._versioning,
            registry=self._registry,
        )

    # -- channel -------------------------------------------------------------------------------

    def _channel_arguments(self) -> list[tuple[str, Any]]:
        """Channel arguments for a worker-owned channel: ours first, the caller's override them.

        The worker keeps its own sub-channel (not shared with clients in the same process) and caps
        gRPC's internal reconnect backoff at the worker's own cap, so the worker is back within
        seconds after a backend restart instead of gRPC's default of up to two minutes.
        """
        settings = StreamSettings(self._resiliency_options)
        args: list[tuple[str, Any]] = [
            ("grpc.use_local_subchannel_pool", 1),
            # The stream thread polls the stream itself instead of being woken by gRPC's channel
            # thread for every message: one thread hand-off less per work item.
            (_SINGLE_THREADED_UNARY_STREAM, 1),
            ("grpc.initial_reconnect_backoff_ms", max(10, int(settings.backoff_base * 1000))),
            ("grpc.min_reconnect_backoff_ms", max(10, int(settings.backoff_base * 1000))),
            ("grpc.max_reconnect_backoff_ms", max(100, int(settings.backoff_cap * 1000))),
        ]
        opts = self._channel_options
        if opts is None:
            return args
        if hasattr(opts, "to_grpc_options"):
            return args + list(opts.to_grpc_options())
        return args + [tuple(pair) for pair in opts]  # type: ignore[misc]

    def _make_channel(self) -> grpc.Channel:
        from durabletask import _grpc

        return _grpc.get_grpc_channel(
            self._host_address,
            secure_channel=self._secure_channel,
            interceptors=self._interceptors,
            options=self._channel_arguments(),
        )

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> _StartedWorker:
        """Start pulling work items in the background and return at once.

        The result may be ignored or awaited (``await worker.start()``). Raises if already running.
        """
        with self._state_lock:
            if self._running:
                raise WorkerRunningError("The worker is already running")
            self._running = True
            self._stopping = False
            self._inflight = 0
            threads = self._concurrency_options.maximum_thread_pool_workers
            self._runner = WorkItemRunner(
                self._registry,
                data_converter=self._data_converter,
                maximum_timer_interval=self._maximum_timer_interval,
                logger=self._logger,
                versioning=self._versioning,
                exception_properties_provider=self._exception_properties_provider,
            )
            self._activity_pool = WorkerPool(threads, "durabletask-activity")
            if self._async_activities:
                self._loop = EventLoopThread()
            channel = self._channel
            if channel is not None and self._interceptors:
                channel = grpc.intercept_channel(channel, *self._interceptors)
            self._stream_loop = WorkItemStreamLoop(
                channel_factory=(lambda: channel) if channel is not None else self._make_channel,
                owns_channel=channel is None,
                metadata=self._metadata,
                request_factory=self._work_items_request,
                on_item=self._dispatch,
                settings=StreamSettings(self._resiliency_options),
                logger=self._logger,
            )
            self._thread = threading.Thread(
                target=self._stream_loop.run, name="durabletask-worker", daemon=True
            )
            self._thread.start()
            self._logger.info(
                "Worker started (backend %s)", self._host_address if channel is None else "<channel>"
            )
        return _StartedWorker()

    def stop(self) -> None:
        """Stop the worker: end the stream, hand back queued items, wait briefly for running ones."""
        with self._state_lock:
            if not self._running or self._stopping:
                return
            self._stopping = True
            stream_loop = self._stream_loop
            thread = self._thread
        assert stream_loop is not None and thread is not None
        self._logger.info("Stopping the worker")
        stream_loop.stop()
        thread.join(timeout=_STOP_GRACE_SECONDS)
        # Queued jobs now abandon their items (they check _stopping); running ones finish.
        if not self._wait_inflight(_STOP_GRACE_SECONDS):
            self._logger.warning("%d work item(s) still running at shutdown", self._inflight)
        # Cancelling what still awaits on the event loop hands those items back (abandon calls
        # made from the pools), so the pools and the channel stay open a moment longer.
        self._stop_event_loop()
        self._wait_inflight(min(1.0, _STOP_GRACE_SECONDS))
        if self._activity_pool is not None:
            self._activity_pool.shutdown(wait=False)
        stream_loop.close_channel()
        with self._state_lock:
            self._activity_pool = None
            self._stream_loop = None
            self._thread = None
            self._running = False
            self._stopping = False
        self._logger.info("Worker stopped")

    def _wait_inflight(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for every work item in flight to finish; True when none is left."""
        deadline = time.monotonic() + seconds
        while True:
            with self._inflight_lock:
                if self._inflight <= 0:
                    return True
                self._idle.clear()  # set again by the _done_one that reaches zero
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._idle.wait(left)

    def _stop_event_loop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is not None:
            loop.stop()

    def __enter__(self) -> TaskHubGrpcWorker:
        return self

    def __exit__(self, *args: object) -> None:
        self.stop()

    async def __aenter__(self) -> TaskHubGrpcWorker:
        return self

    async def __aexit__(self, *args: object) -> None:
        if self._running:
            await asyncio.get_running_loop().run_in_executor(None, self.stop)

    def wait_until_connected(self, timeout: float | None = None) -> bool:
        """Block until the work-item stream is open (True) or ``timeout`` passes (False)."""
        stream_loop = self._stream_loop
        if stream_loop is None:
            return False
        return stream_loop.connected.wait(timeout)

    # -- dispatch ------------------------------------------------------------------------------

    def _dispatch(self, item: pb.WorkItem, stub: pb_grpc.TaskHubSidecarServiceStub) -> None:
        kind = item.WhichOneof("request")
        token = item.completionToken
        if kind == "orchestratorRequest":
            # Right here on the stream thread: an episode is a quick replay, and handing it to
            # another thread would cost more than running it.
            self._run_here(self._process_orchestrator, item.orchestratorRequest, token, stub)
        elif kind == "activityRequest":
            req = item.activityRequest
            if req.name in self._async_activities and self._loop is not None:
                self._submit_async_activity(req, token, stub)
            else:
                self._submit(self._activity_pool, self._process_activity, req, token, stub)
        elif kind == "healthPing":
            pass
        elif kind in ("entityRequest", "entityRequestV2"):
            if not self._warned_entities:
                self._warned_entities = True
                self._logger.warning("Entity work items are not supported yet; handing them back")
            self._submit(self._activity_pool, self._abandon, "entity", token, stub)
        else:
            self._logger.warning("Ignoring a work item of unknown kind %r", kind)

    def _submit(self, pool: WorkerPool | None, fn: Callable[..., None], *args: Any) -> None:
        if pool is None:
            return
        self._begin_one()
        try:
            pool.submit(self._guarded, fn, *args)
        except RuntimeError:  # pool shut down while stopping
            self._done_one()

    def _run_here(self, fn: Callable[..., None], *args: Any) -> None:
        self._begin_one()
        try:
            self._guarded(fn, *args)
        except BaseException:  # noqa: BLE001 - as on a pool thread: the stream thread must live on
            self._logger.exception("A worker job failed")

    def _begin_one(self) -> None:
        with self._inflight_lock:
            self._inflight += 1

    def _done_one(self) -> None:
        with self._inflight_lock:
            self._inflight -= 1
            idle = self._inflight <= 0
        if idle and not self._idle.is_set():  # it stays set unless a stop() waits
            self._idle.set()

    def _guarded(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            self._logger.exception("Unexpected error while processing a work item")
        finally:
            self._done_one()

    def _abandon(self, kind: str, token: str, stub: pb_grpc.TaskHubSidecarServiceStub) -> None:
        try:
            if kind == "orchestration":
                stub.AbandonTaskOrchestratorWorkItem(
                    pb.AbandonOrchestrationTaskRequest(completionToken=token), metadata=self._metadata
                )
            elif kind == "activity":
                stub.AbandonTaskActivityWorkItem(
                    pb.AbandonActivityTaskRequest(completionToken=token), metadata=self._metadata
                )
            else:
                stub.AbandonTaskEntityWorkItem(
                    pb.AbandonEntityTaskRequest(completionToken=token), metadata=self._metadata
                )
        except (grpc.RpcError, ValueError) as err:  # ValueError: the channel is closed
            self._logger.info("Could not abandon a %s work item: %s", kind, _rpc_text(err))

    def _process_orchestrator(
        self, req: pb.OrchestratorRequest, token: str, stub: pb_grpc.TaskHubSidecarServiceStub
    ) -> None:
        if self._stopping:
            self._abandon("orchestration", token, stub)
            return
        runner = self._runner
        assert runner is not None
        refused = runner.check_version(req)
        if refused is VersionFailureStrategy.REJECT:
            self._logger.info(
                "Orchestration %s has a version this worker does not run; abandoning", req.instanceId
            )
            self._abandon("orchestration", token, stub)
            return
        if refused is VersionFailureStrategy.FAIL:
            resp = runner.version_mismatch_response(req, token)
        else:
            resp = runner.run_orchestrator(req, token)
        instance_id = req.instanceId

        def not_delivered(err: Any) -> None:
            if runner.replay_cache is not None:
                runner.replay_cache.forget(instance_id)
            self._logger.warning(
                "Could not complete orchestration work item %s: %s", instance_id, _rpc_text(err)
            )

        self._start_completion(stub.CompleteOrchestratorTask, resp, not_delivered)

    def _start_completion(self, method: Any, request: Any, not_delivered: Callable[[Any], None]) -> None:
        """Start a completion call without waiting for its answer (``not_delivered(error)`` if it fails).

        The call counts as in flight until answered, so ``stop`` waits for it before closing the
        channel.
        """
        self._begin_one()
        try:
            call = method.future(request, metadata=self._metadata)
        except (grpc.RpcError, ValueError) as err:  # ValueError: the channel is closed
            self._done_one()
            not_delivered(err)
            return

        def answered(call: Any) -> None:
            try:
                if call.code() is not grpc.StatusCode.OK:
                    not_delivered(call)
            except Exception:
                self._logger.exception("Unexpected error after a completion call")
            finally:
                self._done_one()

        call.add_done_callback(answered)

    def _process_activity(
        self, req: pb.ActivityRequest, token: str, stub: pb_grpc.TaskHubSidecarServiceStub
    ) -> None:
        if self._stopping:
            self._abandon("activity", token, stub)
            return
        runner = self._runner
        assert runner is not None
        try:
            fn, ctx, value = runner.activity_call(req)
            output = fn(ctx, value)
            if asyncio.iscoroutine(output) or hasattr(output, "__await__"):
                try:
                    output = self._await_on_loop(output)
                except concurrent.futures.CancelledError:
                    if not self._stopping:
                        raise
                    # The worker stopped its event loop under this activity: hand the item back.
                    self._abandon("activity", token, stub)
                    return
            resp = runner.activity_success(req, token, output)
        except (Exception, SystemExit) as exc:  # sys.exit() in an activity fails it, nothing more
            self._log_activity_failure(req, exc)
            resp = runner.activity_failure(req, token, exc)
        self._complete_activity(resp, stub)

    def _await_on_loop(self, awaitable: Any) -> Any:
        # A plain-registered activity returned an awaitable: run it on the worker's loop.
        if self._loop is None:
            with self._state_lock:
                if self._loop is None:
                    self._loop = EventLoopThread()
        return self._loop.run(awaitable)

    def _submit_async_activity(
        self, req: pb.ActivityRequest, token: str, stub: pb_grpc.TaskHubSidecarServiceStub
    ) -> None:
        loop = self._loop
        assert loop is not None
        self._begin_one()
        coro = self._run_async_activity(req, token, stub)
        try:
            loop.submit(coro)
        except RuntimeError:  # the loop closed while stopping; the backend redelivers the item
            coro.close()
            self._done_one()

    async def _run_async_activity(
        self, req: pb.ActivityRequest, token: str, stub: pb_grpc.TaskHubSidecarServiceStub
    ) -> None:
        try:
            if self._stopping:
                self._hand_to_pool(self._abandon, "activity", token, stub)
                return
            runner = self._runner
            assert runner is not None
            try:
                fn, ctx, value = runner.activity_call(req)
                output = fn(ctx, value)
                if hasattr(output, "__await__"):
                    output = await output
                resp = runner.activity_success(req, token, output)
            except asyncio.CancelledError:
                # Only at shutdown: hand the item back right away (the pools may be gone).
                self._abandon("activity", token, stub)
                raise
            except (Exception, SystemExit) as exc:
                self._log_activity_failure(req, exc)
                resp = runner.activity_failure(req, token, exc)
            # Started from the loop without waiting for the answer (no hand-off to a pool thread).
            self._start_completion(
                stub.CompleteActivityTask, resp, lambda err: self._activity_not_completed(resp, err)
            )
        finally:
            self._done_one()

    def _hand_to_pool(self, fn: Callable[..., None], *args: Any) -> None:
        # Blocking calls never run on the event loop thread.
        self._submit(self._activity_pool, fn, *args)

    def _complete_activity(self, resp: pb.ActivityResponse, stub: pb_grpc.TaskHubSidecarServiceStub) -> None:
        # A blocking call: this pool thread waits anyway, and a blocking call costs gRPC less CPU
        # than a future answered on another thread.
        try:
            stub.CompleteActivityTask(resp, metadata=self._metadata)
        except (grpc.RpcError, ValueError) as err:  # ValueError: the channel is closed
            self._activity_not_completed(resp, err)

    def _activity_not_completed(self, resp: pb.ActivityResponse, err: Any) -> None:
        self._logger.warning(
            "Could not complete activity %s#%d: %s", resp.instanceId, resp.taskId, _rpc_text(err)
        )

    def _log_activity_failure(self, req: pb.ActivityRequest, exc: BaseException) -> None:
        if isinstance(exc, ActivityNotRegisteredError):
            self._logger.warning("%s", exc)
        else:
            self._logger.info(
                "Activity %s (%s#%d) failed: %s: %s",
                req.name,
                req.orchestrationInstance.instanceId,
                req.taskId,
                type(exc).__name__,
                exc,
            )


def _rpc_text(err: grpc.RpcError) -> str:
    try:
        return f"{err.code()}: {err.details()}"  # type: ignore[attr-defined]
    except Exception:
        return str(err)
