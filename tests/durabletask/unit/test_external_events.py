"""External events: case-insensitive names, FIFO buffering, approval vs timeout, send_event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from durabletask import history as h
from durabletask import task


@task.orchestrator
def approval_orchestrator(ctx: task.OrchestrationContext, request: dict):
    """The user's document snippet, verbatim."""
    yield ctx.call_activity("send_approval_request", input=request)

    approval_event = ctx.wait_for_external_event("ApprovalReceived")
    timeout_event = ctx.create_timer(timedelta(hours=24))

    winner = yield task.when_any([approval_event, timeout_event])

    if winner == approval_event:
        approval = yield approval_event
        return {"approved": approval.get("approved", False)}
    else:
        return {"approved": False, "reason": "Timeout"}


def test_approval_arrives_before_timeout(replayer):
    r = replayer(approval_orchestrator)
    r.start("approval_orchestrator", {"amount": 10})
    r.complete_task(1)
    assert r.kinds() == [("createTimer", 2)]
    assert r.actions[0].createTimer.fireAt.ToDatetime() == r.now + timedelta(hours=24)
    r.raise_event("ApprovalReceived", {"approved": True, "approved_by": "manager@example.com"})
    assert r.output() == {"approved": True}


def test_approval_times_out(replayer):
    r = replayer(approval_orchestrator)
    r.start("approval_orchestrator", {"amount": 10})
    r.complete_task(1)
    r.fire_timer(2)
    assert r.output() == {"approved": False, "reason": "Timeout"}


def test_event_names_are_case_insensitive(replayer):
    r = replayer(approval_orchestrator)
    r.start("approval_orchestrator", {})
    r.complete_task(1)
    r.raise_event("APPROVALreceived", {"approved": False})
    assert r.output() == {"approved": False}


def test_events_raised_early_are_buffered_fifo(replayer):
    def orch(ctx, _):
        first = yield ctx.wait_for_external_event("item")
        second = yield ctx.wait_for_external_event("Item")
        third = yield ctx.wait_for_external_event("ITEM")
        return [first, second, third]

    r = replayer(orch)
    r.step(
        h.new_execution_started_event("orch", r.instance_id),
        h.new_event_raised_event("item", "1"),
        h.new_event_raised_event("ITEM", "2"),
        h.new_event_raised_event("other", "0"),
        h.new_event_raised_event("iTeM", "3"),
    )
    assert r.output() == [1, 2, 3]


def test_buffered_before_waiting_across_episodes(replayer):
    def orch(ctx, _):
        yield ctx.call_activity("prepare")
        value = yield ctx.wait_for_external_event("go")
        return value

    r = replayer(orch)
    r.start("orch")
    r.raise_event("go", "early")  # nobody waits yet
    assert r.actions == []
    r.complete_task(1)
    assert r.output() == "early"


def test_waiters_are_served_in_order(replayer):
    def orch(ctx, _):
        a = ctx.wait_for_external_event("e")
        b = ctx.wait_for_external_event("e")
        results = yield task.when_all([a, b])
        return results

    r = replayer(orch)
    r.start("orch")
    r.raise_event("e", "first")
    assert r.actions == []
    r.raise_event("e", "second")
    assert r.output() == ["first", "second"]


def test_event_without_payload_gives_none(replayer):
    def orch(ctx, _):
        value = yield ctx.wait_for_external_event("ping")
        return {"value": value}

    r = replayer(orch)
    r.start("orch")
    r.raise_event("ping")
    assert r.output() == {"value": None}


def test_data_type_converts_the_payload(replayer):
    @dataclass
    class Approval:
        approved: bool
        by: str

    seen = []

    def orch(ctx, _):
        value = yield ctx.wait_for_external_event("approval", data_type=Approval)
        seen.append(value)
        return value.by

    r = replayer(orch)
    r.start("orch")
    r.raise_event("approval", {"approved": True, "by": "me"})
    assert r.output() == "me"
    assert seen[-1] == Approval(True, "me")


def test_send_event_action_and_confirmation(replayer):
    def orch(ctx, _):
        ctx.send_event("other-instance", "Wake", data={"n": 1})
        yield ctx.create_timer(timedelta(seconds=1))
        return "sent"

    r = replayer(orch)
    r.start("orch")
    assert r.kinds() == [("sendEvent", 1), ("createTimer", 2)]
    send = r.actions[0].sendEvent
    assert send.instance.instanceId == "other-instance"
    assert send.name == "Wake"
    assert send.data.value == '{"n": 1}'
    r.fire_timer(2)  # replays eventSent(1) against the re-emitted action
    assert r.output() == "sent"
