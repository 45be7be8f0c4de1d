"""The main window's instance list: loading pages, refresh and auto-refresh, counts, sorting, selection."""

from __future__ import annotations

import asyncio
import html
import logging
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QMenu,
)

from dtstudio.core.connection import describe_error, grpc_code_name
from dtstudio.core.instance_filter import InstanceFilter
from dtstudio.core.profiles import BackendKind
from dtstudio.core.worker_hosting import HostState

__all__ = ["InstanceListHandling"]

log = logging.getLogger("dtstudio.ui")

#: The per-status counts are re-queried at most this often by auto-refresh.
COUNTS_MIN_INTERVAL_S = 10.0

if TYPE_CHECKING:
    _WindowPart: Any = object
else:
    _WindowPart = object


class InstanceListHandling(_WindowPart):
    """Part of :class:`~dtstudio.ui.main_window.MainWindow`: the list's behaviour (mixed in)."""


    instance_filter: InstanceFilter
    _counts_task: asyncio.Future[Any] | None
    _counts_time: float
    _sort_state: tuple[int, Qt.SortOrder] | None
    _select_after_load: str | None
    _restore_ids: list[str]
    _restore_current: str | None
    _restore_scroll: int

    def set_filter(self, flt: InstanceFilter) -> None:
        try:
            flt.validate()
        except ValueError as exc:
            self.show_banner(str(exc))
            return
        self.instance_filter = flt
        self.reload_list()

    def reload_list(self) -> None:
        service = self.service
        if service is None:
            return
        flt = self.instance_filter
        self.hide_banner()

        async def source(token: str | None) -> Any:
            return await service.fetch_page(flt, token)

        self.model.set_page_source(source)
        self.model.reload()
        self.refresh_counts(force=True)

    def refresh(self) -> None:
        """F5: re-query the list (keeping selection and scroll) and the counts."""
        if self.service is None:
            if self.profile is not None or self.store.get(self.profile_combo.currentData() or ""):
                self._connect_clicked()
            return
        if self.model.last_error is not None or self.model.rowCount() == 0:
            self.reload_list()
            return
        self._remember_selection()
        self.model.refresh()
        self.refresh_counts(force=True)
        refresh_detail = getattr(self.detail, "refresh", None)
        if callable(refresh_detail):
            refresh_detail()

    def refresh_counts(self, force: bool = False) -> None:
        service = self.service
        if service is None:
            return
        loop_time = asyncio.get_event_loop().time()
        if self._counts_task is not None and not self._counts_task.done():
            if not force:
                return
            self._counts_task.cancel()
        elif not force and loop_time - self._counts_time < COUNTS_MIN_INTERVAL_S:
            return
        self._counts_time = loop_time
        flt = self.instance_filter

        async def count() -> None:
            try:
                counts = await service.count_by_status(flt)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001
                self.filter_bar.set_counts(None, "counts unavailable")
                log.info("counting failed: %s", exc)
                return
            if service is self.service:
                self.filter_bar.set_counts(counts)

        self._counts_task = self.runner.spawn(count())

    def _auto_refresh_changed(self) -> None:
        seconds = int(self.auto_refresh.currentData() or 0)
        if seconds:
            self.refresh_timer.start(seconds * 1000)
        else:
            self.refresh_timer.stop()

    def _auto_refresh_tick(self) -> None:
        if self.service is None or self.model.is_loading:
            return
        self._remember_selection()
        if self.model.rowCount() == 0:
            self.model.reload()
        else:
            self.model.refresh()
        self.refresh_counts(force=False)

    def _remember_selection(self) -> None:
        self._restore_ids = self.selected_ids()
        cur = self.table.currentIndex()
        self._restore_current = self.model.state_at(cur.row()).instance_id if cur.isValid() and self.model.state_at(cur.row()) else None
        self._restore_scroll = self.table.verticalScrollBar().value()

    def _restore_selection(self) -> None:
        sel = self.table.selectionModel()
        sel.blockSignals(True)
        try:
            for iid in self._restore_ids:
                row = self.model.row_of(iid)
                if row >= 0:
                    sel.select(self.model.index(row, 0), QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)
            if self._restore_current:
                row = self.model.row_of(self._restore_current)
                if row >= 0:
                    sel.setCurrentIndex(self.model.index(row, 0), QItemSelectionModel.SelectionFlag.NoUpdate)
        finally:
            sel.blockSignals(False)
        self.table.verticalScrollBar().setValue(self._restore_scroll)
        self._update_action_state()

    def _rows_loaded(self, count: int) -> None:
        if self.model.last_error is None and self.connection_state == "connected" and self.conn_status_label.text() != "Connected":
            self._set_state("connected", self._connected_message)
        more = " (scroll for more)" if self.model.has_more else ""
        if self._sort_state is not None and self.model.has_more:
            more += " · sorted among the loaded rows"
        self.rows_label.setText(f"{count:,} instance{'s' if count != 1 else ''} loaded{more}")
        if self._select_after_load:
            row = self.model.row_of(self._select_after_load)
            if row >= 0:
                self._select_after_load = None
                self.table.selectRow(row)
                self.table.scrollTo(self.model.index(row, 0))
        self._update_empty_label()

    def _update_empty_label(self) -> None:
        if self.connection_state != "connected":
            self.empty_label.hide()
            return
        if self.model.rowCount() == 0 and not self.model.is_loading and self.model.last_error is None:
            self.empty_label.setText(self.empty_state_html())
            self.empty_label.setGeometry(self.table.viewport().rect())
            self.empty_label.show()
        else:
            self.empty_label.hide()

    def empty_state_html(self) -> str:
        """What the empty list says: why it is empty and what to do next."""
        desc = self.instance_filter.describe()
        if desc != "all instances":
            return (f"<p><b>No instances match:</b> {html.escape(desc)}.</p>"
                    "<p>Press <b>Clear filters</b> to see every instance.</p>")
        profile = self.profile
        hub = html.escape(profile.taskhub if profile else "?")
        if profile is not None and profile.kind is BackendKind.EMBEDDED:
            where = f"the embedded emulator at {self.embedded_address}"
        else:
            where = str(profile.endpoint) if profile else "this backend"
        lines = [
            f"<p style='font-size:large'><b>Task hub '{hub}' has no instances yet.</b></p>",
            "<p>Start one with <b>Start new…</b> (Ctrl+N).</p>",
        ]
        controller = getattr(self, "worker_controller", None)
        hosting = controller is not None and controller.status.state is HostState.RUNNING
        if not hosting:
            lines.append(
                "<p>Instances only run while a worker serves this task hub. Load your orchestrators and "
                "activities from a Python file with <b>Worker ▸ Load worker file…</b> (Ctrl+Shift+O),<br>"
                f"or run your own worker against {html.escape(where)} with task hub '{hub}'.</p>"
            )
        lines.append("<p>Expected instances here? Check the task hub name: the worker and dtstudio must use the same one.</p>")
        return "".join(lines)

    def _loading_changed(self, loading: bool) -> None:
        if loading:
            self.rows_label.setText("Loading instances…")
        self._update_empty_label()

    def _list_failed(self, exc: BaseException) -> None:
        text = describe_error(exc, self.profile)
        if grpc_code_name(exc) in ("UNAVAILABLE", "UNAUTHENTICATED", "PERMISSION_DENIED"):
            # The backend went away (or our sign-in expired): say so where the connection is shown.
            self._set_state_label("error", text)
            self.conn_status_label.setText("Connection lost")
        self.show_banner("Could not load instances: " + text + " Press F5 to try again.")

    def _header_clicked(self, section: int) -> None:
        """First click sorts ascending, the next click on the same column flips the order."""
        if self._sort_state is not None and self._sort_state[0] == section:
            asc = self._sort_state[1] == Qt.SortOrder.AscendingOrder
            order = Qt.SortOrder.DescendingOrder if asc else Qt.SortOrder.AscendingOrder
        else:
            order = Qt.SortOrder.AscendingOrder
        self._sort_state = (section, order)
        self.table.horizontalHeader().setSortIndicator(section, order)
        self.model.sort(section, order)

    # ================================================================== selection and detail
    def selected_ids(self) -> list[str]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        ids = []
        for r in rows:
            s = self.model.state_at(r)
            if s is not None:
                ids.append(str(s.instance_id))
        return ids

    def _selection_changed(self) -> None:
        self._update_action_state()
        ids = self.selected_ids()
        if len(ids) == 1:
            self.detail.show_instance(ids[0])  # type: ignore[attr-defined]
        elif len(ids) > 1:
            self.statusBar().showMessage(
                f"{len(ids)} instances selected: the actions apply to all of them (the detail shows one).", 6000)

    def open_instance(self, instance_id: str) -> None:
        """Show an instance (e.g. a parent/child link) in the detail pane and select it if listed."""
        row = self.model.row_of(instance_id)
        if row >= 0:
            self.table.selectRow(row)
            self.table.scrollTo(self.model.index(row, 0))
        else:
            self.table.clearSelection()
            self.detail.show_instance(instance_id)  # type: ignore[attr-defined]


    def copy_selected_ids(self) -> None:
        ids = self.selected_ids()
        if ids:
            QGuiApplication.clipboard().setText("\n".join(ids))
            self.statusBar().showMessage(f"Copied {len(ids)} instance ID{'s' if len(ids) != 1 else ''}", 4000)

    def _context_menu(self, pos: Any) -> None:
        menu = QMenu(self)
        menu.addAction(self.act_copy)
        menu.addSeparator()
        for a in (self.act_raise, self.act_suspend, self.act_resume, self.act_terminate, self.act_restart, self.act_rewind, self.act_purge):
            menu.addAction(a)
        menu.popup(self.table.viewport().mapToGlobal(pos))

