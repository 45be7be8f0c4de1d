"""Shared fixtures for the dtstudio tests (also used by the detail pane's tests).

- ``qloop``: a qasync event loop bound to pytest-qt's QApplication and marked as *running*, so code
  that awaits (grpc.aio calls, ``asyncio.ensure_future``) makes progress whenever Qt processes events,
  e.g. inside ``qtbot.waitUntil``. Tests stay synchronous and wait with ``qtbot.waitUntil``.
- ``run_async(coro)``: schedule a coroutine on that loop and wait (via qtbot) for its result.
- ``emulator``: a real embedded emulator on a free port with an in-memory database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

# Messages the offscreen platform plugin prints that say nothing about our code.
_BENIGN_QT_MESSAGES = [
    "This plugin does not support propagateSizeHints",
    "This plugin does not support raise",
    "This plugin does not support grabbing the keyboard",
    "QFont::setPointSize: Point size <= 0",
    "propagateSizeHints",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/dtstudio" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.qt_log_ignore(*_BENIGN_QT_MESSAGES))


@pytest.fixture
def qloop(qapp: Any) -> Iterator[asyncio.AbstractEventLoop]:
    """A qasync loop driven by Qt's event processing (qtbot.waitUntil, dialogs, ...).

    Nothing of a test outlives its loop: at the end its tasks are cancelled and awaited, and a
    grpc.aio channel still open on it fails the test (after being closed). A channel left behind,
    e.g. still connecting to an unreachable endpoint, is bound to a closed loop and shares grpc's
    process-wide completion queue with the next test's channels.
    """
    import qasync

    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        try:
            unfinished = _cancel_and_wait(loop)
            open_channels = _close_open_channels(loop)
        finally:
            # Not loop.stop(): that calls QApplication.exit(), which would end the next Qt wait early.
            loop._QEventLoop__is_running = False  # type: ignore[attr-defined]
            asyncio.events._set_running_loop(None)
            loop.close()
            asyncio.set_event_loop(None)
        assert not unfinished, f"tasks still running after being cancelled at the end of the test: {unfinished}"
        assert not open_channels, f"grpc.aio channels left open at the end of the test (closed now): {open_channels}"


def _cancel_and_wait(loop: asyncio.AbstractEventLoop, timeout: float = 2.0) -> list[str]:
    """Cancel the loop's tasks and let them finish (cancellation may run cleanup, e.g. closing a
    client); returns those still not done after ``timeout`` seconds."""
    import time

    from PySide6.QtTest import QTest

    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    deadline = time.monotonic() + timeout
    while any(not t.done() for t in pending) and time.monotonic() < deadline:
        QTest.qWait(5)
    return [repr(t.get_coro()) for t in pending if not t.done()]


def _open_channels(loop: asyncio.AbstractEventLoop) -> list[Any]:
    """The grpc.aio channels created on ``loop`` that are not closed yet."""
    import gc

    found = []
    for obj in gc.get_objects():
        if type(obj).__module__ == "grpc.aio._channel" and type(obj).__name__ == "Channel":
            cython_channel = getattr(obj, "_channel", None)
            if getattr(obj, "_loop", None) is loop and cython_channel is not None and not cython_channel.closed():
                found.append(obj)
    return found


def _close_open_channels(loop: asyncio.AbstractEventLoop) -> list[str]:
    """Close the grpc.aio channels still open on ``loop``; returns their targets."""
    import gc

    from dtstudio.ui.main_window_shutdown import start_eagerly

    channels = _open_channels(loop)
    if channels:
        gc.collect()  # unreachable channels close themselves when collected: only live ones count
        channels = _open_channels(loop)
    for channel in channels:
        start_eagerly(channel.close())
    return [c._channel.target().decode(errors="replace") for c in channels]


@pytest.fixture
def open_channels(qloop: asyncio.AbstractEventLoop) -> Callable[[], list[Any]]:
    """Lists the grpc.aio channels open on the test's loop (for tests of closing)."""
    return lambda: _open_channels(qloop)


@pytest.fixture
def run_async(qloop: asyncio.AbstractEventLoop, qtbot: Any) -> Callable[..., Any]:
    """Run a coroutine on the qasync loop and return its result (raises what it raises)."""

    def run(coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        task = asyncio.ensure_future(coro, loop=qloop)
        qtbot.waitUntil(task.done, timeout=int(timeout * 1000))
        return task.result()

    return run


@pytest.fixture
def emulator() -> Iterator[Any]:
    """A real embedded emulator (in-memory SQLite) on a free port."""
    from durabletask.emulator import EmulatorServer

    server = EmulatorServer(db_path=None, port=0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _load_samples() -> Any:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "resources" / "samples" / "sample_orchestrations.py"
    spec = importlib.util.spec_from_file_location("dtstudio_sample_orchestrations", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def samples() -> Any:
    """resources/samples/sample_orchestrations.py as a module."""
    return _load_samples()


@pytest.fixture
def worker(emulator: Any, samples: Any) -> Iterator[Any]:
    """Our worker running the sample orchestrations against ``emulator``."""
    from durabletask.worker import TaskHubGrpcWorker

    w = TaskHubGrpcWorker(host_address=emulator.address)
    samples.register(w)
    w.start()
    try:
        yield w
    finally:
        w.stop()


@pytest.fixture
def sync_client(emulator: Any) -> Iterator[Any]:
    """A blocking client for seeding and checking the emulator from test code."""
    from durabletask.client import TaskHubGrpcClient

    c = TaskHubGrpcClient(host_address=emulator.address)
    try:
        yield c
    finally:
        c.close()
