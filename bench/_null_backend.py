"""A backend that does nothing but serve the chain workload: no storage, no checks, no timers.

Used by ``bench/throughput.py --only a,b,c,n`` to measure how fast an SDK's worker and client go when the
backend costs (almost) nothing: for the published SDK, about as fast as on its own in-memory backend,
which shows that the SDK, not its backend, limits (a). (Our emulator makes the published SDK faster than
this null backend does, 81 vs 72 orchestrations/s in a 5-round run; why is not established.) It speaks just enough of
``TaskHubSidecarService`` for ``bench/_workload.py --workload chain`` (Hello, StartInstance, GetWorkItems,
CompleteOrchestratorTask, CompleteActivityTask, WaitForInstanceCompletion) and serves it with grpc.aio on
one event loop. Not a product: never use it for anything else.

    python bench/_null_backend.py --port PORT     # stops on SIGTERM
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import signal
import sys
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, timestamp_pb2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from durabletask._proto import orchestrator_service_pb2 as pb  # noqa: E402

_SERVICE = "TaskHubSidecarService"


def _now() -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.GetCurrentTime()
    return stamp


def _event(event_id: int = -1, **kind: Any) -> pb.HistoryEvent:
    return pb.HistoryEvent(eventId=event_id, timestamp=_now(), **kind)


class _Instance:
    def __init__(self, instance_id: str, name: str, input: Any) -> None:
        self.instance_id = instance_id
        self.name = name
        self.created = _now()
        self.history: list[pb.HistoryEvent] = []
        started = pb.ExecutionStartedEvent(name=name, orchestrationInstance=pb.OrchestrationInstance(
            instanceId=instance_id))
        if input is not None:
            started.input.CopyFrom(input)
        self.inbox = [_event(orchestratorStarted=pb.OrchestratorStartedEvent()), _event(executionStarted=started)]
        self.status = pb.ORCHESTRATION_STATUS_RUNNING
        self.output: Any = None
        self.waiters: list[asyncio.Future[None]] = []
        self.leased = False
        self.queued = False


class NullBackend:
    """The whole state, in memory; everything runs on the event loop."""

    def __init__(self) -> None:
        self.instances: dict[str, _Instance] = {}
        self.ready: collections.deque[_Instance] = collections.deque()
        self.activities: collections.deque[tuple[_Instance, pb.ActivityRequest]] = collections.deque()
        self.leases: dict[str, Any] = {}
        self.tokens = itertools.count()
        self.wake = asyncio.Event()

    def _mark(self, inst: _Instance) -> None:
        if not inst.leased and not inst.queued and inst.inbox:
            inst.queued = True
            self.ready.append(inst)
            self.wake.set()

    def _take(self) -> bytes | None:
        token = str(next(self.tokens))
        if self.activities:
            inst, request = self.activities.popleft()
            self.leases[token] = (inst, request)
            return pb.WorkItem(activityRequest=request, completionToken=token).SerializeToString()
        if self.ready:
            inst = self.ready.popleft()
            inst.queued, inst.leased = False, True
            new, inst.inbox = inst.inbox, []
            self.leases[token] = (inst, new)
            request = pb.OrchestratorRequest(instanceId=inst.instance_id, pastEvents=inst.history, newEvents=new)
            return pb.WorkItem(orchestratorRequest=request, completionToken=token).SerializeToString()
        return None

    def _state(self, instance_id: str) -> pb.GetInstanceResponse:
        inst = self.instances.get(instance_id)
        if inst is None:
            return pb.GetInstanceResponse(exists=False)
        state = pb.OrchestrationState(instanceId=instance_id, name=inst.name, orchestrationStatus=inst.status,
                                      createdTimestamp=inst.created, lastUpdatedTimestamp=_now())
        if inst.output is not None:
            state.output.CopyFrom(inst.output)
        return pb.GetInstanceResponse(exists=True, orchestrationState=state)

    # ------------------------------------------------------------------------------- handlers
    async def hello(self, request: Any, context: Any) -> empty_pb2.Empty:
        return empty_pb2.Empty()

    async def start(self, request: pb.CreateInstanceRequest, context: Any) -> pb.CreateInstanceResponse:
        inst = _Instance(request.instanceId, request.name, request.input if request.HasField("input") else None)
        self.instances[request.instanceId] = inst
        self._mark(inst)
        return pb.CreateInstanceResponse(instanceId=request.instanceId)

    async def wait_completion(self, request: pb.GetInstanceRequest, context: Any) -> pb.GetInstanceResponse:
        inst = self.instances.get(request.instanceId)
        if inst is not None and inst.status == pb.ORCHESTRATION_STATUS_RUNNING:
            waiter = asyncio.get_running_loop().create_future()
            inst.waiters.append(waiter)
            await waiter
        return self._state(request.instanceId)

    async def work_items(self, request: Any, context: Any) -> Any:
        while True:
            item = self._take()
            if item is None:
                self.wake.clear()
                await self.wake.wait()
                continue
            yield item

    async def complete_orchestration(self, response: pb.OrchestratorResponse, context: Any) -> Any:
        inst, new = self.leases.pop(response.completionToken)
        inst.history.extend(new)
        inst.leased = False
        for action in response.actions:
            if action.HasField("scheduleTask"):
                task = action.scheduleTask
                inst.history.append(_event(action.id, taskScheduled=pb.TaskScheduledEvent(name=task.name,
                                                                                         input=task.input)))
                self.activities.append((inst, pb.ActivityRequest(
                    name=task.name, input=task.input, taskId=action.id,
                    orchestrationInstance=pb.OrchestrationInstance(instanceId=inst.instance_id))))
                self.wake.set()
            elif action.HasField("completeOrchestration"):
                inst.status = action.completeOrchestration.orchestrationStatus
                inst.output = action.completeOrchestration.result
                for waiter in inst.waiters:
                    if not waiter.done():
                        waiter.set_result(None)
        self._mark(inst)
        return pb.CompleteTaskResponse()

    async def complete_activity(self, response: pb.ActivityResponse, context: Any) -> Any:
        inst, request = self.leases.pop(response.completionToken)
        done = pb.TaskCompletedEvent(taskScheduledId=request.taskId)
        if response.HasField("result"):
            done.result.CopyFrom(response.result)
        inst.inbox.append(_event(taskCompleted=done))
        self._mark(inst)
        return pb.CompleteTaskResponse()


def _serialize(message: Any) -> bytes:
    return message if isinstance(message, bytes) else message.SerializeToString()


def method_table(backend: NullBackend) -> dict[str, tuple[Any, Any, Any, bool]]:
    """The chain workload's methods: name -> (handler, request parser, serializer, server-streaming)."""
    return {
        "Hello": (backend.hello, empty_pb2.Empty.FromString, _serialize, False),
        "StartInstance": (backend.start, pb.CreateInstanceRequest.FromString, _serialize, False),
        "WaitForInstanceCompletion": (backend.wait_completion, pb.GetInstanceRequest.FromString, _serialize,
                                      False),
        "GetWorkItems": (backend.work_items, pb.GetWorkItemsRequest.FromString, _serialize, True),
        "CompleteOrchestratorTask": (backend.complete_orchestration, pb.OrchestratorResponse.FromString,
                                     _serialize, False),
        "CompleteActivityTask": (backend.complete_activity, pb.ActivityResponse.FromString, _serialize, False),
    }


def _handler(backend: NullBackend) -> grpc.GenericRpcHandler:
    handlers = {}
    for name, (fn, parse, serialize, streaming) in method_table(backend).items():
        make = grpc.unary_stream_rpc_method_handler if streaming else grpc.unary_unary_rpc_method_handler
        handlers[name] = make(fn, request_deserializer=parse, response_serializer=serialize)
    return grpc.method_handlers_generic_handler(pb.DESCRIPTOR.services_by_name[_SERVICE].full_name, handlers)


async def _serve(port: int) -> None:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((_handler(NullBackend()),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await server.stop(None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(_serve(parser.parse_args().port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
