"""Async operations dtstudio performs on one task hub, over ``durabletask.client``.

The GUI awaits these on its qasync loop; nothing here blocks. Instance-list pages, per-status
counts, single-instance actions, batch actions with per-instance results, and purge by filter with
a dry-run count. Only the public client API is used, so the same code works against the embedded
emulator, the DTS emulator and Azure Durable Task Scheduler.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dtstudio.core.formatting import ALL_STATUS_NAMES, TERMINAL_STATUS_NAMES
from dtstudio.core.instance_filter import InstanceFilter
from dtstudio.core.json_input import NO_INPUT

__all__ = [
    "BATCH_OPERATIONS",
    "BatchResult",
    "InstancePage",
    "StatusCounts",
    "TaskHubService",
    "status_enum",
]

log = logging.getLogger("dtstudio.core.service")

DEFAULT_PAGE_SIZE = 100
COUNT_PAGE_SIZE = 1000


def status_enum(name: str) -> Any:
    """The client's ``OrchestrationStatus`` member for a status name like 'RUNNING'."""
    from durabletask.client import OrchestrationStatus

    return OrchestrationStatus[name]


@dataclass
class InstancePage:
    """One server page after client-side filtering; ``scanned`` counts rows before filtering."""

    items: list[Any]
    continuation_token: str | None
    scanned: int


@dataclass
class StatusCounts:
    """Instances per status for the current server-side filter; ``capped`` names statuses whose
    count stopped at the limit (shown as 'N+')."""

    counts: dict[str, int] = field(default_factory=dict)
    capped: set[str] = field(default_factory=set)

    def text(self, status: str) -> str:
        n = self.counts.get(status, 0)
        return f"{n:,}+" if status in self.capped else f"{n:,}"


@dataclass
class BatchResult:
    """Outcome of one action on one instance in a batch."""

    instance_id: str
    ok: bool
    message: str


#: Batch operation keys -> human labels (the UI offers these on a multi-row selection).
BATCH_OPERATIONS: dict[str, str] = {
    "terminate": "Terminate",
    "suspend": "Suspend",
    "resume": "Resume",
    "restart": "Restart",
    "rewind": "Rewind",
    "purge": "Purge",
    "raise_event": "Raise event",
}


def _valid_token(token: str | None, previous: str | None = None) -> str | None:
    if not token or token == "0" or token == previous:
        return None
    return token


class TaskHubService:
    """Everything the GUI asks of one connected task hub."""

    def __init__(self, client: Any, *, page_size: int = DEFAULT_PAGE_SIZE) -> None:
        self.client = client
        self.page_size = page_size

    # ------------------------------------------------------------------ queries
    def _query(self, flt: InstanceFilter, *, page_size: int, statuses: Sequence[str] | None = None) -> Any:
        from durabletask.client import OrchestrationQuery

        created_from, created_to = flt.created_range()
        names = list(statuses) if statuses is not None else sorted(flt.statuses)
        return OrchestrationQuery(
            created_time_from=created_from,
            created_time_to=created_to,
            runtime_status=[status_enum(s) for s in names] or None,
            max_instance_count=page_size,
            fetch_inputs_and_outputs=False,
            instance_id_prefix=flt.id_prefix or None,
        )

    async def fetch_page(self, flt: InstanceFilter, continuation_token: str | None = None) -> InstancePage:
        """One server page (newest first as the backend orders it), refined client-side."""
        flt.validate()
        page = await self.client.query_orchestrations(
            self._query(flt, page_size=self.page_size), continuation_token=continuation_token
        )
        items = list(page.items)
        kept = [s for s in items if flt.accepts(s)] if flt.has_client_side_part() else items
        return InstancePage(kept, _valid_token(page.continuation_token, continuation_token), len(items))

    async def count_matching(
        self, flt: InstanceFilter, *, statuses: Sequence[str] | None = None, limit: int = 100_000
    ) -> tuple[int, bool]:
        """Count instances matching the server-side part of ``flt``; returns (count, hit_limit)."""
        query = self._query(flt, page_size=COUNT_PAGE_SIZE, statuses=statuses)
        total = 0
        token: str | None = None
        while True:
            page = await self.client.query_orchestrations(query, continuation_token=token)
            if flt.has_client_side_part():
                total += sum(1 for s in page.items if flt.accepts(s))
            else:
                total += len(page.items)
            if total >= limit:
                return limit, True
            nxt = _valid_token(page.continuation_token, token)
            if nxt is None:
                return total, False
            token = nxt

    async def count_by_status(self, flt: InstanceFilter, *, limit_per_status: int = 10_000) -> StatusCounts:
        """Per-status counts for the current filter (all statuses, ignoring the status filter)."""
        result = StatusCounts()
        found = await asyncio.gather(
            *(self.count_matching(flt, statuses=[name], limit=limit_per_status) for name in ALL_STATUS_NAMES)
        )
        for name, (n, capped) in zip(ALL_STATUS_NAMES, found):
            result.counts[name] = n
            if capped:
                result.capped.add(name)
        return result

    async def get_state(self, instance_id: str) -> Any:
        return await self.client.get_orchestration_state(instance_id, fetch_payloads=True)

    # ------------------------------------------------------------------ single-instance actions
    async def start(
        self,
        name: str,
        *,
        input: Any = NO_INPUT,
        instance_id: str | None = None,
        version: str | None = None,
        tags: dict[str, str] | None = None,
        start_at: datetime | None = None,
    ) -> str:
        """Schedule a new orchestration; returns its instance ID."""
        if not name.strip():
            raise ValueError("Enter the orchestration name.")
        kwargs: dict[str, Any] = {}
        if input is not NO_INPUT:
            kwargs["input"] = input
        if instance_id:
            kwargs["instance_id"] = instance_id
        if version:
            kwargs["version"] = version
        if tags:
            kwargs["tags"] = tags
        if start_at is not None:
            kwargs["start_at"] = start_at
        return str(await self.client.schedule_new_orchestration(name.strip(), **kwargs))

    async def raise_event(self, instance_id: str, event_name: str, data: Any = NO_INPUT) -> None:
        if not event_name.strip():
            raise ValueError("Enter the event name.")
        if data is NO_INPUT:
            await self.client.raise_orchestration_event(instance_id, event_name.strip())
        else:
            await self.client.raise_orchestration_event(instance_id, event_name.strip(), data=data)

    async def suspend(self, instance_id: str, reason: str | None = None) -> None:
        await self.client.suspend_orchestration(instance_id, reason=reason or None)

    async def resume(self, instance_id: str, reason: str | None = None) -> None:
        await self.client.resume_orchestration(instance_id, reason=reason or None)

    async def terminate(self, instance_id: str, reason: str | None = None, *, recursive: bool = True) -> None:
        """Terminate; the reason goes in ``reason=`` when the client has it, else as the output."""
        fn = self.client.terminate_orchestration
        kwargs: dict[str, Any] = {"recursive": recursive}
        if reason:
            try:
                has_reason = "reason" in inspect.signature(fn).parameters
            except (TypeError, ValueError):
                has_reason = False
            kwargs["reason" if has_reason else "output"] = reason
        await fn(instance_id, **kwargs)

    async def restart(self, instance_id: str, *, new_instance_id: bool = False) -> str:
        return str(
            await self.client.restart_orchestration(instance_id, restart_with_new_instance_id=new_instance_id)
        )

    async def rewind(self, instance_id: str, reason: str | None = None) -> None:
        await self.client.rewind_orchestration(instance_id, reason=reason or None)

    async def purge(self, instance_id: str, *, recursive: bool = True) -> int:
        """Purge one instance (terminal only); returns how many instances were deleted."""
        result = await self.client.purge_orchestration(instance_id, recursive=recursive)
        return int(getattr(result, "deleted_instance_count", 0) or 0)

    async def purge_by_filter(
        self,
        *,
        created_from: datetime | None,
        created_to: datetime | None,
        statuses: Sequence[str],
        recursive: bool = False,
    ) -> int:
        """Purge terminal instances created in the range; returns the number deleted."""
        statuses = [s for s in statuses if s in TERMINAL_STATUS_NAMES] or list(TERMINAL_STATUS_NAMES)
        result = await self.client.purge_orchestrations_by(
            created_time_from=created_from,
            created_time_to=created_to,
            runtime_status=[status_enum(s) for s in statuses],
            recursive=recursive,
        )
        return int(getattr(result, "deleted_instance_count", 0) or 0)

    async def preview_purge_by_filter(
        self, *, created_from: datetime | None, created_to: datetime | None, statuses: Sequence[str]
    ) -> int:
        """How many instances :meth:`purge_by_filter` would delete (a dry run)."""
        statuses = [s for s in statuses if s in TERMINAL_STATUS_NAMES] or list(TERMINAL_STATUS_NAMES)
        flt = InstanceFilter(time_preset="custom", created_from=created_from, created_to=created_to)
        n, _ = await self.count_matching(flt, statuses=statuses, limit=10_000_000)
        return n

    # ------------------------------------------------------------------ batches
    def operation(self, key: str, **options: Any) -> Callable[[str], Awaitable[str]]:
        """A per-instance coroutine function for a batch operation; returns a short result text."""
        reason = options.get("reason") or None

        async def terminate(iid: str) -> str:
            await self.terminate(iid, reason, recursive=bool(options.get("recursive", True)))
            return "termination requested"

        async def suspend(iid: str) -> str:
            await self.suspend(iid, reason)
            return "suspend requested"

        async def resume(iid: str) -> str:
            await self.resume(iid, reason)
            return "resume requested"

        async def restart(iid: str) -> str:
            new_id = await self.restart(iid, new_instance_id=bool(options.get("new_instance_id", False)))
            return f"restarted as {new_id}"

        async def rewind(iid: str) -> str:
            await self.rewind(iid, reason)
            return "rewind requested"

        async def purge(iid: str) -> str:
            n = await self.purge(iid, recursive=bool(options.get("recursive", True)))
            if n == 0:
                raise ValueError("nothing purged (only completed, failed or terminated instances can be purged)")
            return f"purged ({n} instance{'s' if n != 1 else ''})"

        async def raise_event(iid: str) -> str:
            await self.raise_event(iid, str(options.get("event_name", "")), options.get("data", NO_INPUT))
            return "event raised"

        table = {
            "terminate": terminate,
            "suspend": suspend,
            "resume": resume,
            "restart": restart,
            "rewind": rewind,
            "purge": purge,
            "raise_event": raise_event,
        }
        if key not in table:
            raise ValueError(f"unknown operation {key!r}")
        return table[key]

    async def run_batch(
        self,
        instance_ids: Sequence[str],
        op: Callable[[str], Awaitable[str]],
        *,
        on_result: Callable[[BatchResult], None] | None = None,
        concurrency: int = 8,
        describe: Callable[[BaseException], str] | None = None,
    ) -> list[BatchResult]:
        """Apply ``op`` to every instance (at most ``concurrency`` at a time); never raises for one
        instance's failure: each outcome is reported through ``on_result`` and returned."""
        sem = asyncio.Semaphore(max(1, concurrency))
        results: list[BatchResult] = []

        async def one(iid: str) -> None:
            async with sem:
                try:
                    text = await op(iid)
                    res = BatchResult(iid, True, text)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - reported per instance
                    res = BatchResult(iid, False, describe(exc) if describe else str(exc) or type(exc).__name__)
            results.append(res)
            if on_result is not None:
                on_result(res)

        await asyncio.gather(*(one(i) for i in instance_ids))
        return results
