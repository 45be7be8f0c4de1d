"""The Timeline section: zoom buttons and a legend above the Gantt chart, the clicked bar's event below."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSizePolicy,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from dtstudio.core.timeline import SpanKind, SpanOutcome
from dtstudio.qtmodels.timeline_model import KIND_COLORS, OUTCOME_COLORS, TimelineModel

from .gantt import GanttChart
from .payloads import monospace_font

__all__ = ["TimelinePane"]


_LEGEND_NAMES = [
    ("completed", OUTCOME_COLORS[SpanOutcome.COMPLETED]),
    ("failed", OUTCOME_COLORS[SpanOutcome.FAILED]),
    ("running", OUTCOME_COLORS[SpanOutcome.RUNNING]),
    ("timer", KIND_COLORS[SpanKind.TIMER]),
    ("event wait", KIND_COLORS[SpanKind.EXTERNAL_EVENT]),
    ("retry delay", KIND_COLORS[SpanKind.RETRY_DELAY]),
    ("not finished", OUTCOME_COLORS[SpanOutcome.CANCELED]),
]


def _legend_html() -> str:
    return "&nbsp;&nbsp;".join(
        f"<span style='color:{color.name()}'>&#9632;</span>&nbsp;{name}" for name, color in _LEGEND_NAMES
    )


class TimelinePane(QWidget):
    """Zoom controls + :class:`GanttChart` + the text of the event behind the clicked bar."""

    event_clicked = Signal(int)
    open_instance_requested = Signal(str)

    def __init__(self, model: TimelineModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.chart = GanttChart()
        self.chart.set_model(model)
        self.zoom_in_button = QToolButton()
        self.zoom_in_button.setText("+")
        self.zoom_in_button.setToolTip("Zoom in (Ctrl+wheel)")
        self.zoom_in_button.clicked.connect(lambda: self.chart.zoom(1.5))
        self.zoom_out_button = QToolButton()
        self.zoom_out_button.setText("\u2212")
        self.zoom_out_button.setToolTip("Zoom out (Ctrl+wheel)")
        self.zoom_out_button.clicked.connect(lambda: self.chart.zoom(1 / 1.5))
        self.fit_button = QToolButton()
        self.fit_button.setText("Fit")
        self.fit_button.setToolTip("Show the whole instance")
        self.fit_button.clicked.connect(self.chart.zoom_to_fit)
        legend = QLabel(_legend_html())
        legend.setTextFormat(Qt.TextFormat.RichText)
        # The legend is cut rather than widening the pane when the detail view is narrow.
        legend.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        legend.setMinimumWidth(0)
        legend.setToolTip("Bar colours: " + ", ".join(n for n, _ in _LEGEND_NAMES))
        self.detail = QPlainTextEdit()
        self.detail.setReadOnly(True)
        self.detail.setFont(monospace_font())
        self.detail.setPlaceholderText(
            "Click a bar to see its event here (it is also selected in History).\n"
            "Double-click a sub-orchestration bar to open the child. Ctrl+wheel zooms, Shift+wheel scrolls in time."
        )

        top = QHBoxLayout()
        top.addWidget(self.zoom_out_button)
        top.addWidget(self.zoom_in_button)
        top.addWidget(self.fit_button)
        top.addSpacing(12)
        top.addWidget(legend, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.chart)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 4)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([520, 130])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)
        self.chart.event_clicked.connect(self.event_clicked)
        self.chart.open_instance_requested.connect(self.open_instance_requested)

    def set_detail_text(self, text: str) -> None:
        self.detail.setPlainText(text)

    def set_utc(self, utc: bool) -> None:
        self.chart.set_utc(utc)
        self.chart.viewport().update()
