"""Helpers for users' tests: an in-memory backend served on a local port.

``create_test_backend`` has the published SDK's signature, so tests written for it move over unchanged;
the backend is this package's emulator on an in-memory SQLite database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing_extensions import Self


from durabletask.emulator import EmulatorServer

__all__ = ["TestBackend", "create_test_backend"]


class TestBackend:
    """An emulator kept in memory, serving on ``localhost:<port>`` between :meth:`start` and :meth:`stop`."""

    __test__ = False  # not a pytest test class

    def __init__(self, port: int = 50051, max_history_size: int = 10000) -> None:
        self.max_history_size = max_history_size
        self._server = EmulatorServer(db_path=None, host="localhost", port=port,
                                      max_history_size=max_history_size, abandon_delay=0.2)

    @property
    def port(self) -> int:
        """The port served (the actual one once started, useful with ``port=0``)."""
        return self._server.port

    @property
    def address(self) -> str:
        return f"localhost:{self._server.port}"

    def start(self) -> TestBackend:
        """Start serving (in the background); does nothing if already serving."""
        if not self._server.running:
            self._server.start()
        return self

    def stop(self, grace: float | None = None) -> None:
        """Stop serving; everything kept is discarded."""
        self._server.stop(grace)

    def reset(self) -> None:
        """Delete every orchestration instance, keeping the server running.

        After :meth:`stop` there is nothing left to delete: a no-op (the published SDK's documented
        fixture calls ``stop()`` and then ``reset()``)."""
        if not self._server.running:
            return
        self._server.reset()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


#: The published SDK's name of the backend class (kept out of ``__all__``, which lists our names).
InMemoryOrchestrationBackend = TestBackend


def create_test_backend(port: int = 50051, max_history_size: int = 10000) -> TestBackend:
    """An in-memory backend for tests, already serving on ``localhost:port`` (``start()`` is then a no-op)."""
    return TestBackend(port=port, max_history_size=max_history_size).start()
