"""Odd but possible input to the emulator's own HTTP/2 transport (:mod:`durabletask.emulator.http2`):
empty header names, malformed ``grpc-timeout`` values, a stop while an answer waits for the client's
window. (Found by a review; each test failed before its fix.)

Each test drives a real :class:`Http2Server` (on its own event loop thread, real sockets) with a raw
HTTP/2 client that announces grpcio's C-core setting (0xFE03), so the native path serves it. The routes
are tiny: ``/t.S/Echo`` answers its request, ``/t.S/Big`` answers 1000 bytes.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest

from durabletask.emulator import hpack, http2

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE = 0, 1, 3, 4, 6, 7, 8
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
GRPC_CORE = struct.pack(">HI", 0xFE03, 1)
BIG = 1000


def frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def message(body: bytes) -> bytes:
    return b"\x00" + len(body).to_bytes(4, "big") + body


def request_block(path: str, *extra: tuple[str, str]) -> bytes:
    block = (b"\x83\x86"  # :method POST, :scheme http
             + hpack.literal(":path", path, name_index=4)
             + hpack.literal(":authority", "localhost", name_index=1)
             + hpack.literal("content-type", "application/grpc", name_index=31)
             + hpack.literal("te", "trailers")
             + hpack.literal("user-agent", "grpc-python/1 grpc-c/50.0.0 (linux; chttp2)", name_index=58))
    for name, value in extra:
        block += hpack.literal(name, value)
    return block


class Loop:
    """An Http2Server on an event loop in a thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.release = asyncio.Event()

        async def echo(request: bytes, context: http2.CallContext) -> bytes:
            return request

        async def big(request: bytes, context: http2.CallContext) -> bytes:
            return b"x" * BIG

        async def make() -> tuple[http2.Http2Server, int]:
            routes = http2.routes_for("t.S", {
                "Echo": (echo, bytes, bytes, False),
                "Big": (big, bytes, bytes, False),
            })
            server = http2.Http2Server(routes, max_message=1 << 20)
            return server, await server.listen("127.0.0.1", 0)

        self.server, self.port = self.run(make())

    def run(self, coro, timeout: float = 10):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def submit(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def close(self) -> None:
        try:
            self.run(self.server.stop(0))
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
            self.loop.close()


@pytest.fixture
def h2() -> Iterator[Loop]:
    loop = Loop()
    yield loop
    loop.close()


class Client:
    def __init__(self, port: int, settings: bytes = b"") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buffer = b""
        self.decoder = hpack.Decoder()
        self.sock.sendall(PREFACE + frame(SETTINGS, 0, 0, GRPC_CORE + settings))

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def frame(self, deadline: float) -> tuple[int, int, int, bytes]:
        while True:
            if len(self.buffer) >= 9:
                length = int.from_bytes(self.buffer[:3], "big")
                if len(self.buffer) >= 9 + length:
                    head, self.buffer = self.buffer[:9 + length], self.buffer[9 + length:]
                    return head[3], head[4], int.from_bytes(head[5:9], "big") & 0x7FFFFFFF, head[9:]
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buffer += chunk

    def call_result(self, stream_id: int, timeout: float = 5.0) -> tuple[dict[str, str], bytes]:
        deadline = time.monotonic() + timeout
        headers: dict[str, str] = {}
        data = b""
        while True:
            kind, flags, sid, payload = self.frame(deadline)
            if kind == SETTINGS and not flags & ACK:
                self.send(frame(SETTINGS, ACK, 0))
            if sid != stream_id:
                continue
            if kind == HEADERS:
                headers.update(self.decoder.decode(payload))
            elif kind == DATA:
                data += payload
            elif kind == RST_STREAM:
                return {"rst": str(int.from_bytes(payload, "big"))}, data
            if flags & END_STREAM:
                return headers, data

    def call(self, stream_id: int, path: str, body: bytes, *extra: tuple[str, str]) -> None:
        self.send(frame(HEADERS, END_HEADERS, stream_id, request_block(path, *extra))
                  + frame(DATA, END_STREAM, stream_id, message(body)))

    def close(self) -> None:
        self.sock.close()


def _echo_still_works(client: Client, stream_id: int) -> None:
    client.call(stream_id, "/t.S/Echo", b"ping")
    headers, data = client.call_result(stream_id)
    assert headers.get("grpc-status") == "0", headers
    assert data == message(b"ping")


def test_sanity_echo_on_the_native_path(h2: Loop) -> None:
    client = Client(h2.port)
    try:
        _echo_still_works(client, 1)
    finally:
        client.close()


# ------------------------------------------------------------------ exceptions out of data_received
def test_an_empty_header_name_does_not_kill_the_connection(h2: Loop, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="asyncio")
    client = Client(h2.port)
    try:
        _echo_still_works(client, 1)
        empty_name = b"\x00" + hpack.encode_int(0, 7) + hpack.encode_int(1, 7) + b"v"
        client.send(frame(HEADERS, END_HEADERS, 3, request_block("/t.S/Echo") + empty_name)
                    + frame(DATA, END_STREAM, 3, message(b"a")))
        client.call_result(3)  # a stream error (RST_STREAM) or a gRPC status: either is fine
        _echo_still_works(client, 5)
    finally:
        client.close()
    assert "Fatal error" not in caplog.text


@pytest.mark.parametrize("timeout", ["\u00b2S", "9" * 400 + "H", "1" * 5000 + "S"])
def test_a_strange_grpc_timeout_does_not_kill_the_connection(h2: Loop, timeout: str,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="asyncio")
    client = Client(h2.port)
    try:
        _echo_still_works(client, 1)
        client.send(frame(HEADERS, END_HEADERS, 3, request_block("/t.S/Echo")
                          + hpack.literal("grpc-timeout", timeout.encode("latin-1")))
                    + frame(DATA, END_STREAM, 3, message(b"a")))
        client.call_result(3)
        _echo_still_works(client, 5)
    finally:
        client.close()
    assert "Fatal error" not in caplog.text


# ----------------------------------------------------------------------------- stop(grace)
def test_stop_with_grace_delivers_a_unary_response_held_by_flow_control(h2: Loop) -> None:
    client = Client(h2.port, struct.pack(">HI", 0x4, 100))  # SETTINGS_INITIAL_WINDOW_SIZE = 100
    stopping = None
    try:
        client.call(1, "/t.S/Big", b"")
        deadline = time.monotonic() + 5
        received = b""
        while len(received) < 100:
            kind, flags, sid, payload = client.frame(deadline)
            if kind == SETTINGS and not flags & ACK:
                client.send(frame(SETTINGS, ACK, 0))
            if kind == DATA and sid == 1:
                received += payload
        assert len(received) == 100  # the rest waits for a WINDOW_UPDATE
        stopping = h2.submit(h2.server.stop(5.0))
        time.sleep(0.3)
        client.send(frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 10_000)))
        headers, data = client.call_result(1)
        assert headers.get("grpc-status") == "0", headers
        assert received + data == message(b"x" * BIG)
    finally:
        client.close()
        if stopping is not None:
            stopping.result(10)
