"""Whatever a client sends after the HTTP/2 preface, the h2 transport neither crashes nor stops serving.

Random frames (any type, flags, stream id and payload, including truncated and oversized lengths)
follow a grpcio-like preface, so the native path reads them. Each connection may be answered, reset
or closed; none may raise out of the protocol (asyncio would log "Fatal error") or take the server down.
"""

from __future__ import annotations

import logging
import socket
import struct
from collections.abc import Iterator

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from raw_http2 import GRPC_CORE_SETTING, PREFACE, SETTINGS, frame

from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask._proto import orchestrator_service_pb2_grpc as pb_grpc
from durabletask.emulator import EmulatorServer

GRPC_CORE_SETTINGS = frame(SETTINGS, 0, 0, GRPC_CORE_SETTING)

frames = st.builds(
    lambda kind, flags, stream, payload, lie: (struct.pack(">I", max(0, len(payload) + lie))[1:]
                                               + bytes([kind, flags]) + struct.pack(">I", stream) + payload),
    kind=st.integers(0, 12), flags=st.integers(0, 255),
    stream=st.sampled_from([0, 1, 2, 3, 5, 0x7FFFFFFF, 0xFFFFFFFF]),
    payload=st.binary(max_size=64), lie=st.sampled_from([0, 0, 0, -1, 1, 100]))


@pytest.fixture(scope="module")
def h2_server() -> Iterator[EmulatorServer]:
    server = EmulatorServer(db_path=None, port=0, transport="h2")
    server.start()
    yield server
    server.stop(0)


def _exchange(port: int, data: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(PREFACE + GRPC_CORE_SETTINGS + data)
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(0.3)
        try:
            while sock.recv(65536):
                pass
        except (TimeoutError, ConnectionResetError):
            pass


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=st.lists(frames, max_size=6))
def test_random_frames_never_break_the_server(h2_server: EmulatorServer, sequence: list[bytes],
                                              caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        _exchange(h2_server.port, b"".join(sequence))
    fatal = [r for r in caplog.records if r.name == "asyncio" and r.levelno >= logging.ERROR]
    assert not fatal, fatal[0].getMessage()


def test_the_server_still_serves_after_the_garbage(h2_server: EmulatorServer) -> None:
    _exchange(h2_server.port, b"\x00\x00\x05\x01\x04\x00\x00\x00\x01\xff\xff\xff\xff\xff")
    with grpc.insecure_channel(h2_server.address) as channel:
        stub = pb_grpc.TaskHubSidecarServiceStub(channel)
        assert stub.GetInstance(pb.GetInstanceRequest(instanceId="nobody"), timeout=5).exists is False
