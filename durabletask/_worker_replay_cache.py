"""Incremental replay: keep a running orchestration's replay state between its work items.

A plain worker replays the whole history for every episode, which costs O(n) per episode and
O(n^2) for a long chain. When the next work item of an instance extends exactly the history this
worker already replayed, :class:`ReplayStateCache` continues the live replay state (the suspended
generator and its context) with only the events it has not seen yet. Anything unexpected (another
execution, a rewind, a history that is not an extension, a replay core without the needed hooks)
falls back to the replay core's full ``execute``, so results are always those of a full replay.

Works with the replay core's internals (``_Execution``, ``RuntimeOrchestrationContext``); the
feature is switched off automatically if they are not there.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from durabletask._proto import orchestrator_service_pb2 as pb

__all__ = ["ReplayStateCache", "incremental_replay_supported"]

_log = logging.getLogger("durabletask.worker")

try:  # the replay core's internals; absent or changed -> no incremental replay
    from durabletask._replay import _executor as _core_executor
    from durabletask._replay._context import RuntimeOrchestrationContext as _Context

    _Execution = _core_executor._Execution
    _ExecutionResult = _core_executor.ExecutionResult
    _SUPPORTED = all(
        hasattr(_Context, name) for name in ("get_actions", "set_failed", "is_complete", "custom_status")
    ) and hasattr(_Execution, "process")
except Exception:  # pragma: no cover - depends on the replay core's shape
    _SUPPORTED = False


def incremental_replay_supported() -> bool:
    """True when the replay core exposes what incremental replay needs."""
    return _SUPPORTED


class _State:
    __slots__ = ("processed", "run", "started_event", "started_index", "tail")

    def __init__(
        self,
        run: Any,
        processed: int,
        tail: list[pb.HistoryEvent],
        started_index: int,
        started_event: pb.HistoryEvent | None,
    ) -> None:
        self.run = run
        self.processed = processed  # number of history events already applied
        self.tail = tail  # the events applied last (the previous episode's new events)
        self.started_index = started_index
        self.started_event = started_event

    def continues(self, past: Sequence[pb.HistoryEvent]) -> bool:
        """True when ``past`` begins with exactly the history this state has applied."""
        n = self.processed
        if len(past) < n:
            return False
        if self.started_event is not None:
            if self.started_index >= len(past) or past[self.started_index] != self.started_event:
                return False
        start = n - len(self.tail)
        for i, ev in enumerate(self.tail):
            if past[start + i] != ev:
                return False
        return True


def _find_started(events: Sequence[pb.HistoryEvent]) -> tuple[int, pb.HistoryEvent | None]:
    for i, ev in enumerate(events):
        if ev.HasField("executionStarted"):
            return i, ev
    return -1, None


class ReplayStateCache:
    """Live replay states of running orchestrations, by instance id (LRU, bounded)."""

    def __init__(self, max_entries: int = 2000) -> None:
        self.max_entries = max_entries
        self._states: OrderedDict[str, _State] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._states)

    def clear(self) -> None:
        with self._lock:
            self._states.clear()

    def _take(self, instance_id: str) -> _State | None:
        with self._lock:
            return self._states.pop(instance_id, None)

    def _put(self, instance_id: str, state: _State) -> None:
        with self._lock:
            self._states[instance_id] = state
            self._states.move_to_end(instance_id)
            while len(self._states) > self.max_entries:
                self._states.popitem(last=False)

    def execute(
        self,
        executor: Any,
        instance_id: str,
        past: Sequence[pb.HistoryEvent],
        new: Sequence[pb.HistoryEvent],
    ) -> Any:
        """Like ``executor.execute(instance_id, past, new)``, reusing replay state when it can."""
        state = self._take(instance_id)
        if not _SUPPORTED or not new or any(ev.HasField("executionRewound") for ev in new):
            return executor.execute(instance_id, past, new)
        if state is not None and state.continues(past):
            self.hits += 1
            run = state.run
            todo_past = past[state.processed :]
        else:
            self.misses += 1
            ctx = _Context(
                instance_id,
                data_converter=executor._converter,
                maximum_timer_interval=executor._maximum_timer_interval,
            )
            run = _Execution(executor, ctx)
            todo_past = past
        ctx = run.ctx
        try:
            ctx._is_replaying = True
            for ev in todo_past:
                run.process(ev)
            ctx._is_replaying = False
            for ev in new:
                run.process(ev)
        except Exception as ex:  # noqa: BLE001 - same rule as the replay core: the orchestration fails
            executor._logger.info("%s: orchestration failed: %s: %s", instance_id, type(ex).__name__, ex)
            ctx.set_failed(ex)
        actions = ctx.get_actions()
        if not ctx.is_complete:
            started_index, started_event = _find_started(past)
            if started_event is None:
                offset, started_event = _find_started(new)
                started_index = len(past) + offset if started_event is not None else -1
            self._put(instance_id, _State(run, len(past) + len(new), list(new), started_index, started_event))
        return _ExecutionResult(actions=actions, custom_status=ctx.custom_status)

    def forget(self, instance_id: str) -> None:
        """Drop the state of an instance (e.g. when its completion could not be delivered)."""
        self._take(instance_id)
