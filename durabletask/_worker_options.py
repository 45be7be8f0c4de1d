"""Worker settings: concurrency limits, versioning rules and work-item filters.

These are the value objects that :mod:`durabletask.worker` re-exports; they hold settings only and
do no I/O, so they can be built and checked without a backend.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from durabletask._proto import orchestrator_service_pb2 as pb

__all__ = [
    "AUTO_FILTERS",
    "ActivityWorkItemFilter",
    "ConcurrencyOptions",
    "EntityWorkItemFilter",
    "OrchestrationWorkItemFilter",
    "VersionFailureStrategy",
    "VersionMatchStrategy",
    "VersioningOptions",
    "WorkItemFilters",
    "build_work_items_request",
    "compare_versions",
]

#: ``use_work_item_filters()`` with no argument: filters built from what is registered.
AUTO_FILTERS: Any = object()


def _positive_or_default(name: str, value: int | None, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int or None, not {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


class ConcurrencyOptions:
    """How much work a worker takes on at once.

    The two ``maximum_concurrent_*`` numbers are sent to the backend as a flow-control hint (it does
    not dispatch more un-completed items than that). They default to 100 x the CPU count, as in the
    published SDK. ``maximum_thread_pool_workers`` sizes the thread pool that runs plain activities
    (default: CPU count + 4); orchestration episodes run one at a time on the worker's stream thread.
    """

    def __init__(
        self,
        maximum_concurrent_activity_work_items: int | None = None,
        maximum_concurrent_orchestration_work_items: int | None = None,
        maximum_concurrent_entity_work_items: int | None = None,
        maximum_thread_pool_workers: int | None = None,
    ) -> None:
        cpus = os.cpu_count() or 1
        default_concurrency = 100 * cpus
        self.maximum_concurrent_activity_work_items = _positive_or_default(
            "maximum_concurrent_activity_work_items",
            maximum_concurrent_activity_work_items,
            default_concurrency,
        )
        self.maximum_concurrent_orchestration_work_items = _positive_or_default(
            "maximum_concurrent_orchestration_work_items",
            maximum_concurrent_orchestration_work_items,
            default_concurrency,
        )
        self.maximum_concurrent_entity_work_items = _positive_or_default(
            "maximum_concurrent_entity_work_items", maximum_concurrent_entity_work_items, default_concurrency
        )
        self.maximum_thread_pool_workers = _positive_or_default(
            "maximum_thread_pool_workers", maximum_thread_pool_workers, cpus + 4
        )

    def __repr__(self) -> str:
        names = (
            "maximum_concurrent_activity_work_items",
            "maximum_concurrent_orchestration_work_items",
            "maximum_concurrent_entity_work_items",
            "maximum_thread_pool_workers",
        )
        return "ConcurrencyOptions(" + ", ".join(f"{n}={getattr(self, n)}" for n in names) + ")"


class VersionMatchStrategy(Enum):
    """Which orchestration versions a versioned worker runs."""

    NONE = 1
    """Run every version."""
    STRICT = 2
    """Run only orchestrations whose version equals the worker's version."""
    CURRENT_OR_OLDER = 3
    """Run orchestrations whose version is the worker's version or older."""


class VersionFailureStrategy(Enum):
    """What a worker does with an orchestration whose version it may not run."""

    REJECT = 1
    """Hand the work item back to the backend (abandon) so another worker can take it."""
    FAIL = 2
    """Fail the orchestration."""


@dataclass
class VersioningOptions:
    """Versioning rules for :meth:`TaskHubGrpcWorker.use_versioning`.

    ``version`` is the worker's own version; ``default_version`` is the version given to
    orchestrations this worker starts without one (sub-orchestrations).
    """

    version: str | None = None
    default_version: str | None = None
    match_strategy: VersionMatchStrategy | None = None
    failure_strategy: VersionFailureStrategy | None = None


_NUMBER_PARTS = re.compile(r"^\d+(\.\d+)*$")


def compare_versions(a: str | None, b: str | None) -> int:
    """Compare two version strings: -1, 0 or 1.

    Dotted numbers compare numerically (``1.10 > 1.9``); anything else compares as text. An empty
    or missing version is older than any other.
    """
    a = a or ""
    b = b or ""
    if a == b:
        return 0
    if not a:
        return -1
    if not b:
        return 1
    if _NUMBER_PARTS.match(a) and _NUMBER_PARTS.match(b):
        pa = [int(p) for p in a.split(".")]
        pb_ = [int(p) for p in b.split(".")]
        width = max(len(pa), len(pb_))
        pa += [0] * (width - len(pa))
        pb_ += [0] * (width - len(pb_))
        return (pa > pb_) - (pa < pb_)
    return (a > b) - (a < b)


@dataclass
class OrchestrationWorkItemFilter:
    """Accept orchestrations with this name (and, if given, one of these versions)."""

    name: str
    versions: list[str] = field(default_factory=list)


@dataclass
class ActivityWorkItemFilter:
    """Accept activities with this name (and, if given, one of these versions)."""

    name: str
    versions: list[str] = field(default_factory=list)


@dataclass
class EntityWorkItemFilter:
    """Accept entities with this name."""

    name: str


@dataclass
class WorkItemFilters:
    """Which work items the backend should send this worker (see ``use_work_item_filters``).

    A category left empty means "nothing of that category".
    """

    orchestrations: list[OrchestrationWorkItemFilter] = field(default_factory=list)
    activities: list[ActivityWorkItemFilter] = field(default_factory=list)
    entities: list[EntityWorkItemFilter] = field(default_factory=list)

    def to_proto(self) -> pb.WorkItemFilters:
        """The wire form sent in ``GetWorkItemsRequest.workItemFilters``."""
        msg = pb.WorkItemFilters()
        for o in self.orchestrations:
            msg.orchestrations.add(name=o.name, versions=list(o.versions))
        for a in self.activities:
            msg.activities.add(name=a.name, versions=list(a.versions))
        for e in self.entities:
            msg.entities.add(name=e.name.lower())
        return msg


def _registered(registry: Any, kind: str) -> list[str]:
    found = getattr(registry, kind, None)
    if found is None:
        found = getattr(registry, f"_{kind}", None)
    return sorted(found or [])


def build_work_items_request(
    concurrency: ConcurrencyOptions,
    *,
    capabilities: set[int],
    filters: WorkItemFilters | None | Any,
    versioning: VersioningOptions | None,
    registry: Any,
) -> pb.GetWorkItemsRequest:
    """The ``GetWorkItemsRequest`` a worker opens its stream with.

    ``maxConcurrentEntityWorkItems`` is never sent, as in the published SDK. The large-payloads
    capability is not announced either: payload stores are accepted but unused, so the backend
    keeps sending payloads inline. ``filters`` is None (no filtering), :data:`AUTO_FILTERS`
    (every registered name; the worker version under ``VersionMatchStrategy.STRICT``) or explicit.
    """
    req = pb.GetWorkItemsRequest(
        maxConcurrentOrchestrationWorkItems=concurrency.maximum_concurrent_orchestration_work_items,
        maxConcurrentActivityWorkItems=concurrency.maximum_concurrent_activity_work_items,
    )
    req.capabilities.extend(sorted(capabilities))
    if filters is None:
        return req
    if filters is AUTO_FILTERS:
        versions: list[str] = []
        if (
            versioning is not None
            and versioning.match_strategy == VersionMatchStrategy.STRICT
            and versioning.version
        ):
            versions = [versioning.version]
        filters = WorkItemFilters(
            orchestrations=[
                OrchestrationWorkItemFilter(n, list(versions)) for n in _registered(registry, "orchestrators")
            ],
            activities=[
                ActivityWorkItemFilter(n, list(versions)) for n in _registered(registry, "activities")
            ],
            entities=[EntityWorkItemFilter(n) for n in _registered(registry, "entities")],
        )
    req.workItemFilters.CopyFrom(filters.to_proto())
    return req
