"""Rewind: rebuild a failed execution's history without its failures (protocol-behaviour 3.7)."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Sequence

from durabletask._proto import orchestrator_service_pb2 as pb

__all__ = ["build_rewound_history", "is_rewind_request"]

_DROPPED = frozenset({"taskFailed", "subOrchestrationInstanceFailed", "executionCompleted"})


def is_rewind_request(past_events: Sequence[pb.HistoryEvent], new_events: Sequence[pb.HistoryEvent]) -> bool:
    """A rewind work item: new events are exactly [orchestratorStarted, executionRewound] after a completion."""
    return (
        len(new_events) == 2
        and new_events[0].WhichOneof("eventType") == "orchestratorStarted"
        and new_events[1].WhichOneof("eventType") == "executionRewound"
        and any(e.WhichOneof("eventType") == "executionCompleted" for e in past_events)
    )


def build_rewound_history(
    past_events: Sequence[pb.HistoryEvent], new_events: Sequence[pb.HistoryEvent]
) -> list[pb.HistoryEvent]:
    """Old + new events minus failures, the scheduling of failed tasks and the completion.

    ``executionStarted`` gets a new execution id and, for a sub-orchestration, the parent's execution
    id from ``executionRewound.parentExecutionId``.
    """
    rewound = new_events[-1].executionRewound
    failed_task_ids = {e.taskFailed.taskScheduledId for e in past_events if e.HasField("taskFailed")}
    new_execution_id = uuid.uuid4().hex
    history: list[pb.HistoryEvent] = []
    for event in list(past_events) + list(new_events):
        kind = event.WhichOneof("eventType")
        if kind in _DROPPED:
            continue
        if kind == "taskScheduled" and event.eventId in failed_task_ids:
            continue
        event = copy.deepcopy(event)
        if kind == "executionStarted":
            started = event.executionStarted
            started.orchestrationInstance.executionId.value = new_execution_id
            if rewound.HasField("parentExecutionId") and started.HasField("parentInstance"):
                started.parentInstance.orchestrationInstance.executionId.value = (
                    rewound.parentExecutionId.value
                )
        history.append(event)
    return history
