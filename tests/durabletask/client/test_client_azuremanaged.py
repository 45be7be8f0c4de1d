"""DurableTaskSchedulerClient / AsyncDurableTaskSchedulerClient: constructor forms and metadata on the wire."""

from __future__ import annotations

import time

import pytest
from azure.core.credentials import AccessToken

import durabletask
from durabletask.azuremanaged.client import AsyncDurableTaskSchedulerClient, DurableTaskSchedulerClient


class Cred:
    def __init__(self) -> None:
        self.calls = 0

    def get_token(self, *scopes, **kwargs):
        self.calls += 1
        assert scopes == ("https://durabletask.io/.default",)
        return AccessToken(f"sync-{self.calls}", int(time.time() + 3600))


class AsyncCred:
    def __init__(self) -> None:
        self.calls = 0

    async def get_token(self, *scopes, **kwargs):
        self.calls += 1
        return AccessToken(f"async-{self.calls}", int(time.time() + 3600))


def test_published_form_sends_metadata_on_unary_and_stream(recording_server, monkeypatch):
    monkeypatch.delenv("REGION_NAME", raising=False)
    cred = Cred()
    with DurableTaskSchedulerClient(
        host_address=f"http://{recording_server.address}",
        secure_channel=True,
        taskhub="hub-x",
        token_credential=cred,
    ) as client:
        assert cred.calls == 0  # lazily fetched
        client.hello()
        assert client.get_orchestration_state("nope") is None
        assert len(client.get_orchestration_history("any")) == 3
    for method in ("Hello", "GetInstance", "StreamInstanceHistory"):
        (md,) = recording_server.metadata_of(method)
        assert md["taskhub"] == "hub-x"
        assert md["x-user-agent"] == f"durabletask-python/{durabletask.__version__}"
        assert md["authorization"] == "Bearer sync-1"
        assert "workerid" not in md
    assert cred.calls == 1


def test_document_form_host_and_credential(recording_server):
    cred = Cred()
    client = DurableTaskSchedulerClient(host=f"http://{recording_server.address}", credential=cred)
    try:
        client.hello()
    finally:
        client.close()
    (md,) = recording_server.metadata_of("Hello")
    assert md["taskhub"] == "default" and md["authorization"] == "Bearer sync-1"
    assert client.taskhub == "default"


def test_no_credential_means_no_token(recording_server):
    with DurableTaskSchedulerClient(
        host=f"http://{recording_server.address}", secure_channel=True, taskhub="default"
    ) as client:
        client.hello()
    (md,) = recording_server.metadata_of("Hello")
    assert md["taskhub"] == "default" and "authorization" not in md


def test_user_interceptors_still_apply(recording_server):
    from durabletask._grpc import MetadataInterceptor

    with DurableTaskSchedulerClient(
        host_address=f"http://{recording_server.address}",
        taskhub="h",
        token_credential=None,
        interceptors=[MetadataInterceptor([("extra", "1")])],
    ) as client:
        client.hello()
    (md,) = recording_server.metadata_of("Hello")
    assert md["extra"] == "1" and md["taskhub"] == "h"


def test_given_sync_channel_gets_the_metadata(recording_server):
    import grpc

    channel = grpc.insecure_channel(recording_server.address)
    try:
        client = DurableTaskSchedulerClient(
            host_address="unused:1", taskhub="hub-c", token_credential=None, channel=channel
        )
        client.hello()
        client.close()  # a channel passed in stays open
        grpc.channel_ready_future(channel).result(timeout=5)
    finally:
        channel.close()
    (md,) = recording_server.metadata_of("Hello")
    assert md["taskhub"] == "hub-c"


@pytest.mark.parametrize("cls", [DurableTaskSchedulerClient, AsyncDurableTaskSchedulerClient])
def test_constructor_errors(cls):
    with pytest.raises(ValueError, match="taskhub"):
        cls(host_address="http://localhost:1", taskhub="", token_credential=None)
    with pytest.raises(ValueError, match="host_address"):
        cls(taskhub="h")
    with pytest.raises(ValueError, match="not both"):
        cls(host_address="http://a:1", host="http://b:1")
    with pytest.raises(ValueError, match="not both"):
        cls(host_address="http://a:1", token_credential=Cred(), credential=Cred())
    with pytest.raises(TypeError, match="credential"):
        cls(host_address="http://a:1", token_credential="not a credential")


async def test_async_client_sends_metadata_with_async_credential(recording_server):
    cred = AsyncCred()
    async with AsyncDurableTaskSchedulerClient(
        host_address=f"http://{recording_server.address}", taskhub="hub-a", token_credential=cred
    ) as client:
        await client.hello()
        assert await client.get_orchestration_state("x") is None
        assert len(await client.get_orchestration_history("x")) == 3
    for method in ("Hello", "GetInstance", "StreamInstanceHistory"):
        (md,) = recording_server.metadata_of(method)
        assert md["taskhub"] == "hub-a" and md["authorization"] == "Bearer async-1"
    assert cred.calls == 1


async def test_async_client_document_form_with_sync_credential(recording_server):
    async with AsyncDurableTaskSchedulerClient(
        host=f"http://{recording_server.address}", credential=Cred()
    ) as c:
        await c.hello()
    (md,) = recording_server.metadata_of("Hello")
    assert md["taskhub"] == "default" and md["authorization"] == "Bearer sync-1"


def test_package_exposes_the_clients():
    import durabletask.azuremanaged as am

    assert am.DurableTaskSchedulerClient is DurableTaskSchedulerClient
    assert am.AsyncDurableTaskSchedulerClient is AsyncDurableTaskSchedulerClient
    with pytest.raises(AttributeError):
        am.Nothing  # noqa: B018


def test_document_create_a_client_snippet_constructs_without_network():
    """``DurableTaskSchedulerClient(host=..., secure_channel=True, taskhub="default")`` from the document."""
    client = DurableTaskSchedulerClient(
        host="your-scheduler.centralus.durabletask.io", secure_channel=True, taskhub="default"
    )
    try:
        assert client.address == "https://your-scheduler.centralus.durabletask.io"
        assert client.taskhub == "default"
    finally:
        client.close()


def test_credential_failures_surface_unchanged(recording_server):
    from azure.core.exceptions import ClientAuthenticationError

    class Broken:
        def get_token(self, *scopes, **kwargs):
            raise ClientAuthenticationError("not signed in")

    with DurableTaskSchedulerClient(
        host_address=f"http://{recording_server.address}", credential=Broken()
    ) as c:
        with pytest.raises(ClientAuthenticationError, match="not signed in"):
            c.hello()
        with pytest.raises(ClientAuthenticationError, match="not signed in"):
            c.get_orchestration_history("x")
    assert recording_server.metadata_of("Hello") == []


async def test_async_credential_failures_surface_unchanged(recording_server):
    from azure.core.exceptions import ClientAuthenticationError

    class Broken:
        async def get_token(self, *scopes, **kwargs):
            raise ClientAuthenticationError("not signed in")

    async with AsyncDurableTaskSchedulerClient(
        host_address=f"http://{recording_server.address}", credential=Broken()
    ) as c:
        with pytest.raises(ClientAuthenticationError, match="not signed in"):
            await c.hello()
        with pytest.raises(ClientAuthenticationError, match="not signed in"):
            await c.get_orchestration_history("x")
    assert recording_server.metadata_of("Hello") == []
