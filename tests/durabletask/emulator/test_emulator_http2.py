"""The emulator's own HTTP/2 transport (``transport="h2"``) through real sockets: flow control on large
unary and streaming responses, deadlines, cancelled streams, non-HTTP/2 clients, unknown methods, and
stopping with calls in flight."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Self

import grpc
import pytest

from conftest import RawStream, complete_orchestration, schedule, start
from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask._proto import orchestrator_service_pb2_grpc as pb_grpc
from durabletask.emulator import EmulatorServer, hpack

_BIG_INPUT = '"' + "x" * 2_000_000 + '"'  # ~2 MB: 30x HTTP/2's default 64 KiB window (the input limit is 2 MiB)
_SERVICE = "/TaskHubSidecarService/"
# What grpcio's C core sends (the raw client below speaks as one, so the transport serves it natively)
_USER_AGENT = hpack.literal("user-agent", f"grpc-python/{grpc.__version__} grpc-c/99.0.0 (linux; chttp2)")


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    s = EmulatorServer(db_path=None, port=0, transport="h2", health_ping_interval=0.5, abandon_delay=0.2)
    s.start()
    yield s
    s.stop(0)


@pytest.fixture
def channel(server: EmulatorServer) -> Iterator[grpc.Channel]:
    ch = grpc.insecure_channel(server.address)
    yield ch
    ch.close()


@pytest.fixture
def stub(channel: grpc.Channel) -> pb_grpc.TaskHubSidecarServiceStub:
    return pb_grpc.TaskHubSidecarServiceStub(channel)


def _start_big(stub: pb_grpc.TaskHubSidecarServiceStub, instance_id: str) -> None:
    req = pb.CreateInstanceRequest(instanceId=instance_id, name="orch")
    req.input.value = _BIG_INPUT
    assert stub.StartInstance(req, timeout=10).instanceId == instance_id


def _get(stub: pb_grpc.TaskHubSidecarServiceStub, instance_id: str) -> pb.GetInstanceResponse:
    return stub.GetInstance(pb.GetInstanceRequest(instanceId=instance_id, getInputsAndOutputs=True), timeout=5)


def _still_serving(server: EmulatorServer, calls: int = 3) -> None:
    """A fresh channel (a new connection) gets answers."""
    with grpc.insecure_channel(server.address) as ch:
        fresh = pb_grpc.TaskHubSidecarServiceStub(ch)
        for _ in range(calls):
            assert not _get(fresh, "nobody").exists


# ---------------------------------------------------------------------------------- flow control
def test_a_unary_response_larger_than_the_default_window_arrives_intact(
        stub: pb_grpc.TaskHubSidecarServiceStub) -> None:
    _start_big(stub, "big")
    resp = _get(stub, "big")
    assert resp.exists
    assert resp.orchestrationState.input.value == _BIG_INPUT


def test_concurrent_large_unary_responses_share_the_connection_window(
        stub: pb_grpc.TaskHubSidecarServiceStub) -> None:
    _start_big(stub, "big")
    req = pb.GetInstanceRequest(instanceId="big", getInputsAndOutputs=True)
    futures = [stub.GetInstance.future(req, timeout=10) for _ in range(4)]
    small = _get(stub, "nobody")  # a small call is not stuck behind the large ones
    assert not small.exists
    for future in futures:
        assert future.result().orchestrationState.input.value == _BIG_INPUT


def test_a_large_server_streaming_response_arrives_complete(stub: pb_grpc.TaskHubSidecarServiceStub) -> None:
    _start_big(stub, "big")
    worker = RawStream(stub)
    try:
        item = worker.next()
        assert item.orchestratorRequest.instanceId == "big"
        activity_inputs = [json.dumps(f"{i}" * 600_000) for i in range(1, 5)]
        complete_orchestration(stub, item, *[schedule(i, "act", json.loads(v))
                                              for i, v in enumerate(activity_inputs, 1)])
    finally:
        worker.close()
    chunks = list(stub.StreamInstanceHistory(pb.StreamInstanceHistoryRequest(instanceId="big"), timeout=10))
    assert len(chunks) > 1
    events = [e for chunk in chunks for e in chunk.events]
    kinds = [e.WhichOneof("eventType") for e in events]
    assert kinds == ["orchestratorStarted", "executionStarted"] + ["taskScheduled"] * 4 + ["orchestratorCompleted"]
    assert sum(chunk.ByteSize() for chunk in chunks) > 4_000_000
    state = _get(stub, "big").orchestrationState
    assert events[1].executionStarted.input.value == state.input.value == _BIG_INPUT
    assert [e.taskScheduled.input.value for e in events[2:6]] == activity_inputs
    assert [e.eventId for e in events[2:6]] == [1, 2, 3, 4]


def test_the_server_stops_at_the_client_window_and_resumes_on_window_update(
        server: EmulatorServer, stub: pb_grpc.TaskHubSidecarServiceStub) -> None:
    _start_big(stub, "big")
    with _RawH2(server.address) as raw:  # the default 65,535-byte windows, no automatic WINDOW_UPDATE
        stream_id = raw.send_call("GetInstance", pb.GetInstanceRequest(instanceId="big", getInputsAndOutputs=True))
        received = bytearray()
        try:
            while True:
                frame = raw.frame(timeout=0.3)
                assert frame is not None
                if frame[0] == _DATA and frame[2] == stream_id:
                    received += frame[3]
        except TimeoutError:
            pass
        assert len(received) == 65535  # the window filled exactly, and nothing beyond it was sent
        raw.auto_window_update = True
        raw.grant(stream_id, 65535)
        headers, data = raw.finish(stream_id, bytes(received))
    assert headers["grpc-status"] == "0"
    assert pb.GetInstanceResponse.FromString(data).orchestrationState.input.value == _BIG_INPUT


def test_a_small_initial_window_is_respected_for_a_streaming_response(
        server: EmulatorServer, stub: pb_grpc.TaskHubSidecarServiceStub) -> None:
    start(stub, "orch", "m" * 150_000, instance_id="mid")
    worker = RawStream(stub)
    try:
        complete_orchestration(stub, worker.next(), schedule(1, "act", "y" * 100_000))
    finally:
        worker.close()
    expected = [e for chunk in stub.StreamInstanceHistory(pb.StreamInstanceHistoryRequest(instanceId="mid"),
                                                           timeout=10) for e in chunk.events]
    # a 1,000-byte stream window (smaller than a message): every DATA frame is checked against what was granted
    with _RawH2(server.address, initial_window=1000) as raw:
        raw.auto_window_update = True
        headers, data = raw.call("StreamInstanceHistory", pb.StreamInstanceHistoryRequest(instanceId="mid"),
                                 several=True)
    assert headers["grpc-status"] == "0"
    events = [e for message in _messages(data) for e in pb.HistoryChunk.FromString(message).events]
    assert events == expected
    assert json.loads(events[1].executionStarted.input.value) == "m" * 150_000


def _messages(data: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos < len(data):
        assert data[pos] == 0
        length = int.from_bytes(data[pos + 1:pos + 5], "big")
        out.append(data[pos + 5:pos + 5 + length])
        pos += 5 + length
    assert pos == len(data)
    return out



# -------------------------------------------------------------------------------------- deadlines
def test_a_deadline_ends_a_parked_wait_and_the_server_goes_on(stub: pb_grpc.TaskHubSidecarServiceStub) -> None:
    start(stub, "orch", instance_id="pending")
    began = time.monotonic()
    with pytest.raises(grpc.RpcError) as info:
        stub.WaitForInstanceCompletion(pb.GetInstanceRequest(instanceId="pending"), timeout=0.5)
    elapsed = time.monotonic() - began
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert 0.4 <= elapsed < 1.5
    for _ in range(20):
        resp = _get(stub, "pending")
        assert resp.exists and resp.orchestrationState.orchestrationStatus == pb.ORCHESTRATION_STATUS_PENDING


def test_the_server_enforces_grpc_timeout_itself(server: EmulatorServer,
                                                 stub: pb_grpc.TaskHubSidecarServiceStub) -> None:
    # A raw client sets grpc-timeout but never gives up on its own: the answer must come from the server.
    start(stub, "orch", instance_id="pending")
    with _RawH2(server.address) as raw:
        began = time.monotonic()
        status, _ = raw.call("WaitForInstanceCompletion", pb.GetInstanceRequest(instanceId="pending"),
                             timeout="300m")
        elapsed = time.monotonic() - began
        assert status["grpc-status"] == str(grpc.StatusCode.DEADLINE_EXCEEDED.value[0])
        assert 0.2 <= elapsed < 1.5
        # the same connection serves the next call
        status, data = raw.call("GetInstance", pb.GetInstanceRequest(instanceId="pending"))
        assert status["grpc-status"] == "0"
        assert pb.GetInstanceResponse.FromString(data).exists


# ---------------------------------------------------------------------------------- cancellation
def test_a_cancelled_work_item_stream_is_closed_and_a_new_one_gets_work() -> None:
    # No health pings (30 s): a stream the server failed to close would hold on for that long.
    with EmulatorServer(db_path=None, port=0, transport="h2", health_ping_interval=30) as server, \
            grpc.insecure_channel(server.address) as channel:
        stub = pb_grpc.TaskHubSidecarServiceStub(channel)
        start(stub, "orch", instance_id="before-cancel")
        first = stub.GetWorkItems(pb.GetWorkItemsRequest())
        message = next(first)
        assert isinstance(message, pb.WorkItem)
        assert message.orchestratorRequest.instanceId == "before-cancel"
        first.cancel()
        with pytest.raises(grpc.RpcError) as info:
            next(first)
        assert info.value.code() == grpc.StatusCode.CANCELLED
        deadline = time.monotonic() + 1.0
        while server.engine.streams and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not server.engine.streams, "the server kept the cancelled stream open"
        second = RawStream(stub)  # the same channel, so the same HTTP/2 connection
        try:
            start(stub, "orch", instance_id="after-cancel")
            seen = []
            while "after-cancel" not in seen:
                seen.append(second.next(timeout=2).orchestratorRequest.instanceId)
        finally:
            second.close()


# ------------------------------------------------------------------------------ non-gRPC clients
def _read_until_closed(sock: socket.socket, limit: float = 2.5) -> bytes:
    sock.settimeout(limit)
    data = bytearray()
    while True:
        try:
            part = sock.recv(65536)
        except ConnectionResetError:
            break
        except TimeoutError:
            pytest.fail(f"the server did not close the connection within {limit} s (got {bytes(data)!r})")
        if not part:
            break
        data += part
    return bytes(data)


def test_an_http1_request_is_answered_400_and_closed(server: EmulatorServer,
                                                      stub: pb_grpc.TaskHubSidecarServiceStub) -> None:
    host, port = server.address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=2.5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = _read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:80]
    assert not _get(stub, "nobody").exists
    _still_serving(server)


@pytest.mark.parametrize("garbage", [
    pytest.param(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40, id="tls-client-hello"),
    pytest.param(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n", id="almost-the-preface"),
    pytest.param(b"hello", id="short"),
])
def test_a_connection_without_the_http2_preface_is_closed(server: EmulatorServer,
                                                           stub: pb_grpc.TaskHubSidecarServiceStub,
                                                           garbage: bytes) -> None:
    host, port = server.address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=2.5) as sock:
        sock.sendall(garbage)
        _read_until_closed(sock)
    assert not _get(stub, "nobody").exists
    _still_serving(server)


def test_a_protocol_error_after_the_preface_gets_goaway_and_close(server: EmulatorServer,
                                                                  stub: pb_grpc.TaskHubSidecarServiceStub) -> None:
    with _RawH2(server.address) as raw:
        # HEADERS on an even (server-initiated) stream id
        raw.send(_HEADERS, _END_HEADERS, 2, b"\x83\x86" + hpack.literal(":path", _SERVICE + "GetInstance")
                 + hpack.literal("content-type", "application/grpc") + _USER_AGENT)
        frames = raw.frames_until_closed()
    goaways = [payload for kind, _, _, payload in frames if kind == _GOAWAY]
    assert goaways, frames
    assert struct.unpack(">II", goaways[-1][:8])[1] == 0x1  # PROTOCOL_ERROR
    _still_serving(server)


# --------------------------------------------------------------------------------- unknown method
def test_an_unknown_method_is_unimplemented(channel: grpc.Channel, stub: pb_grpc.TaskHubSidecarServiceStub) -> None:
    call = channel.unary_unary(_SERVICE + "NoSuchMethod")
    with pytest.raises(grpc.RpcError) as info:
        call(b"", timeout=5)
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert not _get(stub, "nobody").exists


# --------------------------------------------------------------------------------------- stopping
def test_stop_with_a_parked_wait_ends_it_promptly(server: EmulatorServer,
                                                  stub: pb_grpc.TaskHubSidecarServiceStub) -> None:
    start(stub, "orch", instance_id="pending")
    waiting = stub.WaitForInstanceCompletion.future(pb.GetInstanceRequest(instanceId="pending"), timeout=30)
    time.sleep(0.2)  # parked on the server
    assert not waiting.done()
    began = time.monotonic()
    stopper = threading.Thread(target=server.stop, kwargs={"grace": 2}, daemon=True)
    stopper.start()
    try:
        error = waiting.exception(timeout=10)
        elapsed = time.monotonic() - began
    finally:
        stopper.join(10)
    assert isinstance(error, grpc.RpcError)
    assert error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
    assert elapsed < 2.5
    assert not stopper.is_alive()


def test_stop_with_an_open_work_item_stream_ends_it(server: EmulatorServer,
                                                    stub: pb_grpc.TaskHubSidecarServiceStub) -> None:
    worker = RawStream(stub, skip_pings=False)
    assert worker.next().HasField("healthPing")
    began = time.monotonic()
    server.stop(grace=2)
    assert time.monotonic() - began < 2.5
    worker.thread.join(2.5)
    assert not worker.thread.is_alive()
    assert worker.error is not None
    assert worker.error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)


# ------------------------------------------------------------------------------- a raw HTTP/2 peer
_DATA, _HEADERS, _SETTINGS, _GOAWAY, _WINDOW_UPDATE = 0x0, 0x1, 0x4, 0x7, 0x8
_SETTINGS_INITIAL_WINDOW_SIZE = 0x4
_END_STREAM, _ACK, _END_HEADERS = 0x1, 0x1, 0x4


class _RawH2:
    """Just enough of an HTTP/2 client to send calls the way grpcio's C core does (plain literals), and to
    check the server's DATA against the flow-control windows it was granted."""

    def __init__(self, address: str, initial_window: int | None = None) -> None:
        host, port = address.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=2.5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        settings = b"" if initial_window is None else struct.pack(">HI", _SETTINGS_INITIAL_WINDOW_SIZE,
                                                                 initial_window)
        self.send(_SETTINGS, 0, 0, settings)
        self.initial_window = 65535 if initial_window is None else initial_window
        self.connection_window = 65535
        self.windows: dict[int, int] = {}
        self.auto_window_update = False
        self.decoder = hpack.Decoder()
        self.buffer = bytearray()
        self.next_stream = 1

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def send(self, kind: int, flags: int, stream_id: int, payload: bytes = b"") -> None:
        self.sock.sendall(len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream_id.to_bytes(4, "big")
                          + payload)

    def grant(self, stream_id: int, increment: int) -> None:
        """WINDOW_UPDATE for the connection and the stream."""
        self.send(_WINDOW_UPDATE, 0, 0, increment.to_bytes(4, "big"))
        self.send(_WINDOW_UPDATE, 0, stream_id, increment.to_bytes(4, "big"))
        self.connection_window += increment
        self.windows[stream_id] += increment

    def frame(self, timeout: float = 2.5) -> tuple[int, int, int, bytes] | None:
        """The next frame (None once the server closed the connection); TimeoutError if none comes."""
        self.sock.settimeout(timeout)
        while True:
            if len(self.buffer) >= 9:
                length = int.from_bytes(self.buffer[:3], "big")
                if len(self.buffer) >= 9 + length:
                    head, payload = bytes(self.buffer[:9]), bytes(self.buffer[9:9 + length])
                    del self.buffer[:9 + length]
                    kind, flags, sid = head[3], head[4], int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
                    if kind == _SETTINGS and not flags & _ACK:
                        self.send(_SETTINGS, _ACK, 0)
                    elif kind == _DATA and sid in self.windows:
                        size = len(payload)
                        assert size <= self.connection_window, "DATA beyond the connection window"
                        assert size <= self.windows[sid], "DATA beyond the stream window"
                        self.connection_window -= size
                        self.windows[sid] -= size
                        if self.auto_window_update and size:
                            self.grant(sid, size)
                    return kind, flags, sid, payload
            try:
                part = self.sock.recv(65536)
            except ConnectionResetError:
                return None
            if not part:
                return None
            self.buffer += part

    def frames_until_closed(self) -> list[tuple[int, int, int, bytes]]:
        frames = []
        while (frame := self.frame()) is not None:
            frames.append(frame)
        return frames

    def send_call(self, method: str, request: object, timeout: str | None = None) -> int:
        stream_id = self.next_stream
        self.next_stream += 2
        self.windows[stream_id] = self.initial_window
        block = (hpack.literal(":method", "POST") + hpack.literal(":scheme", "http")
                 + hpack.literal(":path", _SERVICE + method) + hpack.literal(":authority", "raw")
                 + hpack.literal("content-type", "application/grpc") + hpack.literal("te", "trailers")
                 + _USER_AGENT)
        if timeout is not None:
            block += hpack.literal("grpc-timeout", timeout)
        message = request.SerializeToString()  # type: ignore[attr-defined]
        self.send(_HEADERS, _END_HEADERS, stream_id, block)
        self.send(_DATA, _END_STREAM, stream_id, b"\x00" + len(message).to_bytes(4, "big") + message)
        return stream_id

    def finish(self, stream_id: int, data: bytes = b"", several: bool = False) -> tuple[dict[str, str], bytes]:
        """Reads the call's answer: its headers and trailers, and its message (or, if ``several``, the raw
        length-prefixed messages)."""
        headers: dict[str, str] = {}
        body = bytearray(data)
        while True:
            frame = self.frame()
            assert frame is not None, "the server closed the connection during a call"
            kind, flags, sid, payload = frame
            if sid != stream_id:
                continue
            if kind == _HEADERS:
                assert flags & _END_HEADERS
                headers.update(self.decoder.decode(payload))
                if flags & _END_STREAM:
                    break
            elif kind == _DATA:
                body += payload
        if several or not body:
            return headers, bytes(body)
        assert body[0] == 0 and int.from_bytes(body[1:5], "big") == len(body) - 5
        return headers, bytes(body[5:])

    def call(self, method: str, request: object, timeout: str | None = None,
             several: bool = False) -> tuple[dict[str, str], bytes]:
        return self.finish(self.send_call(method, request, timeout), several=several)
