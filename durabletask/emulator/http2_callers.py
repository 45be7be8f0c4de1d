"""Who is calling the emulator's HTTP/2 transport, and the pipe for those it passes on.

Only clients on grpcio's C core are served by :mod:`.http2` itself: it is what that transport is tested
with, and C core never Huffman-codes headers (which :mod:`.hpack` does not read). C core announces itself
in its first SETTINGS frame with a setting of its own (0xFE03, "allow true binary metadata"), then waits
for the server's SETTINGS before its first call. Another client may call at once; then its user-agent
decides. Every other client is passed, byte for byte from its first byte, to a grpc.aio server on a
private port (:class:`Upstream` carries the answers back), so the transport sends nothing before
:func:`classify` has decided.
"""

from __future__ import annotations

import asyncio
import enum

from . import hpack

__all__ = ["PREFACE", "Caller", "Upstream", "classify"]

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_HEADERS, _SETTINGS, _CONTINUATION = 1, 4, 9
_ACK = 0x1
_END_HEADERS, _PADDED, _PRIORITY = 0x4, 0x8, 0x20
_GRPC_CORE_SETTING = b"\xfe\x03"


class Caller(enum.Enum):
    GRPC_CORE = "served natively"
    OTHER = "passed to grpc.aio"


def classify(raw: bytes) -> Caller | None:
    """The caller behind a connection's first bytes (the preface included); None until they tell."""
    pos, size = len(PREFACE), len(raw)
    block = bytearray()
    while size - pos >= 9:
        length = int.from_bytes(raw[pos:pos + 3], "big")
        if size - pos < 9 + length:
            return None
        kind, flags = raw[pos + 3], raw[pos + 4]
        payload = raw[pos + 9:pos + 9 + length]
        pos += 9 + length
        if kind == _SETTINGS and not flags & _ACK and not block:
            if any(payload[i:i + 2] == _GRPC_CORE_SETTING for i in range(0, len(payload) - 5, 6)):
                return Caller.GRPC_CORE
            continue
        if kind == _HEADERS:
            start, end = 0, len(payload)
            if flags & _PADDED:
                if not payload or payload[0] >= len(payload):
                    return Caller.OTHER
                start, end = 1, end - payload[0]
            if flags & _PRIORITY:
                start += 5
            block += payload[start:end]
        elif kind == _CONTINUATION and block:
            block += payload
        elif block:
            return Caller.OTHER  # not a header block this transport would read
        else:
            continue
        if flags & _END_HEADERS:
            try:
                headers = hpack.Decoder().decode(bytes(block))
            except hpack.HpackError:
                return Caller.OTHER
            agent = next((value for name, value in headers if name == "user-agent"), "")
            return Caller.GRPC_CORE if "grpc-c/" in agent else Caller.OTHER
    return None


class Upstream(asyncio.Protocol):
    """The fallback server's side of a passed-on connection: its bytes go back to the client."""

    def __init__(self, client: asyncio.Transport | None) -> None:
        self._client = client

    def data_received(self, data: bytes) -> None:
        if self._client is not None and not self._client.is_closing():
            self._client.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._client is not None:
            self._client.close()

    def pause_writing(self) -> None:
        if self._client is not None:
            self._client.pause_reading()

    def resume_writing(self) -> None:
        if self._client is not None:
            self._client.resume_reading()
