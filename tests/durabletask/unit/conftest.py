"""Replay-core test support: a tiny stand-in backend that drives the executor episode by episode.

``Replayer`` keeps the committed history like a backend does (protocol-behaviour 3.1): each episode
is ``[orchestratorStarted(now), <delivered events>]`` followed by one confirmation event per returned
action (eventId = action id) and ``orchestratorCompleted``; a terminal completion appends
``executionCompleted``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

import pytest

from durabletask import history as h
from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask._replay import ExecutionResult, OrchestrationExecutor, Registry
from durabletask.task import FailureDetails

T0 = datetime(2025, 1, 1, 12, 0, 0)


def confirmation_for(action: pb.OrchestratorAction, now: datetime) -> pb.HistoryEvent | None:
    """The history event a backend records for an action (None for completions and rewinds)."""
    kind = action.WhichOneof("orchestratorActionType")
    if kind == "scheduleTask":
        st = action.scheduleTask
        return h.new_task_scheduled_event(
            action.id, st.name, st.input.value if st.HasField("input") else None, timestamp=now
        )
    if kind == "createTimer":
        return h.new_timer_created_event(action.id, action.createTimer.fireAt.ToDatetime(), timestamp=now)
    if kind == "createSubOrchestration":
        sub = action.createSubOrchestration
        return h.new_sub_orchestration_created_event(
            action.id,
            sub.name,
            sub.instanceId,
            sub.input.value if sub.HasField("input") else None,
            version=sub.version.value if sub.HasField("version") else None,
            timestamp=now,
        )
    if kind == "sendEvent":
        se = action.sendEvent
        return h.new_event_sent_event(
            action.id,
            se.instance.instanceId,
            se.name,
            se.data.value if se.HasField("data") else None,
            timestamp=now,
        )
    return None


class Replayer:
    """Runs one orchestration instance through the executor, keeping its history."""

    def __init__(
        self,
        orchestrators: Iterable[Callable[..., Any]] = (),
        *,
        instance_id: str = "abc123",
        maximum_timer_interval: timedelta | None = timedelta(days=3),
        registry: Registry | None = None,
    ) -> None:
        self.registry = registry or Registry()
        for fn in orchestrators:
            self.registry.add_orchestrator(fn)
        self.executor = OrchestrationExecutor(self.registry, maximum_timer_interval=maximum_timer_interval)
        self.instance_id = instance_id
        self.now = T0
        self.past: list[pb.HistoryEvent] = []
        self.result: ExecutionResult | None = None

    # -- driving -----------------------------------------------------------------------------------

    def start(self, name: str, input: Any = None, **kwargs: Any) -> ExecutionResult:
        encoded = json.dumps(input) if input is not None else None
        return self.step(
            h.new_execution_started_event(name, self.instance_id, encoded, timestamp=self.now, **kwargs)
        )

    def step(self, *events: pb.HistoryEvent, advance: timedelta = timedelta(seconds=1)) -> ExecutionResult:
        """Deliver ``events`` in a new episode; record the episode and its confirmations."""
        self.now += advance
        for event in events:  # like a backend, stamp delivered events (keeps recorded histories stable)
            event.timestamp.FromDatetime(self.now)
        new = [h.new_orchestrator_started_event(self.now), *events]
        result = self.executor.execute(self.instance_id, list(self.past), new)
        self.past.extend(new)
        completion = None
        for action in result.actions:
            confirmation = confirmation_for(action, self.now)
            if confirmation is not None:
                self.past.append(confirmation)
            elif action.HasField("completeOrchestration"):
                completion = action.completeOrchestration
        self.past.append(h.new_orchestrator_completed_event(self.now))
        if (
            completion is not None
            and completion.orchestrationStatus != pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW
        ):
            self.past.append(
                h.new_execution_completed_event(
                    completion.orchestrationStatus,
                    completion.result.value if completion.HasField("result") else None,
                    completion.failureDetails if completion.HasField("failureDetails") else None,
                    timestamp=self.now,
                )
            )
        self.result = result
        return result

    def complete_task(self, task_id: int, value: Any = None) -> ExecutionResult:
        return self.step(
            h.new_task_completed_event(task_id, json.dumps(value) if value is not None else None)
        )

    def fail_task(self, task_id: int, exc: BaseException | None = None) -> ExecutionResult:
        return self.step(h.new_task_failed_event(task_id, exc or RuntimeError("boom")))

    def raise_event(self, name: str, value: Any = None) -> ExecutionResult:
        return self.step(h.new_event_raised_event(name, json.dumps(value) if value is not None else None))

    def fire_timer(self, timer_id: int) -> ExecutionResult:
        fire_at = self.timer_fire_at(timer_id)
        advance = max(fire_at - self.now, timedelta(0))
        return self.step(h.new_timer_fired_event(timer_id, fire_at), advance=advance)

    # -- inspecting --------------------------------------------------------------------------------

    @property
    def actions(self) -> list[pb.OrchestratorAction]:
        assert self.result is not None
        return list(self.result.actions)

    def kinds(self) -> list[tuple[str, int]]:
        return [(a.WhichOneof("orchestratorActionType"), a.id) for a in self.actions]

    def timer_fire_at(self, timer_id: int) -> datetime:
        for ev in self.past:
            if ev.HasField("timerCreated") and ev.eventId == timer_id:
                return ev.timerCreated.fireAt.ToDatetime()
        raise AssertionError(f"no timerCreated with id {timer_id}")

    def completion(self) -> pb.CompleteOrchestrationAction | None:
        for a in self.actions:
            if a.HasField("completeOrchestration"):
                return a.completeOrchestration
        return None

    def status(self) -> str | None:
        c = self.completion()
        return None if c is None else pb.OrchestrationStatus.Name(c.orchestrationStatus)

    def output(self) -> Any:
        c = self.completion()
        assert c is not None, f"not complete; actions: {self.kinds()}"
        assert c.orchestrationStatus == pb.ORCHESTRATION_STATUS_COMPLETED, self.failure()
        return json.loads(c.result.value) if c.HasField("result") else None

    def failure(self) -> FailureDetails | None:
        c = self.completion()
        if c is None or not c.HasField("failureDetails"):
            return None
        return FailureDetails.from_proto(c.failureDetails)

    def scheduled(self) -> list[tuple[str, Any]]:
        """(activity name, decoded input) of every scheduleTask action of the last episode."""
        out = []
        for a in self.actions:
            if a.HasField("scheduleTask"):
                st = a.scheduleTask
                out.append((st.name, json.loads(st.input.value) if st.HasField("input") else None))
        return out


@pytest.fixture
def replayer() -> Callable[..., Replayer]:
    """A factory: ``replayer(orchestrator_fn, ..., instance_id=..., maximum_timer_interval=...)``."""

    def make(*orchestrators: Callable[..., Any], **kwargs: Any) -> Replayer:
        return Replayer(orchestrators, **kwargs)

    return make
