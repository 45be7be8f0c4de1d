"""The basic path: start an orchestration, a fake worker runs it, the result and history are right."""

from __future__ import annotations

import json

from emulator_fake_worker import FakeWorker, chain, inc

from conftest import history, kinds, start, wait_done
from durabletask._proto import orchestrator_service_pb2 as pb


def test_chain_completes_with_canonical_history(server, stub):
    with FakeWorker(server.address, {"chain": chain}, {"inc": inc}):
        start(stub, "chain", {"n": 3, "v": 10})
        state = wait_done(stub)
    assert state.orchestrationStatus == pb.ORCHESTRATION_STATUS_COMPLETED
    assert json.loads(state.output.value) == 13
    ev = history(stub)
    assert kinds(ev) == [
        "orchestratorStarted", "executionStarted", "taskScheduled", "orchestratorCompleted",
        "orchestratorStarted", "taskCompleted", "taskScheduled", "orchestratorCompleted",
        "orchestratorStarted", "taskCompleted", "taskScheduled", "orchestratorCompleted",
        "orchestratorStarted", "taskCompleted", "orchestratorCompleted", "executionCompleted",
    ]
    assert [e.eventId for e in ev if e.HasField("taskScheduled")] == [1, 2, 3]
    assert all(e.timestamp.seconds > 0 for e in ev)
