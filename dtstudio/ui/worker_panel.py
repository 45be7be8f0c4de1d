"""The worker panel: the hosted worker file, what it registered, its state, its buttons and its log."""

from __future__ import annotations

import html
import logging
import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFontDatabase, QTextBlockFormat, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QSizePolicy,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from dtstudio.core.worker_hosting import HOSTED_WORKER_LOGGER, HostState, WorkerHostStatus
from dtstudio.qtmodels.instance_status_colors import palette_is_dark
from dtstudio.ui.hosted_worker_controller import HostedWorkerController
from dtstudio.ui.worker_log_handler import LogLine

__all__ = ["LOG_LINES", "WorkerPanel"]

#: How many log lines the panel keeps (oldest dropped first).
LOG_LINES = 1000
_HANGING_INDENT = 24

_EMPTY_TEXT = (
    "No worker file loaded.\n\nLoad a Python file with orchestrators and activities (marked with "
    "@task.orchestrator / @task.activity, listed in orchestrators = [...] / activities = [...], or "
    "added by a register(worker) function). dtstudio runs them on the current connection."
)


class WorkerPanel(QWidget):
    """Shows a :class:`HostedWorkerController`'s state; its buttons call the controller."""

    #: The user asked to pick a file (the window owns the file dialog).
    load_requested = Signal()
    #: Double-click on an orchestrator: start a new instance of it.
    start_requested = Signal(str)

    def __init__(self, controller: HostedWorkerController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)

        self.file_label = QLabel(self)
        self.file_label.setObjectName("worker_file")
        self.file_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.file_label.setWordWrap(True)
        self.state_label = QLabel(self)
        self.state_label.setObjectName("worker_state")
        self.state_label.setWordWrap(True)
        self.state_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_source = QLabel(self)
        self.error_source.setFont(mono)
        self.error_source.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_source.hide()
        self.notice_label = QLabel(self)
        self.notice_label.setWordWrap(True)
        self.notice_label.hide()

        self.load_button = QPushButton("Load…", self)
        self.load_button.setToolTip("Host a worker from a Python file")
        self.stop_button = QPushButton("Stop", self)
        self.stop_button.setToolTip("Stop the worker; new work waits in the backend")
        self.reload_button = QPushButton("Reload", self)
        self.reload_button.setToolTip("Re-import the file (after you edited it) and start it on the current connection")
        self.unload_button = QPushButton("Unload", self)
        self.unload_button.setToolTip("Stop the worker and forget the file")
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        for b in (self.load_button, self.reload_button, self.stop_button, self.unload_button):
            buttons.addWidget(b)
        buttons.addStretch(1)

        self.orchestrator_title = QLabel("Orchestrators", self)
        self.orchestrator_list = QListWidget(self)
        self.orchestrator_list.setToolTip("Double-click to start a new instance")
        self.activity_title = QLabel("Activities", self)
        self.activity_list = QListWidget(self)
        names = QHBoxLayout()
        names.setContentsMargins(0, 0, 0, 0)
        for title, lst in ((self.orchestrator_title, self.orchestrator_list), (self.activity_title, self.activity_list)):
            col = QVBoxLayout()
            col.setSpacing(2)
            col.addWidget(title)
            col.addWidget(lst)
            names.addLayout(col)
        self.names_box = QWidget(self)
        self.names_box.setLayout(names)

        self.log_title = QLabel("Log (worker and the file's loggers, newest last)", self)
        self.clear_log_button = QPushButton("Clear", self)
        self.clear_log_button.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        log_head = QHBoxLayout()
        log_head.setContentsMargins(0, 0, 0, 0)
        log_head.addWidget(self.log_title, 1)
        log_head.addWidget(self.clear_log_button)
        self.log_view = QTextEdit(self)
        self.log_view.setObjectName("worker_log")
        self.log_view.setReadOnly(True)
        self.log_view.setFont(mono)
        self.log_view.document().setMaximumBlockCount(LOG_LINES)
        self.log_view.setAcceptRichText(False)
        self.log_view.setLineWrapMode(QTextEdit.LineWrapMode.WidgetWidth)
        self.log_view.setPlaceholderText("The worker's log appears here.")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.file_label)
        layout.addWidget(self.state_label)
        layout.addWidget(self.error_source)
        layout.addWidget(self.notice_label)
        layout.addLayout(buttons)
        layout.addWidget(self.names_box)
        layout.addLayout(log_head)
        layout.addWidget(self.log_view, 1)

        self.load_button.clicked.connect(self.load_requested)
        self.stop_button.clicked.connect(lambda: self.controller.stop())
        self.reload_button.clicked.connect(lambda: self.controller.reload())
        self.unload_button.clicked.connect(lambda: self.controller.unload())
        self.clear_log_button.clicked.connect(self.log_view.clear)
        self.orchestrator_list.itemDoubleClicked.connect(lambda item: self.start_requested.emit(item.text()))
        controller.status_changed.connect(self.show_status)
        controller.busy_changed.connect(lambda _b: self.show_status(self.controller.status))
        controller.relay.line.connect(self.append_log)
        self.show_status(controller.status)

    # -- display ---------------------------------------------------------------------------------
    @property
    def log_lines(self) -> list[str]:
        """The log as shown (for tests and copy)."""
        text = self.log_view.toPlainText()
        return text.splitlines() if text else []

    def _colors(self) -> dict[str, str]:
        if palette_is_dark(self.palette()):
            return {"running": "#81c784", "stopped": "#ffb74d", "failed": "#ef5350", "busy": "#90caf9", "empty": "palette(mid)"}
        return {"running": "#2e7d32", "stopped": "#b26a00", "failed": "#c62828", "busy": "#1565c0", "empty": "palette(mid)"}

    def show_status(self, status: WorkerHostStatus) -> None:
        c = self.controller
        busy = c.busy
        state = status.state
        loaded = state is not HostState.EMPTY
        if status.path is not None:
            self.file_label.setText(f"<b>{html.escape(status.path.name)}</b>&nbsp;&nbsp;"
                                    f"<span style='color: palette(mid)'>{html.escape(str(status.path.parent))}</span>")
            self.file_label.setToolTip(str(status.path))
        else:
            self.file_label.setText("")
        self.file_label.setVisible(status.path is not None)
        key = "busy" if busy else state.value
        dot = {"running": "●", "stopped": "■", "failed": "✖", "busy": "◌", "empty": ""}[key]
        if busy:
            text = c.busy_text
        elif state is HostState.EMPTY:
            text = _EMPTY_TEXT
        elif state is HostState.FAILED:
            text = f"Failed to load: {status.message}"
        else:
            text = status.message
        self.state_label.setText(f"{dot} {text}".strip())
        self.state_label.setStyleSheet(f"color: {self._colors()[key]};" if state is not HostState.EMPTY or busy else "")
        details = status.error.details() if status.error is not None and not busy else ""
        self.error_source.setText(details)
        self.error_source.setVisible(bool(details))
        self.notice_label.setText("\n".join(status.notices))
        self.notice_label.setVisible(bool(status.notices) and not busy)

        self.orchestrator_list.clear()
        self.orchestrator_list.addItems(list(status.orchestrators))
        self.activity_list.clear()
        self.activity_list.addItems(list(status.activities))
        self.orchestrator_title.setText(f"Orchestrators ({len(status.orchestrators)}) · double-click to start"
                                        if status.orchestrators else "Orchestrators (0)")
        self.activity_title.setText(f"Activities ({len(status.activities)})")
        rows = max(1, min(8, max(len(status.orchestrators), len(status.activities))))
        for lst in (self.orchestrator_list, self.activity_list):
            lst.setFixedHeight(rows * (lst.fontMetrics().height() + 4) + 2 * lst.frameWidth() + 4)
        self.names_box.setVisible(bool(status.orchestrators or status.activities))

        self.load_button.setEnabled(not busy)
        self.stop_button.setEnabled(not busy and state is HostState.RUNNING)
        self.reload_button.setEnabled(not busy and loaded)
        self.unload_button.setEnabled(not busy and loaded)

    def _logger_label(self, name: str) -> str:
        if name == HOSTED_WORKER_LOGGER or name.startswith(HOSTED_WORKER_LOGGER + "."):
            return "worker"
        path = self.controller.status.path
        if path is not None and name.startswith("dtstudio_hosted_"):
            return path.stem
        return name

    def append_log(self, line: LogLine) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(line.created))
        text = f"{stamp} {line.level_name} {self._logger_label(line.logger)}: {line.message}"
        if line.level >= logging.ERROR:
            color = "#ef5350"
        elif line.level >= logging.WARNING:
            color = "#e69500"
        else:
            color = self.palette().text().color().name()
        # Every line carries its own colour: plain appends would inherit the previous line's.
        doc = self.log_view.document()
        cursor = QTextCursor(doc)
        cursor.movePosition(QTextCursor.MoveOperation.End)
        block = QTextBlockFormat()
        # A hanging indent sets wrapped continuation lines apart from the next record.
        block.setLeftMargin(_HANGING_INDENT)
        block.setTextIndent(-_HANGING_INDENT)
        if doc.isEmpty():
            cursor.setBlockFormat(block)
        else:
            cursor.insertBlock(block)
        chars = QTextCharFormat()
        chars.setForeground(QColor(color))
        cursor.insertText(text, chars)
        bar = self.log_view.verticalScrollBar()
        bar.setValue(bar.maximum())
