"""Cross pairings on our emulator: the published client with *our* worker, and *our* client with the
published worker. Both run the same scenarios and pass the same checks as the published SDK alone."""

from __future__ import annotations

import json
import selectors
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import interop_scenarios
import interop_workflows
import pytest
from interop_checks import CHECKS
from interop_harness import DRIVERS, Backend, outcome, run_driver, start_backend

from durabletask.client import TaskHubGrpcClient
from durabletask.worker import TaskHubGrpcWorker

pytestmark = pytest.mark.interop

#: Every scenario of the default task hub (the DTS one needs the azure-managed classes on both sides).
SCENARIOS = [name for name in CHECKS if name != "dts"]

#: Scenarios that fail because of a known bug elsewhere: (pairing, name) -> reason (xfail, strict).
KNOWN_BUGS: dict[tuple[str, str], str] = {}


def _params(pairing: str) -> list[Any]:
    return [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[(pairing, name)]))
        if (pairing, name) in KNOWN_BUGS else name
        for name in SCENARIOS
    ]


@pytest.fixture(scope="module")
def cross_backend(published_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """A fresh emulator for the cross pairings, so no other worker serves its task hub."""
    backend = start_backend(published_python, tmp_path_factory.mktemp("cross") / "cross.db")
    yield backend
    backend.stop()


@pytest.fixture(scope="module")
def published_client_our_worker(published_python: Path, cross_backend: Backend,
                                tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    worker = TaskHubGrpcWorker(host_address=cross_backend.address)
    interop_workflows.register_all(worker)
    worker.start()
    try:
        return run_driver(published_python,
                          ["--address", cross_backend.address, "--no-worker", "--scenarios", ",".join(SCENARIOS)],
                          tmp_path_factory.mktemp("cross-a"))
    finally:
        worker.stop()


def _wait_ready(process: subprocess.Popen[str], timeout: float) -> None:
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if selector.select(timeout=max(0.0, deadline - time.monotonic())):
                line = process.stdout.readline()
                if line.strip() == "READY":
                    return
                if not line:
                    break
    finally:
        selector.close()
    process.kill()
    process.wait()
    pytest.fail(f"the published worker did not start within {timeout} s", pytrace=False)


@pytest.fixture(scope="module")
def our_client_published_worker(published_python: Path, cross_backend: Backend,
                                published_client_our_worker: dict[str, Any]) -> Iterator[dict[str, Any]]:
    # Depends on the other pairing so that the two never share the task hub at the same time.
    process = subprocess.Popen(
        [str(published_python), "-I", str(DRIVERS / "published_driver.py"), "serve",
         "--address", cross_backend.address],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        cwd=tempfile.gettempdir(),
    )
    try:
        _wait_ready(process, timeout=60)
        client = TaskHubGrpcClient(host_address=cross_backend.address)
        try:
            ns = uuid.uuid4().hex[:8]
            phase_one = {k: v for k, v in interop_scenarios.PHASE_ONE.items() if k in SCENARIOS}
            phase_one["async_client"] = interop_scenarios.async_client_scenario(cross_backend.address)
            phase_two = {k: v for k, v in interop_scenarios.PHASE_TWO.items() if k in SCENARIOS}
            results = interop_scenarios.run_scenarios(client, phase_one, ns)
            results.update(interop_scenarios.run_scenarios(client, phase_two, ns))
        finally:
            client.close()
        # The same JSON round trip as the driver's report: checks see plain data either way.
        yield json.loads(json.dumps(results, default=str))
    finally:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.close()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


@pytest.mark.parametrize("scenario", _params("published-client/our-worker"))
def test_published_client_with_our_worker(scenario: str, published_client_our_worker: dict[str, Any]) -> None:
    CHECKS[scenario](outcome(published_client_our_worker, scenario))


@pytest.mark.parametrize("scenario", _params("our-client/published-worker"))
def test_our_client_with_published_worker(scenario: str, our_client_published_worker: dict[str, Any]) -> None:
    CHECKS[scenario](outcome(our_client_published_worker, scenario))
