"""The main window's connection handling: profile choice, connecting, disconnecting, the state label."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QWidget

from dtstudio.core.connection import check_connection, describe_error, open_client
from dtstudio.core.profiles import BackendKind, ConnectionProfile, ProfileStore
from dtstudio.core.taskhub_service import TaskHubService
from dtstudio.qtmodels.instance_status_colors import palette_is_dark
from dtstudio.ui.connection_dialog import ConnectionDialog

__all__ = ["ConnectionHandling"]

log = logging.getLogger("dtstudio.ui")

if TYPE_CHECKING:
    _WindowPart: Any = object
else:
    _WindowPart = object


class ConnectionHandling(_WindowPart):
    """Part of :class:`~dtstudio.ui.main_window.MainWindow`: everything about connecting (mixed in)."""


    store: ProfileStore
    profile: ConnectionProfile | None
    client: Any
    service: TaskHubService | None
    embedded_address: str | None
    embedded_error: str | None
    connection_state: str
    last_connection_error: str | None
    _pending_connect: ConnectionProfile | None
    _dialog: QWidget | None
    _connected_message: str
    _conn_gen: int

    def _fill_profile_combo(self) -> None:
        current = self.profile.name if self.profile else self.store.last_used
        self.profile_combo.blockSignals(True)
        self.profile_combo.clear()
        for p in self.store.profiles:
            self.profile_combo.addItem(p.name, p.name)
        i = self.profile_combo.findData(current)
        self.profile_combo.setCurrentIndex(max(0, i))
        self.profile_combo.blockSignals(False)
        chosen = self.store.get(self.profile_combo.currentData() or "")
        if chosen is not None and not self.hub_edit.text():
            self.hub_edit.setText(chosen.taskhub)

    def _profile_chosen(self, index: int) -> None:
        p = self.store.get(self.profile_combo.itemData(index) or "")
        if p is not None:
            self.hub_edit.setText(p.taskhub)
            self.connect_to(p)

    def _connect_clicked(self) -> None:
        p = self.store.get(self.profile_combo.currentData() or "")
        if p is None:
            return
        hub = self.hub_edit.text().strip() or p.taskhub
        if hub != p.taskhub:
            p = ConnectionProfile(p.name, p.kind, p.endpoint, hub, p.credential, p.managed_identity_client_id)
        self.connect_to(p)

    def set_embedded_address(self, address: str | None, error: str | None = None) -> None:
        """Called by the app once the embedded emulator is up (or failed to start)."""
        self.embedded_address = address
        self.embedded_error = error
        pending, self._pending_connect = self._pending_connect, None
        if pending is not None:
            if address is None:
                self._set_state("error", f"The embedded emulator did not start: {error}")
            else:
                self.connect_to(pending)

    def connect_to(self, profile: ConnectionProfile | str) -> asyncio.Future[Any] | None:
        """Connect to a profile (by object or name) asynchronously; the state label tells the outcome."""
        if isinstance(profile, str):
            found = self.store.get(profile)
            if found is None:
                self._set_state("error", f"No saved connection called {profile!r}.")
                return None
            profile = found
        i = self.profile_combo.findData(profile.name)
        if i >= 0:
            self.profile_combo.setCurrentIndex(i)
        self.hub_edit.setText(profile.taskhub)
        return self.runner.spawn(self._connect(profile))

    async def _connect(self, profile: ConnectionProfile) -> None:
        self._conn_gen += 1
        gen = self._conn_gen
        # A hosted worker running on another connection stops now (Reload runs it on this one).
        self._worker_follow_connection(profile)
        await self._disconnect()
        if profile.kind is BackendKind.EMBEDDED and self.embedded_address is None:
            if self.embedded_error:
                self._set_state("error", f"The embedded emulator did not start: {self.embedded_error}")
                return
            self._pending_connect = profile
            self._set_state("connecting", "Starting the embedded emulator…")
            return
        self._set_state("connecting", f"Connecting to {profile.display_target()}…")
        client = None
        try:
            client = open_client(profile, embedded_address=self.embedded_address)
            await check_connection(client, profile)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - shown to the user
            if client is not None:
                await _close_quietly(client)
            if gen == self._conn_gen:
                self._worker_follow_connection(None)
                self._set_state("error", describe_error(exc, profile, connecting=True))
            return
        if gen != self._conn_gen:
            await _close_quietly(client)
            return
        self.profile = profile
        self.client = client
        self.service = TaskHubService(client)
        set_client = getattr(self.detail, "set_client", None)
        if set_client is not None:
            set_client(client)
        where = "embedded emulator at " + str(self.embedded_address) if profile.kind is BackendKind.EMBEDDED else profile.endpoint
        self._connected_message = f"Connected to {where} · task hub '{profile.taskhub}'"
        self._set_state("connected", self._connected_message)
        self.setWindowTitle(f"dtstudio — {profile.name} · {profile.taskhub}")
        self._worker_follow_connection(profile, connected=True)
        self.store.last_used = profile.name
        try:
            self.store.save()
        except OSError as exc:
            log.info("could not save profiles: %s", exc)
        self.reload_list()

    async def _disconnect(self) -> None:
        client, self.client = self.client, None
        self.service = None
        self.model.set_page_source(None)
        self.filter_bar.set_counts(None)
        clear = getattr(self.detail, "set_client", None)
        if clear is not None:
            clear(None)
        if client is not None:
            await _close_quietly(client)
        self._update_action_state()

    def _set_state(self, state: str, message: str) -> None:
        self.connection_state = state
        self._set_state_label(state, message)
        short = {"connected": "Connected", "connecting": "Connecting…", "error": "Connection failed", "disconnected": "Not connected"}
        self.conn_status_label.setText(short.get(state, state))
        if state == "error":
            self.last_connection_error = message
            self.show_banner(message + " — Press F5 to try again, or pick or edit a connection with "
                             "File ▸ Connections… (Ctrl+K).")
            self.statusBar().showMessage(message, 15000)
        else:
            self.hide_banner()
            self.statusBar().showMessage(message, 8000)
        self._update_action_state()
        self._update_empty_label()

    def _set_state_label(self, state: str, message: str) -> None:
        if palette_is_dark(self.palette()):
            colors = {"connected": "#81c784", "connecting": "#ffb74d", "error": "#ef5350", "disconnected": "palette(mid)"}
        else:
            colors = {"connected": "#2e7d32", "connecting": "#b26a00", "error": "#c62828", "disconnected": "palette(mid)"}
        dots = {"connected": "●", "connecting": "◌", "error": "●", "disconnected": "○"}
        self.state_label.setText(f"{dots.get(state, '')} {message}")
        self.state_label.setStyleSheet(f"color: {colors.get(state, 'palette(text)')};")
        self.state_label.setToolTip(message)

    def open_connection_dialog(self) -> ConnectionDialog:
        dlg = ConnectionDialog(self.store, self.profile.name if self.profile else self.store.last_used, self)
        dlg.connect_requested.connect(self.connect_to)
        dlg.finished.connect(lambda _r: self._fill_profile_combo())
        self._dialog = dlg
        dlg.open()
        return dlg



async def _close_quietly(client: Any) -> None:
    try:
        await client.close()
    except Exception as exc:  # noqa: BLE001
        log.info("closing client: %s", exc)

