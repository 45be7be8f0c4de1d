"""Custom status, suspend/resume and terminate."""

from __future__ import annotations

import json

from durabletask import history as h
from durabletask._proto import orchestrator_service_pb2 as pb


def staged(ctx, _):
    ctx.set_custom_status({"stage": "start"})
    yield ctx.call_activity("one")
    ctx.set_custom_status({"stage": "middle"})
    yield ctx.call_activity("two")
    ctx.set_custom_status(None)
    return "done"


def test_custom_status_returned_on_every_execution(replayer):
    r = replayer(staged)
    r.start("staged")
    assert json.loads(r.result.custom_status) == {"stage": "start"}
    r.raise_event("unrelated")  # nothing completes, but the status is still reported
    assert r.actions == []
    assert json.loads(r.result.custom_status) == {"stage": "start"}
    r.complete_task(1)
    assert json.loads(r.result.custom_status) == {"stage": "middle"}
    r.complete_task(2)
    assert r.result.custom_status is None
    assert r.output() == "done"


def test_custom_status_plain_string(replayer):
    def orch(ctx, _):
        ctx.set_custom_status("Waiting")

    r = replayer(orch)
    r.start("orch")
    assert r.result.custom_status == '"Waiting"'


def waits(ctx, _):
    a = yield ctx.call_activity("a")
    e = yield ctx.wait_for_external_event("go")
    return [a, e]


def test_suspended_execution_buffers_events_until_resumed(replayer):
    r = replayer(waits)
    r.start("waits")
    r.step(h.new_execution_suspended_event("pause"))
    assert r.actions == []
    r.step(h.new_task_completed_event(1, '"A"'), h.new_event_raised_event("go", '"G"'))
    assert r.actions == []  # buffered while suspended
    r.step(h.new_execution_resumed_event("continue"))
    assert r.output() == ["A", "G"]


def test_suspend_and_resume_in_one_batch(replayer):
    r = replayer(waits)
    r.start("waits")
    r.step(
        h.new_execution_suspended_event(),
        h.new_task_completed_event(1, '"A"'),
        h.new_execution_resumed_event(),
        h.new_event_raised_event("go", '"G"'),
    )
    assert r.output() == ["A", "G"]


def test_stray_resume_is_ignored(replayer):
    r = replayer(waits)
    r.start("waits")
    r.step(h.new_execution_resumed_event())
    assert r.actions == []
    r.complete_task(1, "A")
    r.raise_event("go", "G")
    assert r.output() == ["A", "G"]


def test_terminate_completes_with_the_given_output(replayer):
    r = replayer(waits)
    r.start("waits")
    r.step(h.new_execution_terminated_event('"stopped by user"'))
    assert r.kinds() == [("completeOrchestration", 2)]
    c = r.completion()
    assert c.orchestrationStatus == pb.ORCHESTRATION_STATUS_TERMINATED
    assert c.result.value == '"stopped by user"'


def test_terminate_while_suspended(replayer):
    r = replayer(waits)
    r.start("waits")
    r.step(h.new_execution_suspended_event())
    r.step(h.new_execution_terminated_event())
    c = r.completion()
    assert c.orchestrationStatus == pb.ORCHESTRATION_STATUS_TERMINATED
    assert not c.HasField("result")


def test_terminate_drops_actions_of_the_same_batch(replayer):
    r = replayer(staged)
    r.start("staged")
    r.step(h.new_task_completed_event(1), h.new_execution_terminated_event())  # "two" is not scheduled
    assert [a.WhichOneof("orchestratorActionType") for a in r.actions] == ["completeOrchestration"]
    assert r.status() == "ORCHESTRATION_STATUS_TERMINATED"
