"""Dialogs for the instance actions: start, raise event, reason-taking actions, restart."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from PySide6.QtCore import QDateTime, Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QCompleter, QDateTimeEdit, QHBoxLayout, QLineEdit, QWidget

from dtstudio.core.json_input import JsonInputError
from dtstudio.ui.form_dialog import FormDialog
from dtstudio.ui.json_editor import JsonEditor

__all__ = ["RaiseEventDialog", "ReasonDialog", "RestartDialog", "StartDialog", "parse_tags"]


def parse_tags(text: str) -> dict[str, str]:
    """'env=prod, team=core' -> {'env': 'prod', 'team': 'core'}; raises ValueError on bad parts."""
    tags: dict[str, str] = {}
    for raw in text.replace("\n", ",").split(","):
        part = raw.strip()
        if not part:
            continue
        if "=" not in part:
            raise ValueError(f"Tag '{part}' needs the form key=value.")
        key, value = part.split("=", 1)
        if not key.strip():
            raise ValueError(f"Tag '{part}' has no key.")
        tags[key.strip()] = value.strip()
    return tags


def _targets_text(ids: list[str]) -> str:
    if len(ids) == 1:
        return f"instance {ids[0]}"
    return f"{len(ids)} selected instances"


class StartDialog(FormDialog):
    """Start a new orchestration: name, optional ID, JSON input, version, tags, scheduled start."""

    def __init__(
        self, known_names: list[str], parent: QWidget | None = None, *, hosted_names: Sequence[str] = ()
    ) -> None:
        super().__init__("Start new orchestration", "Start", parent=parent, stretch=False)
        self.resize(520, 420)
        self.name = QComboBox(self)
        self.name.setEditable(True)
        self.name.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        # The hosted worker's orchestrators first (they will run), then names seen in the list.
        hosted = list(dict.fromkeys(hosted_names))
        for n in hosted:
            self.name.addItem(n)
            self.name.setItemData(self.name.count() - 1, "run by the hosted worker", Qt.ItemDataRole.ToolTipRole)
        if hosted and set(known_names) - set(hosted):
            self.name.insertSeparator(self.name.count())
        self.name.addItems(sorted(set(known_names) - set(hosted)))
        self.name.setCurrentText("")
        completer = QCompleter([self.name.itemText(i) for i in range(self.name.count()) if self.name.itemText(i)], self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.name.setCompleter(completer)
        line_edit = self.name.lineEdit()
        if line_edit is not None:
            line_edit.setPlaceholderText(
                f"e.g. {hosted[0]} (hosted worker)" if hosted else "the orchestrator's registered name"
            )
        self.instance_id = QLineEdit(self)
        self.instance_id.setPlaceholderText("leave empty for a generated ID")
        self.input = JsonEditor("input", parent=self)
        self.version = QLineEdit(self)
        self.version.setPlaceholderText("optional")
        self.tags = QLineEdit(self)
        self.tags.setPlaceholderText("optional: key=value, key2=value2")
        self.schedule = QCheckBox("Start later at", self)
        self.start_at = QDateTimeEdit(QDateTime.currentDateTime().addSecs(60), self)
        self.start_at.setCalendarPopup(True)
        self.start_at.setDisplayFormat("yyyy-MM-dd HH:mm:ss")
        self.start_at.setEnabled(False)
        self.schedule.toggled.connect(self.start_at.setEnabled)
        row = QWidget(self)
        h = QHBoxLayout(row)
        h.setContentsMargins(0, 0, 0, 0)
        h.addWidget(self.schedule)
        h.addWidget(self.start_at, 1)
        self.form.addRow("Orchestration name", self.name)
        self.form.addRow("Instance ID", self.instance_id)
        self.form.addRow("Input (JSON)", self.input)
        self.form.addRow("Version", self.version)
        self.form.addRow("Tags", self.tags)
        self.form.addRow("Scheduled start", row)

    def collect(self) -> dict[str, Any]:
        name = self.name.currentText().strip()
        if not name:
            raise ValueError("Enter the orchestration name.")
        try:
            value = self.input.value()
        except JsonInputError as exc:
            raise ValueError(f"The input is not valid JSON (line {exc.line}, column {exc.column}); see above.") from None
        start_at: datetime | None = None
        if self.schedule.isChecked():
            start_at = self.start_at.dateTime().toPython().astimezone(timezone.utc)  # type: ignore[attr-defined]
        return {
            "name": name,
            "instance_id": self.instance_id.text().strip() or None,
            "input": value,
            "version": self.version.text().strip() or None,
            "tags": parse_tags(self.tags.text()) or None,
            "start_at": start_at,
        }


class RaiseEventDialog(FormDialog):
    """Raise a named event with an optional JSON payload."""

    def __init__(self, ids: list[str], parent: QWidget | None = None) -> None:
        super().__init__("Raise event", "Raise event", f"Send an event to {_targets_text(ids)}.", parent, stretch=False)
        self.resize(480, 320)
        self.event_name = QLineEdit(self)
        self.event_name.setPlaceholderText("the name the orchestrator waits for")
        self.data = JsonEditor("event data", parent=self)
        self.form.addRow("Event name", self.event_name)
        self.form.addRow("Data (JSON)", self.data)

    def collect(self) -> dict[str, Any]:
        name = self.event_name.text().strip()
        if not name:
            raise ValueError("Enter the event name.")
        try:
            data = self.data.value()
        except JsonInputError as exc:
            raise ValueError(f"The event data is not valid JSON (line {exc.line}, column {exc.column}); see above.") from None
        return {"event_name": name, "data": data}


class ReasonDialog(FormDialog):
    """Suspend, resume, terminate, rewind or purge: an optional reason and, for some, 'recursive'."""

    def __init__(
        self,
        action: str,
        ids: list[str],
        *,
        ask_reason: bool = True,
        recursive_option: bool = False,
        intro: str = "",
        parent: QWidget | None = None,
    ) -> None:
        text = intro or f"{action} {_targets_text(ids)}."
        super().__init__(action, action, text, parent)
        self.resize(440, 160)
        self.reason: QLineEdit | None = None
        self.recursive: QCheckBox | None = None
        if ask_reason:
            self.reason = QLineEdit(self)
            self.reason.setPlaceholderText("optional")
            self.form.addRow("Reason", self.reason)
        if recursive_option:
            self.recursive = QCheckBox("Also sub-orchestrations (recursive)", self)
            self.recursive.setChecked(True)
            self.form.addRow("", self.recursive)

    def collect(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if self.reason is not None:
            values["reason"] = self.reason.text().strip() or None
        if self.recursive is not None:
            values["recursive"] = self.recursive.isChecked()
        return values


class RestartDialog(FormDialog):
    """Restart a finished instance under the same or a new instance ID."""

    def __init__(self, ids: list[str], parent: QWidget | None = None) -> None:
        super().__init__(
            "Restart",
            "Restart",
            f"Start {_targets_text(ids)} again from the beginning with the original input.",
            parent,
        )
        self.new_id = QCheckBox("Use a new instance ID (keeps the old instance)", self)
        self.form.addRow("", self.new_id)

    def collect(self) -> dict[str, Any]:
        return {"new_instance_id": self.new_id.isChecked()}
