"""Fixtures for the emulator's contract tests: a real EmulatorServer on a free port, raw gRPC stubs."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask._proto import orchestrator_service_pb2_grpc as pb_grpc
from durabletask.emulator import EmulatorServer
from durabletask.emulator.server import TRANSPORTS


@pytest.fixture(params=TRANSPORTS)
def make_server(request: pytest.FixtureRequest) -> Iterator[Callable[..., EmulatorServer]]:
    """Servers for the test, on each transport in turn (the contract is the same on both)."""
    servers: list[EmulatorServer] = []

    def make(**kw: Any) -> EmulatorServer:
        kw.setdefault("transport", request.param)
        kw.setdefault("port", 0)
        kw.setdefault("health_ping_interval", 0.5)
        kw.setdefault("abandon_delay", 0.2)
        s = EmulatorServer(**kw)
        s.start()
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.stop(0)


@pytest.fixture
def server(make_server: Callable[..., EmulatorServer]) -> EmulatorServer:
    return make_server()


@pytest.fixture
def stub(server: EmulatorServer) -> Iterator[pb_grpc.TaskHubSidecarServiceStub]:
    channel = grpc.insecure_channel(server.address)
    yield pb_grpc.TaskHubSidecarServiceStub(channel)
    channel.close()


def start(stub: pb_grpc.TaskHubSidecarServiceStub, name: str, value: Any = None, instance_id: str = "i1",
          metadata: tuple[tuple[str, str], ...] = (), **kw: Any) -> str:
    req = pb.CreateInstanceRequest(instanceId=instance_id, name=name, **kw)
    if value is not None:
        req.input.value = json.dumps(value)
    return stub.StartInstance(req, timeout=10, metadata=metadata).instanceId


def wait_done(stub: pb_grpc.TaskHubSidecarServiceStub, instance_id: str = "i1", timeout: float = 10,
              metadata: tuple[tuple[str, str], ...] = ()) -> pb.OrchestrationState:
    resp = stub.WaitForInstanceCompletion(pb.GetInstanceRequest(instanceId=instance_id, getInputsAndOutputs=True),
                                          timeout=timeout, metadata=metadata)
    assert resp.exists
    return resp.orchestrationState


def history(stub: pb_grpc.TaskHubSidecarServiceStub, instance_id: str = "i1") -> list[pb.HistoryEvent]:
    out: list[pb.HistoryEvent] = []
    for chunk in stub.StreamInstanceHistory(pb.StreamInstanceHistoryRequest(instanceId=instance_id), timeout=10):
        out.extend(chunk.events)
    return out


def kinds(events: list[pb.HistoryEvent]) -> list[str]:
    return [e.WhichOneof("eventType") for e in events]


class RawStream:
    """A GetWorkItems stream read on a background thread into a queue (for manual lease tests)."""

    def __init__(self, stub: pb_grpc.TaskHubSidecarServiceStub, request: pb.GetWorkItemsRequest | None = None,
                 metadata: tuple[tuple[str, str], ...] = (), skip_pings: bool = True) -> None:
        import queue
        import threading

        self.items: queue.Queue[Any] = queue.Queue()
        self.call = stub.GetWorkItems(request or pb.GetWorkItemsRequest(), metadata=metadata)
        self.skip_pings = skip_pings
        self.error: grpc.RpcError | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for item in self.call:
                if self.skip_pings and item.HasField("healthPing"):
                    continue
                self.items.put(item)
        except grpc.RpcError as exc:
            self.error = exc
            self.items.put(exc)

    def next(self, timeout: float = 5.0) -> pb.WorkItem:
        item = self.items.get(timeout=timeout)
        if isinstance(item, Exception):
            raise item
        return item

    def none_within(self, seconds: float) -> bool:
        import queue

        try:
            item = self.items.get(timeout=seconds)
        except queue.Empty:
            return True
        self.items.put(item)
        return False

    def close(self) -> None:
        self.call.cancel()
        self.thread.join(5)


def complete_orchestration(stub: pb_grpc.TaskHubSidecarServiceStub, item: pb.WorkItem,
                           *actions: pb.OrchestratorAction) -> None:
    stub.CompleteOrchestratorTask(pb.OrchestratorResponse(
        instanceId=item.orchestratorRequest.instanceId, actions=list(actions),
        completionToken=item.completionToken), timeout=10)


def completion(result: Any = None, status: int = pb.ORCHESTRATION_STATUS_COMPLETED) -> pb.OrchestratorAction:
    a = pb.OrchestratorAction(id=-1)
    a.completeOrchestration.orchestrationStatus = status  # type: ignore[assignment]
    if result is not None:
        a.completeOrchestration.result.value = json.dumps(result)
    return a


def schedule(task_id: int, name: str = "act", value: Any = None) -> pb.OrchestratorAction:
    a = pb.OrchestratorAction(id=task_id)
    a.scheduleTask.name = name
    if value is not None:
        a.scheduleTask.input.value = json.dumps(value)
    return a


def get_state(stub: pb_grpc.TaskHubSidecarServiceStub, instance_id: str = "i1",
              metadata: tuple[tuple[str, str], ...] = ()) -> pb.GetInstanceResponse:
    return stub.GetInstance(pb.GetInstanceRequest(instanceId=instance_id, getInputsAndOutputs=True),
                            timeout=10, metadata=metadata)


def new_kinds(item: pb.WorkItem) -> list[str]:
    return [e.WhichOneof("eventType") for e in item.orchestratorRequest.newEvents]
