"""Hand-built orchestration histories for the detail-pane tests (proto events, as a backend writes them)."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta, timezone

from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask.history import HistoryEvent

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


class HistoryBuilder:
    """Appends proto history events with timestamps ``T0 + seconds``."""

    def __init__(self) -> None:
        self.events: list[HistoryEvent] = []

    def _add(self, at: float, event_id: int = -1, **body: object) -> HistoryBuilder:
        ev = pb.HistoryEvent(eventId=event_id)
        ev.timestamp.FromDatetime(T0 + timedelta(seconds=at))
        for key, value in body.items():
            getattr(ev, key).CopyFrom(value)
        self.events.append(HistoryEvent.from_proto(ev))
        return self

    def started(self, at: float) -> HistoryBuilder:
        return self._add(at, orchestratorStarted=pb.OrchestratorStartedEvent())

    def done(self, at: float) -> HistoryBuilder:
        return self._add(at, orchestratorCompleted=pb.OrchestratorCompletedEvent())

    def execution_started(self, at: float, name: str = "orch", data: str | None = None) -> HistoryBuilder:
        body = pb.ExecutionStartedEvent(name=name)
        if data is not None:
            body.input.value = data
        return self._add(at, executionStarted=body)

    def execution_completed(
        self, at: float, status: int = 1, result: str | None = None, error: tuple[str, str] | None = None
    ) -> HistoryBuilder:
        body = pb.ExecutionCompletedEvent(orchestrationStatus=status)  # type: ignore[arg-type]
        if result is not None:
            body.result.value = result
        if error is not None:
            body.failureDetails.CopyFrom(pb.TaskFailureDetails(errorType=error[0], errorMessage=error[1]))
        return self._add(at, executionCompleted=body)

    def scheduled(self, at: float, task_id: int, name: str, data: str | None = None) -> HistoryBuilder:
        body = pb.TaskScheduledEvent(name=name)
        if data is not None:
            body.input.value = data
        return self._add(at, task_id, taskScheduled=body)

    def completed(self, at: float, task_id: int, result: str | None = None) -> HistoryBuilder:
        body = pb.TaskCompletedEvent(taskScheduledId=task_id)
        if result is not None:
            body.result.value = result
        return self._add(at, taskCompleted=body)

    def failed(
        self, at: float, task_id: int, error_type: str = "ValueError", message: str = "boom"
    ) -> HistoryBuilder:
        body = pb.TaskFailedEvent(
            taskScheduledId=task_id,
            failureDetails=pb.TaskFailureDetails(errorType=error_type, errorMessage=message),
        )
        return self._add(at, taskFailed=body)

    def timer_created(self, at: float, timer_id: int, fire_after: float) -> HistoryBuilder:
        body = pb.TimerCreatedEvent()
        body.fireAt.FromDatetime(T0 + timedelta(seconds=at + fire_after))
        return self._add(at, timer_id, timerCreated=body)

    def timer_fired(self, at: float, timer_id: int) -> HistoryBuilder:
        body = pb.TimerFiredEvent(timerId=timer_id)
        body.fireAt.FromDatetime(T0 + timedelta(seconds=at))
        return self._add(at, timerFired=body)

    def event_raised(self, at: float, name: str, data: str | None = None) -> HistoryBuilder:
        body = pb.EventRaisedEvent(name=name)
        if data is not None:
            body.input.value = data
        return self._add(at, eventRaised=body)

    def sub_created(self, at: float, task_id: int, name: str, instance_id: str) -> HistoryBuilder:
        body = pb.SubOrchestrationInstanceCreatedEvent(name=name, instanceId=instance_id)
        return self._add(at, task_id, subOrchestrationInstanceCreated=body)

    def sub_completed(self, at: float, task_id: int, result: str | None = None) -> HistoryBuilder:
        body = pb.SubOrchestrationInstanceCompletedEvent(taskScheduledId=task_id)
        if result is not None:
            body.result.value = result
        return self._add(at, subOrchestrationInstanceCompleted=body)

    def sub_failed(
        self, at: float, task_id: int, error_type: str = "RuntimeError", message: str = "child failed"
    ) -> HistoryBuilder:
        body = pb.SubOrchestrationInstanceFailedEvent(
            taskScheduledId=task_id,
            failureDetails=pb.TaskFailureDetails(errorType=error_type, errorMessage=message),
        )
        return self._add(at, subOrchestrationInstanceFailed=body)

    def suspended(self, at: float) -> HistoryBuilder:
        return self._add(at, executionSuspended=pb.ExecutionSuspendedEvent())

    def resumed(self, at: float) -> HistoryBuilder:
        return self._add(at, executionResumed=pb.ExecutionResumedEvent())


def big_history(n_activities: int) -> list[HistoryEvent]:
    """A chain of ``n_activities`` activities: 4 events each plus the start and end (about 4n events)."""
    return list(_big_history(n_activities))


@functools.lru_cache(maxsize=4)
def _big_history(n_activities: int) -> tuple[HistoryEvent, ...]:
    b = HistoryBuilder().started(0).execution_started(0, data=f'{{"n": {n_activities}}}')
    t = 0.0
    for i in range(1, n_activities + 1):
        b.scheduled(t, i, f"step_{i % 7}", data=f'{{"i": {i}, "text": "payload number {i}"}}').done(t)
        t += 0.25
        b.started(t).completed(t, i, result=f'{{"ok": true, "i": {i}}}')
    b.done(t).execution_completed(t, result='"done"')
    return tuple(b.events)
