"""The emulator's core: live state in memory, truth in SQLite, dispatch to worker streams.

Threading model: one lock guards the in-memory state and the single SQLite connection. A write
operation runs under the lock inside its own SAVEPOINT of the open transaction; a committer thread
commits whatever operations have accumulated (group commit: one fsync for a batch), then runs their
post-commit actions (make instances dispatchable, queue activities, wake waiters) and releases the
callers, which answer only after their changes are durable. A timer thread wakes instances whose
timers, scheduled starts or redelivery delays fall due and expires forgotten leases.

The client-facing operations live in :mod:`.operations` (a mixin of :class:`Engine`).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from durabletask._proto import orchestrator_service_pb2 as pb

from . import runtime as rt
from .errors import Unavailable
from .operations import Operations
from .state import Act, InboxItem, Inst, Lease, Stream, field_bytes, new_id, now_us
from .store import InstanceRow, Store

__all__ = ["Engine", "EngineOptions"]

log = logging.getLogger("durabletask.emulator")

T = TypeVar("T")
Post = list[Callable[[], None]]

_WORK_ITEM_ORCH_TAG = 0x0A  # WorkItem.orchestratorRequest = 1
_WORK_ITEM_ACT_TAG = 0x12  # WorkItem.activityRequest = 2
_WORK_ITEM_TOKEN_TAG = 0x52  # WorkItem.completionToken = 10
_MAX_BATCH_EVENTS = 1000


class EngineOptions:
    """Tunables of the engine (defaults suit real use; tests shorten the delays)."""

    def __init__(self, *, abandon_delay: float = 1.0, lease_timeout: float = 600.0,
                 max_history_size: int | None = None, max_work_item_bytes: int = 4 * 1024 * 1024 - 64 * 1024,
                 history_chunk_bytes: int = 2 * 1024 * 1024) -> None:
        self.abandon_delay = abandon_delay
        self.lease_timeout = lease_timeout
        self.max_history_size = max_history_size
        self.max_work_item_bytes = max_work_item_bytes
        self.history_chunk_bytes = history_chunk_bytes


class Engine(Operations):
    """Everything the gRPC service does, minus gRPC."""

    def __init__(self, store: Store, options: EngineOptions | None = None) -> None:
        self.store = store
        self.options = options or EngineOptions()
        self.lock = threading.Lock()
        self._tx_cv = threading.Condition(self.lock)
        self._done_cv = threading.Condition(self.lock)
        self._work_cv = threading.Condition(self.lock)
        self._timer_cv = threading.Condition(self.lock)
        self._tx_open = False
        self._arrivals = 0
        self._arrivals_lock = threading.Lock()
        self._epoch = 1
        self._committed = 0
        self._post: Post = []
        self._stopping = False
        self._closed = False
        self._nonce = new_id()[:8]
        self._counter = itertools.count(1)
        self._stream_ids = itertools.count(1)
        self.insts: dict[tuple[str, str], Inst] = {}
        self.acts: dict[int, Act] = {}
        self.leases: dict[str, Lease] = {}
        self.streams: set[Stream] = set()
        self._ready_o: deque[tuple[str, str]] = deque()
        self._ready_a: deque[Act] = deque()
        self._heap: list[tuple[int, int, str, Any]] = []
        self._heap_seq = itertools.count()
        self._waiters: dict[tuple[str, str], list[threading.Event]] = {}
        self.hubs: set[str] = set()
        with self.lock:
            self._load()
        self._committer = threading.Thread(target=self._commit_loop, name="emulator-commit", daemon=True)
        self._timer = threading.Thread(target=self._timer_loop, name="emulator-timers", daemon=True)
        self._committer.start()
        self._timer.start()

    # ===================================================================================== load
    def _load(self) -> None:
        """Rebuild the in-memory state from the database (start-up and reset)."""
        self.insts.clear()
        self.acts.clear()
        self.leases.clear()
        self._ready_o.clear()
        self._ready_a.clear()
        self._heap.clear()
        for stream in self.streams:
            stream.leases.clear()
            stream.outstanding_o = stream.outstanding_a = 0
        self.hubs = set(self.store.hubs())
        for row in self.store.active_instances():
            self.insts[(row.hub, row.instance_id)] = Inst(row)
        orphans: list[int] = []
        for rid, hub, iid, exec_id, vis, data in self.store.inbox_rows():
            inst = self.insts.get((hub, iid))
            if inst is None:
                orphans.append(rid)
                continue
            ev = pb.HistoryEvent.FromString(data)
            inst.inbox.append(InboxItem(rid, exec_id, vis, ev, ev.WhichOneof("eventType") or ""))
        stale_acts: list[int] = []
        for aid, hub, iid, exec_id, data in self.store.activity_rows():
            inst = self.insts.get((hub, iid))
            if inst is None or inst.row.execution_id != exec_id:
                stale_acts.append(aid)
                continue
            req = pb.ActivityRequest.FromString(data)
            act = Act(aid, hub, iid, exec_id, data, req.name)
            self.acts[aid] = act
            self._ready_a.append(act)
        if orphans or stale_acts:
            self.store.begin()
            self.store.delete_inbox(orphans)
            for aid in stale_acts:
                self.store.delete_activity(aid)
            self.store.commit()
        for inst in self.insts.values():
            self._make_ready(inst)
        self._sweep_leases(now_us())
        if self.insts:
            log.info("loaded %d live instances, %d queued activities", len(self.insts), len(self.acts))

    # ============================================================================ transactions
    def write(self, fn: Callable[[Post], T], wait: bool = True) -> T:
        """Run ``fn(post)`` atomically in the open transaction; return once it is committed.

        Group commit without a hand-off: a writer that sees others queued behind it leaves the commit
        to the last of them (or to the committer thread), so one fsync covers the whole burst.
        """
        with self._arrivals_lock:
            self._arrivals += 1
        with self.lock:
            with self._arrivals_lock:
                self._arrivals -= 1
            if self._stopping:
                raise Unavailable("the emulator is shutting down")
            result, epoch = self._apply(fn, background=not wait)
            if wait:
                while self._committed < epoch:
                    if self._tx_open and self._arrivals == 0:
                        self._commit_locked()
                    else:
                        self._done_cv.wait(0.005)
            return result

    def _apply(self, fn: Callable[[Post], T], background: bool = False) -> tuple[T, int]:
        """Under the lock: run ``fn`` in a savepoint of the open transaction.

        ``background``: nobody waits for this change, so the committer thread commits it.
        """
        alone = not self._tx_open  # first in its transaction: no savepoint needed to undo it alone
        if alone:
            self.store.begin()
            self._tx_open = True
        else:
            self.store.savepoint()
        if background:
            self._tx_cv.notify()
        post: Post = []
        try:
            result = fn(post)
        except rt_errors():  # refused requests change nothing
            self._undo(alone)
            raise
        except BaseException:
            self._undo(alone)
            log.exception("internal error in a write operation; reloading state from the database")
            self._reload_after_error()
            raise
        if not alone:
            self.store.release()
        self._post.extend(post)
        return result, self._epoch

    def _undo(self, alone: bool) -> None:
        if alone:
            self.store.rollback()
            self._tx_open = False
        else:
            self.store.rollback_savepoint()

    def _reload_after_error(self) -> None:
        if self._tx_open:
            self.store.commit()
        self._tx_open = False
        self._committed = self._epoch
        self._epoch += 1
        self._post = []
        self._load()
        self._done_cv.notify_all()

    def _commit_loop(self) -> None:
        with self.lock:
            while True:
                while not self._tx_open and not self._stopping:
                    self._tx_cv.wait()
                if not self._tx_open:
                    return
                self._commit_locked()

    def _commit_locked(self) -> None:
        """Under the lock: commit the open transaction, then run its post-commit actions."""
        try:
            self.store.commit()
        except Exception:
            log.exception("commit failed; rolling back and reloading state")
            self.store.rollback()
            self._post = []
            self._tx_open = False
            self._load()
        self._tx_open = False
        self._committed = self._epoch
        self._epoch += 1
        post, self._post = self._post, []
        for action in post:
            try:
                action()
            except Exception:
                log.exception("post-commit action failed")
        self._done_cv.notify_all()

    # ================================================================================== timers
    def _schedule(self, due_us: int, kind: str, payload: Any) -> None:
        first = self._heap[0][0] if self._heap else None
        heapq.heappush(self._heap, (due_us, next(self._heap_seq), kind, payload))
        if first is None or due_us < first:
            self._timer_cv.notify()

    def _timer_loop(self) -> None:
        with self.lock:
            while not self._stopping:
                now = now_us()
                while self._heap and self._heap[0][0] <= now:
                    _, _, kind, payload = heapq.heappop(self._heap)
                    try:
                        self._on_timer(kind, payload, now)
                    except Exception:
                        log.exception("timer action failed")
                timeout = None if not self._heap else max(0.0, (self._heap[0][0] - now_us()) / 1e6)
                self._timer_cv.wait(timeout if timeout is None else min(timeout, 60.0))

    def _on_timer(self, kind: str, payload: Any, now: int) -> None:
        if kind == "ready":
            inst = self.insts.get(payload)
            if inst is not None:
                if inst.wake_us and inst.wake_us <= now:
                    inst.wake_us = 0
                self._make_ready(inst)
        elif kind == "activity":
            act: Act = payload
            if not act.removed and act.lease is None:
                self._ready_a.append(act)
                self._work_cv.notify_all()
        elif kind == "sweep":
            self._sweep_leases(now)

    def _sweep_leases(self, now: int) -> None:
        """Redeliver items whose lease expired (a worker that holds an item far too long); re-arm."""
        for lease in [lease for lease in self.leases.values() if lease.expires_us <= now]:
            log.info("lease %s on %s expired; redelivering", lease.token, lease.key[1])
            self._release(lease, 0.0)
        interval = min(max(self.options.lease_timeout / 4, 0.05), 30.0)
        self._schedule(now + int(interval * 1e6), "sweep", None)

    # ============================================================================== readiness
    def _visible_batch(self, inst: Inst, now: int) -> tuple[list[InboxItem], list[int]] | None:
        """The inbox items the next work item would carry, and every row it consumes; None = not ready."""
        row = inst.row
        if row.status in rt.TERMINAL_STATUSES and not any(i.kind == "executionRewound" for i in inst.inbox):
            return None
        fresh = row.status == rt.PENDING and not inst.history and not inst.blob
        rows: list[int] = []
        items: list[InboxItem] = []
        started: InboxItem | None = None
        wake = False
        exec_id = row.execution_id
        for it in inst.inbox:
            if it.visible_us > now:
                continue
            if it.execution_id is not None and it.execution_id != exec_id:
                rows.append(it.id)  # stale result of an older execution: consumed, not delivered
                continue
            if it.kind == "executionRewound":
                if items or wake or started:
                    break
                rows.append(it.id)
                items.append(it)
                break
            if it.kind == "orchestratorStarted":
                rows.append(it.id)
                wake = True
                continue
            if it.kind == "executionStarted":
                if started is not None:
                    continue
                started = it
                rows.append(it.id)
                continue
            rows.append(it.id)
            items.append(it)
            if len(items) >= _MAX_BATCH_EVENTS:
                break
        if fresh:
            if started is None:
                return None
            return [started, *items], rows
        if started is not None:
            items.insert(0, started)
        if not items and not wake:
            return None
        return items, rows

    def _make_ready(self, inst: Inst) -> None:
        """Queue the instance for dispatch if it has deliverable events; else arm its next wake-up."""
        if inst.lease is not None or inst.queued or not inst.inbox:
            return
        now = now_us()
        if inst.not_before > now:
            self._wake_at(inst, inst.not_before)
            return
        if self._visible_batch(inst, now) is not None:
            inst.queued = True
            self._ready_o.append(inst.key)
            self._work_cv.notify_all()
            return
        future = [it.visible_us for it in inst.inbox if it.visible_us > now]
        if future:
            self._wake_at(inst, min(future))

    def _wake_at(self, inst: Inst, due: int) -> None:
        if inst.wake_us and inst.wake_us <= due:
            return
        inst.wake_us = due
        self._schedule(due, "ready", inst.key)

    # ================================================================================ dispatch
    def open_stream(self, hub: str, request: pb.GetWorkItemsRequest, worker: str = "") -> Stream:
        """Register a worker stream with its concurrency limits and filters."""
        orch_filter: dict[str, frozenset[str]] | None = None
        act_filter: frozenset[str] | None = None
        if request.HasField("workItemFilters"):
            f = request.workItemFilters
            orch_filter = {o.name: frozenset(o.versions) for o in f.orchestrations}
            act_filter = frozenset(a.name for a in f.activities)
        stream = Stream(next(self._stream_ids), hub, max(0, request.maxConcurrentOrchestrationWorkItems),
                        max(0, request.maxConcurrentActivityWorkItems), orch_filter, act_filter, worker)
        with self.lock:
            if self._stopping:
                raise Unavailable("the emulator is shutting down")
            self.streams.add(stream)
        log.debug("worker stream %d opened on hub %r (%s)", stream.id, hub, worker or "unnamed worker")
        return stream

    def close_stream(self, stream: Stream) -> None:
        """Forget a stream; everything it had not completed is redelivered."""
        with self.lock:
            if stream.closed:
                return
            stream.closed = True
            self.streams.discard(stream)
            for token in list(stream.leases):
                lease = self.leases.get(token)
                if lease is not None:
                    self._release(lease, 0.0)
            self._work_cv.notify_all()
        log.debug("worker stream %d closed", stream.id)

    def next_work_item(self, stream: Stream, timeout: float) -> bytes | None:
        """Block until a work item for ``stream`` is ready (its wire bytes) or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                if stream.closed or self._stopping:
                    return None
                item = self._take(stream)
                if item is not None:
                    return item
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._work_cv.wait(remaining)

    def _take(self, stream: Stream) -> bytes | None:
        stream.turn ^= 1
        order = (self._take_orchestration, self._take_activity)
        if stream.turn:
            order = (self._take_activity, self._take_orchestration)
        for take in order:
            item = take(stream)
            if item is not None:
                return item
        return None

    def _take_orchestration(self, stream: Stream) -> bytes | None:
        if stream.max_orchestrations and stream.outstanding_o >= stream.max_orchestrations:
            return None
        skipped: list[tuple[str, str]] = []
        item: bytes | None = None
        while self._ready_o:
            key = self._ready_o.popleft()
            inst = self.insts.get(key)
            if inst is None or not inst.queued or inst.lease is not None:
                continue
            if key[0] != stream.hub or not stream.wants_orchestration(inst.row.name, inst.row.version):
                skipped.append(key)
                continue
            inst.queued = False
            item = self._dispatch_orchestration(inst, stream)
            if item is not None:
                break
        if skipped:
            self._ready_o.extendleft(reversed(skipped))
        return item

    def _ensure_history(self, inst: Inst) -> list[bytes]:
        if inst.history is None:
            inst.set_history(self.store.history(*inst.key))
        assert inst.history is not None
        return inst.history

    def _dispatch_orchestration(self, inst: Inst, stream: Stream) -> bytes | None:
        now = now_us()
        batch = self._visible_batch(inst, now)
        if batch is None:
            self._make_ready(inst)
            return None
        items, rows = batch
        history = self._ensure_history(inst)
        row = inst.row
        started = rt.event(now, orchestratorStarted=pb.OrchestratorStartedEvent())
        events = [started, *(it.event for it in items)]
        req = pb.OrchestratorRequest(instanceId=row.instance_id, newEvents=events)
        req.executionId.value = row.execution_id
        body = req.SerializeToString() + bytes(inst.blob)
        limit = self.options.max_history_size
        too_long = limit is not None and len(history) + len(events) > limit
        if too_long or len(body) > self.options.max_work_item_bytes:
            why = (f"the history of {len(history)} events exceeds the limit of {limit} events" if too_long else
                   f"the next work item would be {len(body)} bytes, over the limit of "
                   f"{self.options.max_work_item_bytes} bytes a worker can receive")
            log.warning("failing orchestration %r: %s", row.instance_id, why)
            self._apply(lambda post: self._force_fail(inst, rows, why, post), background=True)
            return None
        token = f"{self._nonce}o{next(self._counter)}"
        lease = Lease(token, "o", stream, inst.key, now + int(self.options.lease_timeout * 1e6), rows, events)
        self.leases[token] = lease
        inst.lease = token
        stream.leases.add(token)
        stream.outstanding_o += 1
        return field_bytes(_WORK_ITEM_ORCH_TAG, body) + field_bytes(_WORK_ITEM_TOKEN_TAG, token.encode())

    def _take_activity(self, stream: Stream) -> bytes | None:
        if stream.max_activities and stream.outstanding_a >= stream.max_activities:
            return None
        skipped: list[Act] = []
        found: Act | None = None
        while self._ready_a:
            act = self._ready_a.popleft()
            if act.removed or act.lease is not None:
                continue
            if act.hub != stream.hub or not stream.wants_activity(act.name):
                skipped.append(act)
                continue
            found = act
            break
        if skipped:
            self._ready_a.extendleft(reversed(skipped))
        if found is None:
            return None
        now = now_us()
        token = f"{self._nonce}a{next(self._counter)}"
        lease = Lease(token, "a", stream, (found.hub, found.instance_id),
                      now + int(self.options.lease_timeout * 1e6), act=found)
        self.leases[token] = lease
        found.lease = token
        stream.leases.add(token)
        stream.outstanding_a += 1
        return field_bytes(_WORK_ITEM_ACT_TAG, found.data) + field_bytes(_WORK_ITEM_TOKEN_TAG, token.encode())

    def _drop_lease(self, lease: Lease) -> None:
        self.leases.pop(lease.token, None)
        stream = lease.stream
        if lease.token in stream.leases:
            stream.leases.discard(lease.token)
            if lease.kind == "o":
                stream.outstanding_o -= 1
            else:
                stream.outstanding_a -= 1
            self._work_cv.notify_all()

    def _release(self, lease: Lease, delay: float) -> None:
        """Give a leased item back for redelivery after ``delay`` seconds."""
        self._drop_lease(lease)
        due = now_us() + int(delay * 1e6)
        if lease.kind == "o":
            inst = self.insts.get(lease.key)
            if inst is not None and inst.lease == lease.token:
                inst.lease = None
                if delay > 0:
                    inst.not_before = due
                self._make_ready(inst)
        else:
            act = lease.act
            assert act is not None
            if act.lease == lease.token and not act.removed:
                act.lease = None
                if delay > 0:
                    act.not_before = due
                    self._schedule(due, "activity", act)
                else:
                    self._ready_a.append(act)
                    self._work_cv.notify_all()

    def abandon(self, token: str, kind: str) -> bool:
        """Re-queue an abandoned work item after the abandon delay; False for unknown tokens."""
        with self.lock:
            lease = self.leases.get(token)
            if lease is None or lease.kind != kind:
                return False
            self._release(lease, self.options.abandon_delay)
            return True

    # ============================================================================= completions
    def complete_activity(self, resp: pb.ActivityResponse) -> bool:
        """Record an activity's result; False (and no change) for stale or duplicate completions."""

        def op(post: Post) -> bool:
            lease = self.leases.get(resp.completionToken)
            if lease is None or lease.kind != "a" or lease.act is None:
                return False
            act = lease.act
            if resp.instanceId and resp.instanceId != act.instance_id:
                return False
            self._drop_lease(lease)
            act.removed = True
            act.lease = None
            self.acts.pop(act.id, None)
            self.store.delete_activity(act.id)
            inst = self.insts.get((act.hub, act.instance_id))
            if inst is None or inst.row.execution_id != act.execution_id or inst.row.status in rt.TERMINAL_STATUSES:
                return True
            req = pb.ActivityRequest.FromString(act.data)
            now = now_us()
            if resp.HasField("failureDetails"):
                ev = rt.event(now, taskFailed=pb.TaskFailedEvent(taskScheduledId=req.taskId,
                                                                  failureDetails=resp.failureDetails))
            else:
                done = pb.TaskCompletedEvent(taskScheduledId=req.taskId)
                if resp.HasField("result"):
                    done.result.CopyFrom(resp.result)
                ev = rt.event(now, taskCompleted=done)
            self._enqueue(inst, ev, act.execution_id, now, post)
            return True

        return self.write(op)

    def complete_orchestration(self, resp: pb.OrchestratorResponse) -> bool:
        """Apply an orchestrator's actions; False (and no change) for stale or duplicate completions."""

        def op(post: Post) -> bool:
            lease = self.leases.get(resp.completionToken)
            if lease is None or lease.kind != "o" or (resp.instanceId and resp.instanceId != lease.key[1]):
                return False
            inst = self.insts.get(lease.key)
            if inst is None or inst.lease != lease.token:
                self._drop_lease(lease)
                return False
            self._drop_lease(lease)
            inst.lease = None
            row = inst.row
            view = rt.InstanceView(row.instance_id, row.execution_id, row.name, row.version, row.status,
                                   inst.parent(), row.tags, inst.trace())
            now = now_us()
            outcome = rt.apply_response(view, lease.events, resp, now)
            self._apply_outcome(inst, lease.rows, outcome, now, post)
            return True

        return self.write(op)

    def _consume(self, inst: Inst, rows: list[int]) -> None:
        if rows:
            self.store.delete_inbox(rows)
            gone = set(rows)
            inst.inbox = [it for it in inst.inbox if it.id not in gone]

    def _apply_outcome(self, inst: Inst, rows: list[int], out: rt.Outcome, now: int, post: Post) -> None:
        row = inst.row
        hub, iid = inst.key
        self._consume(inst, rows)
        row.custom_status = out.custom_status
        row.updated_us = now
        if out.rewind is not None:
            self._apply_rewind(inst, out.rewind, now, post)
        elif out.continue_as_new is not None:
            self._apply_continue_as_new(inst, out, now, post)
        else:
            history = self._ensure_history(inst)
            data = [e.SerializeToString() for e in out.history]
            self.store.append_history(hub, iid, len(history), data)
            inst.add_history(data)
            row.status = out.status
            if out.terminal:
                row.output = out.output
                row.failure = None if out.failure is None else out.failure.SerializeToString()
                row.completed_us = now
            else:
                for req in out.activities:
                    self._queue_activity(inst, req, post)
                for fired, fire_at in out.timers:
                    self._enqueue(inst, fired, row.execution_id, now, post, visible_us=fire_at)
                for child in out.children:
                    self._start_child(inst, child, now, post)
            for msg in out.outbound:
                self._send(hub, msg, now, post)
            if out.terminate_children is not None:
                self._terminate_children(inst, out.terminate_children, now, post)
            if out.terminal:
                self._finish(inst, out.notify_parent, now, post)
        self.store.update_runtime(row)
        post.append(lambda: self._after_change(inst))

    def _after_change(self, inst: Inst) -> None:
        self._notify(inst.key)
        if inst.row.status in rt.TERMINAL_STATUSES and inst.lease is None:
            if self.insts.get(inst.key) is inst:
                del self.insts[inst.key]
        else:
            self._make_ready(inst)

    def _finish(self, inst: Inst, notify: rt.Outbound | None, now: int, post: Post) -> None:
        """The execution reached a terminal status: drop its inbox, tell its parent."""
        hub, iid = inst.key
        if inst.inbox:
            self.store.clear_inbox(hub, iid)
            inst.inbox = []
        if notify is not None:
            self._send(hub, notify, now, post)

    def _apply_continue_as_new(self, inst: Inst, out: rt.Outcome, now: int, post: Post) -> None:
        can = out.continue_as_new
        assert can is not None
        row = inst.row
        hub, iid = inst.key
        for msg in out.outbound:
            self._send(hub, msg, now, post)
        self.store.clear_history(hub, iid)
        inst.set_history([])
        self.store.clear_activities(hub, iid)
        for act in [a for a in self.acts.values() if a.hub == hub and a.instance_id == iid]:
            act.removed = True
            self.acts.pop(act.id, None)
        keep = [it for it in inst.inbox if it.execution_id is None and it.kind not in (
            "timerFired", "taskCompleted", "taskFailed", "subOrchestrationInstanceCompleted",
            "subOrchestrationInstanceFailed", "executionStarted", "orchestratorStarted")]
        self.store.clear_inbox(hub, iid)
        inst.inbox = []
        row.execution_id = can.execution_id
        row.version = can.version
        row.input = can.input
        row.output = None
        row.failure = None
        row.completed_us = None
        row.status = rt.RUNNING
        for ev in can.start_events:
            self._enqueue(inst, ev, None, now, post)
        for it in keep:
            self._enqueue(inst, it.event, None, now, post, visible_us=it.visible_us)

    def _apply_rewind(self, inst: Inst, rw: rt.Rewind, now: int, post: Post) -> None:
        row = inst.row
        hub, iid = inst.key
        data = [e.SerializeToString() for e in rw.history]
        self.store.clear_history(hub, iid)
        self.store.append_history(hub, iid, 0, data)
        inst.set_history(data)
        row.execution_id = rw.execution_id
        row.parent = None if rw.parent is None else rw.parent.SerializeToString()
        row.status = rt.RUNNING
        row.output = None
        row.failure = None
        row.completed_us = None
        completed = {e.subOrchestrationInstanceCompleted.taskScheduledId for e in rw.history
                     if e.WhichOneof("eventType") == "subOrchestrationInstanceCompleted"}
        for e in rw.history:
            if e.WhichOneof("eventType") != "subOrchestrationInstanceCreated" or e.eventId in completed:
                continue
            self._rewind_child(inst, e, now, post)
        self._enqueue(inst, rt.event(now, orchestratorStarted=pb.OrchestratorStartedEvent()), None, now, post)

    def _rewind_child(self, parent: Inst, created: pb.HistoryEvent, now: int, post: Post) -> None:
        hub = parent.row.hub
        c = created.subOrchestrationInstanceCreated
        child = self.store.get_instance(hub, c.instanceId)
        if child is None:
            info = pb.ParentInstanceInfo(taskScheduledId=created.eventId)
            info.name.value = parent.row.name
            if parent.row.version is not None:
                info.version.value = parent.row.version
            info.orchestrationInstance.instanceId = parent.row.instance_id
            info.orchestrationInstance.executionId.value = parent.row.execution_id
            started = rt.new_execution_started(
                c.instanceId, new_id(), c.name, c.version.value if c.HasField("version") else None,
                c.input.value if c.HasField("input") else None, now, parent=info, tags=dict(c.tags))
            self._start_child(parent, rt.ChildStart(c.instanceId, started, created.eventId, c.name), now, post)
        elif child.status == rt.FAILED:
            rewound = pb.ExecutionRewoundEvent(instanceId=c.instanceId)
            rewound.parentExecutionId.value = parent.row.execution_id
            rewound.reason.value = "rewound with its parent"
            self._rewind(child, rewound, now, post)

    def _rewind(self, row: InstanceRow, rewound: pb.ExecutionRewoundEvent, now: int, post: Post) -> None:
        """Make a FAILED instance live again and queue its executionRewound."""
        inst = self.insts.get((row.hub, row.instance_id))
        if inst is None:
            inst = Inst(row)
            self.insts[inst.key] = inst
        inst.row.status = rt.RUNNING
        inst.row.output = None
        inst.row.failure = None
        inst.row.completed_us = None
        inst.row.updated_us = now
        self.store.update_runtime(inst.row)
        self._enqueue(inst, rt.event(now, executionRewound=rewound), None, now, post)
        post.append(lambda: self._after_change(inst))

    def _force_fail(self, inst: Inst, rows: list[int], why: str, post: Post) -> None:
        """Fail an orchestration without the worker (its history no longer fits a work item)."""
        now = now_us()
        row = inst.row
        self._ensure_history(inst)
        fail = rt.failure("HistoryTooLarge", why)
        done = pb.ExecutionCompletedEvent(orchestrationStatus=rt.FAILED, failureDetails=fail)  # type: ignore[arg-type]
        out = rt.Outcome(history=[rt.event(now, executionCompleted=done)], status=rt.FAILED,
                         custom_status=row.custom_status, failure=fail, terminal=True)
        out.notify_parent = rt.parent_notification(row.instance_id, inst.parent(), rt.FAILED, None, fail,
                                                   None, now)
        self._apply_outcome(inst, rows, out, now, post)

    # ================================================================================ routing
    def _enqueue(self, inst: Inst, ev: pb.HistoryEvent, exec_id: str | None, now: int, post: Post,
                 visible_us: int | None = None) -> None:
        """Add an event to a live instance's inbox (durably) and make it dispatchable after commit."""
        vis = now if visible_us is None else visible_us
        data = ev.SerializeToString()
        rid = self.store.add_inbox(inst.row.hub, inst.row.instance_id, exec_id, vis, data)
        inst.inbox.append(InboxItem(rid, exec_id, vis, ev, ev.WhichOneof("eventType") or ""))
        post.append(lambda: self._make_ready(inst))

    def _send(self, hub: str, msg: rt.Outbound, now: int, post: Post) -> None:
        """Deliver a message to another instance; silently dropped if it is missing or finished."""
        target = self.insts.get((hub, msg.instance_id))
        if target is None or target.row.status in rt.TERMINAL_STATUSES:
            log.debug("dropping %s for missing or finished instance %r",
                      msg.event.WhichOneof("eventType"), msg.instance_id)
            return
        if msg.execution_id is not None and msg.execution_id != target.row.execution_id:
            return
        self._enqueue(target, msg.event, msg.execution_id, now, post)

    def _queue_activity(self, inst: Inst, req: pb.ActivityRequest, post: Post) -> None:
        data = req.SerializeToString()
        aid = self.store.add_activity(inst.row.hub, inst.row.instance_id, inst.row.execution_id, data)
        act = Act(aid, inst.row.hub, inst.row.instance_id, inst.row.execution_id, data, req.name)
        self.acts[aid] = act

        def ready() -> None:
            if not act.removed and act.lease is None:
                self._ready_a.append(act)
                self._work_cv.notify_all()

        post.append(ready)

    def _start_child(self, parent: Inst, child: rt.ChildStart, now: int, post: Post) -> None:
        hub = parent.row.hub
        live = self.insts.get((hub, child.instance_id))
        if live is not None and live.row.status not in rt.TERMINAL_STATUSES:
            fail = rt.failure("InstanceExists",
                              f"an orchestration with instance id '{child.instance_id}' is already running")
            ev = rt.event(now, subOrchestrationInstanceFailed=pb.SubOrchestrationInstanceFailedEvent(
                taskScheduledId=child.task_id, failureDetails=fail))
            self._enqueue(parent, ev, parent.row.execution_id, now, post)
            return
        s = child.started.executionStarted
        self.create_instance(
            hub, child.instance_id, child.name, s.version.value if s.HasField("version") else None,
            s.input.value if s.HasField("input") else None, now, post, started=child.started,
            parent=s.parentInstance, tags=dict(s.tags),
            trace=s.parentTraceContext if s.HasField("parentTraceContext") else None,
            replace=live is not None or self.store.get_status(hub, child.instance_id) is not None)

    def _terminate_children(self, inst: Inst, reason: str, now: int, post: Post) -> None:
        history = [pb.HistoryEvent.FromString(b) for b in self._ensure_history(inst)]
        for child_id in rt.child_instance_ids(history):
            term = pb.ExecutionTerminatedEvent(recurse=True)
            term.input.value = reason
            self._terminate_live(inst.row.hub, child_id, term, now, post)

    def _terminate_live(self, hub: str, instance_id: str, term: pb.ExecutionTerminatedEvent, now: int,
                        post: Post) -> bool:
        """Terminate a live instance (directly if it never ran); False if it is not live."""
        target = self.insts.get((hub, instance_id))
        if target is None or target.row.status in rt.TERMINAL_STATUSES:
            return False
        if target.row.status == rt.PENDING and target.lease is None and not self._ensure_history(target):
            started = next((it.event for it in target.inbox if it.kind == "executionStarted"), None)
            reason = term.input.value if term.HasField("input") else None
            done = pb.ExecutionCompletedEvent(orchestrationStatus=rt.TERMINATED)  # type: ignore[arg-type]
            if reason is not None:
                done.result.value = reason
            events = [rt.event(now, executionTerminated=term), rt.event(now, executionCompleted=done)]
            if started is not None:
                events.insert(0, started)
            out = rt.Outcome(history=events, status=rt.TERMINATED, custom_status=target.row.custom_status,
                             output=reason, terminal=True)
            out.notify_parent = rt.parent_notification(instance_id, target.parent(), rt.TERMINATED, reason,
                                                       None, reason, now)
            self._apply_outcome(target, [], out, now, post)
            return True
        self._enqueue(target, rt.event(now, executionTerminated=term), None, now, post)
        return True

    def create_instance(self, hub: str, instance_id: str, name: str, version: str | None, input: str | None,
                        now: int, post: Post, *, started: pb.HistoryEvent | None = None,
                        parent: pb.ParentInstanceInfo | None = None, tags: dict[str, str] | None = None,
                        trace: pb.TraceContext | None = None, scheduled_us: int | None = None,
                        replace: bool = True) -> Inst:
        """Create an instance with a pending executionStarted in its inbox (``replace``: one may exist)."""
        if hub not in self.hubs:
            self.store.add_hub(hub, now)
            self.hubs.add(hub)
        if replace:
            old = self.insts.pop((hub, instance_id), None)
            if old is not None:
                self._forget(old)
            self.store.delete_instance(hub, instance_id)
        if started is None:
            started = rt.new_execution_started(instance_id, new_id(), name, version, input, now,
                                               parent=parent, tags=tags, trace=trace, scheduled_us=scheduled_us)
        exec_id = started.executionStarted.orchestrationInstance.executionId.value
        parent_id = parent.orchestrationInstance.instanceId if parent is not None else ""
        row = InstanceRow(hub, instance_id, exec_id, name, version, rt.PENDING, now, now,
                          scheduled_us=scheduled_us, input=input,
                          parent_instance_id=parent_id or None,
                          parent=parent.SerializeToString() if parent is not None and parent_id else None,
                          tags=dict(tags or {}), trace=None if trace is None else trace.SerializeToString())
        self.store.put_instance(row)
        inst = Inst(row)
        inst.set_history([])
        self.insts[inst.key] = inst
        self._enqueue(inst, started, None, now, post, visible_us=scheduled_us if scheduled_us else now)
        post.append(lambda: self._after_change(inst))
        return inst

    def _forget(self, inst: Inst) -> None:
        """Drop an instance's in-memory work (it is being replaced or purged)."""
        inst.row.status = rt.TERMINATED
        inst.inbox = []
        if inst.lease is not None:
            lease = self.leases.get(inst.lease)
            if lease is not None:
                self._drop_lease(lease)
            inst.lease = None
        for act in [a for a in self.acts.values() if a.hub == inst.row.hub and a.instance_id == inst.row.instance_id]:
            act.removed = True
            self.acts.pop(act.id, None)
            if act.lease is not None:
                lease = self.leases.get(act.lease)
                if lease is not None:
                    self._drop_lease(lease)

    # ================================================================================ waiters
    def _notify(self, key: tuple[str, str]) -> None:
        for ev in self._waiters.pop(key, ()):
            ev.set()

    def add_waiter(self, key: tuple[str, str]) -> threading.Event:
        """Under the lock: an event set after the next committed change to the instance."""
        ev = threading.Event()
        self._waiters.setdefault(key, []).append(ev)
        return ev

    def remove_waiter(self, key: tuple[str, str], ev: threading.Event) -> None:
        with self.lock:
            lst = self._waiters.get(key)
            if lst and ev in lst:
                lst.remove(ev)
                if not lst:
                    del self._waiters[key]

    # ============================================================================== lifecycle
    def reset(self) -> None:
        """Delete every instance of every hub (the test backend's reset)."""
        with self.lock:
            while self._tx_open:
                self._done_cv.wait(0.05)
            self.store.begin()
            self.store.clear_all()
            self.store.commit()
            self._load()
            for waiters in self._waiters.values():
                for ev in waiters:
                    ev.set()
            self._waiters.clear()

    def begin_shutdown(self) -> None:
        """Refuse new work and wake every stream and waiter (the database stays open)."""
        with self.lock:
            self._stopping = True
            self._tx_cv.notify_all()
            self._work_cv.notify_all()
            self._timer_cv.notify_all()
            for waiters in self._waiters.values():
                for ev in waiters:
                    ev.set()

    def shutdown(self) -> None:
        """Commit what is pending, stop the threads, close the database."""
        if self._closed:
            return
        self.begin_shutdown()
        self._committer.join(10)
        self._timer.join(10)
        with self.lock:
            self._done_cv.notify_all()
            if self._tx_open:
                self._commit_locked()
            self.store.close()
            self._closed = True

    @property
    def stopping(self) -> bool:
        return self._stopping


def rt_errors() -> tuple[type[BaseException], ...]:
    from .errors import EmulatorError

    return (EmulatorError,)
