"""Incremental replay: keep a running orchestration's replay state between its work items.

A plain worker replays the whole history for every episode: O(n) per episode, O(n^2) for a long
chain. :class:`ReplayStateCache` keeps the live replay state (a :class:`ReplayExecution` from the
replay core) of each running orchestration. When the next work item of that execution extends
exactly the history the state has applied, only the events it has not seen yet are applied, with
the core's public ``continue_execution``; the core guarantees the result equals a full replay.

Everything unexpected is a miss and takes the core's full path: another execution id, a history
that is not an extension (a redelivered work item, another worker's episode that rewrote history),
a rewind or an empty batch (those go through ``execute`` and its checks). A state is dropped when
its orchestration completes, continues as new or fails, when the worker could not deliver the
result (:meth:`ReplayStateCache.forget`), and least recently used first past ``max_entries``.

Only the replay core's public API is used: ``OrchestrationExecutor.new_execution`` /
``continue_execution`` / ``execute``, and ``ReplayExecution.ctx.is_complete``.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import NamedTuple

from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask._replay import ExecutionResult, OrchestrationExecutor, ReplayExecution

__all__ = ["ReplayStateCache", "incremental_replay_supported"]

_log = logging.getLogger("durabletask.worker")


def incremental_replay_supported() -> bool:
    """True when the replay core offers the public API incremental replay is built on."""
    return callable(getattr(OrchestrationExecutor, "new_execution", None)) and callable(
        getattr(OrchestrationExecutor, "continue_execution", None)
    )


class _EventKey(NamedTuple):
    """A cheap identity of a history event: id, kind and timestamp."""

    event_id: int
    kind: str | None
    seconds: int
    nanos: int


def _event_key(event: pb.HistoryEvent) -> _EventKey:
    ts = event.timestamp
    return _EventKey(event.eventId, event.WhichOneof("eventType"), ts.seconds, ts.nanos)


def _execution_id(past: Sequence[pb.HistoryEvent], new: Sequence[pb.HistoryEvent]) -> str | None:
    """The execution id from the ``executionStarted`` event (it is at the front of a history)."""
    for events in (past, new):
        for event in events:
            if event.HasField("executionStarted"):
                return event.executionStarted.orchestrationInstance.executionId.value
    return None


class _CachedRun:
    """A live replay state and what it has applied so far."""

    __slots__ = ("applied", "execution_id", "executor", "last_key", "run")

    def __init__(
        self,
        executor: OrchestrationExecutor,
        run: ReplayExecution,
        execution_id: str | None,
        applied: int,
        last_key: _EventKey,
    ) -> None:
        self.executor = executor
        self.run = run
        self.execution_id = execution_id
        self.applied = applied  # number of history events (past + new) applied to ``run``
        self.last_key = last_key  # the last of them

    def continues(
        self,
        executor: OrchestrationExecutor,
        execution_id: str | None,
        past: Sequence[pb.HistoryEvent],
    ) -> bool:
        """True when ``past`` (of this execution) begins with exactly the history applied so far."""
        n = self.applied
        return (
            executor is self.executor
            and (self.execution_id is None or execution_id == self.execution_id)  # None: not started yet
            and len(past) >= n
            and _event_key(past[n - 1]) == self.last_key
        )


class ReplayStateCache:
    """Live replay states of running orchestrations, by instance id (checked against the
    execution id), least recently used dropped first. Safe to share between worker threads."""

    def __init__(self, max_entries: int = 2000) -> None:
        if max_entries < 0:
            raise ValueError("max_entries must be zero or more")
        self.max_entries = max_entries
        self._states: OrderedDict[str, _CachedRun] = OrderedDict()
        self._lock = threading.Lock()
        #: Work items continued from a kept state / replayed in full (for tests and diagnostics).
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._states)

    def __contains__(self, instance_id: object) -> bool:
        with self._lock:
            return instance_id in self._states

    def clear(self) -> None:
        """Drop every kept state."""
        with self._lock:
            dropped = list(self._states.values())
            self._states.clear()
        for state in dropped:
            state.run.close()

    def forget(self, instance_id: str) -> None:
        """Drop the state of an instance (e.g. when its completion could not be delivered)."""
        state = self._take(instance_id)
        if state is not None:
            state.run.close()

    def _take(self, instance_id: str) -> _CachedRun | None:
        # Taking the state out while it runs keeps two threads from ever sharing one replay state.
        with self._lock:
            return self._states.pop(instance_id, None)

    def _put(self, instance_id: str, state: _CachedRun) -> None:
        evicted: list[_CachedRun] = []
        with self._lock:
            self._states[instance_id] = state
            self._states.move_to_end(instance_id)
            while len(self._states) > self.max_entries:
                evicted.append(self._states.popitem(last=False)[1])
        for old in evicted:
            old.run.close()  # end its orchestrator generator now, not in the garbage collector

    def _count(self, hit: bool) -> None:
        with self._lock:
            if hit:
                self.hits += 1
            else:
                self.misses += 1

    def execute(
        self,
        executor: OrchestrationExecutor,
        instance_id: str,
        past: Sequence[pb.HistoryEvent],
        new: Sequence[pb.HistoryEvent],
    ) -> ExecutionResult:
        """Same result as ``executor.execute(instance_id, past, new)``, reusing kept state when it can."""
        state = self._take(instance_id)
        if not new or any(event.HasField("executionRewound") for event in new):
            if state is not None:
                state.run.close()
            return executor.execute(instance_id, past, new)  # the core's empty-batch and rewind checks

        execution_id = _execution_id(past, new)
        result: ExecutionResult | None = None
        run: ReplayExecution | None = None
        if state is not None and state.continues(executor, execution_id, past):
            self._count(hit=True)
            run = state.run
            try:
                result = executor.continue_execution(run, past[state.applied :], new)
            except Exception:  # noqa: BLE001 - a broken kept state must not cost more than a miss
                _log.exception("%s: continuing the kept replay state failed; replaying in full", instance_id)
                state.run.close()
                result = run = None
        else:
            self._count(hit=False)
            if state is not None:
                state.run.close()  # a stale state (other execution, redelivery): discard it
        if result is None or run is None:
            run = executor.new_execution(instance_id)
            result = executor.continue_execution(run, past, new)

        finished = run.ctx.is_complete or any(a.HasField("completeOrchestration") for a in result.actions)
        if not finished and self.max_entries > 0:
            last_key = _event_key(new[-1])
            self._put(instance_id, _CachedRun(executor, run, execution_id, len(past) + len(new), last_key))
        else:
            run.close()
        return result
