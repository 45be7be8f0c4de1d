"""Fixtures for the interop tests: the published SDK's venv and a backend on a free port.

The backend is our emulator on a SQLite *file* (the default). For developing the driver itself, set
``DTSTUDIO_INTEROP_BACKEND=published`` to run the same scenarios against the published SDK's in-memory
backend instead (several expectations then fail: that backend lacks recursive terminate, keeps no error
types for sub-orchestrations, ...).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent / "drivers"))

from interop_harness import Backend, start_backend
from interop_venv import InteropVenvError, ensure_published_sdk


@pytest.fixture(scope="session")
def published_python() -> Path:
    """The python of the venv holding PyPI ``durabletask==1.12.0`` (built on first use)."""
    try:
        return ensure_published_sdk()
    except InteropVenvError as error:
        pytest.fail(f"The published Durable Task SDK is not available for the interop tests:\n{error}",
                    pytrace=False)


@pytest.fixture(scope="session")
def interop_backend(published_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """One backend for the published-SDK suite (a file database, like real use)."""
    backend = start_backend(published_python, tmp_path_factory.mktemp("interop") / "interop.db")
    yield backend
    backend.stop()
