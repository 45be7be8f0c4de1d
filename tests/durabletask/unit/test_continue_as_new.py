"""continue_as_new: new input, new version, carried-over events."""

from __future__ import annotations

import json

from durabletask import history as h
from durabletask._proto import orchestrator_service_pb2 as pb


def counter(ctx, state):
    value = yield ctx.wait_for_external_event("add")
    state = {"total": state["total"] + value}
    if state["total"] >= 100:
        return state
    ctx.continue_as_new(state, save_events=True)


def test_continue_as_new_action(replayer):
    r = replayer(counter)
    r.start("counter", {"total": 0})
    r.raise_event("add", 5)
    c = r.completion()
    assert c.orchestrationStatus == pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW
    assert json.loads(c.result.value) == {"total": 5}
    assert not c.HasField("newVersion")
    assert list(c.carryoverEvents) == []
    assert r.kinds() == [("completeOrchestration", 1)]


def test_save_events_carries_unprocessed_events(replayer):
    r = replayer(counter)
    r.start("counter", {"total": 0})
    r.step(
        h.new_event_raised_event("add", "1"),
        h.new_event_raised_event("ADD", "2"),
        h.new_event_raised_event("Other", '"x"'),
        h.new_event_raised_event("add", None),
    )
    c = r.completion()
    assert json.loads(c.result.value) == {"total": 1}
    carried = [
        (e.eventRaised.name, e.eventRaised.input.value if e.eventRaised.HasField("input") else None)
        for e in c.carryoverEvents
    ]
    assert carried == [("add", "2"), ("add", None), ("other", '"x"')]


def test_without_save_events_nothing_is_carried(replayer):
    def orch(ctx, n):
        yield ctx.wait_for_external_event("tick")
        ctx.continue_as_new(n + 1)

    r = replayer(orch)
    r.start("orch", 1)
    r.step(h.new_event_raised_event("tick"), h.new_event_raised_event("tick"))
    c = r.completion()
    assert c.result.value == "2" and list(c.carryoverEvents) == []


def test_new_version_and_pending_actions_first(replayer):
    def orch(ctx, n):
        ctx.send_event("peer", "hello")
        ctx.continue_as_new(n, new_version="2.0")
        return "ignored"

    r = replayer(orch)
    r.start("orch", 3)
    assert r.kinds() == [("sendEvent", 1), ("completeOrchestration", 2)]
    c = r.completion()
    assert c.newVersion.value == "2.0"
    assert c.result.value == "3"


def test_new_execution_sees_version_and_carried_events(replayer):
    seen = []

    def orch(ctx, state):
        seen.append(ctx.version)
        value = yield ctx.wait_for_external_event("add")
        return state + value

    r = replayer(orch)
    r.step(
        h.new_execution_started_event("orch", r.instance_id, "10", version="2.0"),
        h.new_event_raised_event("add", "5"),
    )
    assert r.output() == 15
    assert seen[-1] == "2.0"
