"""The fake worker's orchestrator shared by bench/emulator_raw.py and bench/emulator_ops.py.

Stateless: it derives each step from the history it is sent, so the figures measure the emulator, not an
SDK's replay.
"""

from __future__ import annotations

import json

from durabletask._proto import orchestrator_service_pb2 as pb


def orchestrate(req: pb.OrchestratorRequest) -> pb.OrchestratorResponse:
    """chain(n, v): call 'inc' n times, threading the value through; return it (stateless replay)."""
    started = None
    done = 0
    scheduled = 0
    value = None
    for events in (req.pastEvents, req.newEvents):
        for e in events:
            kind = e.WhichOneof("eventType")
            if kind == "executionStarted":
                started = e.executionStarted
            elif kind == "taskCompleted":
                done += 1
                value = e.taskCompleted.result.value
            elif kind == "taskScheduled":
                scheduled += 1
    assert started is not None
    args = json.loads(started.input.value)
    if value is None:
        value = json.dumps(args["v"])
    resp = pb.OrchestratorResponse(instanceId=req.instanceId)
    if done == args["n"]:
        a = resp.actions.add(id=-1)
        a.completeOrchestration.orchestrationStatus = pb.ORCHESTRATION_STATUS_COMPLETED
        a.completeOrchestration.result.value = value
    elif scheduled == done:
        a = resp.actions.add(id=done + 1)
        a.scheduleTask.name = "inc"
        a.scheduleTask.input.value = value
    return resp
