"""The instance list as a virtual Qt table model that pages in rows as the view scrolls.

Rows are ``OrchestrationState`` objects. The model never does I/O itself: it is given a *page
source* (an async callable ``token -> InstancePage``) and calls it from ``fetchMore``; results
arrive on the GUI thread through the qasync loop.

Fetches do not outlive the model: when Qt deletes it (its window closed), the fetches still on their way
are cancelled, and a fetch that ends after the deletion touches nothing of the deleted model.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

import shiboken6
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from dtstudio.core.formatting import TERMINAL_STATUS_NAMES, format_duration, format_timestamp, status_label
from dtstudio.core.taskhub_service import InstancePage
from dtstudio.qtmodels.instance_status_colors import status_color
from dtstudio.qtmodels.owned_tasks import own, tasks_owned_by

__all__ = ["COLUMNS", "INSTANCE_ID_ROLE", "STATE_ROLE", "InstanceTableModel", "status_name"]

log = logging.getLogger("dtstudio.qtmodels")

#: (key, header) of every column, in display order.
COLUMNS: list[tuple[str, str]] = [
    ("instance_id", "Instance ID"),
    ("name", "Name"),
    ("status", "Status"),
    ("created", "Created"),
    ("updated", "Last updated"),
    ("duration", "Duration"),
    ("parent", "Parent"),
    ("tags", "Tags"),
]
_COL = {key: i for i, (key, _) in enumerate(COLUMNS)}

STATE_ROLE = int(Qt.ItemDataRole.UserRole) + 1
INSTANCE_ID_ROLE = int(Qt.ItemDataRole.UserRole) + 2
SORT_ROLE = int(Qt.ItemDataRole.UserRole) + 3

#: When client-side filters drop a whole page, keep fetching up to this many pages in one go.
_MAX_EMPTY_PAGES = 20

PageSource = Callable[[str | None], Awaitable[InstancePage]]

_EPOCH = datetime.min.replace(tzinfo=timezone.utc)


def status_name(state: Any) -> str:
    status = getattr(state, "runtime_status", None)
    return str(getattr(status, "name", status or "")).removeprefix("ORCHESTRATION_STATUS_")


def _aware(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)


def _duration_seconds(state: Any, now: datetime) -> float | None:
    created = _aware(getattr(state, "created_at", None))
    if created is None:
        return None
    end = _aware(getattr(state, "completed_at", None))
    if end is None and status_name(state) in TERMINAL_STATUS_NAMES:
        end = _aware(getattr(state, "last_updated_at", None))
    if end is None:
        end = now
    return max(0.0, (end - created).total_seconds())


class InstanceTableModel(QAbstractTableModel):
    """Virtual table of orchestration instances with incremental paging and client-side sort."""

    #: An exception raised by the page source (the UI turns it into a message).
    fetch_failed = Signal(object)
    #: True while a page is being fetched.
    loading_changed = Signal(bool)
    #: Emitted after a page (or a refresh) has been merged in; argument = rows now loaded.
    rows_loaded = Signal(int)
    #: Emitted after a refresh replaced the rows wholesale (views restore selection by ID).
    rows_replaced = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[Any] = []
        self._token: str | None = None
        self._source: PageSource | None = None
        self._exhausted = True
        self._loading = False
        self._generation = 0
        self._utc = False
        self._dark = False
        self._sort: tuple[int, Qt.SortOrder] | None = None
        #: Fetches not finished yet; cancelled when Qt deletes the model.
        self._tasks = tasks_owned_by(self)
        self.last_error: BaseException | None = None

    # ------------------------------------------------------------------ configuration
    def set_page_source(self, source: PageSource | None) -> None:
        """Use a new source (a new connection or filter): clears rows; call :meth:`reload` next."""
        self._generation += 1
        self._source = source
        self.beginResetModel()
        self._rows = []
        self._token = None
        self._exhausted = source is None
        self.endResetModel()
        self._set_loading(False)

    def set_utc(self, utc: bool) -> None:
        if utc != self._utc:
            self._utc = utc
            self._emit_columns_changed(_COL["created"], _COL["updated"])

    def set_dark(self, dark: bool) -> None:
        if dark != self._dark:
            self._dark = dark
            self._emit_columns_changed(_COL["status"], _COL["status"])

    def _emit_columns_changed(self, first: int, last: int) -> None:
        if self._rows:
            self.dataChanged.emit(self.index(0, first), self.index(len(self._rows) - 1, last))

    # ------------------------------------------------------------------ loading
    @property
    def is_loading(self) -> bool:
        return self._loading

    @property
    def has_more(self) -> bool:
        return not self._exhausted

    def _set_loading(self, value: bool) -> None:
        if value != self._loading:
            self._loading = value
            self.loading_changed.emit(value)

    def reload(self) -> asyncio.Future[Any] | None:
        """Drop the rows and load the first page."""
        self.set_page_source(self._source)
        if self._source is None:
            return None
        return self._start(self._load_pages(None, self._generation, want=1))

    def refresh(self) -> asyncio.Future[Any] | None:
        """Re-query as many rows as are loaded now and merge them, keeping selection where possible."""
        if self._source is None or self._loading:
            return None
        self._generation += 1
        return self._start(self._refresh(self._generation, max(len(self._rows), 1)))

    def _start(self, coro: Any) -> asyncio.Future[Any]:
        self._set_loading(True)
        return own(self._tasks, asyncio.ensure_future(coro))

    def _alive(self, generation: int) -> bool:
        """Whether a fetch of ``generation`` may still report to the model: it is the latest fetch and
        Qt has not deleted the model (a cancelled fetch's cleanup runs after the deletion)."""
        return generation == self._generation and shiboken6.isValid(self)

    def canFetchMore(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> bool:  # noqa: B008
        if parent.isValid():
            return False
        return self._source is not None and not self._exhausted and not self._loading

    def fetchMore(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> None:  # noqa: B008
        if self.canFetchMore(parent):
            self._start(self._load_pages(self._token, self._generation, want=1))

    async def _load_pages(self, token: str | None, generation: int, want: int) -> None:
        source = self._source
        try:
            added = 0
            pages = 0
            while source is not None:
                page = await source(token)
                if not self._alive(generation):
                    return
                pages += 1
                self._append(page.items)
                added += len(page.items)
                token = page.continuation_token
                self._token = token
                if token is None:
                    self._exhausted = True
                    break
                if added >= want or pages >= _MAX_EMPTY_PAGES:
                    break
            self.last_error = None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - reported to the UI
            if not self._alive(generation):
                return
            self._exhausted = True
            self.last_error = exc
            log.info("page fetch failed: %s", exc)
            self.fetch_failed.emit(exc)
        finally:
            if self._alive(generation):
                self._set_loading(False)
                self.rows_loaded.emit(len(self._rows))

    async def _refresh(self, generation: int, target: int) -> None:
        source = self._source
        rows: list[Any] = []
        token: str | None = None
        exhausted = False
        try:
            pages = 0
            while source is not None:
                page = await source(token)
                if not self._alive(generation):
                    return
                rows.extend(page.items)
                token = page.continuation_token
                pages += 1
                if token is None:
                    exhausted = True
                    break
                if len(rows) >= target and pages >= 1:
                    break
            self._replace(rows, token, exhausted)
            self.last_error = None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001
            if not self._alive(generation):
                return
            self.last_error = exc
            self.fetch_failed.emit(exc)
        finally:
            if self._alive(generation):
                self._set_loading(False)
                self.rows_loaded.emit(len(self._rows))

    def _append(self, items: list[Any]) -> None:
        if not items:
            return
        known = {getattr(s, "instance_id", None) for s in self._rows}
        fresh = [s for s in items if getattr(s, "instance_id", None) not in known]
        if not fresh:
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(fresh) - 1)
        self._rows.extend(fresh)
        self.endInsertRows()
        if self._sort is not None:
            self.sort(*self._sort)

    def _replace(self, rows: list[Any], token: str | None, exhausted: bool) -> None:
        if self._sort is not None:
            rows = self._sorted(rows, *self._sort)
        self._token = token
        self._exhausted = exhausted
        old_ids = [getattr(s, "instance_id", None) for s in self._rows]
        new_ids = [getattr(s, "instance_id", None) for s in rows]
        if old_ids == new_ids:
            self._rows = rows
            self._emit_columns_changed(0, len(COLUMNS) - 1)
            return
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()
        self.rows_replaced.emit()

    # ------------------------------------------------------------------ access
    def state_at(self, row: int) -> Any:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, instance_id: str) -> int:
        for i, s in enumerate(self._rows):
            if getattr(s, "instance_id", None) == instance_id:
                return i
        return -1

    def instance_ids(self) -> list[str]:
        return [str(getattr(s, "instance_id", "")) for s in self._rows]

    def status_counts_loaded(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for s in self._rows:
            name = status_name(s)
            counts[name] = counts.get(name, 0) + 1
        return counts

    # ------------------------------------------------------------------ Qt model API
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(COLUMNS):
            return COLUMNS[section][1]
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not (0 <= index.row() < len(self._rows)) or not (0 <= index.column() < len(COLUMNS)):
            return None
        state = self._rows[index.row()]
        key = COLUMNS[index.column()][0]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(state, key)
        if role == Qt.ItemDataRole.ToolTipRole:
            if key in ("created", "updated"):
                return self._display(state, key) + ("" if self._utc else " (local time)")
            text = self._display(state, key)
            return text or None
        if role == Qt.ItemDataRole.ForegroundRole and key == "status":
            return status_color(status_name(state), self._dark)
        if role == STATE_ROLE:
            return state
        if role == INSTANCE_ID_ROLE:
            return str(getattr(state, "instance_id", ""))
        if role == SORT_ROLE:
            return self._sort_key(state, key)
        return None

    def _display(self, state: Any, key: str) -> str:
        if key == "instance_id":
            return str(getattr(state, "instance_id", ""))
        if key == "name":
            return str(getattr(state, "name", "") or "")
        if key == "status":
            return status_label(status_name(state))
        if key == "created":
            return format_timestamp(getattr(state, "created_at", None), utc=self._utc)
        if key == "updated":
            return format_timestamp(getattr(state, "last_updated_at", None), utc=self._utc)
        if key == "duration":
            return format_duration(_duration_seconds(state, datetime.now(timezone.utc)))
        if key == "parent":
            return str(getattr(state, "parent_instance_id", None) or "")
        if key == "tags":
            tags = getattr(state, "tags", None) or {}
            return ", ".join(f"{k}={v}" for k, v in sorted(dict(tags).items()))
        return ""

    def _sort_key(self, state: Any, key: str) -> Any:
        if key == "created":
            return _aware(getattr(state, "created_at", None)) or _EPOCH
        if key == "updated":
            return _aware(getattr(state, "last_updated_at", None)) or _EPOCH
        if key == "duration":
            return _duration_seconds(state, datetime.now(timezone.utc)) or 0.0
        return self._display(state, key).lower()

    def _sorted(self, rows: list[Any], column: int, order: Qt.SortOrder) -> list[Any]:
        if not (0 <= column < len(COLUMNS)):
            return rows
        key = COLUMNS[column][0]
        return sorted(rows, key=lambda s: self._sort_key(s, key), reverse=order == Qt.SortOrder.DescendingOrder)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort the loaded rows (the server has no sort option); keeps selection via persistent indexes."""
        if not (0 <= column < len(COLUMNS)):
            self._sort = None
            return
        self._sort = (column, order)
        if len(self._rows) < 2:
            return
        self.layoutAboutToBeChanged.emit()
        old = list(self._rows)
        self._rows = self._sorted(self._rows, column, order)
        new_pos = {id(s): i for i, s in enumerate(self._rows)}
        for pidx in self.persistentIndexList():
            if pidx.isValid() and pidx.row() < len(old):
                r = new_pos[id(old[pidx.row()])]
                self.changePersistentIndex(pidx, self.index(r, pidx.column()))
        self.layoutChanged.emit()
