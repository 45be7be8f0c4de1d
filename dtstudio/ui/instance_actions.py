"""The main window's instance actions: action dialogs, running one action or a batch, purge by filter."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QMessageBox,
    QWidget,
)

from dtstudio.core.action_applicability import why_not_applicable
from dtstudio.core.connection import describe_error
from dtstudio.core.taskhub_service import BATCH_OPERATIONS
from dtstudio.ui.action_dialogs import RaiseEventDialog, ReasonDialog, RestartDialog, StartDialog
from dtstudio.ui.batch_dialog import BatchDialog
from dtstudio.ui.form_dialog import FormDialog
from dtstudio.ui.purge_filter_dialog import PurgeFilterDialog

__all__ = ["InstanceActions"]

log = logging.getLogger("dtstudio.ui")

#: A second look at the list this long after an action, once the backend has applied it.
AFTER_ACTION_RECHECK_MS = 1000

#: At most this many "cannot apply" judgements from the list are re-checked with the backend per action.
_MAX_RECHECKS = 200

if TYPE_CHECKING:
    _WindowPart: Any = object
else:
    _WindowPart = object


class InstanceActions(_WindowPart):
    """Part of :class:`~dtstudio.ui.main_window.MainWindow`: the action handlers and the batch runner (mixed in)."""


    batch_dialog: BatchDialog | None
    last_action_message: str
    _dialog: QWidget | None

    def confirm(self, title: str, text: str) -> bool:
        """Ask before something destructive (tests replace this)."""
        answer = QMessageBox.question(self, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                                      QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Yes


    def open_action_dialog(self, key: str, ids: list[str] | None = None) -> FormDialog | None:
        """Open the dialog of an action for the selection (or ``ids``); the action runs on OK."""
        if self.service is None:
            self.statusBar().showMessage("Connect first.", 4000)
            return None
        if key == "start":
            listed = sorted({str(self.model.state_at(r).name) for r in range(min(self.model.rowCount(), 2000))})
            dlg: FormDialog = StartDialog(listed, self, hosted_names=self.hosted_orchestrator_names())
            dlg.submitted.connect(lambda v: self.runner.spawn(self._start(dlg, v)))
            self._show_dialog(dlg)
            return dlg
        ids = ids if ids is not None else self.selected_ids()
        if not ids:
            self.statusBar().showMessage("Select one or more instances first.", 4000)
            return None
        if key == "raise_event":
            dlg = RaiseEventDialog(ids, self)
        elif key in ("suspend", "resume", "rewind"):
            note = self._skip_note(key, ids)
            dlg = ReasonDialog(BATCH_OPERATIONS[key], ids, parent=self,
                               intro=f"{BATCH_OPERATIONS[key]} {_targets(ids)}.{note}" if note else "")
        elif key == "terminate":
            dlg = ReasonDialog(
                "Terminate", ids, recursive_option=True, parent=self,
                intro=f"Stop {_targets(ids)} for good. Terminated instances cannot be resumed (only restarted)."
                + self._skip_note(key, ids),
            )
        elif key == "restart":
            dlg = RestartDialog(ids, self)
        elif key == "purge":
            dlg = ReasonDialog(
                "Purge", ids, ask_reason=False, recursive_option=True, parent=self,
                intro=f"Permanently delete {_targets(ids)} and all history. Only completed, failed or terminated "
                "instances can be purged. This cannot be undone." + self._skip_note(key, ids),
            )
        else:
            raise ValueError(f"unknown action {key!r}")
        dlg.submitted.connect(lambda v: self.runner.spawn(self._run_action(key, ids, v, dlg)))
        self._show_dialog(dlg)
        return dlg

    def not_applicable(self, key: str, ids: list[str]) -> dict[str, str]:
        """Instance ID → why ``key`` cannot apply to it, judged by the status shown in the list."""
        from dtstudio.qtmodels.instance_table_model import status_name

        out: dict[str, str] = {}
        for iid in ids:
            row = self.model.row_of(iid)
            if row < 0:
                continue
            reason = why_not_applicable(key, status_name(self.model.state_at(row)))
            if reason:
                out[iid] = reason
        return out

    async def _confirm_not_applicable(self, service: Any, key: str, skip: dict[str, str]) -> dict[str, str]:
        """Re-check, with the backend, instances the (possibly stale) list says to skip."""
        from dtstudio.qtmodels.instance_table_model import status_name

        confirmed: dict[str, str] = {}
        for n, (iid, reason) in enumerate(skip.items()):
            if n >= _MAX_RECHECKS:
                confirmed[iid] = reason
                continue
            try:
                state = await service.get_state(iid)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep the list's judgement
                confirmed[iid] = reason
                continue
            if state is None:
                confirmed[iid] = "no longer exists"
                continue
            fresh = why_not_applicable(key, status_name(state))
            if fresh:
                confirmed[iid] = fresh
        return confirmed

    def _skip_note(self, key: str, ids: list[str]) -> str:
        skip = self.not_applicable(key, ids)
        if not skip or len(ids) == 1:
            return ""
        n = len(skip)
        return f"\n{n} of them will be skipped ({next(iter(skip.values()))}{', …' if n > 1 else ''})."

    def _show_dialog(self, dlg: QWidget) -> None:
        self._dialog = dlg
        dlg.open()  # type: ignore[attr-defined]

    @property
    def active_dialog(self) -> QWidget | None:
        return self._dialog

    async def _start(self, dlg: FormDialog, values: dict[str, Any]) -> None:
        service = self.service
        if service is None:
            dlg.show_error("Not connected.")
            return
        try:
            iid = await service.start(**values)
        except Exception as exc:  # noqa: BLE001
            dlg.show_error(describe_error(exc, self.profile))
            return
        dlg.finish()
        self.statusBar().showMessage(f"Started {values['name']} as {iid}", 8000)
        self._select_after_load = iid
        self.reload_list()

    async def _run_action(self, key: str, ids: list[str], options: dict[str, Any], dlg: FormDialog) -> None:
        service = self.service
        if service is None:
            dlg.show_error("Not connected.")
            return
        label = BATCH_OPERATIONS[key]
        skip = await self._confirm_not_applicable(service, key, self.not_applicable(key, ids))
        if len(ids) == 1 and ids[0] in skip:
            dlg.show_error(f"{label} does nothing here: {ids[0]} is {skip[ids[0]]}. Press F5 if the list is out of date.")
            return
        if key == "purge" and not self.confirm("Purge", f"Permanently delete {_targets(ids)} and their history?"):
            dlg.set_busy(False)
            return
        op = service.operation(key, **options)
        if len(ids) == 1:
            try:
                text = await op(ids[0])
            except Exception as exc:  # noqa: BLE001
                dlg.show_error(describe_error(exc, self.profile))
                return
            dlg.finish()
            self.last_action_message = f"{label} {ids[0]}: {text}"
            self.statusBar().showMessage(self.last_action_message, 8000)
            self._after_action(ids)
            return
        dlg.finish()
        bd = BatchDialog(label, len(ids), self)
        self.batch_dialog = bd
        bd.open()
        for iid in ids:
            if iid in skip:
                bd.add_skipped(iid, skip[iid])
        todo = [iid for iid in ids if iid not in skip]
        batch = asyncio.ensure_future(
            service.run_batch(todo, op, on_result=bd.add_result, describe=lambda e: describe_error(e, self.profile))
        )
        stopped_by_user = False

        def stop_batch() -> None:
            nonlocal stopped_by_user
            stopped_by_user = True
            batch.cancel()

        bd.cancel_requested.connect(stop_batch)
        try:
            await batch
        except asyncio.CancelledError:
            bd.mark_finished(cancelled=True)
            if not stopped_by_user:
                raise  # this task itself was cancelled (the window is closing): nothing more to do here
        else:
            bd.mark_finished()
        self._after_action(ids)

    def _after_action(self, ids: list[str]) -> None:
        self.refresh()
        # Suspend, terminate, … take effect when the worker next runs the instance: look again shortly.
        QTimer.singleShot(AFTER_ACTION_RECHECK_MS, self, self._refresh_when_idle)  # type: ignore[call-overload]
        if len(ids) == 1 and self.selected_ids() == ids:
            self.detail.show_instance(ids[0])  # type: ignore[attr-defined]

    def _refresh_when_idle(self) -> None:
        if self.service is not None and not self.model.is_loading:
            self.refresh()

    def open_purge_filter_dialog(self) -> PurgeFilterDialog | None:
        if self.service is None:
            self.statusBar().showMessage("Connect first.", 4000)
            return None
        dlg = PurgeFilterDialog(self)
        dlg.preview_requested.connect(lambda v: self.runner.spawn(self._preview_purge(dlg, v)))
        dlg.submitted.connect(lambda v: self.runner.spawn(self._purge_by_filter(dlg, v)))
        self._show_dialog(dlg)
        return dlg

    async def _preview_purge(self, dlg: PurgeFilterDialog, values: dict[str, Any]) -> None:
        service = self.service
        if service is None:
            dlg.show_error("Not connected.")
            return
        try:
            n = await service.preview_purge_by_filter(
                created_from=values["created_from"], created_to=values["created_to"], statuses=values["statuses"]
            )
        except Exception as exc:  # noqa: BLE001
            dlg.show_error(describe_error(exc, self.profile))
            return
        dlg.show_preview(n)

    async def _purge_by_filter(self, dlg: PurgeFilterDialog, values: dict[str, Any]) -> None:
        service = self.service
        n = dlg.previewed_count or 0
        if service is None:
            dlg.show_error("Not connected.")
            return
        if not self.confirm("Purge instances", f"Permanently delete {n:,} instances and their history?"):
            dlg.set_busy(False)
            return
        try:
            deleted = await service.purge_by_filter(**values)
        except Exception as exc:  # noqa: BLE001
            dlg.show_error(describe_error(exc, self.profile))
            return
        dlg.show_done(deleted)
        self.statusBar().showMessage(f"Purged {deleted:,} instances", 8000)
        self.reload_list()




def _targets(ids: list[str]) -> str:
    return f"instance {ids[0]}" if len(ids) == 1 else f"{len(ids)} instances"


