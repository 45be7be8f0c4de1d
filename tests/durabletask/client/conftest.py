"""Fixtures for the client tests: a tiny recording gRPC server and (once present) the real emulator."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest
from google.protobuf import empty_pb2

from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask._proto import orchestrator_service_pb2_grpc as pb_grpc


class RecordingServicer(pb_grpc.TaskHubSidecarServiceServicer):
    """Answers Hello, GetInstance and StreamInstanceHistory; records every call's metadata."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()

    def _record(self, method: str, context: grpc.ServicerContext) -> None:
        md = {k: v for k, v in context.invocation_metadata()}
        with self.lock:
            self.calls.append((method, md))

    def Hello(self, request, context):
        self._record("Hello", context)
        return empty_pb2.Empty()

    def GetInstance(self, request, context):
        self._record("GetInstance", context)
        return pb.GetInstanceResponse(exists=False)

    def StreamInstanceHistory(self, request, context):
        self._record("StreamInstanceHistory", context)
        for i in range(3):
            yield pb.HistoryChunk(events=[pb.HistoryEvent(eventId=i)])


class RecordingServer:
    def __init__(self) -> None:
        self.servicer = RecordingServicer()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        pb_grpc.add_TaskHubSidecarServiceServicer_to_server(self.servicer, self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.address = f"127.0.0.1:{self.port}"

    def metadata_of(self, method: str) -> list[dict[str, str]]:
        with self.servicer.lock:
            return [md for m, md in self.servicer.calls if m == method]


@pytest.fixture
def recording_server() -> Iterator[RecordingServer]:
    rs = RecordingServer()
    rs.server.start()
    try:
        yield rs
    finally:
        rs.server.stop(None).wait(5)


@pytest.fixture
def fake_server():
    from client_fake_backend import FakeServer

    fs = FakeServer()
    fs.server.start()
    try:
        yield fs
    finally:
        fs.server.stop(None).wait(5)
