"""Replay an orchestration's history through its orchestrator function and collect the new actions."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from durabletask import task
from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask._replay._actions import describe_action, new_complete_orchestration_action
from durabletask._replay._context import RuntimeOrchestrationContext
from durabletask._replay._registry import Registry
from durabletask._replay._rewind import build_rewound_history, is_rewind_request
from durabletask.history import event_type_name, failure_details_from_exception, to_datetime
from durabletask.serialization import DataConverter, JsonDataConverter

__all__ = ["ExecutionResult", "OrchestrationExecutor", "OrchestratorNotRegisteredError", "ReplayExecution"]

_IGNORED_EVENTS = frozenset(
    {"orchestratorCompleted", "executionCompleted", "executionRewound", "genericEvent"}
)
_UNSUSPENDABLE_EVENTS = frozenset({"executionResumed", "executionTerminated"})


class OrchestratorNotRegisteredError(ValueError):
    """The history names an orchestrator this worker does not have."""


# Recorded as errorType "durabletask.worker.OrchestratorNotRegisteredError", like the published SDK
# (durabletask.worker re-exports the class, so the name resolves for FailureDetails.is_caused_by).
OrchestratorNotRegisteredError.__module__ = "durabletask.worker"


@dataclass
class ExecutionResult:
    """What one execution produced: the actions to send, and the custom status (JSON text or None)."""

    actions: list[pb.OrchestratorAction]
    custom_status: str | None


def _describe_event(event: pb.HistoryEvent) -> str:
    kind = event.WhichOneof("eventType")
    parts = [f"eventId={event.eventId}"]
    if kind in ("taskScheduled", "subOrchestrationInstanceCreated", "eventSent"):
        body = getattr(event, kind)
        parts.append(f"name='{body.name}'")
        if kind != "taskScheduled":
            parts.append(f"instanceId='{body.instanceId}'")
    elif kind == "timerCreated":
        parts.append(f"fireAt={event.timerCreated.fireAt.ToDatetime().isoformat()}")
    return f"{event_type_name(event)}({', '.join(parts)})"


def _expected_from_event(event: pb.HistoryEvent) -> str:
    kind = event.WhichOneof("eventType")
    if kind == "taskScheduled":
        return f"call_activity('{event.taskScheduled.name}') with id {event.eventId}"
    if kind == "subOrchestrationInstanceCreated":
        sub = event.subOrchestrationInstanceCreated
        return f"call_sub_orchestrator('{sub.name}', instance_id='{sub.instanceId}') with id {event.eventId}"
    if kind == "timerCreated":
        return f"create_timer(...) with id {event.eventId}"
    if kind == "eventSent":
        return f"send_event('{event.eventSent.instanceId}', '{event.eventSent.name}') with id {event.eventId}"
    return f"{kind} with id {event.eventId}"


def _non_determinism(
    event: pb.HistoryEvent, produced: pb.OrchestratorAction | None
) -> task.NonDeterminismError:
    produced_text = (
        describe_action(produced) if produced is not None else f"no action with id {event.eventId}"
    )
    return task.NonDeterminismError(
        f"Non-deterministic orchestration: history event {_describe_event(event)} records "
        f"{_expected_from_event(event)}, but the replayed orchestrator produced {produced_text}. "
        "This happens when the orchestrator code changed while the instance was running, or when it "
        "makes decisions that are not replay-safe (current time, random numbers, I/O)."
    )


class ReplayExecution:
    """The replay state of one orchestration execution: its context plus suspension buffering.

    Made by :meth:`OrchestrationExecutor.new_execution` and advanced by ``continue_execution``;
    callers that keep one between episodes treat it as opaque apart from ``ctx.is_complete``.
    """

    def __init__(self, executor: OrchestrationExecutor, ctx: RuntimeOrchestrationContext) -> None:
        self.executor = executor
        self.ctx = ctx
        self.log = executor._logger
        self.is_suspended = False
        self.suspended_events: list[pb.HistoryEvent] = []
        self.started = False

    def _note(self, message: str, level: int = logging.INFO) -> None:
        """Log what a live (non-replaying) execution sees; only at DEBUG level while replaying."""
        self.log.log(
            logging.DEBUG if self.ctx.is_replaying else level, "%s: %s", self.ctx.instance_id, message
        )

    def close(self) -> None:
        """Discard this replay state: end the orchestrator generator now (see ``close_generator``)."""
        self.ctx.close_generator()

    def process(self, event: pb.HistoryEvent) -> None:
        kind = event.WhichOneof("eventType")
        if self.is_suspended and kind not in _UNSUSPENDABLE_EVENTS:
            self.suspended_events.append(event)
            return
        handler = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            handler(event)
        elif kind in _IGNORED_EVENTS:
            return
        else:
            raise task.OrchestrationStateError(f"Don't know how to handle event of type '{kind}'")

    # -- lifecycle ---------------------------------------------------------------------------------

    def _on_orchestratorStarted(self, event: pb.HistoryEvent) -> None:
        self.ctx.current_utc_datetime = event.timestamp.ToDatetime()

    def _on_executionStarted(self, event: pb.HistoryEvent) -> None:
        ctx = self.ctx
        if self.started:
            raise task.OrchestrationStateError("The history has more than one executionStarted event.")
        self.started = True
        started = event.executionStarted
        registry = self.executor._registry
        fn = registry.get_orchestrator(started.name)
        if fn is None:
            known = ", ".join(sorted(registry.orchestrators)) or "none"
            raise OrchestratorNotRegisteredError(
                f"No orchestrator named '{started.name}' is registered with this worker (registered: {known})."
            )
        ctx._version = started.version.value if started.HasField("version") else None
        if started.HasField("parentInstance") and started.parentInstance.orchestrationInstance.instanceId:
            ctx._parent_instance_id = started.parentInstance.orchestrationInstance.instanceId
        orchestrator_input = ctx.decode(started.input.value) if started.HasField("input") else None
        ctx.start(fn, orchestrator_input)

    def _on_executionTerminated(self, event: pb.HistoryEvent) -> None:
        self._note("execution terminated")
        body = event.executionTerminated
        self.ctx.set_terminated(body.input.value if body.HasField("input") else None)

    def _on_executionSuspended(self, event: pb.HistoryEvent) -> None:
        self._note("execution suspended")
        self.is_suspended = True

    def _on_executionResumed(self, event: pb.HistoryEvent) -> None:
        if not self.is_suspended:
            self._note("ignoring executionResumed: the execution is not suspended")
            return
        self._note("execution resumed")
        self.is_suspended = False
        buffered, self.suspended_events = self.suspended_events, []
        for buffered_event in buffered:
            self.process(buffered_event)

    # -- confirmations of actions ------------------------------------------------------------------

    def _confirm(self, event: pb.HistoryEvent, action_kind: str) -> pb.OrchestratorAction:
        action = self.ctx._pending_actions.get(event.eventId)
        if action is None or action.WhichOneof("orchestratorActionType") != action_kind:
            raise _non_determinism(event, action)
        del self.ctx._pending_actions[event.eventId]
        return action

    def _on_taskScheduled(self, event: pb.HistoryEvent) -> None:
        action = self._confirm(event, "scheduleTask")
        if action.scheduleTask.name != event.taskScheduled.name:
            raise _non_determinism(event, action)

    def _on_timerCreated(self, event: pb.HistoryEvent) -> None:
        self._confirm(event, "createTimer")

    def _on_subOrchestrationInstanceCreated(self, event: pb.HistoryEvent) -> None:
        action = self._confirm(event, "createSubOrchestration")
        if action.createSubOrchestration.name != event.subOrchestrationInstanceCreated.name:
            raise _non_determinism(event, action)

    def _on_eventSent(self, event: pb.HistoryEvent) -> None:
        action = self._confirm(event, "sendEvent")
        sent = event.eventSent
        if (
            action.sendEvent.instance.instanceId != sent.instanceId
            or action.sendEvent.name.casefold() != sent.name.casefold()
        ):
            raise _non_determinism(event, action)

    # -- results -----------------------------------------------------------------------------------

    def _take_task(self, task_id: int, kind: str) -> task.CompletableTask[Any] | None:
        pending = self.ctx._pending_tasks.pop(task_id, None)
        if pending is None:
            self._note(f"ignoring {kind} event for unknown task id {task_id}")
        return pending

    def _on_timerFired(self, event: pb.HistoryEvent) -> None:
        ctx = self.ctx
        fired = event.timerFired
        timer = self._take_task(fired.timerId, "timerFired")
        if timer is None:
            return
        if ctx.is_complete:
            # An earlier event of this batch ended the orchestration: no next timer chunk, no
            # retry of a failed call, no more orchestrator code (published SDK behaviour).
            self._note(f"ignoring timerFired #{fired.timerId}: the orchestration has already finished")
            return
        if isinstance(timer, task.TimerTask) and timer._final_fire_at is not None:
            fired_at = to_datetime(fired.fireAt)
            if fired_at is not None and task._utc_naive(fired_at) < timer._final_fire_at:
                ctx.schedule_timer_chunk(timer)  # a long timer: wait for the next chunk
                return
        if timer.is_complete:
            return
        timer.complete(None)
        retryable = getattr(timer, "_retryable_parent", None)
        if retryable is not None:
            ctx.retry(retryable)
        else:
            ctx.resume()

    def _complete_task(self, task_id: int, kind: str, payload: Any) -> None:
        pending = self._take_task(task_id, kind)
        if pending is None or pending.is_complete:
            return
        result = self.ctx.decode(payload.value if payload is not None else None, pending._expected_type)
        pending.complete(result)
        self.ctx.resume()

    def _fail_task(self, task_id: int, kind: str, details: pb.TaskFailureDetails, what: str) -> None:
        ctx = self.ctx
        pending = self._take_task(task_id, kind)
        if pending is None or pending.is_complete:
            return
        if isinstance(pending, task.RetryableTask) and not details.isNonRetriable and not ctx.is_complete:
            pending._now = lambda: ctx.current_utc_datetime
            delay = pending.compute_next_delay()
            if delay is not None:
                pending.increment_attempt_count()
                self._note(f"{what} #{task_id} failed; retrying in {delay}")
                ctx.create_timer_internal(ctx.current_utc_datetime + delay, pending)
                return
        # Same wording as the published SDK (activities carry the instance id as a prefix).
        prefix = f"{ctx.instance_id}: " if what == "Activity task" else ""
        pending.fail(f"{prefix}{what} #{task_id} failed: {details.errorMessage}", details)
        ctx.resume()

    def _on_taskCompleted(self, event: pb.HistoryEvent) -> None:
        body = event.taskCompleted
        self._complete_task(
            body.taskScheduledId, "taskCompleted", body.result if body.HasField("result") else None
        )

    def _on_taskFailed(self, event: pb.HistoryEvent) -> None:
        body = event.taskFailed
        self._fail_task(body.taskScheduledId, "taskFailed", body.failureDetails, "Activity task")

    def _on_subOrchestrationInstanceCompleted(self, event: pb.HistoryEvent) -> None:
        body = event.subOrchestrationInstanceCompleted
        self._complete_task(
            body.taskScheduledId,
            "subOrchestrationInstanceCompleted",
            body.result if body.HasField("result") else None,
        )

    def _on_subOrchestrationInstanceFailed(self, event: pb.HistoryEvent) -> None:
        body = event.subOrchestrationInstanceFailed
        self._fail_task(
            body.taskScheduledId,
            "subOrchestrationInstanceFailed",
            body.failureDetails,
            "Sub-orchestration task",
        )

    def _on_eventRaised(self, event: pb.HistoryEvent) -> None:
        raised = event.eventRaised
        payload = raised.input.value if raised.HasField("input") else None
        if self.ctx.deliver_event(raised.name, payload):
            self._note(f"event '{raised.name}' delivered", logging.DEBUG)
            self.ctx.resume()
        else:
            self._note(f"event '{raised.name}' buffered: nothing is waiting for it yet", logging.DEBUG)


class OrchestrationExecutor:
    """Runs an orchestrator over its history (past + new events) and returns the new actions.

    Pure: no I/O, no gRPC. User errors (exceptions, non-determinism, unknown orchestrators) become a
    FAILED completion action rather than an exception.
    """

    def __init__(
        self,
        registry: Registry,
        *,
        maximum_timer_interval: timedelta | None = timedelta(days=3),
        data_converter: DataConverter | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        if maximum_timer_interval is not None and maximum_timer_interval <= timedelta(0):
            raise ValueError("maximum_timer_interval must be positive (or None to disable timer chunking)")
        self._registry = registry
        self._maximum_timer_interval = maximum_timer_interval
        self._converter: DataConverter = data_converter if data_converter is not None else JsonDataConverter()
        self._logger = logger if logger is not None else logging.getLogger("durabletask.replay")

    def execute(
        self,
        instance_id: str,
        past_events: Sequence[pb.HistoryEvent],
        new_events: Sequence[pb.HistoryEvent],
    ) -> ExecutionResult:
        """Replay ``past_events``, then apply ``new_events``; return the actions and custom status."""
        if not new_events:
            return self._crashed(
                task.OrchestrationStateError("The new history event list must have at least one event in it.")
            )

        try:
            if is_rewind_request(past_events, new_events):
                self._logger.info("%s: rewinding the failed orchestration", instance_id)
                rewind = pb.OrchestratorAction(id=-1)
                rewind.rewindOrchestration.newHistory.extend(build_rewound_history(past_events, new_events))
                return ExecutionResult(actions=[rewind], custom_status=None)
        except Exception as ex:  # noqa: BLE001 - malformed input: fail the orchestration, do not raise
            return self._crashed(ex)

        run = self.new_execution(instance_id)
        try:
            return self.continue_execution(run, past_events, new_events)
        finally:
            run.close()  # nobody keeps this state: end the generator here, not in the garbage collector

    @staticmethod
    def _crashed(ex: BaseException) -> ExecutionResult:
        """A lone FAILED completion with id -1, for work items that cannot be replayed at all."""
        action = new_complete_orchestration_action(
            -1, pb.ORCHESTRATION_STATUS_FAILED, None, failure_details_from_exception(ex)
        )
        return ExecutionResult(actions=[action], custom_status=None)

    def new_execution(self, instance_id: str) -> ReplayExecution:
        """A fresh replay state for ``instance_id`` (for callers that keep replay state between episodes)."""
        ctx = RuntimeOrchestrationContext(
            instance_id, data_converter=self._converter, maximum_timer_interval=self._maximum_timer_interval
        )
        return ReplayExecution(self, ctx)

    def continue_execution(
        self,
        run: ReplayExecution,
        past_events: Sequence[pb.HistoryEvent],
        new_events: Sequence[pb.HistoryEvent],
    ) -> ExecutionResult:
        """Apply history to a replay state: ``past_events`` replaying, then ``new_events`` live.

        ``execute`` is ``continue_execution(new_execution(id), past, new)`` (after its rewind and
        empty-batch checks). A caller may keep a non-complete ``run`` and later continue it with only
        the history it has not applied yet; the result is the same as a full replay.
        """
        ctx = run.ctx
        instance_id = ctx.instance_id
        try:
            ctx._is_replaying = True
            for event in past_events:
                run.process(event)
            ctx._is_replaying = False
            for event in new_events:
                run.process(event)
        except (Exception, SystemExit) as ex:  # noqa: BLE001 - any failure (even sys.exit()) fails it
            self._logger.info("%s: orchestration failed: %s: %s", instance_id, type(ex).__name__, ex)
            ctx.set_failed(ex, override=True)

        try:
            actions = ctx.get_actions()
        except Exception as ex:  # noqa: BLE001 - e.g. a continue_as_new input that cannot be serialized
            ctx.set_failed(ex, override=True)
            actions = ctx.get_actions()
        custom_status = ctx.custom_status
        if ctx.is_complete:
            run.close()  # e.g. terminated or continued as new while the generator waits
            status = pb.OrchestrationStatus.Name(ctx._completion_status or 0)
            self._logger.info("%s: orchestration finished with %s", instance_id, status)
        else:
            self._logger.debug(
                "%s: orchestrator waits with %d task(s) and %d event waiter(s) outstanding",
                instance_id,
                len(ctx._pending_tasks),
                len(ctx._pending_events),
            )
        return ExecutionResult(actions=actions, custom_status=custom_status)
