"""Shared fixtures for the dtstudio tests (also used by the detail pane's tests).

- ``qloop``: a qasync event loop bound to pytest-qt's QApplication and marked as *running*, so code
  that awaits (grpc.aio calls, ``asyncio.ensure_future``) makes progress whenever Qt processes events,
  e.g. inside ``qtbot.waitUntil``. Tests stay synchronous and wait with ``qtbot.waitUntil``.
- ``run_async(coro)``: schedule a coroutine on that loop and wait (via qtbot) for its result.
- ``emulator``: a real embedded emulator on a free port with an in-memory database.
- ``quiet_deletion``: deletes a QObject at once and checks that what it had started ends quietly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
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
def qloop(qapp: Any, grpc_channels: _ChannelRecord) -> Iterator[asyncio.AbstractEventLoop]:
    """A qasync loop driven by Qt's event processing (qtbot.waitUntil, dialogs, ...).

    Nothing of a test outlives its loop: at the end its tasks are cancelled and awaited, and a
    grpc.aio channel the test opened and left open fails the test (after being closed). A channel
    left behind, e.g. still connecting to an unreachable endpoint, is bound to a closed loop and
    shares grpc's process-wide completion queue with the next test's channels.
    """
    import qasync

    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    try:
        yield loop
        unfinished = _cancel_and_wait(loop)
        left_open = _close_open(grpc_channels)
    finally:
        # Not loop.stop(): that calls QApplication.exit(), which would end the next Qt wait early.
        loop._QEventLoop__is_running = False  # type: ignore[attr-defined]
        asyncio.events._set_running_loop(None)
        loop.close()
        asyncio.set_event_loop(None)
    assert not unfinished, f"tasks still running after being cancelled at the end of the test: {unfinished}"
    assert not left_open, f"grpc.aio channels left open at the end of the test (closed now): {left_open}"


class _ChannelRecord:
    """The grpc.aio channels created while recording (weakly: a collected channel closed itself)."""

    def __init__(self) -> None:
        self.refs: list[weakref.ref[Any]] = []
        self.targets: dict[int, str] = {}

    def open_channels(self) -> list[Any]:
        alive = [c for c in (ref() for ref in self.refs) if c is not None]
        return [c for c in alive if not c._channel.closed()]


@pytest.fixture
def grpc_channels() -> Iterator[_ChannelRecord]:
    """Records the grpc.aio channels the test creates (the SDK creates them via grpc.aio.*_channel)."""
    import grpc.aio

    record = _ChannelRecord()

    def recording(create: Callable[..., Any]) -> Callable[..., Any]:
        def create_and_record(target: str, *args: Any, **kwargs: Any) -> Any:
            channel = create(target, *args, **kwargs)
            record.refs.append(weakref.ref(channel))
            record.targets[id(channel)] = target
            return channel

        return create_and_record

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(grpc.aio, "insecure_channel", recording(grpc.aio.insecure_channel))
        patch.setattr(grpc.aio, "secure_channel", recording(grpc.aio.secure_channel))
        yield record


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


def _close_open(record: _ChannelRecord) -> list[str]:
    """Close the recorded channels still open; returns their targets."""
    import gc

    from dtstudio.ui.main_window_shutdown import start_eagerly

    channels = record.open_channels()
    if channels:
        del channels
        gc.collect()  # channels only garbage holds close themselves when collected: live ones count
        channels = record.open_channels()
    for channel in channels:
        start_eagerly(channel.close())
    return [record.targets.get(id(c), "?") for c in channels]


@pytest.fixture
def open_channels(qloop: asyncio.AbstractEventLoop, grpc_channels: _ChannelRecord) -> Callable[[], list[Any]]:
    """Lists the grpc.aio channels the test opened that are still open (for tests of closing)."""
    return grpc_channels.open_channels


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


class QuietDeletion:
    """Deletes a QObject as Qt does when its window closes, and checks that nothing it started complains."""

    def __init__(self, loop: asyncio.AbstractEventLoop, caplog: pytest.LogCaptureFixture) -> None:
        self.caplog = caplog
        self.loop_errors: list[dict[str, Any]] = []
        loop.set_exception_handler(lambda _loop, context: self.loop_errors.append(context))

    @contextlib.contextmanager
    def deleting(self, obj: Any, watched: Any) -> Iterator[None]:
        """Delete ``obj`` now (``watched`` is gone with it); the block lets its pending work end. On
        exit: nothing was logged at WARNING or above and no exception reached the loop."""
        import shiboken6
        from PySide6.QtCore import QCoreApplication, QEvent

        self.caplog.clear()
        with self.caplog.at_level(logging.DEBUG):
            obj.deleteLater()
            QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
            assert not shiboken6.isValid(watched)
            yield
        noisy = [r for r in self.caplog.records if r.levelno >= logging.WARNING]
        assert not noisy, [r.getMessage() for r in noisy]
        assert not self.loop_errors, self.loop_errors


@pytest.fixture
def quiet_deletion(qloop: asyncio.AbstractEventLoop, caplog: pytest.LogCaptureFixture) -> QuietDeletion:
    return QuietDeletion(qloop, caplog)
