"""``python -m durabletask.emulator``: run the emulator until Ctrl+C or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sqlite3
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from .server import TRANSPORTS, EmulatorServer, default_db_path
from .store import DatabaseInUseError, SchemaTooNewError

__all__ = ["build_parser", "run"]

log = logging.getLogger("durabletask.emulator")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m durabletask.emulator",
        description="A local Durable Task backend (TaskHubSidecarService over gRPC), durable on SQLite.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; anything else requires --token)")
    p.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080; 0 = any free port)")
    p.add_argument("--db", metavar="PATH", default=None,
                   help=f"SQLite database file (default {default_db_path()})")
    p.add_argument("--in-memory", action="store_true", help="keep everything in memory (nothing is saved)")
    p.add_argument("--taskhubs", metavar="A,B", default=None,
                   help="comma-separated task hubs to serve; others get NOT_FOUND (default: env "
                        "DTS_TASK_HUB_NAMES, else any hub name is accepted)")
    p.add_argument("--token", default=None, help="require 'authorization: Bearer TOKEN' on every call")
    p.add_argument("--transport", choices=TRANSPORTS, default=None,
                   help="h2: the emulator's own HTTP/2, about half the CPU per orchestration, for clients on "
                        "grpcio's C core (the Python SDKs, dtstudio; any other client is passed to grpc.aio); "
                        "grpc: grpc.aio's server for every client (default: env DTS_EMULATOR_TRANSPORT, else h2)")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                   help="log level (default INFO)")
    p.add_argument("--health-ping-interval", type=float, default=30.0, help=argparse.SUPPRESS)
    return p


def run(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=getattr(logging, args.log_level), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    hubs_text = args.taskhubs if args.taskhubs is not None else os.environ.get("DTS_TASK_HUB_NAMES")
    taskhubs = [h.strip() for h in hubs_text.split(",") if h.strip()] if hubs_text else None
    db = None if args.in_memory else (args.db or default_db_path())
    try:
        server = EmulatorServer(db_path=db, host=args.host, port=args.port, taskhubs=taskhubs, token=args.token,
                                health_ping_interval=args.health_ping_interval, transport=args.transport)
        server.start()
    except (ValueError, OSError, SchemaTooNewError, DatabaseInUseError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except sqlite3.Error as exc:
        print(f"error: cannot use the database {db}: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    log.info("Durable Task emulator listening on %s (database: %s, task hubs: %s, transport: %s)", server.address,
             "in memory" if db is None else db, ", ".join(taskhubs) if taskhubs else "any", server.transport)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        log.info("stopping the emulator")
        server.stop(grace=2.0)
    return 0
