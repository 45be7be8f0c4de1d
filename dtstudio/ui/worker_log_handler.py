"""Log records from any thread delivered to the GUI thread: a logging handler that emits a Qt signal."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from dtstudio.ui.cross_thread_signal import CrossThreadEmitter

__all__ = ["LogLine", "LogRecordRelay", "QtLogHandler"]


@dataclass(frozen=True)
class LogLine:
    """One log record, already formatted (records themselves are not passed between threads)."""

    created: float
    level: int
    level_name: str
    logger: str
    message: str


class LogRecordRelay(QObject):
    """Lives in the GUI thread; ``line`` is emitted from any thread and received there (queued)."""

    line = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        #: Emits ``line`` from any thread, never after this relay is deleted.
        self.emitter = CrossThreadEmitter(self.line)


class QtLogHandler(logging.Handler):
    """A thread-safe handler: formats each record where it is logged and hands it to a relay.

    Attach it to loggers with :meth:`attach` (it remembers them) and take it off with
    :meth:`detach`; records logged after the relay is gone are dropped quietly.
    """

    def __init__(self, relay: LogRecordRelay, level: int = logging.INFO) -> None:
        super().__init__(level)
        self._relay: LogRecordRelay | None = relay
        self._loggers: list[logging.Logger] = []

    def attach(self, names: Iterable[str]) -> None:
        """Listen to exactly these loggers (detaching from any others)."""
        wanted = [logging.getLogger(n) for n in dict.fromkeys(names)]
        for logger in self._loggers:
            if logger not in wanted:
                logger.removeHandler(self)
        for logger in wanted:
            if self not in logger.handlers:
                logger.addHandler(self)
        self._loggers = wanted

    def detach(self) -> None:
        """Stop listening to every logger and drop the relay."""
        for logger in self._loggers:
            logger.removeHandler(self)
        self._loggers = []
        self.acquire()  # logging holds this lock around emit(): no emit is half-way through now
        try:
            self._relay = None
        finally:
            self.release()

    def emit(self, record: logging.LogRecord) -> None:
        relay = self._relay
        if relay is None:
            return
        try:
            message = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                exc = record.exc_info[1]
                message += f" ({type(exc).__name__}: {exc})"
            line = LogLine(record.created, record.levelno, record.levelname, record.name, message)
        except Exception:  # noqa: BLE001 - a bad format string in user code
            self.handleError(record)
            return
        if not relay.emitter.emit(line):  # the relay was deleted (window closed)
            self._relay = None
