"""Progress and per-instance results of an action applied to many instances."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QProgressBar,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from dtstudio.core.taskhub_service import BatchResult

__all__ = ["BatchDialog"]


class BatchDialog(QDialog):
    """Shows a progress bar and one line per instance (OK / error text) while a batch runs."""

    cancel_requested = Signal()

    def __init__(self, action: str, total: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"{action}: {total} instances")
        self.resize(640, 400)
        self.total = total
        self.done_count = 0
        self.failed_count = 0
        self.skipped_count = 0
        self.summary = QLabel(f"{action} {total} instances…", self)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(0)
        self.results = QTreeWidget(self)
        self.results.setHeaderLabels(["Instance ID", "Result"])
        self.results.setRootIsDecorated(False)
        self.results.setColumnWidth(0, 280)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.rejected.connect(self._cancel_or_close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.progress)
        layout.addWidget(self.results, 1)
        layout.addWidget(self.buttons)
        self.finished_running = False
        self._action = action

    def add_result(self, result: BatchResult) -> None:
        self.done_count += 1
        if not result.ok:
            self.failed_count += 1
        item = QTreeWidgetItem([result.instance_id, ("OK: " if result.ok else "Failed: ") + result.message])
        if not result.ok:
            item.setForeground(1, QColor("#d32f2f"))
        item.setToolTip(1, result.message)
        self.results.addTopLevelItem(item)
        self.progress.setValue(self.done_count)
        self.summary.setText(f"{self._action}: {self.done_count} of {self.total} done, {self.failed_count} failed")

    def add_skipped(self, instance_id: str, reason: str) -> None:
        """An instance the action was not sent to, because it cannot apply (e.g. terminate a failed one)."""
        self.done_count += 1
        self.skipped_count += 1
        item = QTreeWidgetItem([instance_id, f"Skipped: {reason}"])
        item.setForeground(1, self.palette().color(self.palette().ColorRole.PlaceholderText))
        item.setToolTip(1, reason)
        self.results.addTopLevelItem(item)
        self.progress.setValue(self.done_count)

    def mark_finished(self, cancelled: bool = False) -> None:
        self.finished_running = True
        ok = self.done_count - self.failed_count - self.skipped_count
        state = "Cancelled" if cancelled else "Finished"
        skipped = f", {self.skipped_count} skipped" if self.skipped_count else ""
        self.summary.setText(
            f"{state}: {ok} succeeded, {self.failed_count} failed{skipped}"
            + (f", {self.total - self.done_count} not attempted" if self.done_count < self.total else "")
            + "."
        )
        self.buttons.setStandardButtons(QDialogButtonBox.StandardButton.Close)
        self.buttons.rejected.connect(self.accept)

    def _cancel_or_close(self) -> None:
        if self.finished_running:
            self.accept()
        else:
            self.cancel_requested.emit()

    def result_lines(self) -> list[tuple[str, str]]:
        lines = []
        for i in range(self.results.topLevelItemCount()):
            item = self.results.topLevelItem(i)
            if item is not None:
                lines.append((item.text(0), item.text(1)))
        return lines

    def keyPressEvent(self, event: object) -> None:  # Esc cancels rather than hiding a running batch
        from PySide6.QtGui import QKeyEvent

        if isinstance(event, QKeyEvent) and event.key() == Qt.Key.Key_Escape and not self.finished_running:
            self.cancel_requested.emit()
            return
        super().keyPressEvent(event)  # type: ignore[arg-type]
