"""The @task.orchestrator / @task.activity decorators, names, async activities and the Registry."""

from __future__ import annotations

import asyncio
import functools

import pytest

from durabletask import task
from durabletask._replay import Registry


@task.orchestrator
def order_processing_orchestrator(ctx: task.OrchestrationContext, order: dict):
    is_valid = yield ctx.call_activity("validate_order", input=order)
    if not is_valid:
        return {"success": False, "message": "Invalid order"}
    payment_result = yield ctx.call_activity("process_payment", input=order["payment"])
    yield ctx.call_activity("ship_order", input=order)
    return {"success": True, "order_id": order["id"], "transaction_id": payment_result["transaction_id"]}


@task.activity
def validate_order(ctx: task.ActivityContext, order: dict) -> bool:
    if not order.get("items"):
        return False
    if order.get("total", 0) <= 0:  # noqa: SIM103 - the user's snippet, verbatim
        return False
    return True


@task.activity
async def process_payment(ctx: task.ActivityContext, payment: dict) -> dict:
    await asyncio.sleep(0)
    return {"transaction_id": f"txn_{payment['amount']}", "status": "completed"}


def test_decorators_return_the_function_itself():
    assert callable(order_processing_orchestrator)
    assert order_processing_orchestrator.__name__ == "order_processing_orchestrator"
    assert validate_order(task.ActivityContext("i", 1), {"items": [1], "total": 3}) is True
    assert task.is_orchestrator(order_processing_orchestrator)
    assert not task.is_activity(order_processing_orchestrator)
    assert task.is_activity(validate_order) and task.is_activity(process_payment)
    assert task.get_name(order_processing_orchestrator) == "order_processing_orchestrator"
    assert task.get_name(process_payment) == "process_payment"


def test_async_activity_detection_and_call():
    assert task.is_async_activity(process_payment)
    assert not task.is_async_activity(validate_order)
    assert task.is_async_activity(functools.partial(process_payment))
    result = asyncio.run(process_payment(task.ActivityContext("i", 7), {"amount": 5}))
    assert result == {"transaction_id": "txn_5", "status": "completed"}

    class AsyncCallable:
        async def __call__(self, ctx, value):
            return value

    assert task.is_async_activity(AsyncCallable())


def test_decorator_with_explicit_name():
    @task.activity(name="renamed")
    def something(ctx, _):
        return 1

    assert task.get_name(something) == "renamed"
    assert task.is_activity(something)


def test_decorator_rejects_non_callables():
    with pytest.raises(TypeError):
        task.orchestrator(42)


def test_get_name_rejects_lambdas():
    with pytest.raises(ValueError, match="lambda"):
        task.get_name(lambda ctx, _: None)


def test_activity_context():
    ctx = task.ActivityContext("order-1", 3)
    assert ctx.orchestration_id == "order-1" and ctx.task_id == 3


def test_registry_names_and_duplicates():
    reg = Registry()
    assert reg.add_orchestrator(order_processing_orchestrator) == "order_processing_orchestrator"
    assert reg.add_activity(validate_order) == "validate_order"
    assert reg.add_activity(process_payment, name="pay") == "pay"
    assert reg.get_activity("pay") is process_payment
    assert reg.get_orchestrator("order_processing_orchestrator") is order_processing_orchestrator
    assert reg.get_orchestrator("nope") is None and reg.get_activity("nope") is None
    assert set(reg.activities) == {"validate_order", "pay"}
    with pytest.raises(ValueError, match="already exists"):
        reg.add_orchestrator(order_processing_orchestrator)
    with pytest.raises(ValueError, match="callable"):
        reg.add_activity("not a function")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-empty"):
        reg.add_activity(validate_order, name="")


def test_decorated_orchestrator_replays(replayer):
    r = replayer(order_processing_orchestrator)
    r.start("order_processing_orchestrator", {"id": "o-1", "items": [1], "payment": {"amount": 9}})
    r.complete_task(1, True)
    assert r.scheduled() == [("process_payment", {"amount": 9})]
    r.complete_task(2, {"transaction_id": "txn_9"})
    r.complete_task(3, {"tracking_number": "T"})
    assert r.output() == {"success": True, "order_id": "o-1", "transaction_id": "txn_9"}


def test_entities_are_not_supported_yet(replayer):
    def orch(ctx, _):
        ctx.signal_entity("counter@1", "add", 1)
        yield ctx.create_timer(ctx.current_utc_datetime)

    r = replayer(orch)
    r.start("orch")
    assert r.failure().error_type == "builtins.NotImplementedError"
    assert "entities" in r.failure().message
