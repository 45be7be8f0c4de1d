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
    """A qasync loop driven by Qt's event processing (qtbot.waitUntil, dialogs, ...)."""
    import qasync
    from PySide6.QtTest import QTest

    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        for _ in range(200):
            if all(t.done() for t in pending):
                break
            QTest.qWait(5)
        # Not loop.stop(): that calls QApplication.exit(), which would end the next Qt wait early.
        loop._QEventLoop__is_running = False  # type: ignore[attr-defined]
        asyncio.events._set_running_loop(None)
        loop.close()
        asyncio.set_event_loop(None)


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
