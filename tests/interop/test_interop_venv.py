"""The published SDK's venv: built once, reused, and a clear error (not a hang) without PyPI."""

from __future__ import annotations

import time
from pathlib import Path

import interop_venv
import pytest
from interop_harness import free_port

pytestmark = pytest.mark.interop


def test_existing_venv_is_reused(published_python: Path) -> None:
    started = time.monotonic()
    again = interop_venv.ensure_published_sdk()
    assert again == published_python
    assert time.monotonic() - started < 30, "a matching venv must be reused, not rebuilt"


def test_unreachable_index_fails_with_a_clear_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dead = f"http://127.0.0.1:{free_port()}/simple"  # nothing listens there: connection refused
    monkeypatch.setenv("PIP_INDEX_URL", dead)
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", dead)
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "no-wheels"))
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    started = time.monotonic()
    with pytest.raises(interop_venv.InteropVenvError, match="PyPI"):
        interop_venv.ensure_published_sdk(tmp_path / "venv")
    assert time.monotonic() - started < 120
    assert not (tmp_path / "venv" / "dtstudio-interop.json").exists(), "a failed build must not look usable"
