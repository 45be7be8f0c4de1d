"""Client behaviour from a correctness review: continuation-token loops must always end."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest
from google.protobuf import empty_pb2, wrappers_pb2

from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask._proto import orchestrator_service_pb2_grpc as pb_grpc
from durabletask.client import AsyncTaskHubGrpcClient, OrchestrationQuery, TaskHubGrpcClient


class CyclingTokens(pb_grpc.TaskHubSidecarServiceServicer):
    """Answers every query with one instance and the tokens A, B, A, B, ... (a broken backend)."""

    def __init__(self) -> None:
        self.tokens = itertools.cycle(["A", "B"])
        self.calls = 0

    def Hello(self, request, context):
        return empty_pb2.Empty()

    def QueryInstances(self, request, context):
        self.calls += 1
        if self.calls > 50:
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "the client keeps paging")
        state = pb.OrchestrationState(instanceId=f"i{self.calls}", name="n")
        return pb.QueryInstancesResponse(
            orchestrationState=[state], continuationToken=wrappers_pb2.StringValue(value=next(self.tokens))
        )


@pytest.fixture
def cycling() -> Iterator[tuple[str, CyclingTokens]]:
    servicer = CyclingTokens()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    pb_grpc.add_TaskHubSidecarServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}", servicer
    finally:
        server.stop(None).wait(5)


def test_sync_get_all_states_stops_when_tokens_cycle(cycling) -> None:
    address, servicer = cycling
    with TaskHubGrpcClient(host_address=address) as client:
        states = client.get_all_orchestration_states(OrchestrationQuery(max_instance_count=1))
    assert [s.instance_id for s in states] == ["i1", "i2", "i3"]
    assert servicer.calls == 3


async def test_async_get_all_states_stops_when_tokens_cycle(cycling) -> None:
    address, servicer = cycling
    async with AsyncTaskHubGrpcClient(host_address=address) as client:
        states = await client.get_all_orchestration_states(OrchestrationQuery(max_instance_count=1))
    assert [s.instance_id for s in states] == ["i1", "i2", "i3"]
    assert servicer.calls == 3


def test_non_serializable_input_is_a_clear_error_before_any_call(cycling) -> None:
    address, _ = cycling
    with TaskHubGrpcClient(host_address=address) as client:
        with pytest.raises(TypeError, match=r"The input \(a object\) could not be serialized"):
            client.schedule_new_orchestration("orch", input=object())
        with pytest.raises(TypeError, match=r"The event data \(a object\) could not be serialized"):
            client.raise_orchestration_event("i", "go", data=object())
