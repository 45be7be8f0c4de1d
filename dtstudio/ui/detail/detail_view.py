"""The instance detail view: overview, payloads, failure, history and timeline of one orchestration.

It loads the state and the history through an async client on the qasync loop (the GUI thread never
waits on the network), refreshes every ``POLL_INTERVAL_MS`` while the instance is not terminal and the
view is visible, and keeps a back stack so that opening a child (or the parent) can be undone.

A load does not outlive the view: when Qt deletes the view (its window closed), the load still on its way
is cancelled, and a load that ends after the deletion touches nothing of the deleted view.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import shiboken6
from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QHideEvent, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QTabWidget, QToolButton, QVBoxLayout, QWidget

from dtstudio.core.formatting import format_duration
from dtstudio.core.timeline import Timeline, build_timeline, format_time
from dtstudio.qtmodels.history_model import HistoryTableModel
from dtstudio.qtmodels.instance_status_colors import palette_is_dark
from dtstudio.qtmodels.owned_tasks import own, tasks_owned_by
from dtstudio.qtmodels.timeline_model import TimelineModel
from durabletask.history import HistoryEvent

from .background import BackgroundCalls
from .failure import FailurePane, failure_chain, short_type
from .history_pane import HistoryPane
from .overview import STATUS_COLORS, InstanceFacts, OverviewPane, gather_facts
from .payloads import PayloadView
from .timeline_pane import TimelinePane

__all__ = ["InstanceDetailView"]

_log = logging.getLogger("dtstudio.ui")

#: Histories longer than this are turned into a timeline in a worker thread.
_BACKGROUND_TIMELINE_EVENTS = 1500


class InstanceDetailView(QWidget):
    """Everything about one orchestration instance, kept live while it runs."""

    open_instance_requested = Signal(str)
    """The user opened another instance from here (a child sub-orchestration or the parent)."""
    loaded = Signal(str)
    """A load or refresh of this instance finished and is on screen."""

    #: Set by the window: the orchestrator names the hosted worker serves (for the Pending hint).
    hosted_orchestrators: Callable[[], list[str]] | None = None
    #: A Pending instance older than this gets a hint that no worker may be serving it.
    PENDING_HINT_AFTER_S = 5.0
    POLL_INTERVAL_MS = 1500

    TAB_OVERVIEW, TAB_INPUT, TAB_OUTPUT, TAB_CUSTOM_STATUS, TAB_FAILURE, TAB_HISTORY, TAB_TIMELINE = range(7)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._client: Any = None
        self._instance_id: str | None = None
        self._facts: InstanceFacts | None = None
        self._events: list[HistoryEvent] = []
        self._last_updated: Any = object()
        self._back: list[str] = []
        self._generation = 0
        self._task: asyncio.Future[None] | None = None
        #: Loads not finished yet; cancelled when Qt deletes the view.
        self._tasks = tasks_owned_by(self)
        self._timeline_token = 0
        self._utc = True
        self._has_history_api = True

        self.history_model = HistoryTableModel(self)
        self.timeline_model = TimelineModel(self)
        self._background = BackgroundCalls(self)
        self._background.finished.connect(self._on_timeline_built)

        self._poll = QTimer(self)
        self._poll.setSingleShot(True)
        self._poll.setInterval(self.POLL_INTERVAL_MS)
        self._poll.timeout.connect(self.refresh)

        # Top bar: back, title, status, live indicator, refresh.
        self.back_button = QToolButton()
        self.back_button.setText("\u2190 Back")
        self.back_button.setEnabled(False)
        self.back_button.clicked.connect(self.go_back)
        QShortcut(QKeySequence("Alt+Left"), self, self.go_back)
        self.title = QLabel()
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.status_chip = QLabel()
        self.status_chip.setTextFormat(Qt.TextFormat.PlainText)
        self.status_chip.setVisible(False)
        self.live_label = QLabel()
        self.live_label.setStyleSheet("color: gray")
        self.refresh_button = QToolButton()
        self.refresh_button.setText("Refresh")
        self.refresh_button.setToolTip("Reload the state and history now (F5)")
        self.refresh_button.clicked.connect(self.refresh)
        # F5 when the view stands alone; a window with its own F5 (which refreshes this view too) disables it,
        # since two F5 shortcuts in one window cancel each other out (Qt calls that ambiguous).
        self.refresh_shortcut = QShortcut(QKeySequence("F5"), self, self.refresh)
        top = QHBoxLayout()
        top.addWidget(self.back_button)
        top.addWidget(self.title, 1)
        top.addWidget(self.status_chip)
        top.addWidget(self.live_label)
        top.addWidget(self.refresh_button)

        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setTextFormat(Qt.TextFormat.PlainText)
        self.banner.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.overview = OverviewPane()
        self.input_view = PayloadView("Input", empty_text="This instance has no input.")
        self.output_view = PayloadView("Output", empty_text="No output (yet).")
        self.custom_status_view = PayloadView("Custom status", empty_text="No custom status set.")
        self.failure_pane = FailurePane()
        self.history_pane = HistoryPane(self.history_model)
        self.timeline_pane = TimelinePane(self.timeline_model)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        for widget, label in (
            (self.overview, "Overview"),
            (self.input_view, "Input"),
            (self.output_view, "Output"),
            (self.custom_status_view, "Custom status"),
            (self.failure_pane, "Failure"),
            (self.history_pane, "History"),
            (self.timeline_pane, "Timeline"),
        ):
            self.tabs.addTab(widget, label)
        # Alt+1 … Alt+7 pick a tab from anywhere in the window (keyboard-only use).
        for i in range(self.tabs.count()):
            QShortcut(QKeySequence(f"Alt+{i + 1}"), self, lambda i=i: self.tabs.setCurrentIndex(i))
            self.tabs.setTabToolTip(i, f"Alt+{i + 1}")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.banner)
        layout.addWidget(self.tabs, 1)
        layout.addStretch(0)  # takes the room while the tabs are hidden (nothing selected)

        self.overview.open_instance_requested.connect(self._open_other)
        self.history_pane.open_instance_requested.connect(self._open_other)
        self.timeline_pane.open_instance_requested.connect(self._open_other)
        self.timeline_pane.event_clicked.connect(self._on_bar_clicked)
        self.history_pane.event_selected.connect(self._on_history_selected)
        self.history_pane.detail_changed.connect(self.timeline_pane.set_detail_text)
        self._show_placeholder("No instance selected.")

    # ----- public API -------------------------------------------------------------------------------
    def set_client(self, client: Any) -> None:
        """Use this async client (``AsyncTaskHubGrpcClient``-like), or ``None`` when disconnected."""
        self._client = client
        self._has_history_api = client is None or hasattr(client, "get_orchestration_history")
        if client is None:
            self._poll.stop()
            self._cancel_load()
            if self._instance_id is not None:
                self._set_banner("Not connected: showing the last loaded data.", error=False)
                self.live_label.setText("")
        elif self._instance_id is not None:
            # A load still running on the previous client is dropped; reload from the new one.
            self._cancel_load()
            self._last_updated = object()
            self._start_load()

    def show_instance(self, instance_id: str) -> None:
        """Show an instance: loads its state and history asynchronously and follows it while it runs."""
        self._navigate(instance_id, push=False)

    def clear(self) -> None:
        """Show nothing (and forget the back stack)."""
        self._cancel_load()
        self._poll.stop()
        self._instance_id = None
        self._back.clear()
        self._show_placeholder("No instance selected.")

    def set_time_zone(self, utc: bool) -> None:
        """Show times in UTC (``True``) or in the local time zone."""
        self._utc = utc
        self.overview.set_utc(utc)
        self.history_pane.set_utc(utc)
        self.timeline_model.set_utc(utc)
        self.timeline_pane.set_utc(utc)

    def show_loaded(self, state: Any, history: list[HistoryEvent]) -> None:
        """Show a state and history obtained elsewhere (a file, a benchmark): no client, no refresh."""
        self._cancel_load()
        self._poll.stop()
        self._back.clear()
        instance_id = str(getattr(state, "instance_id", "") or "")
        self._instance_id = instance_id
        self._show_placeholder("")
        self._apply(instance_id, state, list(history), live=False)

    def current_instance_id(self) -> str | None:
        return self._instance_id

    def facts(self) -> InstanceFacts | None:
        """What is on screen about the current instance (``None`` before the first load)."""
        return self._facts

    def history(self) -> list[HistoryEvent]:
        return self._events

    def back_stack(self) -> list[str]:
        return list(self._back)

    def is_polling(self) -> bool:
        return self._poll.isActive()

    def go_back(self) -> None:
        """Return to the instance shown before the last child/parent was opened from here."""
        if not self._back:
            return
        previous = self._back.pop()
        self._navigate(previous, push=False, keep_stack=True)

    def refresh(self) -> None:
        """Reload the current instance now."""
        if self._instance_id is None or self._client is None:
            return
        if self._task is not None and not self._task.done():
            return  # a load is already on its way
        self._start_load()

    # ----- navigation -------------------------------------------------------------------------------
    def _open_other(self, instance_id: str) -> None:
        if not instance_id or instance_id == self._instance_id:
            return
        self._navigate(instance_id, push=True)
        self.open_instance_requested.emit(instance_id)

    def _navigate(self, instance_id: str, *, push: bool, keep_stack: bool = False) -> None:
        if instance_id == self._instance_id:
            self.refresh()
            return
        if push and self._instance_id is not None:
            self._back.append(self._instance_id)
        elif not push and not keep_stack:
            self._back.clear()
        self._cancel_load()
        self._poll.stop()
        self._instance_id = instance_id
        self._show_placeholder(f"Loading {instance_id}\u2026")
        self.title.setText(f"<b>{html.escape(instance_id)}</b>")
        self._update_back_button()
        self._start_load()

    def _update_back_button(self) -> None:
        self.back_button.setEnabled(bool(self._back))
        self.back_button.setToolTip(f"Back to {self._back[-1]} (Alt+Left)" if self._back else "")

    # ----- loading ----------------------------------------------------------------------------------
    def _cancel_load(self) -> None:
        self._generation += 1
        self._timeline_token = 0
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None

    def _start_load(self) -> None:
        if self._client is None:
            self._set_banner("Not connected to a task hub.", error=True)
            return
        self._generation += 1
        self._task = own(
            self._tasks, asyncio.ensure_future(self._load(self._instance_id or "", self._generation, self._client))
        )

    def _alive(self, generation: int) -> bool:
        """Whether a load of ``generation`` may still report to the view: it is the latest load and Qt
        has not deleted the view (a load whose cancellation was ignored runs on after the deletion)."""
        return generation == self._generation and shiboken6.isValid(self)

    async def _load(self, instance_id: str, generation: int, client: Any) -> None:
        try:
            state = await client.get_orchestration_state(instance_id, fetch_payloads=True)
            if not self._alive(generation):
                return
            history: list[HistoryEvent] | None = None
            if state is not None and self._has_history_api:
                stamp = getattr(state, "last_updated_at", None)
                if stamp != self._last_updated or not self._events:
                    history = list(await client.get_orchestration_history(instance_id))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - network/server trouble: say so, keep what is on screen
            if self._alive(generation):
                _log.info("loading %s failed: %s", instance_id, exc)
                detail = exc.details() if hasattr(exc, "details") and callable(exc.details) else str(exc)
                self._set_banner(f"Could not load {instance_id}: {type(exc).__name__}: {detail}", error=True)
                self.live_label.setText("")
                if self._facts is not None and not self._facts.is_terminal:
                    self._schedule_poll(self.POLL_INTERVAL_MS * 4)
            return
        if not self._alive(generation):
            return
        if state is None:
            self._show_placeholder(
                f"Instance {instance_id} was not found (purged, or never created).", error=True
            )
            self.title.setText(f"<b>{html.escape(instance_id)}</b>")
            self.loaded.emit(instance_id)
            return
        self._apply(instance_id, state, history)

    def _apply(
        self, instance_id: str, state: Any, history: list[HistoryEvent] | None, *, live: bool = True
    ) -> None:
        first_load = self._facts is None
        self.tabs.show()
        if history is not None:
            self._events = history
            self._last_updated = getattr(state, "last_updated_at", None)
        facts = gather_facts(state, self._events)
        if facts.failure is None:
            facts.failure = _history_failure(self._events)
        self._facts = facts
        failed_line = self._failure_line(facts)
        if failed_line:
            self._set_banner(failed_line, error=True)
        else:
            self._set_banner(self._pending_hint(facts), error=False)
        self.title.setText(
            f"<b>{html.escape(facts.instance_id or instance_id)}</b>"
            + (f" &nbsp;<span style='color:gray'>{html.escape(facts.name)}</span>" if facts.name else "")
        )
        self._set_status_chip(facts.status)
        self.overview.show_facts(facts)
        self.input_view.set_payload(getattr(state, "serialized_input", None))
        self.output_view.set_payload(getattr(state, "serialized_output", None))
        self.custom_status_view.set_payload(getattr(state, "serialized_custom_status", None))
        self.failure_pane.set_failure(facts.failure)
        self.tabs.setTabText(self.TAB_FAILURE, "Failure \u26a0" if facts.failure is not None else "Failure")
        if history is not None:
            if first_load:
                self.history_model.set_events(history)
            else:
                self.history_model.update_events(history)
            self.tabs.setTabText(self.TAB_HISTORY, f"History ({len(history):,})")
            self._rebuild_timeline(history)
        elif not self._has_history_api:
            self.tabs.setTabText(self.TAB_HISTORY, "History (not available)")
        self.timeline_pane.chart.viewport().update()
        if facts.is_terminal or not live:
            self.live_label.setText("")
            self._poll.stop()
        else:
            self.live_label.setText(
                f"\u25cf live, updated {format_time(datetime.now().astimezone(), self._utc, with_date=False)}"
            )
            self._schedule_poll(self.POLL_INTERVAL_MS)
        self.loaded.emit(instance_id)

    def _failure_line(self, facts: InstanceFacts) -> str:
        """One line at the top for a failed instance: the root cause (details on the Failure tab)."""
        if facts.status != "Failed" or facts.failure is None:
            return ""
        chain = failure_chain(facts.failure)
        if not chain:
            return ""
        root = chain[-1]
        message = root.message.strip().splitlines()[0] if root.message.strip() else ""
        if len(message) > 300:
            message = message[:299] + "\u2026"
        text = short_type(root.error_type) + (f": {message}" if message else "")
        return f"Failed with {text}  \u2014 stack traces on the Failure tab (Alt+5)."

    def _pending_hint(self, facts: InstanceFacts) -> str:
        """Why a Pending instance may not move: nobody serves its orchestrator (empty when not stuck)."""
        if facts.status != "Pending" or facts.created_at is None:
            return ""
        now = datetime.now(timezone.utc)
        created = facts.created_at if facts.created_at.tzinfo else facts.created_at.replace(tzinfo=timezone.utc)
        start = facts.scheduled_start_at
        if start is not None:
            start = start if start.tzinfo else start.replace(tzinfo=timezone.utc)
            if start > now:
                return ""
            created = max(created, start)
        waited = (now - created).total_seconds()
        if waited < self.PENDING_HINT_AFTER_S:
            return ""
        name = facts.name or "?"
        text = (f"Pending for {format_duration(waited)}: no worker has picked it up yet. A worker must serve this "
                f"task hub with the orchestrator '{name}' registered (Worker \u25b8 Load worker file\u2026 hosts one here).")
        hosted = self.hosted_orchestrators() if self.hosted_orchestrators is not None else []
        if hosted and name not in hosted:
            text += f" The hosted worker registers only: {', '.join(hosted)}."
        return text

    def _rebuild_timeline(self, history: list[HistoryEvent]) -> None:
        if len(history) > _BACKGROUND_TIMELINE_EVENTS:
            self._timeline_token = self._background.submit(build_timeline, history)
        else:
            self._timeline_token = 0
            self.timeline_model.set_timeline(build_timeline(history))

    def _on_timeline_built(self, token: int, timeline: object) -> None:
        if token == self._timeline_token and isinstance(timeline, Timeline):
            self._timeline_token = 0
            self.timeline_model.set_timeline(timeline)

    def timeline_pending(self) -> bool:
        """A timeline is being built in the background."""
        return self._timeline_token != 0

    def _schedule_poll(self, interval: int) -> None:
        if self.isVisible() and self._client is not None:
            self._poll.start(interval)

    # ----- selection between the timeline and the history -------------------------------------------
    def _on_bar_clicked(self, history_index: int) -> None:
        if 0 <= history_index < len(self._events):
            # Selecting the row formats the event; detail_changed mirrors the text under the chart.
            self.history_pane.select_history_index(history_index)

    def _on_history_selected(self, history_index: int) -> None:
        self.timeline_pane.chart.select_history_index(history_index)

    # ----- display helpers --------------------------------------------------------------------------
    def _set_status_chip(self, status: str | None) -> None:
        if not status:
            self.status_chip.setVisible(False)
            return
        color = STATUS_COLORS.get(status, "#757575")
        self.status_chip.setText(status)
        self.status_chip.setStyleSheet(
            f"QLabel {{ color: white; background: {color}; font-weight: bold; padding: 2px 8px; border-radius: 3px }}"
        )
        self.status_chip.setVisible(True)

    def _set_banner(self, text: str, *, error: bool) -> None:
        self.banner.setVisible(bool(text))
        self.banner.setText(text)
        self._banner_error = error
        dark = palette_is_dark(self.palette())
        error_style = ("background:#5c1f1f; color:#ffd7d7; padding:6px; border-radius:3px" if dark
                       else "background:#fdecea; color:#b71c1c; padding:6px; border-radius:3px")
        self.banner.setStyleSheet(
            error_style if error else "background:palette(alternate-base); padding:6px; border-radius:3px"
        )

    def _show_placeholder(self, text: str, *, error: bool = False) -> None:
        self._facts = None
        self._events = []
        self._last_updated = object()
        self._timeline_token = 0
        self.title.setText("")
        self._set_status_chip(None)
        self.live_label.setText("")
        self.overview.show_facts(None)
        for view in (self.input_view, self.output_view, self.custom_status_view):
            view.set_payload(None)
        self.failure_pane.set_failure(None)
        self.tabs.setTabText(self.TAB_FAILURE, "Failure")
        self.tabs.setTabText(self.TAB_HISTORY, "History")
        self.history_pane.clear_selection()
        self.history_model.clear()
        self.timeline_model.clear()
        self.timeline_pane.set_detail_text("")
        self._update_back_button()
        if getattr(self, "_instance_id", None) is None and not error:
            # Nothing chosen: empty tabs full of blank fields would only look broken.
            self.tabs.hide()
            text = text + " Pick an instance in the list (arrow keys work too) to see its overview, input, " \
                "output, failure, history and timeline."
        else:
            self.tabs.show()
        self._set_banner(text, error=error)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange) and hasattr(self, "banner"):
            self._set_banner(self.banner.text(), error=getattr(self, "_banner_error", False))
        super().changeEvent(event)

    # ----- visibility drives polling ----------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._facts is not None and not self._facts.is_terminal:
            self.refresh()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self._poll.stop()


def _history_failure(events: list[HistoryEvent]) -> Any:
    for event in reversed(events):
        if event.proto.WhichOneof("eventType") == "executionCompleted":
            completed = event.proto.executionCompleted
            return completed.failureDetails if completed.HasField("failureDetails") else None
    return None
