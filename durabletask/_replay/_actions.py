"""Builders for the ``OrchestratorAction`` messages the replay core emits, and their descriptions."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from durabletask._proto import orchestrator_service_pb2 as pb

__all__ = [
    "describe_action",
    "new_complete_orchestration_action",
    "new_create_sub_orchestration_action",
    "new_create_timer_action",
    "new_schedule_task_action",
    "new_send_event_action",
]


def new_schedule_task_action(
    action_id: int, name: str, encoded_input: str | None, tags: dict[str, str] | None = None
) -> pb.OrchestratorAction:
    action = pb.OrchestratorAction(id=action_id)
    action.scheduleTask.name = name
    if encoded_input is not None:
        action.scheduleTask.input.value = encoded_input
    if tags:
        action.scheduleTask.tags.update(tags)
    return action


def new_create_timer_action(action_id: int, fire_at: datetime) -> pb.OrchestratorAction:
    action = pb.OrchestratorAction(id=action_id)
    action.createTimer.fireAt.FromDatetime(fire_at)
    return action


def new_create_sub_orchestration_action(
    action_id: int, name: str, instance_id: str, encoded_input: str | None, version: str | None
) -> pb.OrchestratorAction:
    action = pb.OrchestratorAction(id=action_id)
    sub = action.createSubOrchestration
    sub.name = name
    sub.instanceId = instance_id
    if encoded_input is not None:
        sub.input.value = encoded_input
    if version is not None:
        sub.version.value = version
    return action


def new_send_event_action(
    action_id: int, instance_id: str, name: str, encoded_data: str | None
) -> pb.OrchestratorAction:
    action = pb.OrchestratorAction(id=action_id)
    action.sendEvent.instance.instanceId = instance_id
    action.sendEvent.name = name
    if encoded_data is not None:
        action.sendEvent.data.value = encoded_data
    return action


def new_complete_orchestration_action(
    action_id: int,
    status: int,
    result: str | None = None,
    failure_details: pb.TaskFailureDetails | None = None,
    *,
    new_version: str | None = None,
    carryover_events: Iterable[pb.HistoryEvent] | None = None,
) -> pb.OrchestratorAction:
    action = pb.OrchestratorAction(id=action_id)
    complete = action.completeOrchestration
    complete.orchestrationStatus = status  # type: ignore[assignment]
    if result is not None:
        complete.result.value = result
    if failure_details is not None:
        complete.failureDetails.CopyFrom(failure_details)
    if new_version is not None:
        complete.newVersion.value = new_version
    if carryover_events:
        complete.carryoverEvents.extend(carryover_events)
    return action


def describe_action(action: pb.OrchestratorAction | None) -> str:
    """A short human description of an action, for non-determinism messages."""
    if action is None:
        return "nothing"
    kind = action.WhichOneof("orchestratorActionType")
    if kind == "scheduleTask":
        return f"call_activity('{action.scheduleTask.name}') with id {action.id}"
    if kind == "createTimer":
        fire_at = action.createTimer.fireAt.ToDatetime().isoformat()
        return f"create_timer(fire_at={fire_at}) with id {action.id}"
    if kind == "createSubOrchestration":
        sub = action.createSubOrchestration
        return f"call_sub_orchestrator('{sub.name}', instance_id='{sub.instanceId}') with id {action.id}"
    if kind == "sendEvent":
        return f"send_event('{action.sendEvent.instance.instanceId}', '{action.sendEvent.name}') with id {action.id}"
    if kind == "completeOrchestration":
        status = pb.OrchestrationStatus.Name(action.completeOrchestration.orchestrationStatus)
        return f"completion of the orchestration ({status}) with id {action.id}"
    return f"{kind} with id {action.id}"
