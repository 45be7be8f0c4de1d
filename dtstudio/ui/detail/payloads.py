"""A payload viewer: pretty JSON (formatted off the GUI thread when large), monospace, with Copy.

Text that is not JSON is shown as it is, with a note; it is never an error. Very large payloads are
cut for display (Copy still copies everything).
"""

from __future__ import annotations

from PySide6.QtGui import QFont, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from dtstudio.core.json_text import OFF_THREAD_THRESHOLD, PrettyText, pretty_json

from .background import BackgroundCalls

__all__ = ["PayloadView", "monospace_font"]


def monospace_font() -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    font.setStyleHint(QFont.StyleHint.Monospace)
    return font


class PayloadView(QWidget):
    """Shows one payload (input, output, custom status, event data)."""

    def __init__(self, title: str, parent: QWidget | None = None, *, empty_text: str = "(none)") -> None:
        super().__init__(parent)
        self._raw: str | None = None
        self._pretty: PrettyText | None = None
        self._token = 0
        self._empty_text = empty_text
        self._background = BackgroundCalls(self)
        self._background.finished.connect(self._on_formatted)
        self.title = QLabel(f"<b>{title}</b>")
        self.note = QLabel()
        self.note.setStyleSheet("color: gray")
        self.note.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip(f"Copy the {title.lower()} to the clipboard")
        self.copy_button.clicked.connect(self.copy)
        self.editor = QPlainTextEdit()
        self.editor.setReadOnly(True)
        self.editor.setFont(monospace_font())
        self.editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.editor.setPlaceholderText(empty_text)
        top = QHBoxLayout()
        top.addWidget(self.title)
        top.addWidget(self.note, 1)
        top.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.editor, 1)
        self.set_payload(None)

    def set_payload(self, raw: str | None) -> None:
        """Show ``raw`` (formatted in a worker thread when bigger than ``OFF_THREAD_THRESHOLD``)."""
        if raw == self._raw and self._pretty is not None:
            return
        self._raw = raw
        self._token = 0
        self.copy_button.setEnabled(bool(raw))
        if raw is None or len(raw) <= OFF_THREAD_THRESHOLD:
            self._show(pretty_json(raw))
            return
        self._pretty = None
        self.note.setText(f"formatting {len(raw):,} characters\u2026")
        self.editor.setPlainText("")
        self._token = self._background.submit(pretty_json, raw)

    def _on_formatted(self, token: int, pretty: object) -> None:
        if token == self._token and isinstance(pretty, PrettyText):
            self._show(pretty)

    def _show(self, pretty: PrettyText) -> None:
        self._pretty = pretty
        self.editor.setPlainText(pretty.text)
        if pretty.is_empty:
            self.note.setText("")
        elif pretty.truncated:
            self.note.setText(
                f"showing the first {len(pretty.text):,} of {len(pretty.raw or ''):,} characters;"
                " Copy copies all"
            )
        elif not pretty.is_json:
            self.note.setText("not JSON: shown as text")
        else:
            self.note.setText(f"JSON, {len(pretty.raw or ''):,} characters")

    def is_ready(self) -> bool:
        """The current payload is on screen (formatting finished)."""
        return self._pretty is not None

    def text(self) -> str:
        return self.editor.toPlainText()

    def raw(self) -> str | None:
        return self._raw

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self._raw or "")
