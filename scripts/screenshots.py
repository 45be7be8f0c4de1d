"""Take dtstudio's documentation screenshots from the real app.

Starts an embedded emulator (temporary database, free port), runs our worker with the sample
orchestrations of ``resources/samples/``, fills the hub with a realistic mix (completed, running,
waiting for an event, suspended, failed, terminated, sub-orchestrations), opens the real main
window offscreen and writes ``docs/screenshots/*.png``:

main_window, detail_history, detail_timeline, timeline_retries, failure, start_dialog, start_dialog_json_error,
connection_dialog, batch_terminate, purge_by_filter, main_window_dark, first_start, worker_panel.

Usage: ``.venv/bin/python scripts/screenshots.py [--out DIR]``
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(ROOT))


def load_samples() -> Any:
    spec = importlib.util.spec_from_file_location("samples", ROOT / "resources" / "samples" / "sample_orchestrations.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def fill_hub(address: str, samples: Any) -> dict[str, str]:
    """Create the sample instances; returns a few IDs the screenshots select."""
    from durabletask.client import TaskHubGrpcClient

    c = TaskHubGrpcClient(host_address=address)
    ids: dict[str, str] = {}
    cities = ["Tokyo", "Seattle", "London", "Lagos", "Lima", "Oslo"]
    for i, city in enumerate(cities):
        c.schedule_new_orchestration(samples.hello_sequence, input=city, instance_id=f"greeting-{i + 1:03d}")
    ids["completed"] = "order-1042"
    c.schedule_new_orchestration(samples.order_workflow, input={"id": 1042, "amount": 99.5}, instance_id="order-1042",
                                 tags={"team": "checkout", "region": "eu"})
    c.schedule_new_orchestration(samples.order_workflow, input={"id": 1043, "amount": 250}, instance_id="order-1043",
                                 tags={"team": "checkout", "region": "eu"})
    c.schedule_new_orchestration(samples.order_workflow, input={"id": 1044, "amount": 4200}, instance_id="order-1044",
                                 tags={"team": "checkout", "region": "eu"})
    ids["failed"] = "order-1044"
    c.schedule_new_orchestration(samples.order_workflow, input={"id": 1045, "amount": 12}, instance_id="order-1045",
                                 tags={"team": "checkout", "region": "eu"})
    c.schedule_new_orchestration(samples.fan_out_fan_in, input=["the quick brown fox", "jumps over", "the lazy dog"],
                                 instance_id="wordcount-7")
    c.schedule_new_orchestration(samples.parent_with_children, input=3, instance_id="batch-import-2026", tags={"team": "data"})
    c.schedule_new_orchestration(samples.fan_out_with_retries, input=["cat.jpg", "dog.jpg", "owl.jpg", "fox.jpg"],
                                 instance_id="thumbnails-12")
    c.schedule_new_orchestration(samples.failing_workflow, input=1500, instance_id="refund-77")
    c.schedule_new_orchestration(samples.timer_workflow, input=3600, instance_id="reminder-daily")
    for i in range(3):
        c.schedule_new_orchestration(samples.approval_workflow, instance_id=f"approval-{i + 1}")
    for iid in ("order-1042", "order-1043", "order-1045", "approval-1", "approval-2", "approval-3"):
        c.wait_for_orchestration_start(iid, timeout=30)
    time.sleep(0.5)  # let the charge activities finish (the orders then wait for 'approve')
    c.raise_orchestration_event("order-1042", "approve", data=True)
    c.raise_orchestration_event("order-1045", "approve", data=False)
    c.suspend_orchestration("order-1043", reason="customer asked to wait")
    c.terminate_orchestration("approval-3", output="duplicate request")
    for iid in ("order-1042", "order-1044", "wordcount-7", "batch-import-2026", "refund-77", "greeting-006",
                "thumbnails-12"):
        c.wait_for_orchestration_completion(iid, timeout=30)
    c.close()
    return ids


async def settle(seconds: float) -> None:
    await asyncio.sleep(seconds)


async def wait_for(pred: Any, timeout: float = 15.0) -> None:
    t = time.monotonic()
    while not pred():
        if time.monotonic() - t > timeout:
            raise TimeoutError("screenshot step timed out")
        await asyncio.sleep(0.02)


def select_tab(widget: Any, label: str) -> bool:
    from PySide6.QtWidgets import QTabWidget

    for tabs in widget.findChildren(QTabWidget):
        for i in range(tabs.count()):
            if tabs.tabText(i).replace("&", "").startswith(label):
                tabs.setCurrentIndex(i)
                return True
    return False


async def show_detail(w: Any, iid: str, tab: str) -> None:
    loaded = getattr(w.detail, "current_instance_id", None)
    row = w.model.row_of(iid)
    w.table.clearSelection()
    w.table.selectRow(row)
    w.table.scrollTo(w.model.index(row, 0))
    if callable(loaded):
        await wait_for(lambda: w.detail.current_instance_id() == iid)
    await settle(1.2)
    select_tab(w.detail, tab)
    await settle(0.4)


def save(widget: Any, out: Path, name: str) -> None:
    path = out / f"{name}.png"
    widget.grab().save(str(path))
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


async def shoot(out: Path, tmp: Path) -> None:
    from PySide6.QtCore import QDateTime
    from PySide6.QtWidgets import QApplication

    from dtstudio.app import build_parser, create_window
    from dtstudio.core.embedded_emulator import EmbeddedEmulator
    from durabletask.worker import TaskHubGrpcWorker

    samples = load_samples()
    emulator = EmbeddedEmulator(db_path=tmp / "screens.db", preferred_port=0)
    address = emulator.start()
    worker = TaskHubGrpcWorker(host_address=address)
    samples.register(worker)
    worker.start()
    try:
        ids = fill_hub(address, samples)
        started = emulator.start_in_background  # noqa: F841 - the emulator is already up
        import concurrent.futures

        done: concurrent.futures.Future[str] = concurrent.futures.Future()
        done.set_result(address)
        args = build_parser().parse_args([])
        ctx = create_window(args, config_dir=tmp / "cfg", emulator=emulator, emulator_started=done)
        w = ctx.window
        w.resize(1440, 900)
        w.show()
        w.splitter.setSizes([430, 470])
        await wait_for(lambda: w.connection_state == "connected")
        await wait_for(lambda: w.model.rowCount() >= 19 and not w.model.is_loading)
        await wait_for(lambda: "Completed" in w.filter_bar.status_buttons["COMPLETED"].text() and any(ch.isdigit() for ch in w.filter_bar.status_buttons["COMPLETED"].text()))
        w._header_clicked(3)
        w._header_clicked(3)  # newest first
        await show_detail(w, ids["completed"], "Overview")
        save(w, out, "main_window")
        select_tab(w.detail, "History")
        await settle(0.3)
        save(w, out, "detail_history")
        select_tab(w.detail, "Timeline")
        await show_detail(w, "batch-import-2026", "Timeline")
        save(w, out, "detail_timeline")
        await show_detail(w, "thumbnails-12", "Timeline")
        save(w, out, "timeline_retries")
        await show_detail(w, ids["failed"], "Failure")
        save(w, out, "failure")

        dlg = w.open_action_dialog("start")
        dlg.name.setCurrentText("order_workflow")
        dlg.instance_id.setText("order-2001")
        dlg.input.set_text('{\n  "id": 2001,\n  "amount": 149.90\n}')
        dlg.version.setText("1.2")
        dlg.tags.setText("team=checkout, env=dev")
        dlg.schedule.setChecked(True)
        dlg.start_at.setDateTime(QDateTime.currentDateTime().addSecs(3600))
        await settle(0.3)
        save(dlg, out, "start_dialog")
        dlg.input.set_text('{\n  "id": 2001,\n  "amount": 149.90,\n}')
        dlg.submit()
        await settle(0.3)
        save(dlg, out, "start_dialog_json_error")
        dlg.reject()

        cd = w.open_connection_dialog()
        for i in range(cd.list.count()):
            if "Azure" in cd.list.item(i).text():
                cd.list.setCurrentRow(i)
        await settle(0.3)
        save(cd, out, "connection_dialog")
        cd.reject()

        w.confirm = lambda title, text: True  # type: ignore[method-assign]
        from dtstudio.ui.main_window import MainWindow  # noqa: F401

        ids_to_stop = ["approval-1", "approval-2", "reminder-daily", "greeting-001"]
        from PySide6.QtCore import QItemSelectionModel

        sel = w.table.selectionModel()
        sel.clearSelection()
        for iid in ids_to_stop:
            sel.select(w.model.index(w.model.row_of(iid), 0),
                       QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)
        term = w.open_action_dialog("terminate")
        term.reason.setText("cleaning up the demo")
        term.submit()
        await wait_for(lambda: w.batch_dialog is not None and w.batch_dialog.finished_running)
        await settle(0.3)
        save(w.batch_dialog, out, "batch_terminate")
        w.batch_dialog.accept()

        pd = w.open_purge_filter_dialog()
        pd.use_from.setChecked(True)
        pd.created_from.setDateTime(QDateTime.currentDateTime().addDays(-1))
        pd.request_preview()
        await wait_for(lambda: pd.previewed_count is not None)
        await settle(0.2)
        save(pd, out, "purge_by_filter")
        pd.reject()

        from PySide6.QtGui import QColor, QPalette

        app = QApplication.instance()
        old_palette = app.palette()
        app.setStyle("Fusion")
        dark = QPalette()
        for role, color in (
            (QPalette.ColorRole.Window, "#202124"), (QPalette.ColorRole.WindowText, "#e8eaed"),
            (QPalette.ColorRole.Base, "#17181a"), (QPalette.ColorRole.AlternateBase, "#232427"),
            (QPalette.ColorRole.Text, "#e8eaed"), (QPalette.ColorRole.Button, "#2b2c2f"),
            (QPalette.ColorRole.ButtonText, "#e8eaed"), (QPalette.ColorRole.Highlight, "#3d6fb6"),
            (QPalette.ColorRole.HighlightedText, "#ffffff"), (QPalette.ColorRole.ToolTipBase, "#2b2c2f"),
            (QPalette.ColorRole.ToolTipText, "#e8eaed"), (QPalette.ColorRole.PlaceholderText, "#9aa0a6"),
            (QPalette.ColorRole.Mid, "#5f6368"),
        ):
            dark.setColor(role, QColor(color))
        for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText, QPalette.ColorRole.Text):
            dark.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6f7378"))  # disabled controls look disabled
        app.setPalette(dark)
        w.refresh()
        await wait_for(lambda: not w.model.is_loading)
        await show_detail(w, ids["completed"], "Timeline")
        save(w, out, "main_window_dark")
        app.setPalette(old_palette)
        worker.stop()  # the hosted worker serves the hub alone (the two would share its work items)
        await shoot_first_start(w, out)
        await shoot_worker_panel(w, out)
        w.close()
    finally:
        worker.stop()
        emulator.stop()


async def shoot_first_start(w: Any, out: Path) -> None:
    """What a new user sees: an empty task hub, no worker, nothing selected."""
    w.hub_edit.setText("fresh")
    w._connect_clicked()
    await wait_for(lambda: w.connection_state == "connected" and w.profile is not None and w.profile.taskhub == "fresh")
    await wait_for(lambda: not w.model.is_loading and w.empty_label.isVisible())
    w.detail.clear()
    await settle(0.3)
    save(w, out, "first_start")
    w.hub_edit.setText("default")
    w._connect_clicked()
    await wait_for(lambda: w.connection_state == "connected" and w.profile.taskhub == "default")


async def shoot_worker_panel(w: Any, out: Path) -> None:
    """The window hosting resources/samples/hosted_worker.py, after it ran three orchestrations."""
    from PySide6.QtCore import Qt

    from dtstudio.core.worker_hosting import HostState
    from durabletask.client import TaskHubGrpcClient

    c = w.worker_controller
    w.resize(1600, 900)
    w.load_worker_file(ROOT / "resources" / "samples" / "hosted_worker.py")
    await wait_for(lambda: not c.busy and c.status.state is HostState.RUNNING)
    w.resizeDocks([w.worker_dock], [520], Qt.Orientation.Horizontal)
    client = TaskHubGrpcClient(host_address=c.status.target.address)
    client.schedule_new_orchestration("greetings", input=["Ada", "Grace", "Linus"], instance_id="hosted-greetings-1")
    client.schedule_new_orchestration("place_order", input={"id": 77, "items": 12}, instance_id="hosted-order-77")
    client.schedule_new_orchestration("place_order", input={"id": 78, "items": 3}, instance_id="hosted-order-78")
    for iid in ("hosted-greetings-1", "hosted-order-77", "hosted-order-78"):
        client.wait_for_orchestration_completion(iid, timeout=30)
    client.close()
    w.refresh()
    await wait_for(lambda: w.model.row_of("hosted-order-78") >= 0 and not w.model.is_loading)
    await show_detail(w, "hosted-greetings-1", "Overview")
    await settle(0.3)
    save(w, out, "worker_panel")


def main() -> int:
    parser = argparse.ArgumentParser(description="Write docs/screenshots/*.png from the real app.")
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    a = parser.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    import qasync
    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    app.setApplicationName("dtstudio")
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with tempfile.TemporaryDirectory(prefix="dtstudio-shots-") as tmp, loop:
        loop.run_until_complete(shoot(out, Path(tmp)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
