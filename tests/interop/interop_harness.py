"""Helpers of the interop tests: start a backend, run the published-SDK driver, read its results."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

__all__ = ["DTS_HUB", "Backend", "free_port", "outcome", "run_driver", "start_backend"]

DRIVERS = Path(__file__).parent / "drivers"
DRIVER_TIMEOUT_S = 150
DTS_HUB = "interop-hub"


@dataclass
class Backend:
    """A sidecar backend the drivers talk to."""

    address: str  # host:port, plaintext
    kind: str  # "emulator" or "published"
    _stop: list[Any] = field(default_factory=list)

    def stop(self) -> None:
        for stop in reversed(self._stop):
            stop()
        self._stop.clear()


def _start_our_emulator(db_path: Path) -> Backend:
    """Our emulator, in this process, on a free port, durable on ``db_path``, serving two task hubs."""
    from durabletask.emulator import EmulatorServer

    server = EmulatorServer(db_path=str(db_path), host="127.0.0.1", port=0, taskhubs=["default", DTS_HUB])
    server.start()
    return Backend(address=f"127.0.0.1:{server.port}", kind="emulator", _stop=[server.stop])


def _start_published_backend(python: Path) -> Backend:
    process = subprocess.Popen(
        [str(python), "-I", str(DRIVERS / "published_backend.py")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        cwd=tempfile.gettempdir(),
    )
    assert process.stdout is not None
    line = process.stdout.readline().split()
    if not line or line[0] != "READY":
        process.kill()
        pytest.fail("The published in-memory backend did not start", pytrace=False)

    def stop() -> None:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    return Backend(address=f"127.0.0.1:{line[1]}", kind="published", _stop=[stop])


def start_backend(python: Path, db_path: Path) -> Backend:
    """Start the backend under test (see the module docstring)."""
    if os.environ.get("DTSTUDIO_INTEROP_BACKEND") == "published":
        return _start_published_backend(python)
    return _start_our_emulator(db_path)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_driver(python: Path, args: list[str], out_dir: Path, timeout: float = DRIVER_TIMEOUT_S) -> dict[str, Any]:
    """Run ``published_driver.py suite ...`` in the interop venv and return its JSON results."""
    out = out_dir / f"results-{uuid.uuid4().hex[:6]}.json"
    cmd = [str(python), "-I", str(DRIVERS / "published_driver.py"), "suite", *args, "--out", str(out)]
    try:
        done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, cwd=tempfile.gettempdir())
    except subprocess.TimeoutExpired as expired:
        stderr = expired.stderr.decode() if isinstance(expired.stderr, bytes) else (expired.stderr or "")
        pytest.fail(f"The published-SDK driver did not finish in {timeout} s.\n{_tail(stderr)}", pytrace=False)
    if done.returncode != 0 or not out.exists():
        pytest.fail(f"The published-SDK driver failed (exit {done.returncode}).\n{_tail(done.stderr)}",
                    pytrace=False)
    results: dict[str, Any] = json.loads(out.read_text())
    return results


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def outcome(results: dict[str, Any], name: str) -> Any:
    """The result of scenario ``name``; fail the test with the scenario's traceback if it raised."""
    if name not in results:
        pytest.fail(f"scenario {name!r} did not run", pytrace=False)
    entry = results[name]
    if not entry["ok"]:
        pytest.fail(f"scenario {name!r} raised:\n{entry['error']}", pytrace=False)
    return entry["result"]
