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
import struct
import threading
import time
from collections.abc import Iterator

import pytest
from raw_http2 import (
    ACK,
    DATA,
    END_HEADERS,
    END_STREAM,
    GRPC_CORE_SETTING,
    HEADERS,
    PREFACE,
    SETTINGS,
    WINDOW_UPDATE,
    RawClient,
    frame,
    message,
)

from durabletask.emulator import hpack, http2

BIG = 1000


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


class Client(RawClient):
    """A raw client that announces itself as grpcio's C core (served natively)."""

    def __init__(self, port: int, settings: bytes = b"") -> None:
        super().__init__(port)
        self.send(PREFACE + frame(SETTINGS, 0, 0, GRPC_CORE_SETTING + settings))

    def call(self, stream_id: int, path: str, body: bytes, *extra: tuple[str, str]) -> None:
        self.send(frame(HEADERS, END_HEADERS, stream_id, request_block(path, *extra))
                  + frame(DATA, END_STREAM, stream_id, message(body)))


def _echo_still_works(client: Client, stream_id: int) -> None:
    client.call(stream_id, "/t.S/Echo", b"ping")
    headers, data = client.answer(stream_id)
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
        client.answer(3)  # a stream error (RST_STREAM) or a gRPC status: either is fine
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
        client.answer(3)
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
            kind, flags, sid, payload = client.frames(deadline)
            if kind == SETTINGS and not flags & ACK:
                client.send(frame(SETTINGS, ACK, 0))
            if kind == DATA and sid == 1:
                received += payload
        assert len(received) == 100  # the rest waits for a WINDOW_UPDATE
        stopping = h2.submit(h2.server.stop(5.0))
        time.sleep(0.3)
        client.send(frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 10_000)))
        headers, data = client.answer(1)
        assert headers.get("grpc-status") == "0", headers
        assert received + data == message(b"x" * BIG)
    finally:
        client.close()
        if stopping is not None:
            stopping.result(10)
