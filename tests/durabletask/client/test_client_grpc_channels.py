"""Address parsing, channel arguments and the metadata interceptors (sync and grpc.aio)."""

from __future__ import annotations

import grpc
import grpc.aio
import pytest
from google.protobuf import empty_pb2

from durabletask._grpc import (
    DEFAULT_HOST_ADDRESS,
    AsyncMetadataInterceptor,
    MetadataInterceptor,
    channel_arguments,
    get_async_grpc_channel,
    get_grpc_channel,
    parse_host_address,
)
from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask._proto import orchestrator_service_pb2_grpc as pb_grpc
from durabletask.grpc_options import GrpcChannelOptions, GrpcRetryPolicyOptions


@pytest.mark.parametrize(
    ("address", "secure_flag", "expected"),
    [
        (None, False, ("localhost:4001", False)),
        (None, True, ("localhost:4001", True)),
        ("localhost:8080", False, ("localhost:8080", False)),
        ("localhost:8080", True, ("localhost:8080", True)),
        ("http://localhost:8080", True, ("localhost:8080", False)),
        ("grpc://localhost:8080", True, ("localhost:8080", False)),
        ("https://x.durabletask.io", False, ("x.durabletask.io", True)),
        ("grpcs://x.durabletask.io:443", False, ("x.durabletask.io:443", True)),
        ("HTTPS://X.io", False, ("X.io", True)),
        ("http://127.0.0.1:9/", True, ("127.0.0.1:9", False)),
        ("  localhost:1  ", False, ("localhost:1", False)),
        ("unix:///tmp/dt.sock", False, ("unix:///tmp/dt.sock", False)),
        ("dns:///example.org:443", True, ("dns:///example.org:443", True)),
    ],
)
def test_address_table(address, secure_flag, expected):
    assert parse_host_address(address, secure_flag) == expected


def test_default_address_constant():
    assert DEFAULT_HOST_ADDRESS == "localhost:4001"


@pytest.mark.parametrize("bad", ["", "http://", "   ", "http://host/path", "a b:1"])
def test_bad_addresses_are_rejected_clearly(bad):
    with pytest.raises(ValueError, match="host_address"):
        parse_host_address(bad)


def test_non_string_address_is_a_type_error():
    with pytest.raises(TypeError, match="host_address"):
        parse_host_address(8080)  # type: ignore[arg-type]


def test_channel_arguments_default_and_override():
    args = dict(channel_arguments())
    assert args["grpc.max_receive_message_length"] == 64 * 1024 * 1024
    args = dict(channel_arguments(GrpcChannelOptions(max_receive_message_length=1000, keepalive_time_ms=5)))
    assert args["grpc.max_receive_message_length"] == 1000
    assert args["grpc.keepalive_time_ms"] == 5
    args = dict(channel_arguments([("grpc.primary_user_agent", "me")]))
    assert args["grpc.primary_user_agent"] == "me"
    args = dict(channel_arguments(GrpcChannelOptions(retry_policy=GrpcRetryPolicyOptions())))
    assert args["grpc.enable_retries"] == 1 and "UNAVAILABLE" in args["grpc.service_config"]
    with pytest.raises(TypeError):
        channel_arguments(["nonsense"])  # type: ignore[list-item]


def test_bad_metadata_is_rejected():
    with pytest.raises(TypeError):
        MetadataInterceptor([("k",)])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        MetadataInterceptor([("k", 3)])  # type: ignore[list-item]


def test_sync_interceptor_unary_and_stream(recording_server):
    calls = iter(range(100))
    icpt = MetadataInterceptor(
        [("taskhub", "hub1"), ("X-Key", "v")], provider=lambda: [("n", str(next(calls)))]
    )
    channel = get_grpc_channel(recording_server.address, interceptors=[icpt])
    try:
        stub = pb_grpc.TaskHubSidecarServiceStub(channel)
        stub.Hello(empty_pb2.Empty(), metadata=[("own", "1")], timeout=5)
        chunks = list(stub.StreamInstanceHistory(pb.StreamInstanceHistoryRequest(instanceId="x"), timeout=5))
        assert [c.events[0].eventId for c in chunks] == [0, 1, 2]
    finally:
        channel.close()
    (hello,) = recording_server.metadata_of("Hello")
    assert hello["taskhub"] == "hub1" and hello["x-key"] == "v" and hello["own"] == "1" and hello["n"] == "0"
    (stream,) = recording_server.metadata_of("StreamInstanceHistory")
    assert stream["taskhub"] == "hub1" and stream["n"] == "1"


def test_plain_channel_without_interceptors(recording_server):
    with get_grpc_channel(f"http://{recording_server.address}", secure_channel=True) as channel:
        pb_grpc.TaskHubSidecarServiceStub(channel).Hello(empty_pb2.Empty(), timeout=5)
    (hello,) = recording_server.metadata_of("Hello")
    assert "taskhub" not in hello


async def test_async_interceptor_unary_and_stream(recording_server):
    counter = {"n": 0}

    async def provider():
        counter["n"] += 1
        return [("authorization", f"Bearer t{counter['n']}")]

    icpt = AsyncMetadataInterceptor([("taskhub", "hub2")], provider=provider)
    channel = get_async_grpc_channel(recording_server.address, interceptors=[icpt])
    try:
        stub = pb_grpc.TaskHubSidecarServiceStub(channel)
        await stub.Hello(empty_pb2.Empty(), metadata=grpc.aio.Metadata(("own", "2")), timeout=5)
        call = stub.StreamInstanceHistory(pb.StreamInstanceHistoryRequest(instanceId="x"), timeout=5)
        ids = [c.events[0].eventId async for c in call]
        assert ids == [0, 1, 2]
    finally:
        await channel.close()
    (hello,) = recording_server.metadata_of("Hello")
    assert hello["taskhub"] == "hub2" and hello["own"] == "2" and hello["authorization"] == "Bearer t1"
    (stream,) = recording_server.metadata_of("StreamInstanceHistory")
    assert stream.get("authorization") == "Bearer t2", stream


def test_unix_socket_target_reaches_a_server(tmp_path):
    from concurrent import futures

    from client_fake_backend import RecordingServicer

    servicer = RecordingServicer()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    pb_grpc.add_TaskHubSidecarServiceServicer_to_server(servicer, server)
    target = f"unix:{tmp_path}/dt.sock"
    assert server.add_insecure_port(target)
    server.start()
    try:
        with get_grpc_channel(target) as channel:
            pb_grpc.TaskHubSidecarServiceStub(channel).Hello(empty_pb2.Empty(), timeout=5)
    finally:
        server.stop(None).wait(5)
    assert [m for m, _ in servicer.calls] == ["Hello"]
