"""The engine's core: live state in memory, truth in SQLite, one lock, group commit, timers.

Threading model: one lock guards the in-memory state and the single SQLite connection. A write
operation runs under the lock in the open transaction (no savepoint: a refused request changes
nothing, and one that fails after writing rolls back its whole batch). The last writer of a burst
commits for all of them (group commit: one fsync per batch); the COMMIT runs with the lock released
(dispatch and in-memory reads go on; database users wait in ``_wait_db``), then the batch's post-commit
actions run (make instances dispatchable, queue activities, wake waiters) and its writers, waiting on
the epoch's event outside the lock, answer only once their change is durable. The gRPC servicer runs
on an event loop and cannot wait like that: its writes are *deferred* (:func:`deferred_commits`), the
loop commits them itself (:meth:`EngineCore.commit_now`, when :mod:`.service` decides) and awaits
:meth:`EngineCore.on_commit` where the caller must only hear of a durable change; its work-item
streams are woken by work listeners, its waits by waiter objects. A timer thread wakes
instances whose timers, scheduled starts or redelivery delays fall due, and sweeps: expired leases are
redelivered and any unleased item that nothing would deliver is re-queued (the safety net).

Layers on top: :mod:`.routing` (applying completions, messages between instances),
:mod:`.dispatch` (worker streams), :mod:`.operations` (client calls); :class:`.engine.Engine` is all.
"""

from __future__ import annotations

import contextvars
import heapq
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from durabletask._proto import orchestrator_service_pb2 as pb

from . import runtime as rt
from .errors import EmulatorError, Unavailable
from .state import Act, InboxItem, Inst, Lease, Stream, new_id, now_us
from .store import Store

__all__ = ["EngineCore", "EngineOptions", "Post", "Settable", "deferred_commits"]

log = logging.getLogger("durabletask.emulator")

T = TypeVar("T")
#: Actions to run after the transaction commits.
Post = list[Callable[[], None]]

_MAX_BATCH_EVENTS = 1000
#: Longest a writer waits for others queued behind it before committing the batch itself.
_BATCH_WINDOW = 0.002

#: Set by an event-loop caller (the asyncio servicer): writes then do not wait for their commit; each
#: appends its transaction's epoch here, and the caller commits (:meth:`commit_now`) once its burst of
#: writes is applied and awaits the epoch (:meth:`on_commit`).
_DEFERRED: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("emulator_deferred", default=None)


def deferred_commits() -> contextvars.ContextVar[list[int] | None]:
    """The context variable through which an event-loop caller collects its writes' epochs."""
    return _DEFERRED


class Settable(Protocol):
    """Anything a waiter can be woken through (a ``threading.Event``, or an event-loop future's setter)."""

    def set(self) -> None: ...


class _SignallingCondition(threading.Condition):
    """A condition that also calls listeners on every notify (wakes event-loop streams, which cannot
    block on a condition)."""

    def __init__(self, lock: Any, listeners: dict[int, Callable[[], None]]) -> None:
        super().__init__(lock)
        self._listeners = listeners

    def notify_all(self) -> None:
        super().notify_all()
        for listener in list(self._listeners.values()):
            listener()


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


class EngineCore:
    """State, transactions, timers, readiness, leases and waiters shared by the engine's layers."""

    def __init__(self, store: Store, options: EngineOptions | None = None) -> None:
        self.store = store
        self.options = options or EngineOptions()
        self.lock = threading.Lock()
        self._tx_cv = threading.Condition(self.lock)
        self._done_cv = threading.Condition(self.lock)
        self._work_listeners: dict[int, Callable[[], None]] = {}
        self._work_cv = _SignallingCondition(self.lock, self._work_listeners)
        self._timer_cv = threading.Condition(self.lock)
        self._idle_cv = threading.Condition(self.lock)
        self._committing = False
        self._db_waiters = 0
        self._retry_after_commit = False
        self._aborted: set[int] = set()  # epochs rolled back after an internal error
        self._tx_open = False
        self._tx_began = 0.0
        self._arrivals = 0
        self._arrivals_lock = threading.Lock()
        self._epoch = 1
        self._epoch_done = threading.Event()  # set once the current epoch's transaction is committed
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
        self._waiters: dict[tuple[str, str], list[Settable]] = {}
        self._commit_callbacks: dict[int, list[Callable[[bool], None]]] = {}
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
            inst.inbox.append(InboxItem(rid, exec_id, vis, ev, ev.WhichOneof("eventType") or "", data))
        stale_acts: list[int] = []
        for aid, hub, iid, exec_id, data in self.store.activity_rows():
            inst = self.insts.get((hub, iid))
            if inst is None or inst.row.execution_id != exec_id:
                stale_acts.append(aid)
                continue
            req = pb.ActivityRequest.FromString(data)
            act = Act(aid, hub, iid, exec_id, data, req.name, req.taskId)
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
        deferred = _DEFERRED.get()
        if deferred is not None:
            with self.lock:
                if self._stopping:
                    raise Unavailable("the emulator is shutting down")
                result, epoch = self._apply(fn)
            deferred.append(epoch)  # the caller commits (commit_now) and awaits it (on_commit)
            return result
        with self._arrivals_lock:
            self._arrivals += 1
        with self.lock:
            with self._arrivals_lock:
                self._arrivals -= 1
            if self._stopping:
                raise Unavailable("the emulator is shutting down")
            leader = not self._tx_open or self._committing
            result, epoch = self._apply(fn, background=not wait)
            if not wait:
                return result
            done = self._epoch_done
            if self._ready_to_commit(epoch):  # the last writer of a burst commits for all of it
                self._commit_locked()
            if self._committed >= epoch:
                self._check_committed(epoch)
                return result
        # Wait outside the lock. Only the transaction's first writer polls for the batch window; the
        # others sleep until the commit sets the epoch's event.
        while not done.wait(_BATCH_WINDOW if leader else 0.05):
            with self.lock:
                if self._committed >= epoch:
                    break
                if self._ready_to_commit(epoch, poll=True):
                    self._commit_locked()
                if self._committed >= epoch:
                    break
        if self._aborted:
            with self.lock:
                self._check_committed(epoch)
        return result

    def _ready_to_commit(self, epoch: int, poll: bool = False) -> bool:
        """Under the lock: should this writer commit the open transaction (holding ``epoch``) now?"""
        if self._committed >= epoch or not self._tx_open or self._committing:
            return False
        if self._arrivals == 0 and self._db_waiters == 0:
            return True
        return poll and time.monotonic() - self._tx_began >= _BATCH_WINDOW

    def _wait_db(self) -> None:
        """Under the lock: wait until no commit is in progress (the connection is free again).

        Commits run without the lock (the fsync takes milliseconds), so dispatch and in-memory work go
        on meanwhile; anything that touches the database first waits here (releasing the lock).
        """
        if self._committing:
            self._db_waiters += 1
            try:
                while self._committing:
                    self._idle_cv.wait()
            finally:
                self._db_waiters -= 1

    def _apply(self, fn: Callable[[Post], T], background: bool = False) -> tuple[T, int]:
        """Under the lock: run ``fn`` in the open transaction (beginning one if none is open).

        No savepoint per operation (each costs two statements, and every statement hands the GIL
        around): a refused request raises before it writes anything, which the connection's change
        counter confirms. An operation that fails after writing rolls back its whole batch; the
        batch's other callers then get UNAVAILABLE (their work is redelivered or retried).
        ``background``: nobody waits for this change, so the committer thread commits it.
        """
        self._wait_db()
        alone = not self._tx_open
        if alone:
            self.store.begin()
            self._tx_open = True
            self._tx_began = time.monotonic()
        if background:
            self._tx_cv.notify()
        post: Post = []
        changes = self.store.total_changes
        try:
            result = fn(post)
        except EmulatorError:
            if self.store.total_changes == changes:  # refused before changing anything
                if alone:
                    self.store.rollback()
                    self._tx_open = False
                raise
            log.error("a refused write operation had already changed the database; rolling back its batch")
            self._abort_batch()
            raise
        except BaseException:
            log.exception("internal error in a write operation; rolling back its batch and reloading state")
            self._abort_batch()
            raise
        self._post.extend(post)
        return result, self._epoch

    def _abort_batch(self) -> None:
        """Under the lock: roll back the open transaction, fail its writers, reload from the database."""
        self.store.rollback()
        self._tx_open = False
        self._aborted.add(self._epoch)
        self._committed = self._epoch
        self._epoch += 1
        done, self._epoch_done = self._epoch_done, threading.Event()
        self._post = []
        self._load()
        done.set()
        self._done_cv.notify_all()
        self._run_commit_callbacks()

    def commit_now(self) -> None:
        """Commit the open transaction in this thread (deferred writers, once their burst is applied)."""
        with self.lock:
            self._wait_db()
            if self._tx_open:
                self._commit_locked()

    def on_commit(self, epoch: int, callback: Callable[[bool], None]) -> None:
        """Call ``callback(ok)`` once the transaction of ``epoch`` is committed (ok) or rolled back.

        Called at once (in this thread) if that already happened; otherwise from the committing thread.
        """
        with self.lock:
            if self._committed < epoch:
                self._commit_callbacks.setdefault(epoch, []).append(callback)
                return
            ok = epoch not in self._aborted
        callback(ok)

    def _run_commit_callbacks(self) -> None:
        """Under the lock: call back everyone waiting for an epoch that is now settled."""
        if not self._commit_callbacks:
            return
        for epoch in [e for e in self._commit_callbacks if e <= self._committed]:
            ok = epoch not in self._aborted
            for callback in self._commit_callbacks.pop(epoch):
                try:
                    callback(ok)
                except Exception:
                    log.exception("commit callback failed")

    def _check_committed(self, epoch: int) -> None:
        if epoch in self._aborted:
            raise Unavailable("the emulator rolled this change back after an internal error; retry it")

    def _commit_loop(self) -> None:
        with self.lock:
            while True:
                while not self._tx_open and not self._stopping:
                    self._tx_cv.wait()
                if not self._tx_open:
                    return
                if not self._committing:
                    self._commit_locked()

    def _commit_locked(self) -> None:
        """Under the lock: commit the open transaction, then run its post-commit actions.

        The COMMIT itself (with its fsync) runs with the lock released, so dispatch, reads of the
        in-memory state and the next writers' waits overlap it; nothing touches the connection meanwhile
        (:meth:`_wait_db`). Callers of the batch are answered only after it is durable.
        """
        self._committing = True
        epoch = self._epoch
        self._epoch += 1
        done, self._epoch_done = self._epoch_done, threading.Event()
        self._tx_open = False
        post, self._post = self._post, []
        failed = False
        self.lock.release()
        try:
            self.store.commit()
        except Exception:
            failed = True
            log.exception("commit failed; rolling back and reloading state")
        finally:
            self.lock.acquire()
            self._committing = False
            self._idle_cv.notify_all()
        if failed:
            self.store.rollback()
            post = []
            self._aborted.add(epoch)  # its writers get UNAVAILABLE (their work is redelivered or retried)
            self._load()
        self._committed = epoch
        if self._retry_after_commit:
            self._retry_after_commit = False
            self._work_cv.notify_all()
        for action in post:
            try:
                action()
            except Exception:
                log.exception("post-commit action failed")
        done.set()
        self._done_cv.notify_all()
        self._run_commit_callbacks()

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
        """The safety net, run periodically: redeliver items whose lease expired (a worker that holds an
        item far too long) and re-queue any unleased item that is not queued (a lost wake-up); re-arm."""
        for lease in [lease for lease in self.leases.values() if lease.expires_us <= now]:
            log.info("lease %s on %s expired; redelivering", lease.token, lease.key[1])
            self._release(lease, 0.0)
        self._requeue_lost(now)
        interval = min(max(self.options.lease_timeout / 4, 0.05), 30.0)
        self._schedule(now + int(interval * 1e6), "sweep", None)

    def _requeue_lost(self, now: int) -> None:
        """Queue every deliverable item that nothing would otherwise deliver (no lease, not queued)."""
        for inst in self.insts.values():
            if inst.lease is None and not inst.queued and inst.inbox and (
                    not inst.wake_us or inst.wake_us <= now):
                inst.wake_us = 0
                self._make_ready(inst)
        queued = {id(a) for a in self._ready_a}
        lost = [a for a in self.acts.values()
                if a.lease is None and not a.removed and a.not_before <= now and id(a) not in queued]
        if lost:
            log.warning("re-queueing %d activities that were neither leased nor queued", len(lost))
            self._ready_a.extend(lost)
            self._work_cv.notify_all()

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

    # ================================================================================== leases
    def _ensure_history(self, inst: Inst) -> list[bytes]:
        if inst.history is None:
            self._wait_db()
            inst.set_history(self.store.history(*inst.key))
        assert inst.history is not None
        return inst.history

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

    # ================================================================================ waiters
    def _notify(self, key: tuple[str, str]) -> None:
        for ev in self._waiters.pop(key, ()):
            ev.set()

    def work_in_flight(self) -> int:
        """Work items out on streams or ready to go (read without the lock: a hint of how busy we are)."""
        return len(self.leases) + len(self._ready_o) + len(self._ready_a)

    def add_waiter(self, key: tuple[str, str], waiter: Settable) -> None:
        """Under the lock: ``waiter`` is set after the next committed change to the instance."""
        self._waiters.setdefault(key, []).append(waiter)

    def add_work_listener(self, listener: Callable[[], None]) -> int:
        """Call ``listener()`` (under the lock, from any thread) whenever new work may be ready."""
        with self.lock:
            key = next(self._counter)
            self._work_listeners[key] = listener
            return key

    def remove_work_listener(self, key: int) -> None:
        with self.lock:
            self._work_listeners.pop(key, None)

    def remove_waiter(self, key: tuple[str, str], ev: Settable) -> None:
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
            while self._tx_open or self._committing:
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
            self._wait_db()
            if self._tx_open:
                self._commit_locked()
            self.store.close()
            self._closed = True

    @property
    def stopping(self) -> bool:
        return self._stopping
