"""The embedded Durable Task backend: ``TaskHubSidecarService`` over gRPC, durable on SQLite.

Start it from code with :class:`EmulatorServer`, or from a shell with
``python -m durabletask.emulator --port 8080 --db PATH`` (see :func:`main`).
"""

from __future__ import annotations

from collections.abc import Sequence

from .server import EmulatorServer, default_db_path

__all__ = ["EmulatorServer", "default_db_path", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """The emulator's command line; returns the process exit code."""
    from .cli import run

    return run(argv)
