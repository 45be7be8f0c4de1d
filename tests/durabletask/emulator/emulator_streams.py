"""Context managers for the emulator's raw-gRPC tests: a work-item stream or a server's stub, closed on exit."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import grpc

from conftest import RawStream, start
from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask._proto import orchestrator_service_pb2_grpc as pb_grpc
from durabletask.emulator import EmulatorServer

Stub = pb_grpc.TaskHubSidecarServiceStub


@contextmanager
def open_stream(stub: Stub, request: pb.GetWorkItemsRequest | None = None,
                metadata: tuple[tuple[str, str], ...] = (), skip_pings: bool = True) -> Iterator[RawStream]:
    """A :class:`RawStream` on ``stub``, closed when the block ends."""
    s = RawStream(stub, request, metadata, skip_pings)
    try:
        yield s
    finally:
        s.close()


@contextmanager
def started_stream(stub: Stub, name: str = "orch", value: Any = None) -> Iterator[RawStream]:
    """Start instance ``i1`` of ``name``, then open a stream (its first item is that instance's)."""
    start(stub, name, value)
    with open_stream(stub) as s:
        yield s


@contextmanager
def server_stub(make_server: Callable[..., EmulatorServer], **options: Any) -> Iterator[Stub]:
    """A stub on a new server made with ``options``; its channel is closed when the block ends."""
    server = make_server(**options)
    channel = grpc.insecure_channel(server.address)
    try:
        yield pb_grpc.TaskHubSidecarServiceStub(channel)
    finally:
        channel.close()
