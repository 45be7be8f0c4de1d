"""Which callers the h2 transport serves itself (grpcio's C core) and which it passes to grpc.aio."""

from __future__ import annotations

import struct

import pytest
from raw_http2 import frame

from durabletask.emulator import hpack
from durabletask.emulator.http2_callers import PREFACE, Caller, classify

SETTINGS_CORE = frame(4, 0, 0, struct.pack(">HIHI", 0x4, 4194304, 0xFE03, 1))
SETTINGS_PLAIN = frame(4, 0, 0, struct.pack(">HI", 0x4, 65535))
WINDOW = frame(8, 0, 0, struct.pack(">I", 1000))


def headers(agent: str, *, end: bool = True) -> bytes:
    block = b"\x83" + hpack.literal("user-agent", agent, name_index=58)
    return frame(1, 0x4 if end else 0, 1, block)


@pytest.mark.parametrize(("first_bytes", "caller"), [
    (PREFACE + SETTINGS_CORE, Caller.GRPC_CORE),
    (PREFACE + SETTINGS_PLAIN + WINDOW + headers("grpc-python/1.85 grpc-c/50.0.0 (linux; chttp2)"), Caller.GRPC_CORE),
    (PREFACE + SETTINGS_PLAIN + headers("grpc-dotnet/2.60"), Caller.OTHER),
    (PREFACE + SETTINGS_PLAIN + frame(1, 0x4, 1, b"\x83"), Caller.OTHER),  # no user-agent at all
    (PREFACE + SETTINGS_PLAIN + frame(1, 0x4, 1, b"\x00\x81\x9f\x81\x9f"), Caller.OTHER),  # Huffman-coded
    (PREFACE + SETTINGS_PLAIN + headers("grpc-c/50", end=False) + WINDOW, Caller.OTHER),  # block interrupted
    (PREFACE + SETTINGS_PLAIN + headers("grpc-c/50", end=False) + frame(9, 0x4, 1, b""), Caller.GRPC_CORE),
    (PREFACE, None),
    (PREFACE + SETTINGS_PLAIN, None),  # a client that waits for our SETTINGS: the transport's timer decides
    (PREFACE + SETTINGS_CORE[:10], None),  # the frame is not complete yet
])
def test_classify(first_bytes: bytes, caller: Caller | None) -> None:
    assert classify(first_bytes) is caller
