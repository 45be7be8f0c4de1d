"""WorkerHost against a real emulator: run, stop, reload, failures, connection targets."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from dtstudio.core.profiles import BackendKind, ConnectionProfile, CredentialKind
from dtstudio.core.worker_hosting import HostState, WorkerHost, worker_target_for
from durabletask.client import OrchestrationStatus

SAMPLE = Path(__file__).resolve().parents[3] / "resources" / "samples" / "hosted_worker.py"


@pytest.fixture
def host() -> Any:
    h = WorkerHost()
    yield h
    h.unload()


def test_load_run_stop_reload(host: WorkerHost, emulator: Any, sync_client: Any, tmp_path: Path) -> None:
    target = worker_target_for(ConnectionProfile("e", BackendKind.EMBEDDED, taskhub="default"), emulator.address)
    status = host.load(SAMPLE, target)
    assert status.state is HostState.RUNNING and status.connected, status.message
    assert status.orchestrators == ("greetings", "place_order")
    assert status.activities == ("greet", "reserve_stock")
    assert status.message == f"Running on embedded emulator at {emulator.address} · hub 'default'."

    iid = sync_client.schedule_new_orchestration("greetings", input=["Ada"])
    state = sync_client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.runtime_status is OrchestrationStatus.COMPLETED and state.serialized_output == '["Hello Ada!"]'

    assert host.stop().state is HostState.STOPPED
    iid2 = sync_client.schedule_new_orchestration("greetings", input=["Bob"])
    with pytest.raises(TimeoutError):
        sync_client.wait_for_orchestration_start(iid2, timeout=0.5)
    assert sync_client.get_orchestration_state(iid2).runtime_status is OrchestrationStatus.PENDING

    assert host.reload(target).state is HostState.RUNNING
    state = sync_client.wait_for_orchestration_completion(iid2, timeout=10)
    assert state.runtime_status is OrchestrationStatus.COMPLETED


def test_failures_are_states_not_exceptions(host: WorkerHost, tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f(:\n", encoding="utf-8")
    status = host.load(bad, None)
    assert status.state is HostState.FAILED and status.error is not None and status.error.line == 1
    assert status.message.startswith("Syntax error in bad.py, line 1: ")
    bad.write_text("from durabletask import task\n\n@task.orchestrator\ndef flow(ctx, _):\n    return 1\n", encoding="utf-8")
    status = host.reload(None)  # fixed file, not connected: loaded and listed, not running
    assert status.state is HostState.STOPPED and status.orchestrators == ("flow",)
    assert "connect" in status.message
    assert host.unload().state is HostState.EMPTY and host.path is None


def test_module_loggers_are_watched_and_restored(host: WorkerHost, tmp_path: Path) -> None:
    p = tmp_path / "logs.py"
    p.write_text("import logging\nfrom durabletask import task\nlog = logging.getLogger('orders.worker')\n"
                 "@task.activity\ndef a(ctx, x):\n    return x\n", encoding="utf-8")
    status = host.load(p, None)
    assert "orders.worker" in status.logger_names and "durabletask.worker.hosted" in status.logger_names
    assert logging.getLogger("orders.worker").level == logging.INFO
    host.unload()
    assert logging.getLogger("orders.worker").level == logging.NOTSET


def test_targets_follow_the_connection_profile() -> None:
    emu = worker_target_for(ConnectionProfile("e", BackendKind.EMBEDDED, taskhub="hub1"), "127.0.0.1:5000")
    assert (emu.address, emu.taskhub, emu.scheduler) == ("http://127.0.0.1:5000", "hub1", False)
    with pytest.raises(ValueError, match="not running"):
        worker_target_for(ConnectionProfile("e", BackendKind.EMBEDDED), None)
    dts = worker_target_for(ConnectionProfile("d", BackendKind.EMULATOR, "http://localhost:8080", "default"))
    assert not dts.scheduler and not dts.secure
    azure = worker_target_for(ConnectionProfile("a", BackendKind.AZURE, "https://x.westus.durabletask.io", "h",
                                                CredentialKind.AZURE_CLI))
    assert azure.scheduler and azure.secure and azure.credential is CredentialKind.AZURE_CLI
    worker = azure.create_worker()  # builds, does not connect
    assert worker.taskhub == "h"


def test_hosted_worker_leaves_other_workers_orchestrations_alone(
    host: WorkerHost, emulator: Any, worker: Any, sync_client: Any
) -> None:
    """Another worker on the same hub keeps its orchestrations: the hosted one asks only for its own."""
    target = worker_target_for(ConnectionProfile("e", BackendKind.EMBEDDED, taskhub="default"), emulator.address)
    assert host.load(SAMPLE, target).state is HostState.RUNNING
    # Only the other worker's orchestrations: that worker (the fixture's) asks for everything, so it may
    # take the hosted file's ones too; what must hold is that the hosted worker never takes these.
    ids = [sync_client.schedule_new_orchestration("hello_sequence", input=f"n{i}") for i in range(12)]
    for iid in ids:
        state = sync_client.wait_for_orchestration_completion(iid, timeout=20)
        assert state.runtime_status is OrchestrationStatus.COMPLETED, (iid, state.failure_details)
