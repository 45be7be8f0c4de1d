"""The do-nothing chain backend of ``_null_backend.py``, served without grpcio: a minimal HTTP/2 on asyncio.

A probe, not a product. It answers one question: how much of a backend's cost per orchestration is
grpcio's server machinery (its poller thread, completion queue events and asyncio hops)? It serves the
same :class:`NullBackend` handlers as ``_null_backend.py`` over a hand-written HTTP/2 connection handler
(one asyncio protocol per connection, no threads), so running the chain workload against both shows the
transport's share:

    python bench/_h2_null_backend.py --port PORT     # stops on SIGTERM
    python bench/throughput.py --only c,n,h          # h: our SDK on this probe (n: the published SDK on grpc.aio)

What it speaks: the connection preface, SETTINGS, PING, WINDOW_UPDATE (both directions), RST_STREAM,
GOAWAY; HEADERS/CONTINUATION with an HPACK decoder (static and dynamic table); gRPC unary and
server-streaming calls with uncompressed messages. What it does not: HPACK Huffman-coded strings (a
request using them is refused, and the count of such strings is printed at exit), compression,
deadlines, TLS, priorities. Never use it for anything but this benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import struct
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from _null_backend import NullBackend
from google.protobuf import empty_pb2

from durabletask._proto import orchestrator_service_pb2 as pb

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x1, 0x4, 0x8, 0x20
SETTINGS_HEADER_TABLE_SIZE, SETTINGS_INITIAL_WINDOW_SIZE, SETTINGS_MAX_FRAME_SIZE = 0x1, 0x4, 0x5
MAX_WINDOW = 2**31 - 1
FRAME = struct.Struct(">I B I")  # the 24-bit length is packed into the first word with the type

# RFC 7541, appendix A: the static table (index 1..61).
STATIC = [
    (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"), (":path", "/index.html"),
    (":scheme", "http"), (":scheme", "https"), (":status", "200"), (":status", "204"), (":status", "206"),
    (":status", "304"), (":status", "400"), (":status", "404"), (":status", "500"), ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"), ("accept-language", ""), ("accept-ranges", ""), ("accept", ""),
    ("access-control-allow-origin", ""), ("age", ""), ("allow", ""), ("authorization", ""),
    ("cache-control", ""), ("content-disposition", ""), ("content-encoding", ""), ("content-language", ""),
    ("content-length", ""), ("content-location", ""), ("content-range", ""), ("content-type", ""),
    ("cookie", ""), ("date", ""), ("etag", ""), ("expect", ""), ("expires", ""), ("from", ""), ("host", ""),
    ("if-match", ""), ("if-modified-since", ""), ("if-none-match", ""), ("if-range", ""),
    ("if-unmodified-since", ""), ("last-modified", ""), ("link", ""), ("location", ""), ("max-forwards", ""),
    ("proxy-authenticate", ""), ("proxy-authorization", ""), ("range", ""), ("referer", ""), ("refresh", ""),
    ("retry-after", ""), ("server", ""), ("set-cookie", ""), ("strict-transport-security", ""),
    ("transfer-encoding", ""), ("user-agent", ""), ("vary", ""), ("via", ""), ("www-authenticate", ""),
]
HUFFMAN_SEEN = 0


class HuffmanCoded(Exception):
    """A header string used HPACK's Huffman code, which this probe does not decode."""


class Decoder:
    """HPACK header-block decoder with its dynamic table."""

    def __init__(self) -> None:
        self.table: list[tuple[str, str]] = []
        self.size = 0
        self.max_size = 4096

    def _int(self, data: bytes, pos: int, bits: int) -> tuple[int, int]:
        mask = (1 << bits) - 1
        value = data[pos] & mask
        pos += 1
        if value < mask:
            return value, pos
        shift = 0
        while True:
            byte = data[pos]
            pos += 1
            value += (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value, pos

    def _str(self, data: bytes, pos: int) -> tuple[str, int]:
        global HUFFMAN_SEEN
        huffman = data[pos] & 0x80
        length, pos = self._int(data, pos, 7)
        if huffman:
            HUFFMAN_SEEN += 1
            raise HuffmanCoded
        return data[pos:pos + length].decode("latin-1"), pos + length

    def _get(self, index: int) -> tuple[str, str]:
        if index <= len(STATIC):
            return STATIC[index - 1]
        return self.table[index - len(STATIC) - 1]

    def _add(self, name: str, value: str) -> None:
        self.table.insert(0, (name, value))
        self.size += len(name) + len(value) + 32
        self._evict()

    def _evict(self) -> None:
        while self.size > self.max_size and self.table:
            name, value = self.table.pop()
            self.size -= len(name) + len(value) + 32

    def decode(self, data: bytes) -> list[tuple[str, str]]:
        headers = []
        pos = 0
        while pos < len(data):
            byte = data[pos]
            if byte & 0x80:  # indexed field
                index, pos = self._int(data, pos, 7)
                headers.append(self._get(index))
                continue
            if byte & 0xE0 == 0x20:  # dynamic table size update
                self.max_size, pos = self._int(data, pos, 5)
                self._evict()
                continue
            indexing = byte & 0xC0 == 0x40
            index, pos = self._int(data, pos, 6 if indexing else 4)
            if index:
                name = self._get(index)[0]
            else:
                name, pos = self._str(data, pos)
            value, pos = self._str(data, pos)
            headers.append((name, value))
            if indexing:
                self._add(name, value)
        return headers


def _enc_int(value: int, bits: int, first: int) -> bytes:
    mask = (1 << bits) - 1
    if value < mask:
        return bytes([first | value])
    out = bytearray([first | mask])
    value -= mask
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _literal(name: str, value: str) -> bytes:
    """A literal header field without indexing, with a literal name (no Huffman)."""
    raw_name, raw_value = name.encode(), value.encode()
    return b"\x00" + _enc_int(len(raw_name), 7, 0) + raw_name + _enc_int(len(raw_value), 7, 0) + raw_value


RESPONSE_HEADERS = b"\x88" + b"\x0f\x10" + _enc_int(len(b"application/grpc"), 7, 0) + b"application/grpc"
OK_TRAILERS = _literal("grpc-status", "0")


def _frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return FRAME.pack((len(payload) << 8) | kind, flags, stream) + payload


class _Stream:
    def __init__(self, stream_id: int, window: int) -> None:
        self.id = stream_id
        self.header_block = bytearray()
        self.headers: list[tuple[str, str]] = []
        self.body = bytearray()
        self.window = window
        self.pending = bytearray()  # DATA payload waiting for flow-control window
        self.end_after_pending: bytes | None = None
        self.task: asyncio.Task[Any] | None = None
        self.writable: asyncio.Future[None] | None = None


Unary = Callable[[Any, Any], Awaitable[Any]]
Streaming = Callable[[Any, Any], AsyncIterator[bytes]]


class Connection(asyncio.Protocol):
    """One HTTP/2 connection: frames in, gRPC calls to the backend's handlers, frames out."""

    def __init__(self, routes: dict[str, tuple[Any, Any, bool]]) -> None:
        self.routes = routes
        self.buffer = bytearray()
        self.preface = False
        self.decoder = Decoder()
        self.streams: dict[int, _Stream] = {}
        self.send_window = 65535
        self.peer_initial_window = 65535
        self.peer_max_frame = 16384
        self.received = 0
        self.continuing: _Stream | None = None
        self.transport: asyncio.Transport | None = None
        self.out: list[bytes] = []

    # ------------------------------------------------------------------------------ plumbing
    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        settings = struct.pack(">HI", SETTINGS_INITIAL_WINDOW_SIZE, MAX_WINDOW)
        transport.write(_frame(SETTINGS, 0, 0, settings)
                        + _frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", MAX_WINDOW - 65535)))

    def connection_lost(self, exc: Exception | None) -> None:
        for stream in self.streams.values():
            if stream.task is not None:
                stream.task.cancel()
        self.streams.clear()

    def _flush(self) -> None:
        if self.out and self.transport is not None:
            self.transport.write(b"".join(self.out))
            self.out.clear()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.preface:
            if len(self.buffer) < len(PREFACE):
                return
            if bytes(self.buffer[:len(PREFACE)]) != PREFACE:
                assert self.transport is not None
                self.transport.close()
                return
            del self.buffer[:len(PREFACE)]
            self.preface = True
        buffer = self.buffer
        pos = 0
        while len(buffer) - pos >= 9:
            length = int.from_bytes(buffer[pos:pos + 3], "big")
            if len(buffer) - pos < 9 + length:
                break
            kind, flags = buffer[pos + 3], buffer[pos + 4]
            stream_id = int.from_bytes(buffer[pos + 5:pos + 9], "big") & 0x7FFFFFFF
            payload = bytes(buffer[pos + 9:pos + 9 + length])
            pos += 9 + length
            self._on_frame(kind, flags, stream_id, payload)
        del buffer[:pos]
        if self.received > 2**30:
            self.out.append(_frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", self.received)))
            self.received = 0
        self._flush()

    def _on_frame(self, kind: int, flags: int, stream_id: int, payload: bytes) -> None:
        if kind == DATA:
            self.received += len(payload)
            stream = self.streams.get(stream_id)
            if stream is None:
                return
            if flags & PADDED:
                payload = payload[1:len(payload) - payload[0]]
            stream.body += payload
            if flags & END_STREAM:
                self._call(stream)
        elif kind == HEADERS:
            stream = self.streams.get(stream_id)
            if stream is None:
                stream = self.streams[stream_id] = _Stream(stream_id, self.peer_initial_window)
            start, end = 0, len(payload)
            if flags & PADDED:
                start, end = 1, end - payload[0]
            if flags & PRIORITY_FLAG:
                start += 5
            stream.header_block += payload[start:end]
            stream.end_stream_seen = bool(flags & END_STREAM)  # type: ignore[attr-defined]
            if flags & END_HEADERS:
                self._headers_done(stream)
            else:
                self.continuing = stream
        elif kind == CONTINUATION:
            stream = self.continuing
            if stream is None:
                return
            stream.header_block += payload
            if flags & END_HEADERS:
                self.continuing = None
                self._headers_done(stream)
        elif kind == SETTINGS:
            if flags & ACK:
                return
            for offset in range(0, len(payload), 6):
                key, value = struct.unpack_from(">HI", payload, offset)
                if key == SETTINGS_INITIAL_WINDOW_SIZE:
                    delta = value - self.peer_initial_window
                    self.peer_initial_window = value
                    for stream in self.streams.values():
                        stream.window += delta
                elif key == SETTINGS_MAX_FRAME_SIZE:
                    self.peer_max_frame = value
            self.out.append(_frame(SETTINGS, ACK, 0))
            self._drain_all()
        elif kind == PING:
            if not flags & ACK:
                self.out.append(_frame(PING, ACK, 0, payload))
        elif kind == WINDOW_UPDATE:
            increment = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
            if stream_id == 0:
                self.send_window += increment
                self._drain_all()
            else:
                stream = self.streams.get(stream_id)
                if stream is not None:
                    stream.window += increment
                    self._drain(stream)
        elif kind == RST_STREAM:
            stream = self.streams.pop(stream_id, None)
            if stream is not None and stream.task is not None:
                stream.task.cancel()
        elif kind == GOAWAY:
            pass

    def _headers_done(self, stream: _Stream) -> None:
        try:
            stream.headers = self.decoder.decode(bytes(stream.header_block))
        except HuffmanCoded:
            self._finish(stream, b"", _literal("grpc-status", "12")
                         + _literal("grpc-message", "Huffman-coded headers are not supported by this probe"))
            return
        stream.header_block.clear()
        if getattr(stream, "end_stream_seen", False):
            self._call(stream)

    # ------------------------------------------------------------------------------ calls
    def _call(self, stream: _Stream) -> None:
        path = next((v for k, v in stream.headers if k == ":path"), "")
        route = self.routes.get(path.rsplit("/", 1)[-1])
        body = bytes(stream.body)
        if route is None or len(body) < 5:
            self._finish(stream, b"", _literal("grpc-status", "12") + _literal("grpc-message", f"no {path}"))
            return
        handler, request_cls, streaming = route
        request = request_cls.FromString(body[5:5 + int.from_bytes(body[1:5], "big")])
        runner = self._serve_stream if streaming else self._serve_unary
        stream.task = asyncio.get_running_loop().create_task(runner(stream, handler, request))

    async def _serve_unary(self, stream: _Stream, handler: Unary, request: Any) -> None:
        response = await handler(request, None)
        self._finish(stream, _message(response.SerializeToString()), OK_TRAILERS)
        self._flush()

    async def _serve_stream(self, stream: _Stream, handler: Streaming, request: Any) -> None:
        self.out.append(_frame(HEADERS, END_HEADERS, stream.id, RESPONSE_HEADERS))
        async for item in handler(request, None):
            stream.pending += _message(item)
            self._drain(stream)
            self._flush()
            while stream.pending:  # wait for the peer's window before producing more
                stream.writable = asyncio.get_running_loop().create_future()
                await stream.writable
        self._finish(stream, b"", OK_TRAILERS, headers_sent=True)
        self._flush()

    def _finish(self, stream: _Stream, data: bytes, trailers: bytes, headers_sent: bool = False) -> None:
        if not headers_sent:
            self.out.append(_frame(HEADERS, END_HEADERS, stream.id, RESPONSE_HEADERS))
        stream.pending += data
        stream.end_after_pending = trailers
        self._drain(stream)

    def _drain_all(self) -> None:
        for stream in list(self.streams.values()):
            self._drain(stream)

    def _drain(self, stream: _Stream) -> None:
        while stream.pending:
            size = min(len(stream.pending), stream.window, self.send_window, self.peer_max_frame)
            if size <= 0:
                return
            self.out.append(_frame(DATA, 0, stream.id, bytes(stream.pending[:size])))
            del stream.pending[:size]
            stream.window -= size
            self.send_window -= size
        if stream.writable is not None and not stream.writable.done():
            stream.writable.set_result(None)
        if stream.end_after_pending is not None:
            self.out.append(_frame(HEADERS, END_HEADERS | END_STREAM, stream.id, stream.end_after_pending))
            stream.end_after_pending = None
            self.streams.pop(stream.id, None)


def _message(payload: bytes) -> bytes:
    return b"\x00" + len(payload).to_bytes(4, "big") + payload


def routes(backend: NullBackend) -> dict[str, tuple[Any, Any, bool]]:
    return {
        "Hello": (backend.hello, empty_pb2.Empty, False),
        "StartInstance": (backend.start, pb.CreateInstanceRequest, False),
        "WaitForInstanceCompletion": (backend.wait_completion, pb.GetInstanceRequest, False),
        "GetWorkItems": (backend.work_items, pb.GetWorkItemsRequest, True),
        "CompleteOrchestratorTask": (backend.complete_orchestration, pb.OrchestratorResponse, False),
        "CompleteActivityTask": (backend.complete_activity, pb.ActivityResponse, False),
    }


async def _serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    table = routes(NullBackend())
    server = await loop.create_server(lambda: Connection(table), "127.0.0.1", port)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    server.close()
    if HUFFMAN_SEEN:
        print(f"refused {HUFFMAN_SEEN} Huffman-coded header string(s)", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(_serve(parser.parse_args().port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
