"""In-memory records the engine keeps next to SQLite: live instances, inbox items, activities, leases.

Every non-terminal instance has an :class:`Inst` in memory (loaded at start-up, created on start), with
its pending inbox and, once needed, its current execution's history as serialized events plus the
ready-made wire bytes of ``OrchestratorRequest.pastEvents`` (so a dispatch copies bytes instead of
re-encoding the whole history).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from durabletask._proto import orchestrator_service_pb2 as pb

from .store import InstanceRow

__all__ = ["Act", "InboxItem", "Inst", "Lease", "Stream", "field_bytes", "field_header", "now_us", "varint"]


def new_id() -> str:
    """A random 32-hex-digit id (execution ids, instance ids of restarts)."""
    return os.urandom(16).hex()


def now_us() -> int:
    """Wall-clock time in integer microseconds since the epoch."""
    return time.time_ns() // 1000


def varint(n: int) -> bytes:
    """Protobuf base-128 varint encoding of a non-negative integer."""
    if n < 0x80:
        return _ONE_BYTE[n]
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_ONE_BYTE = [bytes((i,)) for i in range(0x80)]


def field_header(tag: int, length: int) -> bytes:
    """The key and length of a length-delimited protobuf field (``tag`` is the already-shifted key byte)."""
    if length < 0x80:
        return bytes((tag, length))
    if length < 0x4000:
        return bytes((tag, (length & 0x7F) | 0x80, length >> 7))
    return bytes((tag,)) + varint(length)


def field_bytes(tag: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (``tag`` is the already-shifted key byte)."""
    length = len(payload)
    if length < 0x80:
        return bytes((tag, length)) + payload
    return field_header(tag, length) + payload


_PAST_EVENTS_TAG = 0x1A  # OrchestratorRequest.pastEvents = 3, wire type 2


@dataclass(slots=True)
class InboxItem:
    """A pending event for an instance (row id in the inbox table)."""

    id: int
    execution_id: str | None
    visible_us: int
    event: pb.HistoryEvent
    kind: str
    data: bytes = b""  # the event's serialized bytes (reused in work items and history rows)


@dataclass(slots=True, eq=False)
class Act:
    """A queued activity (row id in the activities table)."""

    id: int
    hub: str
    instance_id: str
    execution_id: str
    data: bytes
    name: str
    task_id: int = 0
    lease: str | None = None
    not_before: int = 0
    removed: bool = False


@dataclass(slots=True, eq=False)
class Lease:
    """A work item handed to a stream and not yet completed or abandoned."""

    token: str
    kind: str  # "o" orchestration, "a" activity
    stream: Stream
    key: tuple[str, str]
    expires_us: int
    rows: list[int] = field(default_factory=list)
    events: list[pb.HistoryEvent] = field(default_factory=list)
    act: Act | None = None
    event_bytes: list[bytes] = field(default_factory=list)  # ``events`` serialized, in the same order


@dataclass(slots=True, eq=False)
class Stream:
    """One open GetWorkItems stream of a worker."""

    id: int
    hub: str
    max_orchestrations: int
    max_activities: int
    orchestration_filter: dict[str, frozenset[str]] | None = None
    activity_filter: frozenset[str] | None = None
    worker: str = ""
    leases: set[str] = field(default_factory=set)
    outstanding_o: int = 0
    outstanding_a: int = 0
    closed: bool = False
    turn: int = 0

    def wants_orchestration(self, name: str, version: str | None) -> bool:
        if self.orchestration_filter is None:
            return True
        versions = self.orchestration_filter.get(name)
        if versions is None:
            return False
        return not versions or (version or "") in versions

    def wants_activity(self, name: str) -> bool:
        return self.activity_filter is None or name in self.activity_filter


class Inst:
    """A live (non-terminal or leased) instance: its status row, inbox and cached history."""

    __slots__ = ("blob", "history", "inbox", "key", "lease", "not_before", "queued", "row", "wake_us")

    def __init__(self, row: InstanceRow) -> None:
        self.row = row
        self.key: tuple[str, str] = (row.hub, row.instance_id)  # an instance keeps its row for life
        self.inbox: list[InboxItem] = []
        self.history: list[bytes] | None = None
        self.blob = bytearray()
        self.lease: str | None = None
        self.queued = False
        self.not_before = 0
        self.wake_us = 0

    def set_history(self, events: list[bytes]) -> None:
        self.history = events
        self.blob = bytearray()
        self._append_blob(events)

    def add_history(self, events: list[bytes]) -> None:
        assert self.history is not None
        self.history.extend(events)
        self._append_blob(events)

    def _append_blob(self, events: list[bytes]) -> None:
        blob = self.blob
        for e in events:
            blob += field_header(_PAST_EVENTS_TAG, len(e))
            blob += e

    def parent(self) -> pb.ParentInstanceInfo | None:
        return None if self.row.parent is None else pb.ParentInstanceInfo.FromString(self.row.parent)

    def trace(self) -> pb.TraceContext | None:
        return None if self.row.trace is None else pb.TraceContext.FromString(self.row.trace)
