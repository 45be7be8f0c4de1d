"""A text box for JSON that says exactly where a mistake is."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QFontDatabase, QTextCursor
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from dtstudio.core.json_input import JsonInputError, parse_json_input

__all__ = ["JsonEditor"]


class JsonEditor(QWidget):
    """Plain-text JSON input with an error line under it; :meth:`value` validates."""

    def __init__(self, what: str = "input", placeholder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._what = what
        self.edit = QPlainTextEdit(self)
        self.edit.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.edit.setPlaceholderText(placeholder or 'JSON, e.g. {"city": "Tokyo"} or "text" or 42 (empty: none)')
        self.edit.setTabChangesFocus(True)
        self.error_label = QLabel(self)
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #d32f2f;")
        self.error_label.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit)
        layout.addWidget(self.error_label)
        self.edit.textChanged.connect(self._clear_error)

    def text(self) -> str:
        return self.edit.toPlainText()

    def set_text(self, text: str) -> None:
        self.edit.setPlainText(text)

    def _clear_error(self) -> None:
        if self.error_label.isVisible():
            self.error_label.hide()

    def value(self) -> Any:
        """The parsed value (``NO_INPUT`` when empty); on bad JSON shows the error, moves the
        cursor to it and raises :class:`JsonInputError`."""
        try:
            return parse_json_input(self.text(), what=self._what)
        except JsonInputError as exc:
            self.show_error(exc)
            raise

    def show_error(self, exc: JsonInputError) -> None:
        self.error_label.setText(str(exc))
        self.error_label.show()
        block = self.edit.document().findBlockByLineNumber(max(0, exc.line - 1))
        if block.isValid():
            cursor = QTextCursor(block)
            cursor.movePosition(QTextCursor.MoveOperation.Right, n=max(0, min(exc.column - 1, block.length() - 1)))
            self.edit.setTextCursor(cursor)
        self.edit.setFocus()
