"""Purge finished instances by created-time range and status, after showing how many would go."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from PySide6.QtCore import QDateTime, Signal
from PySide6.QtWidgets import QCheckBox, QDateTimeEdit, QHBoxLayout, QLabel, QPushButton, QWidget

from dtstudio.core.formatting import TERMINAL_STATUS_NAMES, status_label
from dtstudio.ui.form_dialog import FormDialog

__all__ = ["PurgeFilterDialog"]


class PurgeFilterDialog(FormDialog):
    """Two steps: *Count* (a dry run) shows the number; only then *Purge N instances* is enabled."""

    preview_requested = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(
            "Purge instances by filter",
            "Purge",
            "Deletes finished instances (and their history) created in the range. "
            "Running, pending and suspended instances are never purged. Count first to see how many would go.",
            parent,
        )
        self.resize(520, 300)
        now = QDateTime.currentDateTime()
        self.use_from = QCheckBox("on or after", self)
        self.created_from = QDateTimeEdit(now.addDays(-7), self)
        self.use_to = QCheckBox("before", self)
        self.created_to = QDateTimeEdit(now, self)
        for edit in (self.created_from, self.created_to):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd HH:mm:ss")
            edit.setEnabled(False)
        self.use_from.toggled.connect(self.created_from.setEnabled)
        self.use_to.toggled.connect(self.created_to.setEnabled)
        for check, edit, label in ((self.use_from, self.created_from, "Created"), (self.use_to, self.created_to, "Created")):
            row = QWidget(self)
            h = QHBoxLayout(row)
            h.setContentsMargins(0, 0, 0, 0)
            h.addWidget(check)
            h.addWidget(edit, 1)
            self.form.addRow(label, row)
        status_row = QWidget(self)
        h = QHBoxLayout(status_row)
        h.setContentsMargins(0, 0, 0, 0)
        self.status_checks: dict[str, QCheckBox] = {}
        for name in TERMINAL_STATUS_NAMES:
            cb = QCheckBox(status_label(name), status_row)
            cb.setChecked(True)
            cb.toggled.connect(self._invalidate)
            self.status_checks[name] = cb
            h.addWidget(cb)
        self.form.addRow("Statuses", status_row)
        self.recursive = QCheckBox("Also purge their sub-orchestrations", self)
        self.form.addRow("", self.recursive)
        self.count_button = QPushButton("Count", self)
        self.count_label = QLabel("Not counted yet.", self)
        row = QWidget(self)
        h = QHBoxLayout(row)
        h.setContentsMargins(0, 0, 0, 0)
        h.addWidget(self.count_button)
        h.addWidget(self.count_label, 1)
        self.form.addRow("Would purge", row)
        self.count_button.clicked.connect(self.request_preview)
        for w in (self.use_from, self.use_to):
            w.toggled.connect(self._invalidate)
        self.created_from.dateTimeChanged.connect(self._invalidate)
        self.created_to.dateTimeChanged.connect(self._invalidate)
        self.previewed_count: int | None = None
        self._invalidate()

    def _invalidate(self, *_: Any) -> None:
        self.previewed_count = None
        self.count_label.setText("Not counted yet.")
        self.ok_button.setText("Purge")
        self.ok_button.setEnabled(False)

    def _dt(self, check: QCheckBox, edit: QDateTimeEdit) -> datetime | None:
        if not check.isChecked():
            return None
        return edit.dateTime().toPython().astimezone(timezone.utc)  # type: ignore[attr-defined]

    def collect(self) -> dict[str, Any]:
        statuses = [n for n, cb in self.status_checks.items() if cb.isChecked()]
        if not statuses:
            raise ValueError("Pick at least one status.")
        frm = self._dt(self.use_from, self.created_from)
        to = self._dt(self.use_to, self.created_to)
        if frm is not None and to is not None and frm >= to:
            raise ValueError("The range ends before it starts.")
        return {"created_from": frm, "created_to": to, "statuses": statuses, "recursive": self.recursive.isChecked()}

    def request_preview(self) -> None:
        try:
            values = self.collect()
        except ValueError as exc:
            self.show_error(str(exc))
            return
        self.error_label.hide()
        self.count_label.setText("Counting…")
        self.count_button.setEnabled(False)
        self.preview_requested.emit(values)

    def show_preview(self, count: int) -> None:
        self.count_button.setEnabled(True)
        self.previewed_count = count
        self.count_label.setText(f"{count:,} instance{'s' if count != 1 else ''} would be purged.")
        self.ok_button.setText(f"Purge {count:,} instances")
        self.ok_button.setEnabled(count > 0)

    def show_error(self, message: str) -> None:
        super().show_error(message)
        self.count_button.setEnabled(True)
        self.ok_button.setEnabled(self.previewed_count is not None and self.previewed_count > 0)

    def submit(self) -> None:
        if self.previewed_count is None:
            self.show_error("Count first, to see how many instances would be purged.")
            return
        super().submit()

    def show_done(self, deleted: int) -> None:
        self.count_label.setText(f"Purged {deleted:,} instance{'s' if deleted != 1 else ''}.")
        self.previewed_count = None
        self.ok_button.setText("Purge")
        self.ok_button.setEnabled(False)
        self.count_button.setEnabled(True)
