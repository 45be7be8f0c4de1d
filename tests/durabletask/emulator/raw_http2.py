"""A raw HTTP/2 peer for the h2 transport's tests: frames in and out over a socket, nothing implied.

Just enough of a client to send the frames a test chooses (grpcio-like or not) and read the server's
answer to one stream; each test builds its own header blocks with :mod:`durabletask.emulator.hpack`.
"""

from __future__ import annotations

import socket
import struct
import time

from durabletask.emulator import hpack

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0, 1, 3, 4, 6, 7, 8, 9
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
#: The SETTINGS entry by which grpcio's C core announces itself (served natively by the transport).
GRPC_CORE_SETTING = struct.pack(">HI", 0xFE03, 1)


def frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def message(body: bytes) -> bytes:
    """One length-prefixed gRPC message."""
    return b"\x00" + len(body).to_bytes(4, "big") + body


class RawClient:
    """A socket to the server; sends what it is given and reads frames back."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buffer = b""
        self.decoder = hpack.Decoder()
        self.server_settings: list[bytes] = []  # payloads of the server's SETTINGS frames

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def frames(self, deadline: float) -> tuple[int, int, int, bytes]:
        """The next frame: (type, flags, stream id, payload)."""
        while True:
            if len(self.buffer) >= 9:
                length = int.from_bytes(self.buffer[:3], "big")
                if len(self.buffer) >= 9 + length:
                    head, self.buffer = self.buffer[:9 + length], self.buffer[9 + length:]
                    if head[3] == SETTINGS and not head[4] & ACK:
                        self.server_settings.append(head[9:])
                    return head[3], head[4], int.from_bytes(head[5:9], "big") & 0x7FFFFFFF, head[9:]
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buffer += chunk

    def answer(self, stream_id: int, timeout: float = 5.0) -> tuple[dict[str, str], bytes]:
        """Read until ``stream_id`` ends: its headers and trailers, and its DATA (``{"rst": code}`` for a
        RST_STREAM). The server's SETTINGS are acknowledged on the way."""
        deadline = time.monotonic() + timeout
        headers: dict[str, str] = {}
        data = b""
        while True:
            kind, flags, sid, payload = self.frames(deadline)
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

    def close(self) -> None:
        self.sock.close()
