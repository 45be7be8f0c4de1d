"""Function chaining: one activity after another, results flowing into the next input."""

from __future__ import annotations

import json

from durabletask import task
from durabletask._proto import orchestrator_service_pb2 as pb


def say_hello(ctx: task.ActivityContext, name: str) -> str:
    return f"Hello {name}!"


def function_chaining_orchestrator(ctx, name: str):
    # The user's quickstart, verbatim.
    greeting = yield ctx.call_activity("say_hello", input=name)
    processed_greeting = yield ctx.call_activity("process_greeting", input=greeting)
    final_response = yield ctx.call_activity("finalize_response", input=processed_greeting)
    return final_response


@task.orchestrator
def hello_cities_orchestrator(ctx: task.OrchestrationContext, _):
    results = []
    results.append((yield ctx.call_activity("say_hello", input="Tokyo")))
    results.append((yield ctx.call_activity("say_hello", input="London")))
    results.append((yield ctx.call_activity("say_hello", input="Seattle")))
    return " ".join(results)


def test_first_episode_schedules_the_first_activity_with_id_1(replayer):
    r = replayer(function_chaining_orchestrator)
    r.start("function_chaining_orchestrator", "World")
    assert r.kinds() == [("scheduleTask", 1)]
    assert r.scheduled() == [("say_hello", "World")]
    assert r.result.custom_status is None


def test_chain_runs_to_completion_with_increasing_ids(replayer):
    r = replayer(function_chaining_orchestrator)
    r.start("function_chaining_orchestrator", "World")
    r.complete_task(1, "Hello World!")
    assert r.kinds() == [("scheduleTask", 2)]
    assert r.scheduled() == [("process_greeting", "Hello World!")]
    r.complete_task(2, "Hello World! How are you today?")
    assert r.scheduled() == [("finalize_response", "Hello World! How are you today?")]
    r.complete_task(3, "final")
    assert r.kinds() == [("completeOrchestration", 4)]
    assert r.output() == "final"


def test_activity_function_reference_uses_its_name(replayer):
    def orch(ctx, _):
        return (yield ctx.call_activity(say_hello, input="x"))

    r = replayer(orch)
    r.start("orch")
    assert r.scheduled() == [("say_hello", "x")]


def test_decorated_sequential_orchestrator(replayer):
    r = replayer(hello_cities_orchestrator)
    r.start("hello_cities_orchestrator")
    for i, city in enumerate(["Tokyo", "London", "Seattle"], start=1):
        assert r.scheduled() == [("say_hello", city)]
        r.complete_task(i, f"Hello {city}!")
    assert r.output() == "Hello Tokyo! Hello London! Hello Seattle!"


def test_non_generator_orchestrator_completes_immediately(replayer):
    def plain(ctx, value):
        return {"doubled": value * 2}

    r = replayer(plain)
    r.start("plain", 21)
    assert r.kinds() == [("completeOrchestration", 1)]
    assert r.output() == {"doubled": 42}


def test_generator_returning_without_yield(replayer):
    def nothing(ctx, _):
        if False:
            yield

    r = replayer(nothing)
    r.start("nothing")
    c = r.completion()
    assert c.orchestrationStatus == pb.ORCHESTRATION_STATUS_COMPLETED
    assert not c.HasField("result")


def test_activity_without_input_has_no_input_field(replayer):
    def orch(ctx, _):
        yield ctx.call_activity("noinput")

    r = replayer(orch)
    r.start("orch")
    assert not r.actions[0].scheduleTask.HasField("input")


def test_tags_are_sent_with_the_activity(replayer):
    def orch(ctx, _):
        yield ctx.call_activity("tagged", input=1, tags={"team": "a"})

    r = replayer(orch)
    r.start("orch")
    assert dict(r.actions[0].scheduleTask.tags) == {"team": "a"}


def test_return_type_converts_the_result(replayer):
    from dataclasses import dataclass

    @dataclass
    class Point:
        x: int
        y: int

    seen = []

    def orch(ctx, _):
        p = yield ctx.call_activity("make_point", return_type=Point)
        seen.append(p)
        return p.x + p.y

    r = replayer(orch)
    r.start("orch")
    r.complete_task(1, {"x": 1, "y": 2})
    assert r.output() == 3
    assert seen[-1] == Point(1, 2)


def test_unhandled_activity_failure_fails_the_orchestration(replayer):
    r = replayer(function_chaining_orchestrator)
    r.start("function_chaining_orchestrator", "World")
    r.fail_task(1, ValueError("no greeting"))
    assert r.status() == "ORCHESTRATION_STATUS_FAILED"
    failure = r.failure()
    assert failure.error_type == "durabletask.task.TaskFailedError"
    assert "no greeting" in failure.message
    # The activity's own failure is kept as the inner failure.
    assert failure.inner_failure is not None
    assert failure.inner_failure.error_type == "builtins.ValueError"
    assert failure.is_caused_by(task.TaskFailedError)


def test_caught_activity_failure_lets_the_orchestration_continue(replayer):
    def error_handling_orchestrator(ctx: task.OrchestrationContext, order: dict):
        try:
            result = yield ctx.call_activity("risky_operation", input=order)
            return {"success": True, "result": result}
        except Exception as e:  # noqa: BLE001 - the user's snippet, verbatim
            yield ctx.call_activity("log_error", input=str(e))
            return {"success": False, "error": str(e)}

    r = replayer(error_handling_orchestrator)
    r.start("error_handling_orchestrator", {"id": 1})
    r.fail_task(1, ValueError("Missing required field"))
    [(name, message)] = r.scheduled()
    assert name == "log_error" and "Missing required field" in message
    r.complete_task(2)
    out = r.output()
    assert out["success"] is False and "Missing required field" in out["error"]


def test_input_json_is_decoded(replayer):
    seen = []

    def orch(ctx, order):
        seen.append(order)
        return order["id"]

    r = replayer(orch)
    r.start("orch", {"id": "order-123", "items": [1, 2]})
    assert seen == [{"id": "order-123", "items": [1, 2]}]
    assert json.loads(r.completion().result.value) == "order-123"
