"""Applying completions and routing messages between instances (a layer of the engine).

A completion's :class:`~.runtime.Outcome` becomes history rows, inbox rows, activity rows and status
updates in one transaction; messages to other instances (events, sub-orchestration starts and results,
terminations) are routed here, dropped silently when their target is missing or finished.
"""

from __future__ import annotations

import logging

from durabletask._proto import orchestrator_service_pb2 as pb

from . import runtime as rt
from .core import EngineCore, Post
from .state import Act, InboxItem, Inst, new_id, now_us
from .store import InstanceRow

__all__ = ["Router"]

log = logging.getLogger("durabletask.emulator")


class Router(EngineCore):
    """Completions of work items and the messages they send."""

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
            now = now_us()
            if resp.HasField("failureDetails"):
                ev = rt.event(now, taskFailed=pb.TaskFailedEvent(taskScheduledId=act.task_id,
                                                                  failureDetails=resp.failureDetails))
            else:
                ev = rt.event(now, taskCompleted=pb.TaskCompletedEvent(
                    taskScheduledId=act.task_id, result=resp.result if resp.HasField("result") else None))
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
            self._apply_outcome(inst, lease.rows, outcome, now, post, known=lease.event_bytes)
            return True

        return self.write(op)

    def _consume(self, inst: Inst, rows: list[int]) -> None:
        if rows:
            self.store.delete_inbox(rows)
            gone = set(rows)
            inst.inbox = [it for it in inst.inbox if it.id not in gone]

    def _apply_outcome(self, inst: Inst, rows: list[int], out: rt.Outcome, now: int, post: Post,
                       known: list[bytes] | None = None) -> None:
        """Persist an outcome. ``known``: the serialized form of the first events of ``out.history``
        (the dispatched new events, which :func:`~.runtime.apply_response` puts first)."""
        row = inst.row
        hub, iid = inst.key
        before = (row.execution_id, row.version, row.status, row.completed_us, row.input, row.output,
                  row.failure, row.parent)
        self._consume(inst, rows)
        row.custom_status = out.custom_status
        row.updated_us = now
        if out.rewind is not None:
            self._apply_rewind(inst, out.rewind, now, post)
        elif out.continue_as_new is not None:
            self._apply_continue_as_new(inst, out, now, post)
        else:
            history = self._ensure_history(inst)
            skip = len(known) if known and len(known) <= len(out.history) else 0
            data = known[:skip] if known else []
            data += [e.SerializeToString() for e in out.history[skip:]]
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
        if before == (row.execution_id, row.version, row.status, row.completed_us, row.input, row.output,
                      row.failure, row.parent):
            self.store.update_progress(row)  # the common step: status unchanged, indexes untouched
        else:
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
        inst.inbox.append(InboxItem(rid, exec_id, vis, ev, ev.WhichOneof("eventType") or "", data))
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
        act = Act(aid, inst.row.hub, inst.row.instance_id, inst.row.execution_id, data, req.name, req.taskId)
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
