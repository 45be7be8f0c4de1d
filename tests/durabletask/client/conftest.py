"""Fixtures for the client tests: a recording gRPC server and a small fake backend (see client_fake_backend)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from client_fake_backend import FakeServer, RecordingServer


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
    fs = FakeServer()
    fs.server.start()
    try:
        yield fs
    finally:
        fs.server.stop(None).wait(5)
