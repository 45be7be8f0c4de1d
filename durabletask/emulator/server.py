"""EmulatorServer: the emulator as an object you can start and stop (the CLI and tests use it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing_extensions import Self

import asyncio
import ipaddress
import logging
import os
import socket
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import grpc

from . import http2
from .engine import Engine, EngineOptions
from .service import SERVICE_NAME, SidecarService, generic_handler, method_table
from .store import Store

__all__ = ["TRANSPORTS", "EmulatorServer", "default_db_path", "is_loopback"]

log = logging.getLogger("durabletask.emulator")

_MAX_MESSAGE = 64 * 1024 * 1024
#: How calls reach the service. ``h2`` (the default): the emulator's own HTTP/2 on asyncio, about half
#: the emulator's CPU per orchestration; it serves clients on grpcio's C core (every Python SDK, dtstudio)
#: itself and passes any other client to a grpc.aio server on a private port. ``grpc``: grpc.aio's server
#: for everyone.
TRANSPORTS = ("h2", "grpc")
_TRANSPORT_ENV = "DTS_EMULATOR_TRANSPORT"


def _transport(requested: str | None) -> str:
    name = requested or os.environ.get(_TRANSPORT_ENV) or "h2"
    if name not in TRANSPORTS:
        raise ValueError(f"unknown transport {name!r}: choose one of {', '.join(TRANSPORTS)}")
    return name


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
    Calls are served on one event-loop thread (waits and work-item streams hold no thread), by the
    ``transport`` of :data:`TRANSPORTS` (default: env ``DTS_EMULATOR_TRANSPORT``, else ``h2``);
    ``max_workers`` caps the threads that run calls which may scan the database (queries, purges,
    history), at most 4.
    """

    def __init__(self, *, db_path: str | os.PathLike[str] | None = None, host: str = "127.0.0.1",
                 port: int = 8080, taskhubs: Sequence[str] | None = None, token: str | None = None,
                 health_ping_interval: float = 30.0, abandon_delay: float = 1.0,
                 lease_timeout: float = 600.0, max_history_size: int | None = None,
                 max_workers: int = 512, transport: str | None = None) -> None:
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
        self.transport = _transport(transport)
        self._server: _Serving | None = None
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
        """Open the database and serve on a background thread (returns once listening)."""
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        if self._requested_port:
            _check_port_free(self.host, self._requested_port)
        store = Store(self.db_path)
        engine = Engine(store, self._options)
        service = SidecarService(engine, taskhubs=self.taskhubs, token=self.token,
                                 health_ping_interval=self.health_ping_interval,
                                 pool_threads=max(1, min(self._max_workers, 4)))
        host = self.host if ":" not in self.host or self.host.startswith("[") else f"[{self.host}]"
        target = f"{host}:{self._requested_port}"
        serving = _Serving(service, target, self.transport)
        serving.thread.start()
        serving.ready.wait()
        if serving.error is not None:
            serving.thread.join(10)
            service.close()
            engine.shutdown()
            raise serving.error
        self._server, self._engine, self._port = serving, engine, serving.port

    def stop(self, grace: float | None = None) -> None:
        """Stop serving (waiting up to ``grace`` seconds for calls in flight) and close the database."""
        serving, engine = self._server, self._engine
        if serving is None or engine is None:
            return
        self._server = None
        serving.stop(grace)
        engine.shutdown()
        self._engine = None

    def reset(self) -> None:
        """Delete every instance (keeps serving)."""
        self.engine.reset()

    def wait_for_termination(self, timeout: float | None = None) -> bool:
        serving = self._server
        if serving is None:
            return True
        serving.thread.join(timeout)
        return not serving.thread.is_alive()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop(0)


class _Serving:
    """The grpc.aio server and the thread running its event loop."""

    def __init__(self, service: SidecarService, target: str, transport: str = "grpc") -> None:
        self.service = service
        self.target = target
        self.transport = transport
        self.port = 0
        self.error: Exception | None = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name="emulator-grpc", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Future[float | None] | None = None

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except Exception as exc:  # pragma: no cover - reported to start() below
            if not self.ready.is_set():
                self.error = exc
            else:
                log.exception("the emulator's server loop failed")
        finally:
            self.ready.set()
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        self.service.bind(loop)
        self._stop = loop.create_future()
        server = await (self._listen_h2() if self.transport == "h2" else self._listen_grpc())
        if server is None:
            return
        self.ready.set()
        grace = await self._stop
        stopping = asyncio.ensure_future(server.stop(grace))
        # Streams and waiters end with UNAVAILABLE; new calls are refused.
        await loop.run_in_executor(None, self.service.engine.begin_shutdown)
        await stopping
        self.service.close()

    async def _listen_grpc(self) -> grpc.aio.Server | None:
        """grpc.aio's server, listening (None, with :attr:`error` set, if it cannot)."""
        server = self._grpc_server()
        try:
            port = server.add_insecure_port(self.target)
        except RuntimeError:
            port = 0
        if not port:
            await server.stop(None)
            self.error = OSError(f"cannot listen on {self.target}: the port is in use or the address is "
                                 "not available")
            return None
        await server.start()
        self.port = port
        return server

    async def _listen_h2(self) -> http2.Http2Server | None:
        """The emulator's own HTTP/2 server, listening (None, with :attr:`error` set, if it cannot)."""
        server = http2.Http2Server(http2.routes_for(SERVICE_NAME, method_table(self.service)),
                                   max_message=_MAX_MESSAGE, fallback=self._grpc_server)
        host, _, port = self.target.rpartition(":")
        try:
            self.port = await server.listen(host, int(port))
        except OSError as exc:
            self.error = OSError(f"cannot listen on {self.target}: {exc.strerror or exc}")
            return None
        return server

    def _grpc_server(self) -> grpc.aio.Server:
        server = grpc.aio.server(options=[
            ("grpc.so_reuseport", 0),
            ("grpc.max_receive_message_length", _MAX_MESSAGE),
            ("grpc.max_send_message_length", _MAX_MESSAGE),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.min_ping_interval_without_data_ms", 5000),
        ])
        server.add_generic_rpc_handlers((generic_handler(self.service),))
        return server

    def stop(self, grace: float | None) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            def request() -> None:
                if not stop.done():
                    stop.set_result(grace)
            try:
                loop.call_soon_threadsafe(request)
            except RuntimeError:
                pass
        self.thread.join(30 + (grace or 0))
