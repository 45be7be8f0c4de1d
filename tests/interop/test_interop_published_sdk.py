"""The published SDK (PyPI durabletask 1.12.0) as client *and* worker against our emulator.

One driver process runs every scenario (one published worker serves them all, plus a
DurableTaskSchedulerWorker on a non-default task hub); each test below judges one scenario's report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from interop_checks import CHECKS
from interop_harness import DTS_HUB, Backend, outcome, run_driver

pytestmark = pytest.mark.interop

#: Scenarios that fail because of a known bug elsewhere: name -> reason (xfail, strict).
KNOWN_BUGS: dict[str, str] = {}


@pytest.fixture(scope="module")
def suite_results(published_python: Path, interop_backend: Backend,
                  tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_driver(published_python, ["--address", interop_backend.address, "--dts-hub", DTS_HUB],
                      tmp_path_factory.mktemp("published-suite"))


def _params() -> list[Any]:
    return [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[name]))
        if name in KNOWN_BUGS else name
        for name in CHECKS
    ]


@pytest.mark.parametrize("scenario", _params())
def test_published_sdk_scenario(scenario: str, suite_results: dict[str, Any]) -> None:
    CHECKS[scenario](outcome(suite_results, scenario))
