"""The virtual instance model: paging through a source, sorting, refresh, and Qt's model checks."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex, Qt

from dtstudio.core.taskhub_service import InstancePage
from dtstudio.qtmodels.instance_table_model import COLUMNS, INSTANCE_ID_ROLE, InstanceTableModel

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _state(i: int, status: str = "COMPLETED", parent: str | None = None) -> Any:
    return SimpleNamespace(
        instance_id=f"id-{i:03d}",
        name=f"flow_{i % 3}",
        runtime_status=SimpleNamespace(name=status),
        created_at=T0 + timedelta(seconds=i),
        last_updated_at=T0 + timedelta(seconds=i + 5),
        completed_at=T0 + timedelta(seconds=i + 5) if status == "COMPLETED" else None,
        parent_instance_id=parent,
    )


class FakeSource:
    """Serves ``rows`` in pages of ``size`` with offset tokens; counts calls."""

    def __init__(self, rows: list[Any], size: int) -> None:
        self.rows = rows
        self.size = size
        self.calls = 0
        self.fail = False

    async def __call__(self, token: str | None) -> InstancePage:
        self.calls += 1
        await asyncio.sleep(0)
        if self.fail:
            raise RuntimeError("backend went away")
        start = int(token or 0)
        items = self.rows[start : start + self.size]
        nxt = start + self.size
        return InstancePage(items, str(nxt) if nxt < len(self.rows) else None, len(items))


@pytest.fixture
def model(qloop: Any) -> InstanceTableModel:
    return InstanceTableModel()


def test_pages_arrive_through_fetch_more(model: InstanceTableModel, qtbot: Any, qtmodeltester: Any) -> None:
    source = FakeSource([_state(i) for i in range(25)], size=10)
    model.set_page_source(source)
    model.reload()
    qtbot.waitUntil(lambda: model.rowCount() == 10 and not model.is_loading)
    assert model.canFetchMore(QModelIndex())
    model.fetchMore(QModelIndex())
    qtbot.waitUntil(lambda: model.rowCount() == 20 and not model.is_loading)
    model.fetchMore(QModelIndex())
    qtbot.waitUntil(lambda: model.rowCount() == 25 and not model.is_loading)
    assert not model.canFetchMore(QModelIndex())
    assert source.calls == 3
    qtmodeltester.check(model, force_py=True)
    assert model.headerData(0, Qt.Orientation.Horizontal) == "Instance ID"
    assert model.columnCount() == len(COLUMNS)
    assert model.data(model.index(3, 0), INSTANCE_ID_ROLE) == "id-003"
    assert model.data(model.index(3, 2)) == "Completed"
    assert model.data(model.index(3, 5)) == "5.0 s"
    assert model.data(model.index(3, 2), Qt.ItemDataRole.ForegroundRole) is not None


def test_sort_keeps_selection_anchor_and_utc_toggle(model: InstanceTableModel, qtbot: Any) -> None:
    model.set_page_source(FakeSource([_state(i) for i in range(5)], size=10))
    model.reload()
    qtbot.waitUntil(lambda: model.rowCount() == 5)
    from PySide6.QtCore import QPersistentModelIndex

    anchor = QPersistentModelIndex(model.index(1, 0))
    model.sort(3, Qt.SortOrder.DescendingOrder)
    assert model.data(model.index(0, 0)) == "id-004"
    assert anchor.row() == 3 and model.data(model.index(anchor.row(), 0)) == "id-001"
    model.set_utc(True)
    assert str(model.data(model.index(0, 3))).endswith("UTC")


def test_refresh_merges_without_reset_when_ids_unchanged(model: InstanceTableModel, qtbot: Any) -> None:
    rows = [_state(i, "RUNNING") for i in range(6)]
    source = FakeSource(rows, size=4)
    model.set_page_source(source)
    model.reload()
    qtbot.waitUntil(lambda: model.rowCount() == 4 and not model.is_loading)
    source.rows = [_state(i, "FAILED") for i in range(6)]
    with qtbot.assertNotEmitted(model.modelReset):
        model.refresh()
        qtbot.waitUntil(lambda: not model.is_loading)
    assert model.data(model.index(0, 2)) == "Failed"
    source.rows = [_state(99, "RUNNING")] + source.rows
    with qtbot.waitSignal(model.rows_replaced, timeout=3000):
        model.refresh()
    assert model.rowCount() >= 4 and model.data(model.index(0, 0)) == "id-099"


def test_errors_are_reported_not_raised(model: InstanceTableModel, qtbot: Any) -> None:
    source = FakeSource([_state(i) for i in range(3)], size=2)
    source.fail = True
    model.set_page_source(source)
    with qtbot.waitSignal(model.fetch_failed, timeout=3000) as blocker:
        model.reload()
    assert "went away" in str(blocker.args[0])
    assert model.rowCount() == 0 and not model.canFetchMore(QModelIndex())


def test_client_side_filter_gaps_keep_fetching(model: InstanceTableModel, qtbot: Any) -> None:
    rows = [_state(i) for i in range(30)]
    empty_then_data = FakeSource(rows, size=5)

    async def filtered(token: str | None) -> InstancePage:
        page = await empty_then_data(token)
        # Only the last page has visible rows, as with a strict "name contains" filter.
        return InstancePage([s for s in page.items if int(s.instance_id[-3:]) >= 25], page.continuation_token, page.scanned)

    model.set_page_source(filtered)
    model.reload()
    qtbot.waitUntil(lambda: model.rowCount() == 5 and not model.is_loading)
    assert empty_then_data.calls == 6


class GatedSource:
    """A page source whose calls wait until the test opens the gate (or fail then, if ``fail``)."""

    def __init__(self, rows: list[Any], fail: bool = False) -> None:
        self.rows = rows
        self.fail = fail
        self.gate = asyncio.Event()
        self.waiting = 0
        self.finished = 0
        self.cancelled = 0

    async def __call__(self, token: str | None) -> InstancePage:
        self.waiting += 1
        try:
            await self.gate.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        self.finished += 1
        if self.fail:
            raise RuntimeError("backend went away")
        return InstancePage(list(self.rows), None, len(self.rows))


@pytest.mark.parametrize("how", ["reload", "refresh", "reload-fails", "refresh-fails", "reload-owner-deleted"])
def test_a_deleted_model_cancels_its_fetch_and_logs_nothing(qtbot: Any, quiet_deletion: Any, how: str) -> None:
    """A page still on its way when Qt deletes the model (its window closed) must not reach the deleted
    model: its task is cancelled, nothing is logged, no exception escapes into the loop."""
    from PySide6.QtCore import QObject

    owner = QObject() if how.endswith("owner-deleted") else None  # as the main window owns its model
    model = InstanceTableModel(owner)
    source = GatedSource([_state(i) for i in range(3)])
    model.set_page_source(source)
    refresh = how.startswith("refresh")
    if refresh:  # a first page is loaded; the refresh is the fetch on its way
        source.gate.set()
        model.reload()
        qtbot.waitUntil(lambda: model.rowCount() == 3 and not model.is_loading)
        source.gate.clear()
    source.fail = how.endswith("fails")
    task = model.refresh() if refresh else model.reload()
    assert task is not None
    qtbot.waitUntil(lambda: source.waiting == (2 if refresh else 1))

    with quiet_deletion.deleting(owner or model, model):
        source.gate.set()  # the backend answers after all
        qtbot.waitUntil(task.done)
        qtbot.wait(20)
        assert task.cancelled(), "the model's fetch outlived the model"  # so no exception is left unretrieved
    assert source.cancelled == 1
