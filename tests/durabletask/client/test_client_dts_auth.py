"""DTS metadata and bearer tokens: scopes, lazy fetch, refresh near expiry, single-flight, real calls."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from azure.core.credentials import AccessToken
from google.protobuf import empty_pb2

import durabletask
from durabletask._grpc import get_async_grpc_channel, get_grpc_channel
from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask._proto import orchestrator_service_pb2_grpc as pb_grpc
from durabletask.azuremanaged._auth import (
    AccessTokenManager,
    AsyncAccessTokenManager,
    dts_async_interceptors,
    dts_interceptors,
    dts_metadata,
    token_scope,
)


class FakeCredential:
    """A sync TokenCredential handing out numbered tokens that live ``lifetime`` seconds."""

    def __init__(self, lifetime: float = 3600, delay: float = 0.0) -> None:
        self.lifetime = lifetime
        self.delay = delay
        self.scopes: list[tuple[str, ...]] = []
        self.lock = threading.Lock()

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        if self.delay:
            time.sleep(self.delay)
        with self.lock:
            self.scopes.append(scopes)
            n = len(self.scopes)
        return AccessToken(f"tok{n}", int(time.time() + self.lifetime))


class FakeAsyncCredential:
    """An AsyncTokenCredential: ``get_token`` is a coroutine."""

    def __init__(self, lifetime: float = 3600) -> None:
        self.lifetime = lifetime
        self.scopes: list[tuple[str, ...]] = []
        self.gate = asyncio.Event()

    async def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        self.scopes.append(scopes)
        n = len(self.scopes)
        await asyncio.wait_for(self.gate.wait(), 5)
        return AccessToken(f"atok{n}", int(time.time() + self.lifetime))


@pytest.mark.parametrize(
    ("resource", "scope"),
    [
        (None, "https://durabletask.io/.default"),
        ("", "https://durabletask.io/.default"),
        (" https://example.org/ ", "https://example.org/.default"),
        ("https://example.org/.default", "https://example.org/.default"),
        ("https://example.org/.default/", "https://example.org/.default"),
    ],
)
def test_token_scope(resource, scope, monkeypatch):
    monkeypatch.delenv("REGION_NAME", raising=False)
    assert token_scope(resource) == scope


@pytest.mark.parametrize(("region", "gov"), [("usgovvirginia", True), ("USDoDEast", True), ("westus", False)])
def test_region_rule(region, gov, monkeypatch):
    monkeypatch.setenv("REGION_NAME", region)
    expected = "https://durabletask.azure.us/.default" if gov else "https://durabletask.io/.default"
    assert token_scope(None) == expected


def test_metadata_pairs_and_empty_taskhub():
    pairs = dict(dts_metadata("hub", worker_id="w1"))
    assert pairs == {
        "taskhub": "hub",
        "x-user-agent": f"durabletask-python/{durabletask.__version__}",
        "workerid": "w1",
    }
    assert "workerid" not in dict(dts_metadata("hub"))
    for bad in ("", "   "):
        with pytest.raises(ValueError, match="taskhub"):
            dts_interceptors(taskhub=bad, token_credential=None)
        with pytest.raises(ValueError, match="taskhub"):
            dts_async_interceptors(taskhub=bad, token_credential=None)


def test_not_a_credential_is_rejected():
    with pytest.raises(TypeError, match="credential"):
        dts_interceptors(taskhub="h", token_credential="secret")


def test_sync_manager_lazy_cached_and_refreshed_near_expiry():
    now = [1_000_000.0]
    cred = FakeCredential()
    cred_expiry = {"at": now[0] + 3600}

    def get_token(*scopes, **kw):
        cred.scopes.append(scopes)
        return AccessToken(f"tok{len(cred.scopes)}", int(cred_expiry["at"]))

    cred.get_token = get_token  # type: ignore[method-assign]
    mgr = AccessTokenManager(cred, clock=lambda: now[0])
    assert cred.scopes == []  # lazy
    assert mgr.get_token() == "tok1"
    assert mgr.get_token() == "tok1"
    assert cred.scopes == [("https://durabletask.io/.default",)]
    now[0] += 3600 - 601  # 601 s left: still fresh
    assert mgr.get_token() == "tok1"
    now[0] += 2  # 599 s left: refresh
    cred_expiry["at"] = now[0] + 3600
    assert mgr.get_token() == "tok2"
    assert len(cred.scopes) == 2


def test_sync_manager_single_flight():
    cred = FakeCredential(delay=0.1)
    mgr = AccessTokenManager(cred)
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(mgr.get_token())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert results == ["tok1"] * 8
    assert len(cred.scopes) == 1


def test_sync_manager_short_lived_tokens_are_fetched_each_time():
    cred = FakeCredential(lifetime=300)  # always inside the 600 s margin
    mgr = AccessTokenManager(cred)
    assert [mgr.get_token(), mgr.get_token()] == ["tok1", "tok2"]


def test_sync_manager_accepts_an_async_credential():
    cred = FakeAsyncCredential()
    cred.gate = None  # type: ignore[assignment]

    async def get_token(*scopes, **kw):
        cred.scopes.append(scopes)
        return AccessToken("from-async", int(time.time() + 3600))

    cred.get_token = get_token  # type: ignore[method-assign]
    assert AccessTokenManager(cred).get_token() == "from-async"


async def test_async_manager_single_flight_and_refresh():
    now = [1_000_000.0]
    cred = FakeAsyncCredential(lifetime=0)

    async def get_token(*scopes, **kw):
        cred.scopes.append(scopes)
        await asyncio.wait_for(cred.gate.wait(), 5)
        return AccessToken(f"atok{len(cred.scopes)}", int(now[0] + 3600))

    cred.get_token = get_token  # type: ignore[method-assign]
    mgr = AsyncAccessTokenManager(cred, resource_id="https://r.example", clock=lambda: now[0])
    tasks = [asyncio.ensure_future(mgr.get_token()) for _ in range(5)]
    await asyncio.sleep(0)
    cred.gate.set()
    assert await asyncio.gather(*tasks) == ["atok1"] * 5
    assert cred.scopes == [("https://r.example/.default",)]
    now[0] += 3600 - 599
    assert await mgr.get_token() == "atok2"


async def test_async_manager_with_sync_credential_does_not_block():
    cred = FakeCredential(delay=0.05)
    mgr = AsyncAccessTokenManager(cred)
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    t = asyncio.ensure_future(ticker())
    try:
        assert await mgr.get_token() == "tok1"
    finally:
        t.cancel()
    assert ticks > 2  # the loop kept running while the credential was called


def test_sync_interceptors_send_metadata_on_unary_and_stream(recording_server):
    cred = FakeCredential()
    icpts = dts_interceptors(taskhub="hubA", token_credential=cred, worker_id="host:1:abc")
    with get_grpc_channel(recording_server.address, interceptors=icpts) as channel:
        stub = pb_grpc.TaskHubSidecarServiceStub(channel)
        assert cred.scopes == []
        stub.Hello(empty_pb2.Empty(), timeout=5)
        list(stub.StreamInstanceHistory(pb.StreamInstanceHistoryRequest(instanceId="i"), timeout=5))
    for method in ("Hello", "StreamInstanceHistory"):
        (md,) = recording_server.metadata_of(method)
        assert md["taskhub"] == "hubA"
        assert md["x-user-agent"].startswith("durabletask-python/")
        assert md["workerid"] == "host:1:abc"
        assert md["authorization"] == "Bearer tok1"
    assert len(cred.scopes) == 1


def test_sync_interceptors_without_credential_send_no_authorization(recording_server):
    icpts = dts_interceptors(taskhub="hubB", token_credential=None)
    with get_grpc_channel(recording_server.address, interceptors=icpts) as channel:
        pb_grpc.TaskHubSidecarServiceStub(channel).Hello(empty_pb2.Empty(), timeout=5)
    (md,) = recording_server.metadata_of("Hello")
    assert md["taskhub"] == "hubB" and "authorization" not in md and "workerid" not in md


async def test_async_interceptors_send_metadata_on_unary_and_stream(recording_server):
    cred = FakeAsyncCredential()
    cred.gate.set()
    icpts = dts_async_interceptors(taskhub="hubC", token_credential=cred)
    channel = get_async_grpc_channel(recording_server.address, interceptors=icpts)
    try:
        stub = pb_grpc.TaskHubSidecarServiceStub(channel)
        await stub.Hello(empty_pb2.Empty(), timeout=5)
        chunks = [
            c async for c in stub.StreamInstanceHistory(pb.StreamInstanceHistoryRequest(instanceId="i"))
        ]
        assert len(chunks) == 3
    finally:
        await channel.close()
    for method in ("Hello", "StreamInstanceHistory"):
        (md,) = recording_server.metadata_of(method)
        assert md["taskhub"] == "hubC" and md["authorization"] == "Bearer atok1" and "workerid" not in md


def test_async_manager_serves_several_loops():
    cred = FakeCredential(lifetime=300)  # always refreshed: every call takes the lock
    mgr = AsyncAccessTokenManager(cred)

    async def burst():
        return await asyncio.gather(*(mgr.get_token() for _ in range(3)))

    first = asyncio.run(burst())
    second = asyncio.run(burst())
    assert len(first) == len(second) == 3
    assert len(cred.scopes) == 6
