"""TaskHubService and connection checks against a real emulator on a free port."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from dtstudio.core.connection import ConnectionError_, check_connection, open_client
from dtstudio.core.instance_filter import InstanceFilter
from dtstudio.core.profiles import BackendKind, ConnectionProfile
from dtstudio.core.taskhub_service import TaskHubService


def _profile(address: str, hub: str = "default") -> ConnectionProfile:
    return ConnectionProfile("t", BackendKind.EMULATOR, f"http://{address}", hub)


@pytest.fixture
async def service(emulator: Any) -> AsyncIterator[TaskHubService]:
    client = open_client(_profile(emulator.address))
    try:
        yield TaskHubService(client, page_size=4)
    finally:
        await client.close()


async def test_pages_follow_continuation_tokens_and_filters(service: TaskHubService, sync_client: Any) -> None:
    for i in range(10):
        sync_client.schedule_new_orchestration("alpha_flow" if i % 2 else "beta_flow", instance_id=f"inst-{i:02d}")
    sync_client.schedule_new_orchestration("alpha_flow", instance_id="other-1")
    flt = InstanceFilter(id_prefix="inst-")
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = await service.fetch_page(flt, token)
        pages += 1
        assert len(page.items) <= 4
        seen += [s.instance_id for s in page.items]
        token = page.continuation_token
        if token is None:
            break
    assert sorted(seen) == [f"inst-{i:02d}" for i in range(10)]
    assert pages >= 3
    named = await service.fetch_page(InstanceFilter(name_contains="ALPHA"), None)
    assert named.items and all("alpha" in s.name for s in named.items)
    assert named.scanned >= len(named.items)
    counts = await service.count_by_status(InstanceFilter())
    assert counts.counts["PENDING"] == 11 and counts.counts["RUNNING"] == 0
    n, capped = await service.count_matching(InstanceFilter(), limit=5)
    assert (n, capped) == (5, True)


async def test_actions_against_a_running_worker(service: TaskHubService, sync_client: Any, worker: Any) -> None:
    iid = await service.start("approval_workflow", instance_id="svc-approval", tags={"team": "core"})
    assert iid == "svc-approval"
    sync_client.wait_for_orchestration_start(iid, timeout=10)
    await service.suspend(iid, "pause please")
    sync_client_state = sync_client.get_orchestration_state(iid)
    assert sync_client_state is not None
    await service.resume(iid, "go on")
    await service.raise_event(iid, "approve", {"ok": True})
    done = sync_client.wait_for_orchestration_completion(iid, timeout=10)
    assert done.runtime_status.name == "COMPLETED"
    assert '"ok": true' in done.serialized_output
    new_id = await service.restart(iid, new_instance_id=True)
    assert new_id != iid
    await service.terminate(new_id, "enough", recursive=True)
    term = sync_client.wait_for_orchestration_completion(new_id, timeout=10)
    assert term.runtime_status.name == "TERMINATED"
    assert await service.purge(iid) == 1
    assert sync_client.get_orchestration_state(iid) is None


async def test_batch_reports_each_instance(service: TaskHubService, sync_client: Any) -> None:
    sync_client.schedule_new_orchestration("x", instance_id="b-1")
    sync_client.schedule_new_orchestration("x", instance_id="b-2")
    seen: list[str] = []
    results = await service.run_batch(
        ["b-1", "b-2", "missing"], service.operation("terminate", reason="r"), on_result=lambda r: seen.append(r.instance_id)
    )
    by_id = {r.instance_id: r for r in results}
    assert sorted(seen) == ["b-1", "b-2", "missing"]
    assert by_id["b-1"].ok and by_id["b-2"].ok
    assert not by_id["missing"].ok and by_id["missing"].message


async def test_purge_by_filter_previews_then_deletes(service: TaskHubService, sync_client: Any) -> None:
    for i in range(3):
        sync_client.schedule_new_orchestration("x", instance_id=f"p-{i}")
        sync_client.terminate_orchestration(f"p-{i}")
    sync_client.schedule_new_orchestration("x", instance_id="p-live")
    for i in range(3):
        sync_client.wait_for_orchestration_completion(f"p-{i}", timeout=10)
    now = datetime.now(timezone.utc)
    window = {"created_from": now - timedelta(hours=1), "created_to": now + timedelta(minutes=1)}
    assert await service.preview_purge_by_filter(statuses=["TERMINATED"], **window) == 3
    assert await service.preview_purge_by_filter(statuses=["COMPLETED"], **window) == 0
    assert await service.purge_by_filter(statuses=["TERMINATED"], **window) == 3
    assert sync_client.get_orchestration_state("p-live") is not None
    assert sync_client.get_orchestration_state("p-0") is None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_unreachable_endpoint_is_a_plain_sentence() -> None:
    profile = _profile(f"127.0.0.1:{_free_port()}")
    client = open_client(profile)
    try:
        with pytest.raises(ConnectionError_, match="Cannot reach"):
            await check_connection(client, profile, timeout=8)
    finally:
        await client.close()


@pytest.fixture
def hub_emulator() -> Iterator[Any]:
    from durabletask.emulator import EmulatorServer

    server = EmulatorServer(db_path=None, port=0, taskhubs=["default"])
    server.start()
    yield server
    server.stop()


async def test_unknown_task_hub_is_named(hub_emulator: Any) -> None:
    profile = _profile(hub_emulator.address, hub="nope")
    client = open_client(profile)
    try:
        with pytest.raises(ConnectionError_, match="task hub 'nope' does not exist"):
            await check_connection(client, profile)
    finally:
        await client.close()
    good = _profile(hub_emulator.address)
    client = open_client(good)
    try:
        await check_connection(client, good)
    finally:
        await client.close()


@pytest.fixture
def token_emulator() -> Iterator[Any]:
    from durabletask.emulator import EmulatorServer

    server = EmulatorServer(db_path=None, port=0, token="s3cret")
    server.start()
    yield server
    server.stop()


async def test_rejected_credentials_are_reported_as_authentication_failure(token_emulator: Any) -> None:
    profile = _profile(token_emulator.address)
    client = open_client(profile)
    try:
        with pytest.raises(ConnectionError_, match="(?i)authentication failed|access denied"):
            await check_connection(client, profile)
    finally:
        await client.close()


class _FakeRpcError(Exception):
    def __init__(self, code: str, details: str) -> None:
        super().__init__(details)
        self._code = code
        self._details = details

    def code(self) -> Any:
        import grpc

        return getattr(grpc.StatusCode, self._code)

    def details(self) -> str:
        return self._details


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("UNAUTHENTICATED", "Authentication failed"),
        ("PERMISSION_DENIED", "Durable Task Data Contributor"),
        ("UNAVAILABLE", "Cannot reach http://h:1"),
        ("ALREADY_EXISTS", "already exists"),
        ("FAILED_PRECONDITION", "current state"),
    ],
)
def test_grpc_codes_become_plain_sentences(code: str, expected: str) -> None:
    from dtstudio.core.connection import describe_error

    wrapped = RuntimeError("client wrapper")
    wrapped.__cause__ = _FakeRpcError(code, "details here")
    text = describe_error(wrapped, ConnectionProfile("p", BackendKind.EMULATOR, "http://h:1", "hub"))
    assert expected in text and "details here" in text


def test_azure_sign_in_failure_is_explained() -> None:
    from azure.core.exceptions import ClientAuthenticationError

    from dtstudio.core.connection import describe_error

    text = describe_error(ClientAuthenticationError("AADSTS70043: token expired"))
    assert text.startswith("Sign-in failed") and "AADSTS70043" in text


async def test_azure_profile_with_unavailable_credential_fails_sign_in(monkeypatch: Any) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    from dtstudio.core.profiles import CredentialKind

    profile = ConnectionProfile("az", BackendKind.AZURE, "https://127.0.0.1:1", "hub", CredentialKind.AZURE_CLI)
    client = open_client(profile)
    try:
        with pytest.raises(ConnectionError_, match="Sign-in failed"):
            await check_connection(client, profile, timeout=20)
    finally:
        await client.close()
