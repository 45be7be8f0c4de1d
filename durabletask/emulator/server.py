"""EmulatorServer: the emulator as an object you can start and stop (the CLI and tests use it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing_extensions import Self

import ipaddress
import logging
import os
import socket
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

import grpc

from .engine import Engine, EngineOptions
from .service import SidecarService, generic_handler
from .store import Store

__all__ = ["EmulatorServer", "default_db_path", "is_loopback"]

log = logging.getLogger("durabletask.emulator")

_MAX_MESSAGE = 64 * 1024 * 1024


def default_db_path() -> Path:
    """Where the emulator keeps its database by default (the user's data directory)."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        xdg = os.environ.get("XDG_DATA_HOME")
        base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "dtstudio" / "emulator.db"


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    name = host.strip("[]")
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _check_port_free(host: str, port: int) -> None:
    """Fail early, with one clear message, if ``host:port`` cannot be bound (before gRPC logs noise)."""
    name = host.strip("[]")
    try:
        infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    for family, kind, proto, _, addr in infos:
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(addr)
            except OSError as exc:
                raise OSError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


class EmulatorServer:
    """The embedded Durable Task backend: a gRPC server speaking TaskHubSidecarService over SQLite.

    ``db_path=None`` keeps everything in memory. ``port=0`` picks a free port (see :attr:`port`).
    A non-loopback ``host`` requires a ``token``; then every call must send ``authorization: Bearer <token>``.
    ``max_workers`` caps the RPC threads (created on demand); calls that wait (work-item streams,
    WaitForInstance*) may hold all but an eighth of them, beyond that they get RESOURCE_EXHAUSTED, so
    completions are always served.
    """

    def __init__(self, *, db_path: str | os.PathLike[str] | None = None, host: str = "127.0.0.1",
                 port: int = 8080, taskhubs: Sequence[str] | None = None, token: str | None = None,
                 health_ping_interval: float = 30.0, abandon_delay: float = 1.0,
                 lease_timeout: float = 600.0, max_history_size: int | None = None,
                 max_workers: int = 512) -> None:
        if not is_loopback(host) and not token:
            raise ValueError(f"listening on the non-loopback address {host!r} requires a token "
                             "(--token): every call must then send 'authorization: Bearer <token>'")
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, not {port}")
        self.db_path = None if db_path is None else Path(db_path)
        self.host = host
        self._requested_port = port
        self.taskhubs = [h.strip() for h in taskhubs if h.strip()] if taskhubs else None
        self.token = token
        self.health_ping_interval = health_ping_interval
        self._options = EngineOptions(abandon_delay=abandon_delay, lease_timeout=lease_timeout,
                                      max_history_size=max_history_size)
        self._max_workers = max_workers
        self._server: grpc.Server | None = None
        self._engine: Engine | None = None
        self._port = 0

    # --------------------------------------------------------------------------------- state
    @property
    def port(self) -> int:
        """The port actually bound (valid once started)."""
        return self._port

    @property
    def address(self) -> str:
        host = self.host if ":" not in self.host or self.host.startswith("[") else f"[{self.host}]"
        return f"{host}:{self._port}"

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("the emulator is not running")
        return self._engine

    @property
    def running(self) -> bool:
        return self._server is not None

    # ----------------------------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Open the database and serve on background threads (returns at once)."""
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        if self._requested_port:
            _check_port_free(self.host, self._requested_port)
        store = Store(self.db_path)
        engine = Engine(store, self._options)
        server = grpc.server(
            ThreadPoolExecutor(max_workers=self._max_workers, thread_name_prefix="emulator-rpc"),
            options=[
                ("grpc.so_reuseport", 0),
                ("grpc.max_receive_message_length", _MAX_MESSAGE),
                ("grpc.max_send_message_length", _MAX_MESSAGE),
                ("grpc.keepalive_permit_without_calls", 1),
                ("grpc.http2.min_ping_interval_without_data_ms", 5000),
            ])
        # Threads are created on demand; waits and streams may hold all but a reserve of them.
        reserve = max(4, self._max_workers // 8)
        service = SidecarService(engine, taskhubs=self.taskhubs, token=self.token,
                                 health_ping_interval=self.health_ping_interval,
                                 max_blocking_calls=max(1, self._max_workers - reserve))
        server.add_generic_rpc_handlers((generic_handler(service),))
        host = self.host if ":" not in self.host or self.host.startswith("[") else f"[{self.host}]"
        target = f"{host}:{self._requested_port}"
        try:
            port = server.add_insecure_port(target)
        except RuntimeError:
            port = 0
        if not port:
            server.stop(None)
            engine.shutdown()
            raise OSError(f"cannot listen on {target}: the port is in use or the address is not available")
        server.start()
        self._server, self._engine, self._port = server, engine, port

    def stop(self, grace: float | None = None) -> None:
        """Stop serving (waiting up to ``grace`` seconds for calls in flight) and close the database."""
        server, engine = self._server, self._engine
        if server is None or engine is None:
            return
        self._server = None
        stopped = server.stop(grace)
        engine.begin_shutdown()  # streams and waiters end with UNAVAILABLE; new calls are refused
        stopped.wait(30)
        engine.shutdown()
        self._engine = None

    def reset(self) -> None:
        """Delete every instance (keeps serving)."""
        self.engine.reset()

    def wait_for_termination(self, timeout: float | None = None) -> bool:
        server = self._server
        if server is None:
            return True
        return bool(server.wait_for_termination(timeout))

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop(0)
