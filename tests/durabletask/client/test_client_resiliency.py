"""Channel recreation after repeated transport failures, for SDK-owned channels only."""

from __future__ import annotations

import asyncio
import socket

import grpc
import pytest

from durabletask.client import AsyncTaskHubGrpcClient, DurableTaskRpcError, TaskHubGrpcClient
from durabletask.grpc_options import GrpcClientResiliencyOptions


def _dead_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def test_sync_channel_is_recreated_after_threshold(recording_server):
    opts = GrpcClientResiliencyOptions(channel_recreate_failure_threshold=2, min_recreate_interval_seconds=0)
    client = TaskHubGrpcClient(host_address=_dead_address(), resiliency_options=opts)
    try:
        first = client._channel
        with pytest.raises(DurableTaskRpcError):
            client.hello(timeout=2)
        assert client._channel is first
        with pytest.raises(DurableTaskRpcError):
            client.hello(timeout=2)
        assert client._channel is not first  # recreated after the second consecutive failure
    finally:
        client.close()


def test_recreation_respects_min_interval():
    opts = GrpcClientResiliencyOptions(
        channel_recreate_failure_threshold=1, min_recreate_interval_seconds=3600
    )
    client = TaskHubGrpcClient(host_address=_dead_address(), resiliency_options=opts)
    try:
        channels = []
        for _ in range(3):
            with pytest.raises(DurableTaskRpcError):
                client.hello(timeout=2)
            channels.append(client._channel)
        assert channels[0] is channels[1] is channels[2]  # only the first failure recreated it
    finally:
        client.close()


def test_given_channel_is_never_recreated():
    channel = grpc.insecure_channel(_dead_address())
    opts = GrpcClientResiliencyOptions(channel_recreate_failure_threshold=1, min_recreate_interval_seconds=0)
    client = TaskHubGrpcClient(channel=channel, resiliency_options=opts)
    try:
        for _ in range(2):
            with pytest.raises(DurableTaskRpcError, match="UNAVAILABLE|Cannot reach"):
                client.hello(timeout=2)
        assert client._channel is channel
    finally:
        client.close()
        channel.close()


async def test_async_channel_is_recreated_and_works_again(recording_server):
    opts = GrpcClientResiliencyOptions(channel_recreate_failure_threshold=2, min_recreate_interval_seconds=0)
    client = AsyncTaskHubGrpcClient(host_address=_dead_address(), resiliency_options=opts)
    try:
        with pytest.raises(DurableTaskRpcError, match="Cannot reach"):
            await client.hello(timeout=2)
        first = client._channel
        assert first is not None
        with pytest.raises(DurableTaskRpcError, match="Cannot reach"):
            await client.hello(timeout=2)
        assert client._channel is not None and client._channel is not first
    finally:
        await client.close()


def test_async_client_made_outside_a_loop_works_on_several_loops(recording_server):
    """grpc.aio channels belong to one loop: the client makes its channel inside the running loop."""
    client = AsyncTaskHubGrpcClient(host_address=recording_server.address)

    async def ping() -> object:
        await client.hello(timeout=5)
        return client._channel

    first = asyncio.run(ping())
    second = asyncio.run(ping())
    assert first is not second
    asyncio.run(client.close())
    assert len(recording_server.metadata_of("Hello")) == 2


def test_wait_timeouts_do_not_count_as_transport_failures(fake_server):
    opts = GrpcClientResiliencyOptions(channel_recreate_failure_threshold=1, min_recreate_interval_seconds=0)
    with TaskHubGrpcClient(host_address=fake_server.address, resiliency_options=opts) as client:
        iid = client.schedule_new_orchestration("o")
        first = client._channel
        with pytest.raises(TimeoutError):
            client.wait_for_orchestration_completion(iid, timeout=0.1)
        assert client._channel is first
