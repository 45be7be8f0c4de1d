"""Worker streams: handing out work items under stream-bound leases (a layer of the engine).

Work items go out as ready-made wire bytes (``WorkItem``): an orchestration's past events are kept
pre-encoded, so a dispatch costs a copy of its history, not a re-encoding. Each stream's concurrency
limits and work-item filters are honoured; one orchestration work item per instance is out at a time.
"""

from __future__ import annotations

import logging
import time

from durabletask._proto import orchestrator_service_pb2 as pb

from . import runtime as rt
from .errors import Unavailable
from .routing import Router
from .state import Act, Inst, Lease, Stream, field_bytes, now_us

__all__ = ["Dispatcher"]

log = logging.getLogger("durabletask.emulator")

_WORK_ITEM_ORCH_TAG = 0x0A  # WorkItem.orchestratorRequest = 1
_WORK_ITEM_ACT_TAG = 0x12  # WorkItem.activityRequest = 2
_WORK_ITEM_TOKEN_TAG = 0x52  # WorkItem.completionToken = 10
_REQ_INSTANCE_TAG = 0x0A  # OrchestratorRequest.instanceId = 1
_REQ_EXECUTION_TAG = 0x12  # OrchestratorRequest.executionId = 2 (StringValue)
_REQ_NEW_EVENTS_TAG = 0x22  # OrchestratorRequest.newEvents = 4
_STRING_VALUE_TAG = 0x0A  # StringValue.value = 1


class Dispatcher(Router):
    """Streams, work items, leases, abandon."""

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
            if inst.history is None and self._committing:
                # Loading its history needs the connection, busy with a commit: retry after it.
                self._retry_after_commit = True
                skipped.append(key)
                continue
            inst.queued = False
            try:
                item = self._dispatch_orchestration(inst, stream)
            except Exception:
                # Never lose the instance: retry after the abandon delay (the sweep is the last resort).
                log.exception("could not build the work item of %r; retrying later", key[1])
                self._undo_dispatch(inst)
                item = None
                continue
            if item is not None:
                break
        if skipped:
            self._ready_o.extendleft(reversed(skipped))
        return item

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
        event_bytes = [started.SerializeToString(),
                       *(it.data if it.data else it.event.SerializeToString() for it in items)]
        # OrchestratorRequest built from cached bytes: instanceId, executionId, newEvents, pastEvents.
        exec_id = row.execution_id.encode()
        parts: list[bytes | bytearray] = [field_bytes(_REQ_INSTANCE_TAG, row.instance_id.encode()) if row.instance_id else b"",
                 field_bytes(_REQ_EXECUTION_TAG, field_bytes(_STRING_VALUE_TAG, exec_id) if exec_id else b"")]
        parts.extend(field_bytes(_REQ_NEW_EVENTS_TAG, e) for e in event_bytes)
        parts.append(inst.blob)
        body = b"".join(parts)
        limit = self.options.max_history_size
        too_long = limit is not None and len(history) + len(events) > limit
        if (too_long or len(body) > self.options.max_work_item_bytes) and self._committing:
            self._undo_dispatch(inst, 1000)  # failing it is a write: just after the commit in progress
            return None
        if too_long or len(body) > self.options.max_work_item_bytes:
            why = (f"the history of {len(history)} events exceeds the limit of {limit} events" if too_long else
                   f"the next work item would be {len(body)} bytes, over the limit of "
                   f"{self.options.max_work_item_bytes} bytes a worker can receive")
            log.warning("failing orchestration %r: %s", row.instance_id, why)
            self._apply(lambda post: self._force_fail(inst, rows, why, post), background=True)
            return None
        token = f"{self._nonce}o{next(self._counter)}"
        lease = Lease(token, "o", stream, inst.key, now + int(self.options.lease_timeout * 1e6), rows, events,
                      event_bytes=event_bytes)
        self.leases[token] = lease
        inst.lease = token
        stream.leases.add(token)
        stream.outstanding_o += 1
        return field_bytes(_WORK_ITEM_ORCH_TAG, body) + field_bytes(_WORK_ITEM_TOKEN_TAG, token.encode())

    def _undo_dispatch(self, inst: Inst, delay_us: int | None = None) -> None:
        token = inst.lease
        if token is not None:
            lease = self.leases.get(token)
            if lease is not None:
                self._drop_lease(lease)
            inst.lease = None
        if delay_us is None:
            delay_us = max(50_000, int(self.options.abandon_delay * 1e6))
        # Always through the timer: re-queueing it directly would spin the dispatch loop.
        inst.not_before = now_us() + max(1, delay_us)
        self._make_ready(inst)

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

    def abandon(self, token: str, kind: str) -> bool:
        """Re-queue an abandoned work item after the abandon delay; False for unknown tokens."""
        with self.lock:
            lease = self.leases.get(token)
            if lease is None or lease.kind != kind:
                return False
            self._release(lease, self.options.abandon_delay)
            return True
