"""The emulator's own gRPC transport: HTTP/2 served by an asyncio protocol, no grpcio server.

Why: grpc.aio's server costs the emulator ~6-7 ms of CPU per chained orchestration (a poller thread,
~56 completion-queue events and ~120 context switches for 16 calls and stream messages), more than the
engine and SQLite together. Serving the same :class:`.service.SidecarService` handlers from one asyncio
protocol per connection costs a fraction of that (``bench/_h2_null_backend.py`` measured the difference).

What it speaks: the connection preface; SETTINGS, PING, WINDOW_UPDATE (flow control both ways),
RST_STREAM and GOAWAY; HEADERS and CONTINUATION decoded by :mod:`.hpack`; gRPC unary and
server-streaming calls with uncompressed messages, ``grpc-timeout``, and status codes with
percent-encoded messages in trailers. Not spoken: TLS (the emulator serves plaintext), compression
(refused with UNIMPLEMENTED) and Huffman-coded headers (refused with a message naming ``--transport
grpc``, which serves any client).

Handlers see a :class:`CallContext` with the three methods the service uses from grpc.aio's context:
``invocation_metadata()``, ``time_remaining()`` and ``abort()``.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc

from . import hpack
from .http2_callers import PREFACE as _PREFACE
from .http2_callers import Caller, Upstream, classify

__all__ = ["CallContext", "Http2Server", "Route"]

log = logging.getLogger("durabletask.emulator")

# Frame types (RFC 9113, 6); PRIORITY (2) and PUSH_PROMISE (5) are never acted on.
_DATA, _HEADERS, _RST_STREAM, _SETTINGS, _PING, _GOAWAY, _WINDOW_UPDATE, _CONTINUATION = 0, 1, 3, 4, 6, 7, 8, 9
_END_STREAM = _ACK = 0x1
_END_HEADERS, _PADDED, _PRIORITY_FLAG = 0x4, 0x8, 0x20
_SETTINGS_INITIAL_WINDOW_SIZE, _SETTINGS_MAX_FRAME_SIZE = 0x4, 0x5
_NO_ERROR, _PROTOCOL_ERROR, _INTERNAL_ERROR, _FLOW_CONTROL_ERROR, _FRAME_SIZE_ERROR, _COMPRESSION_ERROR = (
    0x0, 0x1, 0x2, 0x3, 0x6, 0x9)
_MAX_FRAME = 16384  # we never raise SETTINGS_MAX_FRAME_SIZE above its default
_MAX_HEADER_BLOCK = 1024 * 1024
_MAX_STATUS_MESSAGE = 1000  # characters of a grpc-message: percent-encoded, trailers still fit one frame
_MAX_WINDOW = 2**31 - 1
_FRAME_HEADER = struct.Struct(">IBI")  # 24-bit length and 8-bit type share the first word
_RESPONSE_HEADERS = b"\x88" + hpack.literal("content-type", "application/grpc", name_index=31)
_OK_TRAILERS = hpack.literal("grpc-status", "0")
_TIMEOUT_UNITS = {"H": 3600.0, "M": 60.0, "S": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}
_RESERVED = frozenset({"content-type", "te", "grpc-timeout", "grpc-encoding", "grpc-accept-encoding"})
_SNIFFING, _NATIVE, _PROXY = range(3)
#: How long a new connection may stay silent before it is passed to the fallback server (a client that
#: waits for the server's SETTINGS before its first call).
_SNIFF_TIMEOUT_S = 0.25
_HTTP1_ANSWER = (b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n"
                 b"This is a Durable Task emulator: a gRPC endpoint (HTTP/2 only).\n")


@dataclass(frozen=True)
class Route:
    """One method: its handler ``fn(request, context)``, the request parser, and whether it streams."""

    handler: Callable[[Any, CallContext], Any]
    parse: Callable[[bytes], Any]
    serialize: Callable[[Any], bytes]
    streaming: bool


class _Abort(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


class CallContext:
    """What a handler may ask about its call (the subset of ``grpc.aio.ServicerContext`` the service uses)."""

    __slots__ = ("_deadline", "_metadata")

    def __init__(self, metadata: tuple[tuple[str, str | bytes], ...], deadline: float | None) -> None:
        self._metadata = metadata
        self._deadline = deadline

    def invocation_metadata(self) -> tuple[tuple[str, str | bytes], ...]:
        return self._metadata

    def time_remaining(self) -> float | None:
        return None if self._deadline is None else max(0.0, self._deadline - time.monotonic())

    async def abort(self, code: grpc.StatusCode, details: str = "") -> None:
        raise _Abort(code, details)


def _frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    return _FRAME_HEADER.pack((len(payload) << 8) | kind, flags, stream_id) + payload


def _message(payload: bytes) -> bytes:
    return b"\x00" + len(payload).to_bytes(4, "big") + payload


def _percent_encode(text: str) -> str:
    raw = text.encode("utf-8")
    if all(0x20 <= b <= 0x7E and b != 0x25 for b in raw):
        return text
    return "".join(chr(b) if 0x20 <= b <= 0x7E and b != 0x25 else f"%{b:02X}" for b in raw)


def _trailers(code: grpc.StatusCode, details: str) -> bytes:
    block = hpack.literal("grpc-status", str(code.value[0]))
    if len(details) > _MAX_STATUS_MESSAGE:
        details = details[:_MAX_STATUS_MESSAGE - 3] + "..."
    if details:
        block += hpack.literal("grpc-message", _percent_encode(details))
    return block


def _timeout(value: str) -> float | None:
    """Seconds of a ``grpc-timeout`` value (1-8 ASCII digits and a unit), None if malformed."""
    digits, unit = value[:-1], value[-1:]
    if not 1 <= len(digits) <= 8 or not all("0" <= c <= "9" for c in digits) or unit not in _TIMEOUT_UNITS:
        return None
    return int(digits) * _TIMEOUT_UNITS[unit]


class _Stream:
    __slots__ = (
        "block",
        "body",
        "done",
        "end_stream",
        "headers",
        "headers_sent",
        "id",
        "pending",
        "task",
        "trailers",
        "window",
        "writable",
    )

    def __init__(self, stream_id: int, window: int) -> None:
        self.id = stream_id
        self.block = bytearray()
        self.end_stream = False
        self.headers: list[tuple[str, str]] = []
        self.body = bytearray()
        self.window = window
        self.pending = bytearray()  # response DATA waiting for flow-control window
        self.trailers: bytes | None = None  # sent once pending is out
        self.task: asyncio.Task[None] | None = None
        self.writable: asyncio.Future[None] | None = None
        self.headers_sent = False
        self.done = False


class _Connection(asyncio.Protocol):
    """One client connection: frames in, calls to the routes, frames out."""

    def __init__(self, server: Http2Server) -> None:
        self._server = server
        self._routes = server.routes
        self._loop = server.loop
        self._buffer = bytearray()
        self._preface = False
        self._decoder = hpack.Decoder()
        self._streams: dict[int, _Stream] = {}
        self._send_window = 65535
        self._peer_window = 65535
        self._peer_max_frame = 16384
        self._received = 0
        self._continuing: _Stream | None = None
        self._last_stream = 0
        self._transport: asyncio.Transport | None = None
        self._out: list[bytes] = []
        self._paused: asyncio.Future[None] | None = None
        self._closed = False
        self._mode = _SNIFFING
        self._raw = bytearray()
        self._sniff_timer: asyncio.TimerHandle | None = None
        self._upstream: asyncio.Transport | None = None
        self._to_upstream: list[bytes] = []

    # ----------------------------------------------------------------------------- lifecycle
    def connection_made(self, transport: Any) -> None:
        self._transport = transport
        self._server.connections.add(self)
        self._sniff_timer = self._loop.call_later(_SNIFF_TIMEOUT_S, self._sniff_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._server.connections.discard(self)
        if self._sniff_timer is not None:
            self._sniff_timer.cancel()
        if self._upstream is not None:
            self._upstream.close()
        for stream in list(self._streams.values()):
            if stream.task is not None:
                stream.task.cancel()
        self._streams.clear()
        if self._paused is not None and not self._paused.done():
            self._paused.set_result(None)

    def pause_writing(self) -> None:
        if self._upstream is not None:
            self._upstream.pause_reading()
        elif self._paused is None or self._paused.done():
            self._paused = self._loop.create_future()

    def resume_writing(self) -> None:
        if self._upstream is not None:
            self._upstream.resume_reading()
        elif self._paused is not None and not self._paused.done():
            self._paused.set_result(None)

    # ---------------------------------------------------------------------- who is calling
    # Nothing is sent until :func:`.http2_callers.classify` has read the client's first frames: grpcio's
    # C core is served here, anyone else is piped to the grpc.aio fallback from its first byte.
    def _sniff_timed_out(self) -> None:
        self._sniff_timer = None
        if self._mode == _SNIFFING and not self._closed:
            self._go_proxy()  # a client that waits for our SETTINGS before its first call

    def _go_native(self) -> None:
        self._mode = _NATIVE
        if self._sniff_timer is not None:
            self._sniff_timer.cancel()
            self._sniff_timer = None
        raw, self._raw = bytes(self._raw), bytearray()
        settings = struct.pack(">HI", _SETTINGS_INITIAL_WINDOW_SIZE, _MAX_WINDOW)
        self._out.append(_frame(_SETTINGS, 0, 0, settings)
                         + _frame(_WINDOW_UPDATE, 0, 0, struct.pack(">I", _MAX_WINDOW - 65535)))
        self._receive(raw)

    def _go_proxy(self) -> None:
        self._mode = _PROXY
        if self._sniff_timer is not None:
            self._sniff_timer.cancel()
            self._sniff_timer = None
        self._to_upstream = [bytes(self._raw)]
        self._raw = bytearray()
        task = self._loop.create_task(self._connect_upstream())
        self._server.background.add(task)
        task.add_done_callback(self._server.background.discard)

    async def _connect_upstream(self) -> None:
        try:
            host, port = await self._server.fallback_address()
            upstream, _ = await self._loop.create_connection(lambda: Upstream(self._transport), host, port)
        except Exception as exc:  # noqa: BLE001 - the client sees its connection close; we log why
            log.error("cannot pass a connection to the grpc.aio fallback server: %s", exc)
            self.close()
            return
        if self._closed:
            upstream.close()
            return
        self._upstream = upstream
        upstream.write(b"".join(self._to_upstream))
        self._to_upstream.clear()

    def go_away(self) -> None:
        """Tell the client no new calls will be taken on this connection (calls in flight go on)."""
        if self._mode == _NATIVE and not self._closed:
            self._out.append(_frame(_GOAWAY, 0, 0, struct.pack(">II", self._last_stream, _NO_ERROR)))
            self._flush()

    def cancel_calls(self) -> None:
        for stream in list(self._streams.values()):
            if stream.task is not None:
                stream.task.cancel()

    def close(self) -> None:
        if self._transport is not None and not self._closed:
            self._transport.close()

    @property
    def active_calls(self) -> int:
        """Calls still running, or whose answer still waits for the client's flow-control window."""
        return sum(1 for s in self._streams.values()
                   if (s.task is not None and not s.task.done()) or s.pending or s.trailers is not None)

    # ------------------------------------------------------------------------------ reading
    def data_received(self, data: bytes) -> None:
        if self._mode == _NATIVE:
            self._receive(data)
        elif self._mode == _PROXY:
            if self._upstream is not None:
                self._upstream.write(data)
            else:
                self._to_upstream.append(data)
        else:
            self._raw += data
            head = bytes(self._raw[:len(_PREFACE)])
            if not _PREFACE.startswith(head):
                self._refuse_http1()
                return
            decision = classify(bytes(self._raw)) if len(self._raw) > len(_PREFACE) else None
            if decision is Caller.GRPC_CORE:
                self._go_native()
            elif decision is Caller.OTHER:
                self._go_proxy()

    def _receive(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        if not self._preface:
            if len(buffer) < len(_PREFACE):
                return
            del buffer[:len(_PREFACE)]
            self._preface = True
        pos = 0
        size = len(buffer)
        try:
            while size - pos >= 9:
                length = int.from_bytes(buffer[pos:pos + 3], "big")
                if size - pos < 9 + length:
                    break
                kind, flags = buffer[pos + 3], buffer[pos + 4]
                stream_id = int.from_bytes(buffer[pos + 5:pos + 9], "big") & 0x7FFFFFFF
                if length > _MAX_FRAME:
                    raise _ProtocolError(f"a frame of {length} bytes (the limit is {_MAX_FRAME})", _FRAME_SIZE_ERROR)
                payload = bytes(buffer[pos + 9:pos + 9 + length])
                pos += 9 + length
                self._on_frame(kind, flags, stream_id, payload)
                if self._closed:
                    return
        except hpack.HpackError as exc:
            log.warning("closing a connection whose headers do not decode: %s", exc)
            self._connection_error(_COMPRESSION_ERROR)
            return
        except _ProtocolError as exc:
            log.warning("closing a connection after an HTTP/2 protocol error: %s", exc)
            self._connection_error(exc.code)
            return
        except Exception:  # a bug of ours: this connection ends, the server and other connections go on
            log.exception("closing a connection after an internal error in the HTTP/2 transport")
            self._connection_error(_INTERNAL_ERROR)
            return
        del buffer[:pos]
        if self._received > 2**30:
            self._out.append(_frame(_WINDOW_UPDATE, 0, 0, struct.pack(">I", self._received)))
            self._received = 0
        self._flush()

    def _refuse_http1(self) -> None:
        if self._transport is not None:
            self._transport.write(_HTTP1_ANSWER)
            self._transport.close()

    def _connection_error(self, code: int) -> None:
        self._out.append(_frame(_GOAWAY, 0, 0, struct.pack(">II", self._last_stream, code)))
        self._flush()
        self.cancel_calls()
        self.close()
        self._closed = True  # nothing more is read or started on this connection

    def _on_frame(self, kind: int, flags: int, stream_id: int, payload: bytes) -> None:
        if self._continuing is not None and kind != _CONTINUATION:
            raise _ProtocolError("a header block was interrupted by another frame")
        if kind == _DATA:
            self._on_data(flags, stream_id, payload)
        elif kind == _HEADERS:
            self._on_headers(flags, stream_id, payload)
        elif kind == _CONTINUATION:
            stream = self._continuing
            if stream is None or stream.id != stream_id:
                raise _ProtocolError("CONTINUATION without a header block in progress")
            stream.block += payload
            if len(stream.block) > _MAX_HEADER_BLOCK:
                raise _ProtocolError(f"a header block over {_MAX_HEADER_BLOCK} bytes")
            if flags & _END_HEADERS:
                self._continuing = None
                self._headers_done(stream)
        elif kind == _SETTINGS:
            if not flags & _ACK:
                self._on_settings(payload)
        elif kind == _PING:
            if not flags & _ACK:
                self._out.append(_frame(_PING, _ACK, 0, payload))
        elif kind == _WINDOW_UPDATE:
            self._on_window_update(stream_id, payload)
        elif kind == _RST_STREAM:
            stream = self._streams.pop(stream_id, None)
            if stream is not None:
                stream.done = True
                if stream.task is not None:
                    stream.task.cancel()
        # PRIORITY, GOAWAY and unknown frame types need nothing from a server like this one.

    def _on_data(self, flags: int, stream_id: int, payload: bytes) -> None:
        self._received += len(payload)
        stream = self._streams.get(stream_id)
        if stream is None or stream.task is not None:
            return  # a reset or already-running stream: the data is dropped (counted for the window)
        if flags & _PADDED:
            if not payload or payload[0] >= len(payload):
                raise _ProtocolError("bad padding")
            payload = payload[1:len(payload) - payload[0]]
        stream.body += payload
        if len(stream.body) > self._server.max_message + 5:
            self._answer_error(stream, grpc.StatusCode.RESOURCE_EXHAUSTED,
                               f"the request is larger than {self._server.max_message} bytes")
            return
        if flags & _END_STREAM:
            self._start_call(stream)

    def _on_headers(self, flags: int, stream_id: int, payload: bytes) -> None:
        if stream_id == 0 or stream_id % 2 == 0:
            raise _ProtocolError(f"HEADERS on stream {stream_id}")
        start, end = 0, len(payload)
        if flags & _PADDED:
            if not payload or payload[0] >= len(payload):
                raise _ProtocolError("bad padding")
            start, end = 1, end - payload[0]
        if flags & _PRIORITY_FLAG:
            start += 5
        stream = self._streams.get(stream_id)
        if stream is None:
            if stream_id <= self._last_stream:
                # Trailers of a stream we already closed: still decoded (below), since the client's
                # HPACK table changed with them, but nothing acts on them.
                stream = _Stream(stream_id, 0)
                stream.done = True
            else:
                self._last_stream = stream_id
                stream = self._streams[stream_id] = _Stream(stream_id, self._peer_window)
        stream.block += payload[start:end]
        if len(stream.block) > _MAX_HEADER_BLOCK:
            raise _ProtocolError(f"a header block over {_MAX_HEADER_BLOCK} bytes")
        stream.end_stream = stream.end_stream or bool(flags & _END_STREAM)
        if flags & _END_HEADERS:
            self._headers_done(stream)
        else:
            self._continuing = stream

    def _headers_done(self, stream: _Stream) -> None:
        block = bytes(stream.block)
        stream.block.clear()
        try:
            headers = self._decoder.decode(block)
        except hpack.HuffmanCoded:
            # The table may now differ from the client's: answer this call, then end the connection.
            self._answer_error(stream, grpc.StatusCode.UNIMPLEMENTED,
                               "this emulator's fast transport does not read Huffman-coded headers; start it "
                               "with --transport grpc to serve this client")
            self._connection_error(_COMPRESSION_ERROR)
            return
        if stream.done:
            if any(name == ":path" for name, _ in headers):
                raise _ProtocolError(f"a new call on stream {stream.id}, below the last stream opened")
            return
        if not stream.headers:
            stream.headers = headers
        if stream.end_stream and stream.task is None:
            self._start_call(stream)

    def _on_settings(self, payload: bytes) -> None:
        if len(payload) % 6:
            raise _ProtocolError("SETTINGS payload is not a multiple of 6 bytes")
        for offset in range(0, len(payload), 6):
            key, value = struct.unpack_from(">HI", payload, offset)
            if key == _SETTINGS_INITIAL_WINDOW_SIZE:
                if value > _MAX_WINDOW:
                    raise _ProtocolError("initial window too large")
                delta = value - self._peer_window
                self._peer_window = value
                for stream in self._streams.values():
                    stream.window += delta
            elif key == _SETTINGS_MAX_FRAME_SIZE:
                if not 16384 <= value <= 16777215:
                    raise _ProtocolError("bad max frame size")
                self._peer_max_frame = value
        self._out.append(_frame(_SETTINGS, _ACK, 0))
        self._drain_all()

    def _on_window_update(self, stream_id: int, payload: bytes) -> None:
        if len(payload) != 4:
            raise _ProtocolError("WINDOW_UPDATE payload is not 4 bytes")
        increment = int.from_bytes(payload, "big") & 0x7FFFFFFF
        if stream_id == 0:
            if not increment or self._send_window + increment > _MAX_WINDOW:
                raise _ProtocolError(f"connection WINDOW_UPDATE of {increment}",
                                     _PROTOCOL_ERROR if not increment else _FLOW_CONTROL_ERROR)
            self._send_window += increment
            self._drain_all()
        else:
            stream = self._streams.get(stream_id)
            if stream is not None:
                if not increment or stream.window + increment > _MAX_WINDOW:
                    self._reset(stream, _PROTOCOL_ERROR if not increment else _FLOW_CONTROL_ERROR)
                    return
                stream.window += increment
                self._drain(stream)

    # -------------------------------------------------------------------------------- calls
    def _start_call(self, stream: _Stream) -> None:
        headers = stream.headers
        path = method = content_type = encoding = ""
        deadline: float | None = None
        metadata: list[tuple[str, str | bytes]] = []
        for name, value in headers:
            if name.startswith(":"):
                if name == ":path":
                    path = value
                elif name == ":method":
                    method = value
            elif name == "content-type":
                content_type = value
            elif name == "grpc-timeout":
                seconds = _timeout(value)
                if seconds is not None:
                    deadline = time.monotonic() + seconds
            elif name == "grpc-encoding":
                encoding = value
            elif name not in _RESERVED:
                if name.endswith("-bin"):
                    try:
                        metadata.append((name, base64.b64decode(value + "=" * (-len(value) % 4))))
                    except ValueError:
                        continue
                else:
                    metadata.append((name, value))
        if method != "POST" or not content_type.startswith("application/grpc"):
            self._out.append(_frame(_HEADERS, _END_HEADERS | _END_STREAM, stream.id,
                                    hpack.literal(":status", "415", name_index=8)))
            self._end(stream)
            return
        if self._server.stopping:
            self._answer_error(stream, grpc.StatusCode.UNAVAILABLE, "the emulator is shutting down")
            return
        route = self._routes.get(path)
        if route is None:
            self._answer_error(stream, grpc.StatusCode.UNIMPLEMENTED, f"Method not found: {path}")
            return
        body = bytes(stream.body)
        stream.body = bytearray()
        if len(body) < 5 or len(body) != 5 + int.from_bytes(body[1:5], "big"):
            self._answer_error(stream, grpc.StatusCode.INTERNAL, "the request must carry exactly one message")
            return
        if body[0]:
            self._answer_error(stream, grpc.StatusCode.UNIMPLEMENTED,
                               f"compressed requests ({encoding or 'no grpc-encoding'}) are not supported")
            return
        try:
            request = route.parse(body[5:])
        except Exception:  # noqa: BLE001 - any parse failure is the client's malformed message
            self._answer_error(stream, grpc.StatusCode.INTERNAL, "could not parse the request message")
            return
        context = CallContext(tuple(metadata), deadline)
        runner = self._run_stream if route.streaming else self._run_unary
        stream.task = self._loop.create_task(runner(stream, route, request, context))

    async def _run_unary(self, stream: _Stream, route: Route, request: Any, context: CallContext) -> None:
        try:
            response = await route.handler(request, context)
        except _Abort as abort:
            self._answer_error(stream, abort.code, abort.details)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("internal error in %s", route, exc_info=exc)
            self._answer_error(stream, grpc.StatusCode.INTERNAL, f"internal emulator error: {exc}")
        else:
            if response is None:
                self._answer_error(stream, grpc.StatusCode.INTERNAL, "the handler gave no response")
            else:
                self._respond(stream, _message(route.serialize(response)), _OK_TRAILERS)
        self._flush()

    async def _run_stream(self, stream: _Stream, route: Route, request: Any, context: CallContext) -> None:
        self._send_headers(stream)
        self._flush()
        trailers = _OK_TRAILERS
        try:
            async for item in route.handler(request, context):
                stream.pending += _message(route.serialize(item))
                self._drain(stream)
                self._flush()
                while stream.pending and not stream.done:  # the client's window is full: wait for room
                    stream.writable = self._loop.create_future()
                    await stream.writable
                if self._paused is not None and not self._paused.done():
                    await self._paused
                else:
                    await asyncio.sleep(0)  # one item per turn: other streams (workers) take theirs
                if stream.done or self._closed:
                    return
        except _Abort as abort:
            trailers = _trailers(abort.code, abort.details)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("internal error in %s", route, exc_info=exc)
            trailers = _trailers(grpc.StatusCode.INTERNAL, f"internal emulator error: {exc}")
        self._respond(stream, b"", trailers)
        self._flush()

    # ------------------------------------------------------------------------------ writing
    def _send_headers(self, stream: _Stream) -> None:
        if not stream.headers_sent:
            stream.headers_sent = True
            self._out.append(_frame(_HEADERS, _END_HEADERS, stream.id, _RESPONSE_HEADERS))

    def _answer_error(self, stream: _Stream, code: grpc.StatusCode, details: str) -> None:
        self._respond(stream, b"", _trailers(code, details))

    def _respond(self, stream: _Stream, data: bytes, trailers: bytes) -> None:
        if stream.done or self._closed:
            return
        self._send_headers(stream)
        stream.pending += data
        stream.trailers = trailers
        self._drain(stream)

    def _drain_all(self) -> None:
        for stream in list(self._streams.values()):
            self._drain(stream)

    def _drain(self, stream: _Stream) -> None:
        pending = stream.pending
        while pending:
            size = min(len(pending), stream.window, self._send_window, self._peer_max_frame)
            if size <= 0:
                return
            self._out.append(_frame(_DATA, 0, stream.id, bytes(pending[:size])))
            del pending[:size]
            stream.window -= size
            self._send_window -= size
        if stream.writable is not None and not stream.writable.done():
            stream.writable.set_result(None)
        if stream.trailers is not None:
            self._out.append(_frame(_HEADERS, _END_HEADERS | _END_STREAM, stream.id, stream.trailers))
            stream.trailers = None
            self._end(stream)

    def _reset(self, stream: _Stream, code: int) -> None:
        """End ``stream`` with RST_STREAM (a stream error; the connection goes on)."""
        self._out.append(_frame(_RST_STREAM, 0, stream.id, struct.pack(">I", code)))
        if stream.task is not None:
            stream.task.cancel()
        self._end(stream)

    def _end(self, stream: _Stream) -> None:
        stream.done = True
        self._streams.pop(stream.id, None)
        if stream.writable is not None and not stream.writable.done():
            stream.writable.set_result(None)

    def _flush(self) -> None:
        if self._out:
            if self._transport is not None and not self._closed:
                self._transport.write(b"".join(self._out))
            self._out.clear()


class _ProtocolError(Exception):
    def __init__(self, message: str, code: int = 0x1) -> None:  # PROTOCOL_ERROR unless said otherwise
        super().__init__(message)
        self.code = code


class Http2Server:
    """Serves ``routes`` (keyed by ``/Service/Method`` path) on the running loop."""

    def __init__(self, routes: dict[str, Route], *, max_message: int,
                 fallback: Callable[[], grpc.aio.Server] | None = None) -> None:
        self.routes = routes
        self.max_message = max_message
        self.loop = asyncio.get_running_loop()
        self.connections: set[_Connection] = set()
        self.background: set[asyncio.Task[None]] = set()
        self.stopping = False
        self._servers: list[asyncio.base_events.Server] = []
        self._make_fallback = fallback
        self._fallback: grpc.aio.Server | None = None
        self._fallback_port: asyncio.Future[int] | None = None

    async def fallback_address(self) -> tuple[str, int]:
        """Where the grpc.aio server for other clients listens (started on first use)."""
        if self._fallback_port is None:
            self._fallback_port = self.loop.create_future()
            try:
                if self._make_fallback is None or self.stopping:
                    raise RuntimeError("no fallback server")
                server = self._fallback = self._make_fallback()
                port = server.add_insecure_port("127.0.0.1:0")
                await server.start()
                self._fallback_port.set_result(port)
            except Exception as exc:  # noqa: BLE001 - every caller waiting for the port hears why
                self._fallback_port.set_exception(exc)
        return "127.0.0.1", await asyncio.shield(self._fallback_port)

    async def listen(self, host: str, port: int) -> int:
        """Listen on every address of ``host``; the port bound (``port=0`` picks one, the same for all)."""
        infos = await self.loop.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
        sockets: list[socket.socket] = []
        try:
            for family, kind, proto, address in dict.fromkeys((i[0], i[1], i[2], i[4][0]) for i in infos):
                sock = socket.socket(family, kind, proto)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                try:
                    sock.bind((address, port or (sockets[0].getsockname()[1] if sockets else 0)))
                except OSError:
                    sock.close()
                    if not sockets and (family, address) == (infos[-1][0], infos[-1][4][0]):
                        raise
                    continue  # e.g. ::1 with IPv6 off: the other addresses serve
                sockets.append(sock)
            if not sockets:
                raise OSError(f"no address of {host} can be bound")
            for sock in sockets:
                self._servers.append(await self.loop.create_server(lambda: _Connection(self), sock=sock))
        except BaseException:
            for sock in sockets:
                sock.close()
            raise
        return int(sockets[0].getsockname()[1])

    async def stop(self, grace: float | None) -> None:
        """Refuse new calls, let calls in flight finish for ``grace`` seconds, then cancel them and close."""
        self.stopping = True
        for listener in self._servers:
            listener.close()
        for connection in list(self.connections):
            connection.go_away()
        fallback = None if self._fallback is None else asyncio.ensure_future(self._fallback.stop(grace))
        if grace:
            deadline = self.loop.time() + grace
            while self.loop.time() < deadline and any(c.active_calls for c in self.connections):
                await asyncio.sleep(0.01)
        for connection in list(self.connections):
            connection.cancel_calls()
        if fallback is not None:
            await fallback
        await asyncio.sleep(0)
        for connection in list(self.connections):
            connection.close()
        for task in list(self.background):
            task.cancel()
        for listener in self._servers:
            await listener.wait_closed()


def routes_for(service_name: str, methods: dict[str, tuple[Callable[..., Awaitable[Any] | AsyncIterator[Any]],
                                                           Callable[[bytes], Any], Callable[[Any], bytes],
                                                           bool]]) -> dict[str, Route]:
    """The route table for ``service_name``'s methods (name -> handler, parse, serialize, streaming)."""
    return {f"/{service_name}/{name}": Route(handler, parse, serialize, streaming)
            for name, (handler, parse, serialize, streaming) in methods.items()}
