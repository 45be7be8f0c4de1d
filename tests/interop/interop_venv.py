"""A separate virtualenv holding the published Durable Task SDK (PyPI ``durabletask``).

The published package is called ``durabletask``, like ours, so it cannot live in the project's own
environment. The interop tests and ``bench/throughput.py`` both need it; this module creates it once
(``<repo>/.interop-venv``, git-ignored), reuses it while it still matches the pinned requirements, and
fails with a clear message (never a hang) when PyPI cannot be reached.

Usable as a script too: ``python tests/interop/interop_venv.py`` prints the venv's python path.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "PUBLISHED_REQUIREMENTS",
    "InteropVenvError",
    "default_venv_dir",
    "ensure_published_sdk",
    "venv_python",
]

#: The published SDK versions we test against and benchmark with.
PUBLISHED_REQUIREMENTS: tuple[str, ...] = ("durabletask==1.12.0", "durabletask-azuremanaged==1.12.0")

_REPO_ROOT = Path(__file__).resolve().parents[2]
_MARKER = "dtstudio-interop.json"
_PIP_NETWORK_TIMEOUT_S = 20  # per network operation, passed to pip
_PIP_TOTAL_TIMEOUT_S = 420  # whole install, enforced by us
_VENV_CREATE_TIMEOUT_S = 180


class InteropVenvError(RuntimeError):
    """The published SDK's virtualenv could not be created (no network, no venv module, ...)."""


def default_venv_dir() -> Path:
    """Where the published SDK's venv lives: ``$DTSTUDIO_INTEROP_VENV`` or ``<repo>/.interop-venv``."""
    override = os.environ.get("DTSTUDIO_INTEROP_VENV")
    return Path(override).resolve() if override else _REPO_ROOT / ".interop-venv"


def venv_python(venv_dir: Path) -> Path:
    """The interpreter inside ``venv_dir``.

    Run it with ``-I`` and a working directory outside the repository: our own ``durabletask`` package
    would otherwise shadow the published one (the current directory goes first on ``sys.path``).
    """
    return venv_dir / "bin" / "python"


def _wanted_marker() -> dict[str, object]:
    return {
        "requirements": list(PUBLISHED_REQUIREMENTS),
        "base_python": f"{sys.version_info.major}.{sys.version_info.minor}",
    }


def _is_usable(venv_dir: Path) -> bool:
    marker = venv_dir / _MARKER
    python = venv_python(venv_dir)
    if not marker.is_file() or not python.exists():
        return False
    try:
        if json.loads(marker.read_text()) != _wanted_marker():
            return False
    except (OSError, ValueError):
        return False
    probe = subprocess.run(
        [str(python), "-I", "-c", "import durabletask.azuremanaged.client, durabletask.testing"],
        check=False,
        capture_output=True,
        timeout=60,
        cwd=tempfile.gettempdir(),
    )
    return probe.returncode == 0


@contextlib.contextmanager
def _exclusive(venv_dir: Path) -> Iterator[None]:
    """Serialise creation between processes (a test run and a benchmark started together)."""
    digest = hashlib.sha1(str(venv_dir).encode()).hexdigest()[:12]
    lock_path = Path(tempfile.gettempdir()) / f"dtstudio-interop-venv-{digest}.lock"
    with open(lock_path, "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _run(cmd: list[str], timeout: float, what: str) -> None:
    try:
        done = subprocess.run(
            cmd, check=False, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
            cwd=tempfile.gettempdir(),
        )
    except subprocess.TimeoutExpired as exc:
        raise InteropVenvError(
            f"{what} did not finish within {timeout:.0f} s (is PyPI reachable?): {' '.join(cmd)}"
        ) from exc
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise InteropVenvError(
            f"{what} failed with exit code {done.returncode} (is PyPI reachable?)\n"
            f"command: {' '.join(cmd)}\n{tail}"
        )


def ensure_published_sdk(venv_dir: Path | None = None) -> Path:
    """Return the python of a venv holding the published SDK, creating the venv if needed.

    Raises :class:`InteropVenvError` with a readable message when the venv cannot be built.
    """
    venv_dir = venv_dir or default_venv_dir()
    with _exclusive(venv_dir):
        if _is_usable(venv_dir):
            return venv_python(venv_dir)
        if venv_dir.exists():
            shutil.rmtree(venv_dir)
        base_python = getattr(sys, "_base_executable", None) or sys.executable
        python = str(venv_python(venv_dir))
        pip_args = ["install", "--quiet", "--disable-pip-version-check",
                    "--timeout", str(_PIP_NETWORK_TIMEOUT_S), "--retries", "1", *PUBLISHED_REQUIREMENTS]
        if importlib.util.find_spec("pip") is not None:
            # Fast path: a venv without its own pip, filled by this interpreter's pip (--python).
            _run([base_python, "-m", "venv", "--without-pip", str(venv_dir)], _VENV_CREATE_TIMEOUT_S,
                 "Creating the interop venv")
            install = [sys.executable, "-m", "pip", "--python", python, *pip_args]
        else:
            _run([base_python, "-m", "venv", str(venv_dir)], _VENV_CREATE_TIMEOUT_S, "Creating the interop venv")
            install = [python, "-m", "pip", *pip_args]
        _run(install, _PIP_TOTAL_TIMEOUT_S, "Installing the published Durable Task SDK from PyPI")
        (venv_dir / _MARKER).write_text(json.dumps(_wanted_marker()))
        if not _is_usable(venv_dir):
            raise InteropVenvError(f"The interop venv at {venv_dir} was built but cannot import durabletask")
        return venv_python(venv_dir)


if __name__ == "__main__":
    try:
        print(ensure_published_sdk())
    except InteropVenvError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
