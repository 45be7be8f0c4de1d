"""Hosting a worker from a user's Python file inside dtstudio (a later milestone).

The shape is fixed now so the UI has a place for it: a :class:`WorkerHost` loads a module, finds
the functions decorated as orchestrators/activities, and runs a ``TaskHubGrpcWorker`` against the
current connection. Until it is built, :func:`worker_hosting_available` says False and the UI hides
the menu entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["WorkerHostSpec", "worker_hosting_available"]


@dataclass
class WorkerHostSpec:
    """What a hosted worker will run: a Python file and the names found in it."""

    path: Path
    orchestrators: list[str] = field(default_factory=list)
    activities: list[str] = field(default_factory=list)


def worker_hosting_available() -> bool:
    """Whether this build can host a worker (not yet)."""
    return False
