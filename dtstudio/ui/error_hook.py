"""Last-resort error reporting: an unexpected exception becomes a message, never a silent death."""

from __future__ import annotations

import logging
import sys
import traceback
from types import TracebackType
from typing import Any

from PySide6.QtWidgets import QMessageBox, QWidget

__all__ = ["install_exception_hooks"]

log = logging.getLogger("dtstudio.ui")


class _Reporter:
    def __init__(self, window: QWidget) -> None:
        self.window = window
        self.box: QMessageBox | None = None
        self.count = 0

    def show(self, summary: str, details: str) -> None:
        self.count += 1
        status = getattr(self.window, "statusBar", None)
        if callable(status):
            status().showMessage(f"Unexpected error: {summary}", 15000)
        if self.box is not None and self.box.isVisible():
            return  # one dialog at a time; the rest go to the status bar and the log
        box = QMessageBox(QMessageBox.Icon.Warning, "dtstudio: unexpected error",
                          f"Something went wrong, but dtstudio keeps running.\n\n{summary}", parent=self.window)
        box.setDetailedText(details)
        self.box = box
        box.open()

    def excepthook(self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        log.error("unhandled exception:\n%s", details)
        try:
            self.show(f"{exc_type.__name__}: {exc}"[:500], details)
        except Exception:  # noqa: BLE001 - never let the hook itself fail
            sys.__excepthook__(exc_type, exc, tb)

    def loop_handler(self, loop: Any, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        message = str(context.get("message", "error in a background task"))
        if exc is not None:
            self.excepthook(type(exc), exc, exc.__traceback__)
        else:
            log.error("event loop: %s", message)
            self.show(message, repr(context))


def install_exception_hooks(window: QWidget, loop: Any = None) -> Any:
    """Route uncaught exceptions (Qt slots, asyncio tasks) to a message box on ``window``."""
    reporter = _Reporter(window)
    sys.excepthook = reporter.excepthook
    if loop is not None:
        loop.set_exception_handler(reporter.loop_handler)
    return reporter
