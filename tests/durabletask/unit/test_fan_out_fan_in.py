"""Fan-out/fan-in with when_all, including the user's snippet that shadows the module name."""

from __future__ import annotations

import pytest

from durabletask import task


@task.orchestrator
def fan_out_fan_in_orchestrator(ctx: task.OrchestrationContext, work_items: list):
    """The user's document snippet, verbatim: ``task`` is shadowed by a task object in the loop."""

    # Fan out - create tasks for all items
    parallel_tasks = []
    for item in work_items:
        task = ctx.call_activity("process_item", input=item)
        parallel_tasks.append(task)

    # Fan in - wait for all to complete
    results = yield task.when_all(parallel_tasks)

    return results


@task.orchestrator
def batch_processing_orchestrator(ctx: task.OrchestrationContext, batch_id: str):
    items = yield ctx.call_activity("get_work_items", input=batch_id)
    tasks = [ctx.call_activity("process_item", input=item) for item in items]
    results = yield task.when_all(tasks)
    summary = yield ctx.call_activity("aggregate_results", input=results)
    return summary


def test_shadowed_task_when_all_snippet(replayer):
    r = replayer(fan_out_fan_in_orchestrator)
    r.start("fan_out_fan_in_orchestrator", ["a", "b", "c"])
    assert r.kinds() == [("scheduleTask", 1), ("scheduleTask", 2), ("scheduleTask", 3)]
    assert r.scheduled() == [("process_item", "a"), ("process_item", "b"), ("process_item", "c")]
    # Results arrive out of order; the output keeps the order of the tasks.
    r.complete_task(3, "C")
    assert r.actions == []
    r.complete_task(1, "A")
    assert r.actions == []
    r.complete_task(2, "B")
    assert r.output() == ["A", "B", "C"]


def test_all_results_in_one_episode(replayer):
    from durabletask import history as h

    r = replayer(fan_out_fan_in_orchestrator)
    r.start("fan_out_fan_in_orchestrator", [1, 2])
    r.step(h.new_task_completed_event(2, "20"), h.new_task_completed_event(1, "10"))
    assert r.output() == [10, 20]


def test_batch_processing_from_the_users_document(replayer):
    r = replayer(batch_processing_orchestrator)
    r.start("batch_processing_orchestrator", "batch-001")
    r.complete_task(1, [{"id": "batch-001-1"}, {"id": "batch-001-2"}])
    assert r.kinds() == [("scheduleTask", 2), ("scheduleTask", 3)]
    r.complete_task(2, {"id": "batch-001-1", "status": "processed"})
    r.complete_task(3, {"id": "batch-001-2", "status": "processed"})
    assert r.scheduled() == [
        (
            "aggregate_results",
            [{"id": "batch-001-1", "status": "processed"}, {"id": "batch-001-2", "status": "processed"}],
        )
    ]
    r.complete_task(4, {"total": 2})
    assert r.output() == {"total": 2}


def test_when_all_fails_with_the_first_failure(replayer):
    def orch(ctx, _):
        tasks = [ctx.call_activity("work", input=i) for i in range(3)]
        try:
            yield task.when_all(tasks)
        except task.TaskFailedError as e:
            return {"error": e.details.message, "type": e.details.error_type}
        return "no error"

    r = replayer(orch)
    r.start("orch")
    r.complete_task(1, 1)
    r.fail_task(2, KeyError("second"))
    assert r.completion() is None  # like the published SDK, when_all waits for task 3 too
    r.complete_task(3, 3)
    out = r.output()
    assert out["type"] == "builtins.KeyError"
    assert "second" in out["error"]


def test_when_all_of_nothing_completes_at_once(replayer):
    def orch(ctx, _):
        results = yield task.when_all([])
        return results

    r = replayer(orch)
    r.start("orch")
    assert r.output() == []


def test_when_all_task_properties():
    a, b = task.CompletableTask(), task.CompletableTask()
    all_task = task.when_all([a, b])
    assert not all_task.is_complete and all_task.pending_tasks == 2
    a.complete(1)
    assert all_task.get_completed_tasks() == 1 and all_task.pending_tasks == 1
    b.complete(2)
    assert all_task.is_complete and all_task.get_result() == [1, 2]
    assert all_task.get_tasks() == [a, b]


def test_when_all_rejects_non_tasks():
    with pytest.raises(TypeError, match="list of tasks"):
        task.when_all([1, 2])  # type: ignore[list-item]


def test_task_instance_offers_the_module_functions():
    a = task.CompletableTask()
    assert isinstance(a.when_all([a]), task.WhenAllTask)
    assert isinstance(a.when_any([a]), task.WhenAnyTask)
