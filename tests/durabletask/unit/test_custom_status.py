"""Custom status: JSON text returned with every execution."""

from __future__ import annotations

import json


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
