"""The filter bar above the instance list: statuses (with counts), time range, ID prefix, name."""

from __future__ import annotations

from datetime import timezone

from PySide6.QtCore import QDateTime, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from dtstudio.core.formatting import ALL_STATUS_NAMES, status_label
from dtstudio.core.instance_filter import TIME_PRESETS, InstanceFilter
from dtstudio.core.taskhub_service import StatusCounts

__all__ = ["FilterBar"]


class FilterBar(QWidget):
    """Edits an :class:`InstanceFilter`; ``filter_changed`` fires (debounced for typing)."""

    filter_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(350)
        self._debounce.timeout.connect(self._emit)

        self.status_buttons: dict[str, QToolButton] = {}
        status_row = QHBoxLayout()
        status_row.setContentsMargins(0, 0, 0, 0)
        self.all_button = QToolButton(self)
        self.all_button.setText("All")
        self.all_button.setCheckable(True)
        self.all_button.setChecked(True)
        self.all_button.setToolTip("Show every status (clears the status filter)")
        self.all_button.clicked.connect(self._all_clicked)
        status_row.addWidget(self.all_button)
        for name in ALL_STATUS_NAMES:
            b = QToolButton(self)
            b.setCheckable(True)
            b.setText(status_label(name))
            b.setToolTip(f"Show {status_label(name).lower()} instances (several statuses can be on)")
            b.toggled.connect(self._status_toggled)
            self.status_buttons[name] = b
            status_row.addWidget(b)
        self.counts_note = QLabel("", self)
        self.counts_note.setStyleSheet("color: palette(mid);")
        status_row.addWidget(self.counts_note)
        status_row.addStretch(1)

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        self.time_preset = QComboBox(self)
        for p in TIME_PRESETS:
            self.time_preset.addItem(p.label, p.key)
        self.time_preset.setToolTip("Created time")
        self.created_from = QDateTimeEdit(QDateTime.currentDateTime().addDays(-1), self)
        self.created_to = QDateTimeEdit(QDateTime.currentDateTime().addSecs(3600), self)
        for e in (self.created_from, self.created_to):
            e.setCalendarPopup(True)
            e.setDisplayFormat("yyyy-MM-dd HH:mm")
            e.hide()
            e.dateTimeChanged.connect(self._changed_later)
        self.range_dash = QLabel("–", self)
        self.range_dash.hide()
        self.id_prefix = QLineEdit(self)
        self.id_prefix.setPlaceholderText("Instance ID starts with…")
        self.id_prefix.setClearButtonEnabled(True)
        self.name_contains = QLineEdit(self)
        self.name_contains.setPlaceholderText("Name contains…")
        self.name_contains.setClearButtonEnabled(True)
        self.hide_subs = QCheckBox("Hide sub-orchestrations", self)
        self.clear_button = QToolButton(self)
        self.clear_button.setText("Clear filters")
        self.clear_button.clicked.connect(self.clear)
        row.addWidget(QLabel("Created:", self))
        row.addWidget(self.time_preset)
        row.addWidget(self.created_from)
        row.addWidget(self.range_dash)
        row.addWidget(self.created_to)
        row.addWidget(self.id_prefix, 2)
        row.addWidget(self.name_contains, 2)
        row.addWidget(self.hide_subs)
        row.addWidget(self.clear_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(2)
        layout.addLayout(status_row)
        layout.addLayout(row)

        self.time_preset.currentIndexChanged.connect(self._preset_changed)
        self.id_prefix.textChanged.connect(self._changed_later)
        self.name_contains.textChanged.connect(self._changed_later)
        self.hide_subs.toggled.connect(self._emit)
        self._counts: StatusCounts | None = None

    # ------------------------------------------------------------------
    def current_filter(self) -> InstanceFilter:
        statuses = {n for n, b in self.status_buttons.items() if b.isChecked()}
        preset = str(self.time_preset.currentData())
        flt = InstanceFilter(
            statuses=statuses,
            time_preset=preset,
            id_prefix=self.id_prefix.text().strip(),
            name_contains=self.name_contains.text().strip(),
            hide_sub_orchestrations=self.hide_subs.isChecked(),
        )
        if preset == "custom":
            flt.created_from = self.created_from.dateTime().toPython().astimezone(timezone.utc)  # type: ignore[attr-defined]
            flt.created_to = self.created_to.dateTime().toPython().astimezone(timezone.utc)  # type: ignore[attr-defined]
        return flt

    def to_settings(self) -> dict[str, object]:
        """The filter as plain JSON-able values (to remember it between runs)."""
        flt = self.current_filter()
        return {
            "statuses": sorted(flt.statuses),
            "time_preset": flt.time_preset,
            "created_from": self.created_from.dateTime().toString(Qt.DateFormat.ISODate),
            "created_to": self.created_to.dateTime().toString(Qt.DateFormat.ISODate),
            "id_prefix": flt.id_prefix,
            "name_contains": flt.name_contains,
            "hide_sub_orchestrations": flt.hide_sub_orchestrations,
        }

    def restore_settings(self, data: dict[str, object]) -> None:
        """Put back a filter saved by :meth:`to_settings` (unknown or bad values are ignored)."""
        widgets = [self.id_prefix, self.name_contains, self.hide_subs, self.time_preset, self.created_from,
                   self.created_to, *self.status_buttons.values()]
        for w in widgets:
            w.blockSignals(True)
        try:
            statuses = data.get("statuses")
            wanted = {str(s) for s in statuses} if isinstance(statuses, list) else set()
            for name, b in self.status_buttons.items():
                b.setChecked(name in wanted)
            self.all_button.setChecked(not (wanted & set(self.status_buttons)))
            i = self.time_preset.findData(str(data.get("time_preset", "any")))
            self.time_preset.setCurrentIndex(max(0, i))
            for edit, key in ((self.created_from, "created_from"), (self.created_to, "created_to")):
                dt = QDateTime.fromString(str(data.get(key, "")), Qt.DateFormat.ISODate)
                if dt.isValid():
                    edit.setDateTime(dt)
            self.id_prefix.setText(str(data.get("id_prefix", "") or ""))
            self.name_contains.setText(str(data.get("name_contains", "") or ""))
            self.hide_subs.setChecked(bool(data.get("hide_sub_orchestrations", False)))
        finally:
            for w in widgets:
                w.blockSignals(False)
        custom = self.time_preset.currentData() == "custom"
        for w in (self.created_from, self.created_to, self.range_dash):
            w.setVisible(custom)

    def set_statuses(self, statuses: set[str]) -> None:
        for name, b in self.status_buttons.items():
            b.blockSignals(True)
            b.setChecked(name in statuses)
            b.blockSignals(False)
        self.all_button.setChecked(not statuses)
        self._emit()

    def set_time_preset(self, key: str) -> None:
        i = self.time_preset.findData(key)
        if i >= 0:
            self.time_preset.setCurrentIndex(i)

    def clear(self) -> None:
        for w in (self.id_prefix, self.name_contains, self.hide_subs, self.time_preset, *self.status_buttons.values()):
            w.blockSignals(True)
        self.id_prefix.clear()
        self.name_contains.clear()
        self.hide_subs.setChecked(False)
        self.time_preset.setCurrentIndex(0)
        for b in self.status_buttons.values():
            b.setChecked(False)
        for w in (self.id_prefix, self.name_contains, self.hide_subs, self.time_preset, *self.status_buttons.values()):
            w.blockSignals(False)
        self._preset_changed()

    def focus_search(self) -> None:
        self.id_prefix.setFocus()
        self.id_prefix.selectAll()

    def set_counts(self, counts: StatusCounts | None, note: str = "") -> None:
        """Show per-status counts on the buttons ('Failed 3'); None removes them."""
        self._counts = counts
        total = 0
        for name, b in self.status_buttons.items():
            label = status_label(name)
            if counts is None:
                b.setText(label)
            else:
                b.setText(f"{label} {counts.text(name)}")
                total += counts.counts.get(name, 0)
        self.all_button.setText("All" if counts is None else f"All {total:,}{'+' if counts and counts.capped else ''}")
        self.counts_note.setText(note)

    # ------------------------------------------------------------------
    def _all_clicked(self) -> None:
        self.set_statuses(set())

    def _status_toggled(self) -> None:
        any_on = any(b.isChecked() for b in self.status_buttons.values())
        self.all_button.setChecked(not any_on)
        self._emit()

    def _preset_changed(self) -> None:
        custom = self.time_preset.currentData() == "custom"
        for w in (self.created_from, self.created_to, self.range_dash):
            w.setVisible(custom)
        self._emit()

    def _changed_later(self) -> None:
        self._debounce.start()

    def _emit(self) -> None:
        self._debounce.stop()
        self.filter_changed.emit(self.current_filter())

    def keyPressEvent(self, event: object) -> None:
        from PySide6.QtGui import QKeyEvent

        if isinstance(event, QKeyEvent) and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._emit()
            return
        if isinstance(event, QKeyEvent) and event.key() == Qt.Key.Key_Escape:
            # Esc in a search field empties it (and shows everything again), like in a browser.
            for edit in (self.id_prefix, self.name_contains):
                if edit.hasFocus() and edit.text():
                    edit.clear()
                    self._emit()
                    return
        super().keyPressEvent(event)  # type: ignore[arg-type]
