"""Running the embedded emulator inside dtstudio's process (its gRPC server has its own threads)."""

from __future__ import annotations

import concurrent.futures
import logging
import socket
import threading
from pathlib import Path
from typing import Any

from dtstudio.core.profiles import user_data_dir

__all__ = ["EmbeddedEmulator", "default_database_path", "port_is_free"]

log = logging.getLogger("dtstudio.core.emulator")

PREFERRED_PORT = 8080


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True if nothing listens on ``host:port`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def default_database_path() -> Path:
    """The emulator database in the user's data directory (the emulator's own default if it has one)."""
    try:
        from durabletask.emulator import default_db_path

        return Path(default_db_path())
    except (ImportError, AttributeError, TypeError):
        return user_data_dir() / "emulator.sqlite3"


class EmbeddedEmulator:
    """Starts :class:`durabletask.emulator.EmulatorServer` on 8080, or a free port if 8080 is taken."""

    def __init__(self, db_path: str | Path | None = None, preferred_port: int = PREFERRED_PORT) -> None:
        """``db_path`` None uses the user's data directory; ':memory:' keeps everything in memory."""
        self.db_path = str(db_path) if db_path is not None else str(default_database_path())
        self.preferred_port = preferred_port
        self.server: Any = None

    @property
    def address(self) -> str | None:
        return None if self.server is None else str(self.server.address)

    def start(self) -> str:
        """Start the server (blocking; call it from a worker thread) and return host:port."""
        from durabletask.emulator import EmulatorServer

        if self.db_path != ":memory:":
            Path(self.db_path).parent.mkdir(parents=True, exist_ok=True)
        ports = [self.preferred_port] if self.preferred_port and port_is_free(self.preferred_port) else []
        ports.append(0)
        last: Exception | None = None
        for port in ports:
            try:
                server = EmulatorServer(db_path=None if self.db_path == ":memory:" else self.db_path, port=port)
                server.start()
            except Exception as exc:  # noqa: BLE001 - try the next port, report the last failure
                last = exc
                log.info("embedded emulator could not start on port %s: %s", port, exc)
                continue
            self.server = server
            log.info("embedded emulator listening on %s (database %s)", server.address, self.db_path)
            return str(server.address)
        raise RuntimeError(f"The embedded emulator could not start: {last}")

    def start_in_background(self) -> concurrent.futures.Future[str]:
        """Start on a daemon thread right away (e.g. while Qt is still importing); the future
        gives host:port or the start-up error."""
        future: concurrent.futures.Future[str] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(self.start())
            except BaseException as exc:  # noqa: BLE001 - handed to the GUI
                future.set_exception(exc)

        threading.Thread(target=run, name="dtstudio-emulator-start", daemon=True).start()
        return future

    def stop(self) -> None:
        if self.server is not None:
            try:
                self.server.stop()
            finally:
                self.server = None
