"""Re-record the JSON histories of ``patterns.py`` (run from the repository root):

    .venv/bin/python tests/durabletask/unit/histories/record.py

Each file is a JSON list of ``HistoryEvent`` messages in protobuf JSON form, exactly as a backend
following protocol-behaviour 3.1 would store them.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent.parent.parent))

from durabletask import history as h
from tests.durabletask.unit import patterns as p
from tests.durabletask.unit.conftest import Replayer


def record() -> dict[str, Replayer]:
    runs: dict[str, Replayer] = {}

    r = Replayer([p.function_chaining], instance_id="chain-1")
    r.start("function_chaining", "World")
    r.complete_task(1, "Hello World!")
    r.complete_task(2, "Hello World! How are you today?")
    r.complete_task(3, "Hello World! How are you today? I hope you're doing well!")
    runs["function_chaining"] = r

    r = Replayer([p.fan_out_fan_in], instance_id="fan-1")
    r.start("fan_out_fan_in", "batch-001")
    r.complete_task(1, [{"id": "batch-001-1"}, {"id": "batch-001-2"}, {"id": "batch-001-3"}])
    r.step(
        h.new_task_completed_event(3, '{"id": "batch-001-2", "status": "processed"}'),
        h.new_task_completed_event(2, '{"id": "batch-001-1", "status": "processed"}'),
    )
    r.complete_task(4, {"id": "batch-001-3", "status": "processed"})
    r.complete_task(5, {"total": 3})
    runs["fan_out_fan_in"] = r

    r = Replayer([p.human_interaction], instance_id="approval-1")
    r.start("human_interaction", {"amount": 120})
    r.complete_task(1)
    r.raise_event("approvalreceived", {"approved": True, "approved_by": "manager@example.com"})
    runs["human_interaction_approved"] = r

    r = Replayer([p.human_interaction], instance_id="approval-2")
    r.start("human_interaction", {"amount": 120})
    r.complete_task(1)
    r.fire_timer(2)
    runs["human_interaction_timeout"] = r

    r = Replayer([p.retries], instance_id="retry-1")
    r.start("retries", {"attempt": "any"})
    r.fail_task(1, ConnectionError("service unavailable"))
    r.fire_timer(2)
    r.fail_task(1, ConnectionError("service unavailable"))
    r.fire_timer(3)
    r.complete_task(1, "third time lucky")
    runs["retries"] = r

    r = Replayer([p.sub_orchestration], instance_id="parent-1")
    r.start("sub_orchestration", {"id": "o-7"})
    r.step(h.new_sub_orchestration_completed_event(1, '{"tracking_number": "TRACK-o-7"}'))
    runs["sub_orchestration"] = r

    r = Replayer([p.long_timer], instance_id="timer-1", maximum_timer_interval=timedelta(days=3))
    r.start("long_timer", 7)
    r.fire_timer(1)
    r.fire_timer(2)
    r.fire_timer(3)
    runs["long_timer"] = r

    r = Replayer([p.error_handling], instance_id="errors-1")
    r.start("error_handling", {"id": 1})
    r.fail_task(1, ValueError("Missing required field"))
    r.complete_task(2)
    runs["error_handling"] = r

    r = Replayer([p.suspend_resume], instance_id="suspend-1")
    r.start("suspend_resume")
    r.step(h.new_execution_suspended_event("maintenance"))
    r.raise_event("go", "value")
    r.step(h.new_execution_resumed_event("done"))
    runs["suspend_resume"] = r

    r = Replayer([p.suspend_resume], instance_id="terminated-1")
    r.start("suspend_resume")
    r.step(h.new_execution_terminated_event('"cancelled by user"'))
    runs["terminated"] = r

    r = Replayer([p.order_flow], instance_id="order-1")
    r.start("order_flow", {"id": "o-1"})
    r.complete_task(1, True)
    r.complete_task(2, {"receipt": "r-1"})
    runs["nondeterminism_changed_code"] = r  # still running: waiting for "ship"
    return runs


if __name__ == "__main__":
    for name, run in record().items():
        path = HERE / f"{name}.json"
        path.write_text(h.events_to_json(run.past) + "\n", encoding="utf-8")
        print(f"wrote {path.relative_to(HERE.parent)} ({len(run.past)} events)")
