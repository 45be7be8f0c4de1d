"""A dialog base for actions: a form, an error line, OK/Cancel; stays open until the action succeeds."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

__all__ = ["FormDialog"]


class FormDialog(QDialog):
    """Collects values; ``submitted(dict)`` fires after :meth:`collect` validated them.

    The owner performs the action and calls :meth:`finish` (success) or :meth:`show_error`.
    """

    submitted = Signal(dict)

    def __init__(
        self, title: str, ok_text: str = "OK", intro: str = "", parent: QWidget | None = None, *, stretch: bool = True
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self._layout = QVBoxLayout(self)
        self.intro_label: QLabel | None = None
        if intro:
            intro_label = QLabel(intro, self)
            intro_label.setWordWrap(True)
            intro_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self._layout.addWidget(intro_label)
            self.intro_label = intro_label
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._layout.addLayout(self.form)
        self.error_label = QLabel(self)
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #d32f2f;")
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.hide()
        self._layout.addWidget(self.error_label)
        if stretch:  # forms without a growing editor keep their rows together at the top
            self._layout.addStretch(1)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(ok_text)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        self._layout.addWidget(self.buttons)

    def collect(self) -> dict[str, Any]:
        """Read and validate the fields; raise ValueError (with a plain message) if they are wrong."""
        return {}

    def submit(self) -> None:
        """Validate; on success disable OK and emit ``submitted``; on failure show why."""
        try:
            values = self.collect()
        except ValueError as exc:
            self.show_error(str(exc))
            return
        self.error_label.hide()
        self.set_busy(True)
        self.submitted.emit(values)

    def set_busy(self, busy: bool) -> None:
        self.ok_button.setEnabled(not busy)

    def show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.show()
        self.set_busy(False)

    def finish(self) -> None:
        self.set_busy(False)
        self.accept()
