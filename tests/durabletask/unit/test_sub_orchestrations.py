"""Sub-orchestrations: default instance ids, names and versions, results, failures and retries."""

from __future__ import annotations

from datetime import timedelta

from durabletask import history as h
from durabletask import task


@task.orchestrator
def shipping_orchestrator(ctx: task.OrchestrationContext, request: dict):
    tracking = yield ctx.call_activity("ship", input=request)
    return {"tracking_number": tracking}


@task.orchestrator
def parent_orchestrator(ctx: task.OrchestrationContext, order: dict):
    """The user's document snippet."""
    shipping_result = yield ctx.call_sub_orchestrator(
        orchestrator=shipping_orchestrator,
        input={"order_id": order["id"], "address": order["address"]},
    )
    return {"order_id": order["id"], "tracking": shipping_result["tracking_number"]}


def test_default_instance_id_and_name(replayer):
    r = replayer(parent_orchestrator, instance_id="parent-1")
    r.start("parent_orchestrator", {"id": "o1", "address": "here"})
    assert r.kinds() == [("createSubOrchestration", 1)]
    sub = r.actions[0].createSubOrchestration
    assert sub.name == "shipping_orchestrator"
    assert sub.instanceId == "parent-1:0001"
    assert not sub.HasField("version")
    r.step(h.new_sub_orchestration_completed_event(1, '{"tracking_number": "T-1"}'))
    assert r.output() == {"order_id": "o1", "tracking": "T-1"}


def test_default_ids_use_four_hex_digits(replayer):
    def orch(ctx, _):
        tasks = [ctx.call_sub_orchestrator("child", input=i) for i in range(12)]
        return (yield task.when_all(tasks))

    r = replayer(orch, instance_id="p")
    r.start("orch")
    ids = [a.createSubOrchestration.instanceId for a in r.actions]
    assert ids[0] == "p:0001" and ids[9] == "p:000a" and ids[11] == "p:000c"


def test_explicit_instance_id_and_version(replayer):
    def orch(ctx, _):
        return (yield ctx.call_sub_orchestrator("child", input=5, instance_id="kid", version="2.0"))

    r = replayer(orch)
    r.start("orch")
    sub = r.actions[0].createSubOrchestration
    assert (sub.instanceId, sub.version.value, sub.input.value) == ("kid", "2.0", "5")
    r.step(h.new_sub_orchestration_completed_event(1, "10"))
    assert r.output() == 10


def test_child_failure_keeps_its_details(replayer):
    def orch(ctx, _):
        try:
            yield ctx.call_sub_orchestrator("child")
        except task.TaskFailedError as e:
            return {
                "type": e.details.error_type,
                "message": e.details.message,
                "caused_by_value_error": e.details.is_caused_by(ValueError),
                "caused_by_name": e.details.is_caused_by("builtins.ValueError"),
                "caused_by_key_error": e.details.is_caused_by(KeyError),
            }

    r = replayer(orch)
    r.start("orch")
    child_failure = h.new_failure_details("builtins.ValueError", "bad child", "trace...")
    r.step(h.new_sub_orchestration_failed_event(1, child_failure))
    assert r.output() == {
        "type": "builtins.ValueError",
        "message": "bad child",
        "caused_by_value_error": True,
        "caused_by_name": True,
        "caused_by_key_error": False,
    }


def test_unhandled_child_failure_fails_the_parent(replayer):
    r = replayer(parent_orchestrator)
    r.start("parent_orchestrator", {"id": "o1", "address": "a"})
    r.step(h.new_sub_orchestration_failed_event(1, h.new_failure_details("app.ShipError", "no truck")))
    assert r.status() == "ORCHESTRATION_STATUS_FAILED"
    failure = r.failure()
    assert "no truck" in failure.message
    assert failure.inner_failure.error_type == "app.ShipError"


def test_sub_orchestration_retry_reuses_id_and_instance(replayer):
    policy = task.RetryPolicy(first_retry_interval=timedelta(seconds=5), max_number_of_attempts=2)

    def orch(ctx, _):
        return (yield ctx.call_sub_orchestrator("child", input="x", retry_policy=policy))

    r = replayer(orch, instance_id="p")
    r.start("orch")
    r.step(h.new_sub_orchestration_failed_event(1, h.new_failure_details("E", "first")))
    assert r.kinds() == [("createTimer", 2)]
    r.fire_timer(2)
    assert r.kinds() == [("createSubOrchestration", 1)]
    assert r.actions[0].createSubOrchestration.instanceId == "p:0001"
    r.step(h.new_sub_orchestration_completed_event(1, '"ok"'))
    assert r.output() == "ok"


def test_parent_instance_id_from_execution_started(replayer):
    def child(ctx, _):
        return {"parent": ctx.parent_instance_id, "me": ctx.instance_id}

    r = replayer(child, instance_id="p:0001")
    r.start(
        "child",
        parent_instance_id="p",
        parent_execution_id="e1",
        parent_name="parent",
        parent_task_scheduled_id=1,
    )
    assert r.output() == {"parent": "p", "me": "p:0001"}


def test_top_level_has_no_parent(replayer):
    def orch(ctx, _):
        return ctx.parent_instance_id

    r = replayer(orch)
    r.start("orch")
    assert r.output() is None


def test_renamed_sub_orchestrator_is_non_deterministic(replayer):
    names = iter(["child_v1", "child_v2"])
    name = {"current": next(names)}

    def orch(ctx, _):
        return (yield ctx.call_sub_orchestrator(name["current"]))

    r = replayer(orch)
    r.start("orch")
    name["current"] = next(names)
    r.step(h.new_sub_orchestration_completed_event(1, "1"))
    failure = r.failure()
    assert failure.error_type == "durabletask.task.NonDeterminismError"
    assert "SubOrchestrationInstanceCreated" in failure.message
    assert "child_v1" in failure.message and "child_v2" in failure.message


def test_failure_messages_use_the_published_wording(replayer):
    def orch(ctx, _):
        try:
            yield ctx.call_activity("a")
        except task.TaskFailedError as e:
            first = str(e)
        try:
            yield ctx.call_sub_orchestrator("child")
        except task.TaskFailedError as e:
            return [first, str(e)]

    r = replayer(orch, instance_id="inst")
    r.start("orch")
    r.fail_task(1, RuntimeError("Kah-BOOOOM!!!"))
    r.step(
        h.new_sub_orchestration_failed_event(
            2, h.new_failure_details("E", "inst:0002: Activity task #1 failed: x")
        )
    )
    assert r.output() == [
        "inst: Activity task #1 failed: Kah-BOOOOM!!!",
        "Sub-orchestration task #2 failed: inst:0002: Activity task #1 failed: x",
    ]
