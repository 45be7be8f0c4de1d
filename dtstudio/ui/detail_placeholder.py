"""A minimal stand-in for the instance detail pane, used when ``dtstudio.ui.detail`` is missing."""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QPlainTextEdit, QVBoxLayout, QWidget

from dtstudio.core.formatting import format_timestamp, status_label

__all__ = ["DetailPlaceholder"]


class DetailPlaceholder(QWidget):
    """Same methods as ``InstanceDetailView``; shows the instance's state as plain text."""

    open_instance_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._client: Any = None
        self._utc = False
        self._id: str | None = None
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        self.text.setPlaceholderText("Select an instance to see its details.")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.text)
        self._task: asyncio.Future[Any] | None = None

    def set_client(self, client: Any) -> None:
        self._client = client
        if client is None:
            self.clear()

    def set_time_zone(self, utc: bool) -> None:
        self._utc = utc
        if self._id:
            self.show_instance(self._id)

    def clear(self) -> None:
        self._id = None
        self.text.clear()

    def show_instance(self, instance_id: str) -> None:
        self._id = instance_id
        self.text.setPlainText(f"Loading {instance_id}…")
        if self._client is None:
            return
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = asyncio.ensure_future(self._load(instance_id))

    async def _load(self, instance_id: str) -> None:
        try:
            s = await self._client.get_orchestration_state(instance_id, fetch_payloads=True)
        except Exception as exc:  # noqa: BLE001
            if self._id == instance_id:
                self.text.setPlainText(f"Could not load {instance_id}: {exc}")
            return
        if self._id != instance_id:
            return
        if s is None:
            self.text.setPlainText(f"Instance {instance_id} no longer exists.")
            return
        status = getattr(s.runtime_status, "name", str(s.runtime_status))
        lines = [
            f"Instance ID:   {s.instance_id}",
            f"Name:          {s.name}",
            f"Status:        {status_label(status)}",
            f"Created:       {format_timestamp(s.created_at, utc=self._utc)}",
            f"Last updated:  {format_timestamp(s.last_updated_at, utc=self._utc)}",
            f"Input:         {s.serialized_input or ''}",
            f"Output:        {s.serialized_output or ''}",
            f"Custom status: {s.serialized_custom_status or ''}",
        ]
        if s.failure_details is not None:
            lines.append(f"Failure:       {getattr(s.failure_details, 'message', s.failure_details)}")
        self.text.setPlainText("\n".join(lines))
