"""Colours for orchestration statuses, readable on light and dark palettes."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette

__all__ = ["palette_is_dark", "status_color"]

_LIGHT = {
    "RUNNING": "#1565c0",
    "PENDING": "#6d6d6d",
    "SUSPENDED": "#b26a00",
    "COMPLETED": "#2e7d32",
    "FAILED": "#c62828",
    "TERMINATED": "#8e24aa",
    "CONTINUED_AS_NEW": "#00838f",
}
_DARK = {
    "RUNNING": "#64b5f6",
    "PENDING": "#b0b0b0",
    "SUSPENDED": "#ffb74d",
    "COMPLETED": "#81c784",
    "FAILED": "#ef5350",
    "TERMINATED": "#ce93d8",
    "CONTINUED_AS_NEW": "#4dd0e1",
}


def palette_is_dark(palette: QPalette) -> bool:
    """True when the window background is darker than its text (a dark theme)."""
    return palette.color(QPalette.ColorRole.Window).lightness() < palette.color(QPalette.ColorRole.WindowText).lightness()


def status_color(status_name: str, dark: bool) -> QColor:
    """The colour for a status name ('FAILED'); grey for anything unknown."""
    table = _DARK if dark else _LIGHT
    return QColor(table.get(status_name, "#888888"))
