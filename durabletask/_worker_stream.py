"""The worker's connection to the backend: Hello, the GetWorkItems stream, reconnects, watchdog.

:class:`WorkItemStreamLoop` runs on the worker's background thread. It says Hello (30 s deadline),
opens the ``GetWorkItems`` stream and hands every work item to a callback. A clean end of the stream
reconnects at once; errors reconnect after a full-jitter backoff (base 1 s, cap 30 s). A watchdog
cancels a stream that has been silent for longer than the silent-disconnect timeout (120 s by
default; any work item or health ping counts as a sign of life).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import grpc
from google.protobuf import empty_pb2

from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask._proto import orchestrator_service_pb2_grpc as pb_grpc

__all__ = ["StreamSettings", "WorkItemStreamLoop", "backoff_delay"]

#: Status codes after which the connection is considered broken (a new Hello follows).
_TRANSPORT_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


def backoff_delay(
    attempt: int, base: float = 1.0, cap: float = 30.0, rng: random.Random | None = None
) -> float:
    """Full-jitter exponential backoff: uniform in ``[0, min(cap, base * 2**attempt)]``."""
    attempt = max(attempt, 0)
    ceiling = min(cap, base * (2 ** min(attempt, 30)))
    return (rng or random).uniform(0.0, ceiling)


class StreamSettings:
    """Timing knobs of the stream loop (read from ``GrpcWorkerResiliencyOptions`` when given)."""

    def __init__(self, resiliency_options: Any = None) -> None:
        def pick(names: Sequence[str], default: float) -> float:
            for name in names:
                value = getattr(resiliency_options, name, None)
                if value is not None:
                    return float(value.total_seconds() if hasattr(value, "total_seconds") else value)
            return default

        self.hello_timeout = pick(("hello_timeout_seconds", "hello_timeout"), 30.0)
        self.silent_disconnect_timeout = pick(
            ("silent_disconnect_timeout_seconds", "silent_disconnect_timeout"), 120.0
        )
        self.backoff_base = pick(("reconnect_backoff_base_seconds", "backoff_base_seconds"), 1.0)
        self.backoff_cap = pick(("reconnect_backoff_cap_seconds", "backoff_cap_seconds"), 30.0)
        self.min_recreate_interval = pick(("min_recreate_interval_seconds",), 30.0)
        self.channel_recreate_failures = int(
            pick(("channel_recreate_failure_threshold", "max_transport_failures"), 5)
        )


class WorkItemStreamLoop:
    """Keeps a GetWorkItems stream open until :meth:`stop` and feeds its items to ``on_item``.

    ``channel_factory`` gives a fresh channel (called again after repeated transport failures when
    the worker owns the channel). ``on_item(item, stub)`` must return quickly: it only dispatches.
    """

    def __init__(
        self,
        *,
        channel_factory: Callable[[], grpc.Channel],
        owns_channel: bool,
        metadata: Sequence[tuple[str, str]] | None,
        request_factory: Callable[[], pb.GetWorkItemsRequest],
        on_item: Callable[[pb.WorkItem, pb_grpc.TaskHubSidecarServiceStub], None],
        settings: StreamSettings,
        logger: logging.Logger,
    ) -> None:
        self._channel_factory = channel_factory
        self._owns_channel = owns_channel
        self._metadata = list(metadata) if metadata else None
        self._request_factory = request_factory
        self._on_item = on_item
        self.settings = settings
        self._log = logger
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._stream: Any = None
        self._pending_hello: Any = None
        self._last_seen = time.monotonic()
        self._watchdog_fired = False
        self._stream_had_items = False
        self.channel: grpc.Channel | None = None
        self.stub: pb_grpc.TaskHubSidecarServiceStub | None = None
        #: Set whenever a stream is open (tests and ``start`` wait on it).
        self.connected = threading.Event()
        #: Number of streams opened so far.
        self.connections = 0

    # -- control -------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to end and cancel the open stream (if any)."""
        self._stop.set()
        with self._lock:
            calls = (self._stream, self._pending_hello)
        for call in calls:
            if call is not None:
                call.cancel()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def close_channel(self) -> None:
        """Close the channel if the worker created it."""
        if self._owns_channel and self.channel is not None:
            try:
                self.channel.close()
            except Exception:  # closing twice or mid-call is harmless
                pass
        self.channel = None
        self.stub = None

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> None:
        """Connect, read, reconnect; returns after :meth:`stop`."""
        watchdog = threading.Thread(target=self._watchdog, name="durabletask-worker-watchdog", daemon=True)
        watchdog.start()
        attempt = 0
        transport_failures = 0
        last_recreate = float("-inf")
        try:
            while not self._stop.is_set():
                try:
                    if self.channel is None:
                        # Inside the try: a failing factory (e.g. credentials) means retry, not a dead thread.
                        self.channel = self._channel_factory()
                        self.stub = pb_grpc.TaskHubSidecarServiceStub(self.channel)
                    got_items = self._run_one_stream()
                    # A clean end: reconnect at once.
                    attempt = 0
                    transport_failures = 0
                    if not got_items:
                        # Guard against a backend that ends streams immediately (hot loop).
                        self._stop.wait(0.05)
                    continue
                except grpc.RpcError as err:
                    code = err.code() if hasattr(err, "code") else None
                    if self._stop.is_set():
                        break
                    if self._stream_had_items:
                        # The connection worked for a while: start the backoff over.
                        attempt = 0
                        transport_failures = 0
                    if code in _TRANSPORT_CODES:
                        transport_failures += 1
                    reason = "silent disconnect" if self._watchdog_fired else f"{code}: {_details(err)}"
                    self._log.info("Work item stream ended (%s); reconnecting", reason)
                except Exception:
                    if self._stop.is_set():
                        break
                    self._log.exception("Unexpected error in the work item stream; reconnecting")
                finally:
                    self.connected.clear()
                    with self._lock:
                        self._stream = None
                if (
                    self._owns_channel
                    and self.settings.channel_recreate_failures > 0
                    and transport_failures >= self.settings.channel_recreate_failures
                    and time.monotonic() - last_recreate >= self.settings.min_recreate_interval
                ):
                    last_recreate = time.monotonic()
                    self._log.info(
                        "Recreating the gRPC channel after %d transport failures", transport_failures
                    )
                    self.close_channel()
                    transport_failures = 0
                delay = backoff_delay(attempt, self.settings.backoff_base, self.settings.backoff_cap)
                attempt += 1
                if self._stop.wait(delay):
                    break
        finally:
            self._stop.set()
            watchdog.join(timeout=5)

    def _run_one_stream(self) -> bool:
        stub = self.stub
        assert stub is not None
        hello = stub.Hello.future(
            empty_pb2.Empty(), timeout=self.settings.hello_timeout, metadata=self._metadata
        )
        with self._lock:
            self._pending_hello = hello
        try:
            if self._stop.is_set():
                hello.cancel()
            hello.result()
        except grpc.FutureCancelledError:
            return False
        finally:
            with self._lock:
                self._pending_hello = None
        if self._stop.is_set():
            return False
        stream = stub.GetWorkItems(self._request_factory(), metadata=self._metadata)
        with self._lock:
            self._stream = stream
            self._watchdog_fired = False
            self._last_seen = time.monotonic()
        if self._stop.is_set():
            stream.cancel()
        self.connections += 1
        self.connected.set()
        self._log.info("Connected to the backend; waiting for work items")
        got_items = False
        self._stream_had_items = False
        on_item = self._on_item
        for item in stream:
            self._last_seen = time.monotonic()
            if not got_items:
                got_items = self._stream_had_items = True
            on_item(item, stub)
        self._log.info("The backend ended the work item stream")
        return got_items

    def _watchdog(self) -> None:
        timeout = self.settings.silent_disconnect_timeout
        if timeout <= 0:
            return  # watchdog disabled
        poll = max(0.01, min(1.0, timeout / 4))
        while not self._stop.wait(poll):
            with self._lock:
                stream = self._stream
                silent_for = time.monotonic() - self._last_seen
                if stream is None or silent_for < timeout:
                    continue
                self._watchdog_fired = True
                self._stream = None
            self._log.info("No message from the backend for %.1f s; reconnecting", silent_for)
            stream.cancel()


def _details(err: grpc.RpcError) -> str:
    try:
        return str(err.details())  # type: ignore[attr-defined]
    except Exception:
        return str(err)
