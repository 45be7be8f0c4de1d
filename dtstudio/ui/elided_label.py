"""A one-line label that shrinks with its container and elides its text instead of overflowing."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

__all__ = ["ElidedLabel"]


class ElidedLabel(QLabel):
    """Keeps the full text (``text()``, tooltip) but paints "…" when it does not fit.

    Inside a toolbar a long QLabel is moved into the overflow menu, where nobody sees it; this
    one asks only for a small width and takes whatever room is left.
    """

    def __init__(self, text: str = "", parent: QWidget | None = None, *, min_width: int = 120) -> None:
        super().__init__(text, parent)
        self._min_width = min_width
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def sizeHint(self) -> QSize:
        full = super().sizeHint()
        return QSize(min(full.width(), self._min_width), full.height())

    def minimumSizeHint(self) -> QSize:
        return QSize(self._min_width, super().minimumSizeHint().height())

    def full_width(self) -> int:
        """The width the whole text needs."""
        return self.fontMetrics().horizontalAdvance(self.text()) + 8

    def is_elided(self) -> bool:
        return self.full_width() > self.contentsRect().width()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        rect = self.contentsRect()
        text = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, rect.width())
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(rect, int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft), text)
