"""The client-facing operations of the engine: start, query, signal, terminate, purge, ...

The top layer of :class:`durabletask.emulator.engine.Engine`; each method validates its request, then runs
one atomic write (or a read) against the engine's state. Errors are :mod:`.errors` exceptions.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from durabletask._proto import orchestrator_service_pb2 as pb

from . import runtime as rt
from .core import Post, Settable
from .dispatch import Dispatcher
from .errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unavailable,
)
from .state import field_bytes, now_us
from .store import TERMINAL, InstanceRow
from .validation import check_instance_id, check_name, check_payload

if TYPE_CHECKING:
    from .state import Inst

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "Operations", "to_state"]

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
_MAX_PAGE_BYTES = 3 * 1024 * 1024
_HISTORY_CHUNK_EVENTS = 100
_CHUNK_EVENTS_TAG = 0x0A  # HistoryChunk.events = 1


def _us(ts: Any) -> int:
    return int(ts.seconds) * 1_000_000 + int(ts.nanos) // 1000


def to_state(row: InstanceRow, payloads: bool) -> pb.OrchestrationState:
    """The wire OrchestrationState of an instance row."""
    st = pb.OrchestrationState(instanceId=row.instance_id, name=row.name,
                               orchestrationStatus=row.status)  # type: ignore[arg-type]
    if row.version is not None:
        st.version.value = row.version
    if row.scheduled_us:
        st.scheduledStartTimestamp.CopyFrom(rt.timestamp(row.scheduled_us))
    st.createdTimestamp.CopyFrom(rt.timestamp(row.created_us))
    st.lastUpdatedTimestamp.CopyFrom(rt.timestamp(row.updated_us))
    if row.completed_us:
        st.completedTimestamp.CopyFrom(rt.timestamp(row.completed_us))
    if payloads:
        if row.input is not None:
            st.input.value = row.input
        if row.output is not None:
            st.output.value = row.output
    if row.custom_status is not None:
        st.customStatus.value = row.custom_status
    if row.failure is not None:
        st.failureDetails.ParseFromString(row.failure)
    st.executionId.value = row.execution_id
    if row.parent_instance_id:
        st.parentInstanceId.value = row.parent_instance_id
    if row.tags:
        st.tags.update(row.tags)
    return st


def _statuses(values: Sequence[int]) -> list[int]:
    out = []
    for v in values:
        if v not in pb.OrchestrationStatus.values():
            raise InvalidArgument(f"unknown runtime status {v}")
        out.append(int(v))
    return out


def _keyset(token: str, what: str) -> tuple[int, str]:
    head, sep, tail = token.partition("|")
    if not sep or not head.isdigit():
        raise InvalidArgument(f"{what} {token!r} is not a token this emulator issued")
    return int(head), tail


class Operations(Dispatcher):
    """Client operations: the top layer of the engine."""

    # ------------------------------------------------------------------------------- helpers
    def _check_open(self) -> None:
        if self.stopping:
            raise Unavailable("the emulator is shutting down")

    def _row(self, hub: str, instance_id: str) -> InstanceRow:
        inst = self.insts.get((hub, instance_id))
        if inst is not None:
            return inst.row
        row = self.store.get_instance(hub, instance_id)
        if row is None:
            raise NotFound(f"no orchestration instance with id '{instance_id}' in task hub '{hub}'")
        return row

    # ----------------------------------------------------------------------------- lifecycle
    def start_instance(self, hub: str, req: pb.CreateInstanceRequest) -> str:
        check_instance_id(req.instanceId)
        check_name(req.name, "orchestration name")
        if req.HasField("input"):
            check_payload(req.input.value, "input")
        if req.HasField("version"):
            check_name(req.version.value, "version") if req.version.value else None
        policy = None
        if req.HasField("orchestrationIdReusePolicy"):
            policy = set(_statuses(req.orchestrationIdReusePolicy.replaceableStatus))
        scheduled = None
        if req.HasField("scheduledStartTimestamp"):
            scheduled = _us(req.scheduledStartTimestamp)
            if scheduled <= now_us():
                scheduled = None
        exec_id = req.executionId.value if req.HasField("executionId") and req.executionId.value else None

        def op(post: Post) -> str:
            now = now_us()
            live = self.insts.get((hub, req.instanceId))
            status = live.row.status if live is not None else self.store.get_status(hub, req.instanceId)
            if status is not None:
                terminal = status in TERMINAL
                allowed = terminal if policy is None else status in policy
                if not allowed:
                    raise AlreadyExists(
                        f"an orchestration with instance id '{req.instanceId}' already exists "
                        f"({pb.OrchestrationStatus.Name(status)})")  # type: ignore[arg-type]
            started = None
            if exec_id is not None:
                started = rt.new_execution_started(
                    req.instanceId, exec_id, req.name, req.version.value if req.HasField("version") else None,
                    req.input.value if req.HasField("input") else None, now, tags=dict(req.tags),
                    trace=req.parentTraceContext if req.HasField("parentTraceContext") else None,
                    scheduled_us=scheduled)
            self.create_instance(
                hub, req.instanceId, req.name, req.version.value if req.HasField("version") else None,
                req.input.value if req.HasField("input") else None, now, post, started=started,
                tags=dict(req.tags), scheduled_us=scheduled,
                trace=req.parentTraceContext if req.HasField("parentTraceContext") else None,
                replace=status is not None)
            return req.instanceId

        result: str = self.write(op)
        return result

    def raise_event(self, hub: str, req: pb.RaiseEventRequest) -> None:
        check_instance_id(req.instanceId)
        check_name(req.name, "event name")
        if req.HasField("input"):
            check_payload(req.input.value, "event data")

        def op(post: Post) -> None:
            inst = self.insts.get((hub, req.instanceId))
            if inst is None or inst.row.status in TERMINAL:
                self._row(hub, req.instanceId)  # NOT_FOUND if unknown; terminal: accepted and dropped
                return
            raised = pb.EventRaisedEvent(name=req.name)
            if req.HasField("input"):
                raised.input.CopyFrom(req.input)
            now = now_us()
            self._enqueue(inst, rt.event(now, eventRaised=raised), None, now, post)

        self.write(op)

    def terminate(self, hub: str, req: pb.TerminateRequest) -> None:
        check_instance_id(req.instanceId)
        if req.HasField("output"):
            check_payload(req.output.value, "output")

        def op(post: Post) -> None:
            self._row(hub, req.instanceId)
            term = pb.ExecutionTerminatedEvent(recurse=req.recursive)
            if req.HasField("output"):
                term.input.CopyFrom(req.output)
            self._terminate_live(hub, req.instanceId, term, now_us(), post)

        self.write(op)

    def _effectively_suspended(self, inst: Inst) -> bool:
        suspended = inst.row.status == rt.SUSPENDED
        for it in inst.inbox:
            if it.kind == "executionSuspended":
                suspended = True
            elif it.kind == "executionResumed":
                suspended = False
        return suspended

    def suspend(self, hub: str, req: pb.SuspendRequest) -> None:
        self._suspend_or_resume(hub, req, suspend=True)

    def resume(self, hub: str, req: pb.ResumeRequest) -> None:
        self._suspend_or_resume(hub, req, suspend=False)

    def _suspend_or_resume(self, hub: str, req: pb.SuspendRequest | pb.ResumeRequest, *, suspend: bool) -> None:
        """Queue executionSuspended/Resumed, unless the instance is already in (or heading to) that state.

        In particular executionResumed is never delivered to an instance that is not suspended.
        """
        check_instance_id(req.instanceId)

        def op(post: Post) -> None:
            inst = self.insts.get((hub, req.instanceId))
            if inst is None or inst.row.status in TERMINAL:
                self._row(hub, req.instanceId)
                return
            if self._effectively_suspended(inst) == suspend:
                return
            ev = pb.ExecutionSuspendedEvent() if suspend else pb.ExecutionResumedEvent()
            if req.HasField("reason"):
                ev.input.CopyFrom(req.reason)
            now = now_us()
            field = "executionSuspended" if suspend else "executionResumed"
            self._enqueue(inst, rt.event(now, **{field: ev}), None, now, post)

        self.write(op)

    def rewind_instance(self, hub: str, req: pb.RewindInstanceRequest) -> None:
        check_instance_id(req.instanceId)

        def op(post: Post) -> None:
            row = self._row(hub, req.instanceId)
            if row.status != rt.FAILED:
                raise FailedPrecondition(
                    f"only failed orchestrations can be rewound; '{req.instanceId}' is "
                    f"{pb.OrchestrationStatus.Name(row.status)}")  # type: ignore[arg-type]
            rewound = pb.ExecutionRewoundEvent()
            if req.HasField("reason"):
                rewound.reason.CopyFrom(req.reason)
            self._rewind(row, rewound, now_us(), post)

        self.write(op)

    def restart(self, hub: str, req: pb.RestartInstanceRequest) -> str:
        check_instance_id(req.instanceId)

        def op(post: Post) -> str:
            row = self._row(hub, req.instanceId)
            if row.status not in TERMINAL:
                raise FailedPrecondition(
                    f"only completed, failed or terminated orchestrations can be restarted; "
                    f"'{req.instanceId}' is {pb.OrchestrationStatus.Name(row.status)}")  # type: ignore[arg-type]
            new_id = os.urandom(16).hex() if req.restartWithNewInstanceId else req.instanceId
            self.create_instance(hub, new_id, row.name, row.version, row.input, now_us(), post,
                                 tags=dict(row.tags),
                                 trace=None if row.trace is None else pb.TraceContext.FromString(row.trace),
                                 replace=not req.restartWithNewInstanceId)
            return new_id

        result: str = self.write(op)
        return result

    # --------------------------------------------------------------------------------- reads
    def get_instance(self, hub: str, instance_id: str, payloads: bool) -> pb.GetInstanceResponse:
        check_instance_id(instance_id)
        with self.lock:
            self._check_open()
            self._wait_db()
            row = self.store.get_instance(hub, instance_id)
        if row is None:
            return pb.GetInstanceResponse(exists=False)
        return pb.GetInstanceResponse(exists=True, orchestrationState=to_state(row, payloads))

    def instance_if_reached(self, hub: str, instance_id: str, payloads: bool, *, until_started: bool,
                            waiter: Settable | None = None) -> pb.GetInstanceResponse | None:
        """The instance's state if it has started (or finished), else None (then ``waiter`` is armed).

        Never blocks for long (takes the lock; may wait for a commit in progress): the event-loop
        servicer calls it inline and awaits ``waiter``.
        """
        check_instance_id(instance_id)
        key = (hub, instance_id)
        with self.lock:
            if self.stopping:
                raise Unavailable("the emulator is shutting down")
            self._wait_db()
            inst = self.insts.get(key)
            status = inst.row.status if inst is not None else self.store.get_status(hub, instance_id)
            if status is None:
                return pb.GetInstanceResponse(exists=False)
            done = status != rt.PENDING if until_started else status in TERMINAL
            if done:
                row = self.store.get_instance(hub, instance_id)
                if row is None:
                    return pb.GetInstanceResponse(exists=False)
                return pb.GetInstanceResponse(exists=True, orchestrationState=to_state(row, payloads))
            if waiter is not None:
                self.add_waiter(key, waiter)
            return None

    def query_instances(self, hub: str, req: pb.QueryInstancesRequest) -> pb.QueryInstancesResponse:
        q = req.query
        statuses = _statuses(q.runtimeStatus)
        size = q.maxInstanceCount if q.maxInstanceCount > 0 else DEFAULT_PAGE_SIZE
        size = min(size, MAX_PAGE_SIZE)
        after = None
        if q.HasField("continuationToken") and q.continuationToken.value:
            after = _keyset(q.continuationToken.value, "continuationToken")
        prefix = q.instanceIdPrefix.value if q.HasField("instanceIdPrefix") else None
        with self.lock:
            self._check_open()
            self._wait_db()
            rows = self.store.query_instances(
                hub, statuses=statuses,
                created_from=_us(q.createdTimeFrom) if q.HasField("createdTimeFrom") else None,
                created_to=_us(q.createdTimeTo) if q.HasField("createdTimeTo") else None,
                prefix=prefix, after=after, limit=size + 1, payloads=q.fetchInputsAndOutputs)
        resp = pb.QueryInstancesResponse()
        total = 0
        more = len(rows) > size
        rows = rows[:size]
        for i, row in enumerate(rows):
            st = to_state(row, q.fetchInputsAndOutputs)
            total += st.ByteSize()
            if i > 0 and total > _MAX_PAGE_BYTES:
                rows = rows[:i]
                more = True
                break
            resp.orchestrationState.append(st)
        if more and rows:
            last = rows[-1]
            resp.continuationToken.value = f"{last.created_us}|{last.instance_id}"
        return resp

    def list_instance_ids(self, hub: str, req: pb.ListInstanceIdsRequest) -> pb.ListInstanceIdsResponse:
        statuses = _statuses(req.runtimeStatus)
        size = req.pageSize if req.pageSize > 0 else DEFAULT_PAGE_SIZE
        size = min(size, 10 * MAX_PAGE_SIZE)
        after = None
        if req.HasField("lastInstanceKey") and req.lastInstanceKey.value:
            after = _keyset(req.lastInstanceKey.value, "lastInstanceKey")
        with self.lock:
            self._check_open()
            self._wait_db()
            rows = self.store.list_completed_ids(
                hub, statuses=statuses,
                completed_from=_us(req.completedTimeFrom) if req.HasField("completedTimeFrom") else None,
                completed_to=_us(req.completedTimeTo) if req.HasField("completedTimeTo") else None,
                after=after, limit=size + 1)
        resp = pb.ListInstanceIdsResponse(instanceIds=[r[0] for r in rows[:size]])
        if len(rows) > size:
            last = rows[size - 1]
            resp.lastInstanceKey.value = f"{last[1]}|{last[0]}"
        return resp

    def history_chunks(self, hub: str, req: pb.StreamInstanceHistoryRequest, max_bytes: int) -> list[bytes]:
        """The current execution's history as serialized HistoryChunk messages."""
        check_instance_id(req.instanceId)
        with self.lock:
            self._check_open()
            self._wait_db()
            row = self._row(hub, req.instanceId)
            if req.HasField("executionId") and req.executionId.value and req.executionId.value != row.execution_id:
                raise NotFound(f"execution '{req.executionId.value}' of instance '{req.instanceId}' not found "
                               "(only the current execution's history is kept)")
            inst = self.insts.get((hub, req.instanceId))
            events = list(self._ensure_history(inst)) if inst is not None else self.store.history(
                hub, req.instanceId)
        chunks: list[bytes] = []
        buf = bytearray()
        count = 0
        for e in events:
            piece = field_bytes(_CHUNK_EVENTS_TAG, e)
            if count and (count >= _HISTORY_CHUNK_EVENTS or len(buf) + len(piece) > max_bytes):
                chunks.append(bytes(buf))
                buf = bytearray()
                count = 0
            buf += piece
            count += 1
        if count:
            chunks.append(bytes(buf))
        return chunks

    # --------------------------------------------------------------------------------- purge
    def _purge_one(self, hub: str, instance_id: str, recursive: bool, strict: bool) -> int:
        """Under a write: delete a terminal instance (and its children if recursive); the count deleted."""
        if (hub, instance_id) in self.insts and self.insts[(hub, instance_id)].row.status not in TERMINAL:
            if strict:
                row = self.insts[(hub, instance_id)].row
                raise FailedPrecondition(
                    f"only completed, failed or terminated orchestrations can be purged; '{instance_id}' is "
                    f"{pb.OrchestrationStatus.Name(row.status)}")  # type: ignore[arg-type]
            return 0
        status = self.store.get_status(hub, instance_id)
        if status is None:
            return 0
        if status not in TERMINAL:
            if strict:
                raise FailedPrecondition(f"orchestration '{instance_id}' is not finished and cannot be purged")
            return 0
        count = 0
        if recursive:
            history = [pb.HistoryEvent.FromString(b) for b in self.store.history(hub, instance_id)]
            for child in rt.child_instance_ids(history):
                count += self._purge_one(hub, child, True, False)
        inst = self.insts.pop((hub, instance_id), None)
        if inst is not None:
            self._forget(inst)
        self.store.delete_instance(hub, instance_id)
        return count + 1

    def purge(self, hub: str, req: pb.PurgeInstancesRequest) -> pb.PurgeInstancesResponse:
        which = req.WhichOneof("request")
        if which == "instanceId":
            check_instance_id(req.instanceId)
            count = self.write(lambda post: self._purge_one(hub, req.instanceId, req.recursive, True))
            return pb.PurgeInstancesResponse(deletedInstanceCount=count, isComplete=_bool(True))
        if which == "instanceBatch":
            ids = list(req.instanceBatch.instanceIds)
            if len(ids) > 500:
                raise InvalidArgument(f"instanceBatch has {len(ids)} ids; the limit is 500")
            for iid in ids:
                check_instance_id(iid)
            count = self.write(lambda post: sum(self._purge_one(hub, i, req.recursive, False) for i in ids))
            return pb.PurgeInstancesResponse(deletedInstanceCount=count, isComplete=_bool(True))
        if which != "purgeInstanceFilter":
            raise InvalidArgument("PurgeInstancesRequest needs an instanceId, a purgeInstanceFilter or an "
                                  "instanceBatch")
        f = req.purgeInstanceFilter
        statuses = [s for s in _statuses(f.runtimeStatus) if s in TERMINAL] if f.runtimeStatus else list(TERMINAL)
        if not statuses:
            return pb.PurgeInstancesResponse(deletedInstanceCount=0, isComplete=_bool(True))
        limit_s = f.timeout.seconds + f.timeout.nanos / 1e9 if f.HasField("timeout") else None
        deadline = None if not limit_s or limit_s <= 0 else time.monotonic() + limit_s
        created_from = _us(f.createdTimeFrom) if f.HasField("createdTimeFrom") else None
        created_to = _us(f.createdTimeTo) if f.HasField("createdTimeTo") else None
        total = 0
        complete = True

        def batch(post: Post) -> int:
            ids = self.store.purge_candidates(hub, statuses=statuses, created_from=created_from,
                                              created_to=created_to, limit=200)
            n = 0
            for iid in ids:
                n += self._purge_one(hub, iid, req.recursive, False)
            return -1 if not ids else n

        while True:
            if deadline is not None and time.monotonic() >= deadline:
                complete = False
                break
            n = self.write(batch)
            if n < 0:
                break
            total += n
        return pb.PurgeInstancesResponse(deletedInstanceCount=total, isComplete=_bool(complete))


def _bool(value: bool) -> Any:
    from google.protobuf import wrappers_pb2

    return wrappers_pb2.BoolValue(value=value)
