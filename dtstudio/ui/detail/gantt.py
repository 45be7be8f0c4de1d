"""The timeline (Gantt) chart: one row per activity, sub-orchestration, timer or wait; one bar per attempt.

Painted by hand with QPainter on a scroll area, and only what is visible: the rows in the viewport and,
in each, the bars that cross it. Tens of thousands of events stay smooth. The chart reads its data
from a :class:`~dtstudio.qtmodels.timeline_model.TimelineModel` and repaints when the model resets.

Interaction: Ctrl+wheel (or the pane's buttons) zooms around the mouse, wheel scrolls, Shift+wheel
scrolls in time; hovering a bar shows its name, times, duration and result or error; clicking a bar
emits :attr:`GanttChart.event_clicked` with the history position of its most telling event;
double-clicking a sub-orchestration bar emits :attr:`GanttChart.open_instance_requested`.
"""

from __future__ import annotations

import html
import math
from datetime import datetime, timezone
from typing import Any

from PySide6.QtCore import QEvent, QPoint, QRect, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFontMetrics,
    QHelpEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QAbstractScrollArea, QToolTip, QWidget

from dtstudio.core.json_text import one_line_preview
from dtstudio.core.timeline import SpanKind, SpanOutcome, Timeline, TimelineSpan, format_duration, format_time
from dtstudio.qtmodels.timeline_model import TimelineModel, span_color

__all__ = ["GanttChart"]

_ROW_H = 22
_BAR_PAD = 4
_HEADER_H = 26
_LABEL_W_MAX = 220
_LABEL_W_MIN = 110
_RIGHT_MARGIN = 24
_MIN_BAR_W = 3
_MAX_CONTENT_PX = 1_000_000_000
_TICK_STEPS = (
    0.001,
    0.002,
    0.005,
    0.01,
    0.02,
    0.05,
    0.1,
    0.2,
    0.5,
    1,
    2,
    5,
    10,
    15,
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    10800,
    21600,
    43200,
    86400,
    172800,
    604800,
)


def _tick_label(seconds: float, step: float) -> str:
    """Offset from the start: ``+250 ms``, ``+12 s``, ``+1:30``, ``+2:03:00``, ``+3 d``."""
    if seconds == 0:
        return "0"
    if step < 1:
        return f"+{seconds * 1000:.0f} ms" if seconds < 1 else f"+{seconds:.3g} s"
    if seconds < 60:
        return f"+{seconds:.0f} s"
    total = round(seconds)
    if total < 3600:
        return f"+{total // 60}:{total % 60:02d}"
    if total < 86400 * 2:
        return f"+{total // 3600}:{(total % 3600) // 60:02d}:{total % 60:02d}"
    return f"+{total / 86400:.3g} d"


class GanttChart(QAbstractScrollArea):
    """A hand-painted Gantt chart of a :class:`~dtstudio.core.timeline.Timeline`."""

    event_clicked = Signal(int)
    """History position of the event behind a clicked bar (its result, or its start while running)."""
    open_instance_requested = Signal(str)
    """A sub-orchestration bar was double-clicked: the child's instance id."""
    zoom_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model: TimelineModel | None = None
        self._timeline = Timeline(rows=[], start=None, end=None, finished=True)
        self._scale = 10.0  # pixels per second
        self._fit = True
        self._utc = True
        self._selected: tuple[int, int] | None = None
        self._now: datetime | None = None  # fixed "now" for tests; None = the clock
        self._lw = _LABEL_W_MAX  # width of the row-label column (narrower in a narrow pane)
        self.setMouseTracking(True)
        self.viewport().setMouseTracking(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumHeight(_HEADER_H + 3 * _ROW_H)
        self.viewport().setBackgroundRole(QPalette.ColorRole.Base)
        self.viewport().setAutoFillBackground(True)

    # ----- data -----------------------------------------------------------------------------------
    def set_model(self, model: TimelineModel) -> None:
        if self._model is not None:
            self._model.modelReset.disconnect(self._on_model_reset)
        self._model = model
        model.modelReset.connect(self._on_model_reset)
        self._on_model_reset()

    def _on_model_reset(self) -> None:
        assert self._model is not None
        old_rows = len(self._timeline.rows)
        self._timeline = self._model.timeline()
        if self._selected is not None:
            r, s = self._selected
            if r >= len(self._timeline.rows) or s >= len(self._timeline.rows[r].spans):
                self._selected = None
        if not self._timeline.rows or old_rows == 0:
            self._fit = True
            self._selected = None if not self._timeline.rows else self._selected
        if self._fit:
            self._scale = self._fit_scale()
        self._update_scrollbars()
        self.viewport().update()

    def set_utc(self, utc: bool) -> None:
        self._utc = utc

    def set_now(self, now: datetime | None) -> None:
        """Pin "now" (tests, benchmarks); ``None`` goes back to the clock."""
        self._now = now
        self.viewport().update()

    def now(self) -> datetime:
        return self._now or datetime.now(timezone.utc)

    def timeline(self) -> Timeline:
        return self._timeline

    # ----- geometry -------------------------------------------------------------------------------
    def _range_seconds(self) -> float:
        tl = self._timeline
        if tl.start is None:
            return 1.0
        end = tl.range_end(self.now()) or tl.start
        return max((end - tl.start).total_seconds(), 0.001)

    def _chart_width(self) -> int:
        return max(self.viewport().width() - self._lw - _RIGHT_MARGIN, 50)

    def _fit_scale(self) -> float:
        return self._chart_width() / self._range_seconds()

    def _clamp_scale(self, scale: float) -> float:
        low = self._fit_scale() / 4
        high = max(low, min(1_000_000.0, _MAX_CONTENT_PX / self._range_seconds()))
        return min(max(scale, low), high)

    def _update_scrollbars(self) -> None:
        content_w = int(self._range_seconds() * self._scale) + _RIGHT_MARGIN
        hbar = self.horizontalScrollBar()
        hbar.setPageStep(self._chart_width())
        hbar.setSingleStep(40)
        hbar.setRange(0, max(0, content_w - self._chart_width() - _RIGHT_MARGIN))
        content_h = len(self._timeline.rows) * _ROW_H
        vbar = self.verticalScrollBar()
        page = max(self.viewport().height() - _HEADER_H, _ROW_H)
        vbar.setPageStep(page)
        vbar.setSingleStep(_ROW_H)
        vbar.setRange(0, max(0, content_h - page))

    def scale(self) -> float:
        """Current zoom, in pixels per second."""
        return self._scale

    def x_of(self, when: datetime) -> float:
        """Viewport x of a moment."""
        assert self._timeline.start is not None
        seconds = (when - self._timeline.start).total_seconds()
        return self._lw + seconds * self._scale - self.horizontalScrollBar().value()

    def bar_rect(self, row: int, span: int) -> QRectF:
        """Viewport rectangle of a bar (for tests and hit-testing)."""
        s = self._timeline.rows[row].spans[span]
        return self._bar_rect(row, s, self.now())

    def _bar_rect(self, row: int, span: TimelineSpan, now: datetime) -> QRectF:
        x0 = self.x_of(span.start)
        x1 = self.x_of(span.effective_end(now))
        width = max(x1 - x0, _MIN_BAR_W)
        y = _HEADER_H + row * _ROW_H - self.verticalScrollBar().value()
        pad = _BAR_PAD + (4 if span.kind is SpanKind.RETRY_DELAY else 0)
        return QRectF(x0, y + pad, width, _ROW_H - 2 * pad)

    def span_at(self, pos: QPoint) -> tuple[int, int] | None:
        """(row, span) of the bar under a viewport point, if any."""
        if pos.x() < self._lw or pos.y() < _HEADER_H or self._timeline.start is None:
            return None
        row = (pos.y() - _HEADER_H + self.verticalScrollBar().value()) // _ROW_H
        if not 0 <= row < len(self._timeline.rows):
            return None
        now = self.now()
        spans = self._timeline.rows[row].spans
        best: tuple[int, int] | None = None
        for index, span in enumerate(spans):
            rect = self._bar_rect(row, span, now).adjusted(-2, -_BAR_PAD, 2, _BAR_PAD)
            if rect.contains(pos.x(), pos.y()):
                best = (row, index)  # later spans are drawn on top: prefer them
        return best

    # ----- zoom -----------------------------------------------------------------------------------
    def zoom(self, factor: float, anchor_x: float | None = None) -> None:
        """Zoom by ``factor`` keeping the moment under ``anchor_x`` (viewport x) in place."""
        if self._timeline.start is None:
            return
        if anchor_x is None:
            anchor_x = self._lw + self._chart_width() / 2
        hbar = self.horizontalScrollBar()
        seconds_at = (anchor_x - self._lw + hbar.value()) / self._scale
        self._scale = self._clamp_scale(self._scale * factor)
        self._fit = False
        self._update_scrollbars()
        hbar.setValue(int(seconds_at * self._scale - (anchor_x - self._lw)))
        self.viewport().update()
        self.zoom_changed.emit(self._scale)

    def zoom_to_fit(self) -> None:
        self._fit = True
        self._scale = self._fit_scale()
        self._update_scrollbars()
        self.horizontalScrollBar().setValue(0)
        self.viewport().update()
        self.zoom_changed.emit(self._scale)

    # ----- selection ------------------------------------------------------------------------------
    def select_history_index(self, history_index: int) -> bool:
        """Highlight the bar an event belongs to and scroll to it; False if it has none."""
        found = self._timeline.span_by_event.get(history_index)
        self._selected = found
        if found is not None:
            self.ensure_visible(*found)
        self.viewport().update()
        return found is not None

    def selected(self) -> tuple[int, int] | None:
        return self._selected

    def ensure_visible(self, row: int, span: int) -> None:
        vbar = self.verticalScrollBar()
        top = row * _ROW_H
        page = vbar.pageStep()
        if top < vbar.value():
            vbar.setValue(top)
        elif top + _ROW_H > vbar.value() + page:
            vbar.setValue(top + _ROW_H - page)
        rect = self.bar_rect(row, span)
        if rect.right() < self._lw or rect.left() > self.viewport().width() - _RIGHT_MARGIN:
            hbar = self.horizontalScrollBar()
            hbar.setValue(int(hbar.value() + rect.left() - self._lw - 20))

    # ----- events ---------------------------------------------------------------------------------
    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._lw = int(min(_LABEL_W_MAX, max(_LABEL_W_MIN, self.viewport().width() * 0.3)))
        if self._fit:
            self._scale = self._fit_scale()
        self._update_scrollbars()

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        self.viewport().update()

    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta().y() or event.angleDelta().x()
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            if delta:
                self.zoom(1.25 if delta > 0 else 0.8, event.position().x())
            event.accept()
            return
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            hbar = self.horizontalScrollBar()
            hbar.setValue(hbar.value() - delta)
            event.accept()
            return
        super().wheelEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            hit = self.span_at(event.position().toPoint())
            if hit is not None:
                self._selected = hit
                self.viewport().update()
                span = self._timeline.rows[hit[0]].spans[hit[1]]
                self.event_clicked.emit(span.focus_index)
                return
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        hit = self.span_at(event.position().toPoint())
        if hit is not None:
            span = self._timeline.rows[hit[0]].spans[hit[1]]
            if span.kind is SpanKind.SUB_ORCHESTRATION and span.instance_id:
                self.open_instance_requested.emit(span.instance_id)
                return
        super().mouseDoubleClickEvent(event)

    def viewportEvent(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            assert isinstance(event, QHelpEvent)
            text = self.tooltip_at(event.pos())
            if text:
                QToolTip.showText(event.globalPos(), text, self.viewport())
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().viewportEvent(event)

    def tooltip_at(self, pos: QPoint) -> str:
        """The rich-text tooltip of the bar under ``pos`` ("" when there is none)."""
        hit = self.span_at(pos)
        if hit is None:
            return ""
        span = self._timeline.rows[hit[0]].spans[hit[1]]
        return self.describe(span)

    def describe(self, span: TimelineSpan) -> str:
        now = self.now()
        esc = html.escape
        title = esc(span.name or span.kind.value)
        lines = [f"<b>{title}</b> <i>({esc(span.kind.value)})</i>"]
        if span.attempt > 1:
            lines.append(f"attempt {span.attempt} (retry)")
        lines.append(f"outcome: {esc(span.outcome.value)}")
        lines.append(f"start: {format_time(span.start, self._utc)}")
        if span.end is not None:
            lines.append(f"end: {format_time(span.end, self._utc)}")
        else:
            lines.append("end: still running")
        if span.fire_at is not None:
            lines.append(f"fires at: {format_time(span.fire_at, self._utc)}")
        lines.append(f"duration: {format_duration(span.duration(now))}")
        if span.instance_id:
            lines.append(f"instance: {esc(span.instance_id)} (double-click to open)")
        if span.failure:
            lines.append(
                f"<span style='color:#c62828'>error: {esc(one_line_preview(span.failure, 300))}</span>"
            )
        elif span.result is not None:
            lines.append(f"result: <code>{esc(one_line_preview(span.result, 200))}</code>")
        return "<br>".join(lines)

    # ----- painting -------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self.viewport())
        try:
            self._paint(painter, event.rect())
        finally:
            painter.end()

    def _paint(self, p: QPainter, clip: QRect) -> None:
        pal = self.palette()
        vw, vh = self.viewport().width(), self.viewport().height()
        text_color = pal.color(QPalette.ColorRole.Text)
        grid_color = QColor(text_color)
        grid_color.setAlpha(30)
        tl = self._timeline
        if tl.start is None or not tl.rows:
            p.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
            p.drawText(QRect(0, 0, vw, vh), Qt.AlignmentFlag.AlignCenter, "No timeline to show")
            return
        if self._fit and not tl.finished:
            # "Now" moved since the last fit: keep the whole running instance in view.
            scale = self._fit_scale()
            if abs(scale - self._scale) > 1e-9 * scale:
                self._scale = scale
                self._update_scrollbars()
        now = self.now()
        vscroll = self.verticalScrollBar().value()
        first = max(0, vscroll // _ROW_H)
        last = min(len(tl.rows) - 1, (vscroll + vh - _HEADER_H) // _ROW_H + 1)
        alt = pal.color(QPalette.ColorRole.AlternateBase)

        # Row stripes.
        for r in range(first, last + 1):
            y = _HEADER_H + r * _ROW_H - vscroll
            if r % 2:
                p.fillRect(0, y, vw, _ROW_H, alt)

        # Time grid (ticks are offsets from the first event).
        step = next((s for s in _TICK_STEPS if s * self._scale >= 90), _TICK_STEPS[-1])
        hscroll = self.horizontalScrollBar().value()
        first_tick = math.floor(hscroll / self._scale / step)
        last_tick = math.ceil((hscroll + vw) / self._scale / step)
        tick_xs: list[tuple[float, float]] = []
        for k in range(max(first_tick, 0), last_tick + 1):
            seconds = k * step
            x = self._lw + seconds * self._scale - hscroll
            if self._lw <= x <= vw:
                tick_xs.append((x, seconds))
                p.setPen(QPen(grid_color, 1))
                p.drawLine(int(x), _HEADER_H, int(x), vh)

        # Bars.
        fm = QFontMetrics(self.font())
        p.setClipRect(QRect(self._lw, _HEADER_H, vw - self._lw, vh - _HEADER_H))
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        left_limit, right_limit = float(self._lw - 10), float(vw + 10)
        for r in range(first, last + 1):
            for s_index, span in enumerate(tl.rows[r].spans):
                rect = self._bar_rect(r, span, now)
                if rect.left() > right_limit or (rect.right() < left_limit and span.end is not None):
                    continue
                self._paint_bar(p, rect, span, (r, s_index) == self._selected, fm, text_color)

        # "Now" line while the instance runs.
        if not tl.finished:
            x = self.x_of(now)
            if self._lw <= x <= vw:
                p.setPen(QPen(QColor(229, 57, 53), 1, Qt.PenStyle.DashLine))
                p.drawLine(int(x), _HEADER_H, int(x), vh)
        p.setClipping(False)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)

        # Row labels.
        base = pal.color(QPalette.ColorRole.Base)
        p.fillRect(0, _HEADER_H, self._lw, vh - _HEADER_H, base)
        for r in range(first, last + 1):
            y = _HEADER_H + r * _ROW_H - vscroll
            if r % 2:
                p.fillRect(0, y, self._lw, _ROW_H, alt)
            row = tl.rows[r]
            chip = QRectF(6, y + 7, 8, 8)
            p.fillRect(chip, span_color(row.spans[-1]))
            label = row.label
            if row.attempts > 1:
                label += f"  \u00d7{row.attempts}"
            p.setPen(text_color)
            text = fm.elidedText(label, Qt.TextElideMode.ElideRight, self._lw - 26)
            p.drawText(QRect(20, y, self._lw - 24, _ROW_H), Qt.AlignmentFlag.AlignVCenter, text)
        p.setPen(QPen(grid_color, 1))
        p.drawLine(self._lw - 1, _HEADER_H, self._lw - 1, vh)

        # Header: time axis.
        p.fillRect(0, 0, vw, _HEADER_H, pal.color(QPalette.ColorRole.Window))
        p.setPen(text_color)
        p.drawText(
            QRect(6, 0, self._lw - 8, _HEADER_H),
            Qt.AlignmentFlag.AlignVCenter,
            fm.elidedText(
                f"0 = {format_time(tl.start, self._utc, with_date=False)}",
                Qt.TextElideMode.ElideRight,
                self._lw - 10,
            ),
        )
        for x, seconds in tick_xs:
            p.drawLine(int(x), _HEADER_H - 5, int(x), _HEADER_H)
            label = _tick_label(seconds, step)
            if x + 3 + fm.horizontalAdvance(label) <= vw:
                p.drawText(QRect(int(x) + 3, 0, 120, _HEADER_H - 2), Qt.AlignmentFlag.AlignVCenter, label)
        p.setPen(QPen(grid_color, 1))
        p.drawLine(0, _HEADER_H - 1, vw, _HEADER_H - 1)

    def _paint_bar(
        self,
        p: QPainter,
        rect: QRectF,
        span: TimelineSpan,
        selected: bool,
        fm: QFontMetrics,
        text_color: QColor,
    ) -> None:
        color = span_color(span)
        if span.end is None and span.fire_at is not None:
            # A pending timer: a dashed outline up to when it is due.
            due = self.x_of(span.fire_at)
            if due > rect.right():
                p.setPen(QPen(color, 1, Qt.PenStyle.DashLine))
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawRoundedRect(QRectF(rect.left(), rect.top(), due - rect.left(), rect.height()), 2.5, 2.5)
        if span.kind is SpanKind.RETRY_DELAY:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QBrush(color, Qt.BrushStyle.BDiagPattern))
            p.drawRect(rect)
            p.setPen(QPen(color, 1))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(rect)
        else:
            fill = QColor(color)
            if span.outcome is SpanOutcome.RUNNING:
                fill.setAlpha(170)
            p.setPen(QPen(color.darker(130), 1))
            p.setBrush(fill)
            p.drawRoundedRect(rect, 2.5, 2.5)
            if span.is_retry and rect.width() > 10:
                # A retry: a white notch on the left edge and the attempt number.
                p.setPen(QPen(QColor(255, 255, 255), 2))
                p.drawLine(
                    rect.topLeft() + QPoint(2, 2).toPointF(), rect.bottomLeft() + QPoint(2, -2).toPointF()
                )
        if selected:
            p.setPen(QPen(text_color, 2))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRoundedRect(rect.adjusted(-1.5, -1.5, 1.5, 1.5), 3, 3)
        label = ""
        if span.kind is not SpanKind.RETRY_DELAY:
            label = format_duration(span.duration(self.now()))
            if span.is_retry:
                label = f"#{span.attempt} {label}"
        if label and rect.width() > fm.horizontalAdvance(label) + 8:
            p.setPen(QColor(255, 255, 255))
            p.drawText(rect.adjusted(4, 0, -2, 0), Qt.AlignmentFlag.AlignVCenter, label)

    def sizeHint(self) -> Any:
        hint = super().sizeHint()
        hint.setHeight(_HEADER_H + min(len(self._timeline.rows), 12) * _ROW_H + 20)
        return hint
