"""End-to-end fixtures: our emulator (in memory, free port), our worker and our clients."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

from durabletask.client import TaskHubGrpcClient
from durabletask.grpc_options import GrpcWorkerResiliencyOptions
from durabletask.worker import TaskHubGrpcWorker

#: Reconnect fast in tests (the worker may have to reconnect after an emulator restart).
FAST_RECONNECT = GrpcWorkerResiliencyOptions(
    reconnect_backoff_base_seconds=0.05, reconnect_backoff_cap_seconds=0.5
)


class Emulator:
    """A running emulator: ``address`` is ``host:port``; ``endpoint`` the ``http://`` form."""

    def __init__(self, **kwargs: Any) -> None:
        from durabletask.emulator import EmulatorServer

        self.server = EmulatorServer(port=0, **kwargs)
        started = self.server.start()
        if started is not None and hasattr(started, "address"):
            self.server = started
        self.address: str = self.server.address
        if "://" in self.address:
            self.address = self.address.split("://", 1)[1]
        self.port = int(self.address.rsplit(":", 1)[1])
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    emu = Emulator()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def client(emulator: Emulator) -> Iterator[TaskHubGrpcClient]:
    c = TaskHubGrpcClient(host_address=emulator.address)
    try:
        yield c
    finally:
        c.close()


WorkerFactory = Callable[..., TaskHubGrpcWorker]


@pytest.fixture
def start_worker(emulator: Emulator) -> Iterator[WorkerFactory]:
    """``start_worker(orchestrators=[...], activities=[...])``: a started worker, stopped at the end."""
    workers: list[TaskHubGrpcWorker] = []

    def factory(
        orchestrators: Iterable[Any] = (), activities: Iterable[Any] = (), **kw: Any
    ) -> TaskHubGrpcWorker:
        kw.setdefault("resiliency_options", FAST_RECONNECT)
        worker = TaskHubGrpcWorker(host_address=emulator.address, **kw)
        for fn in orchestrators:
            worker.add_orchestrator(fn)
        for fn in activities:
            worker.add_activity(fn)
        worker.start()
        workers.append(worker)
        return worker

    try:
        yield factory
    finally:
        for w in workers:
            w.stop()
