"""Orchestrators whose recorded histories live in ``histories/*.json`` (see ``histories/record.py``).

Changing one of these changes what its history replays to: re-record only on purpose.
"""

from __future__ import annotations

from datetime import timedelta

from durabletask import task


@task.orchestrator
def function_chaining(ctx: task.OrchestrationContext, name: str):
    greeting = yield ctx.call_activity("say_hello", input=name)
    processed = yield ctx.call_activity("process_greeting", input=greeting)
    return (yield ctx.call_activity("finalize_response", input=processed))


@task.orchestrator
def fan_out_fan_in(ctx: task.OrchestrationContext, batch_id: str):
    items = yield ctx.call_activity("get_work_items", input=batch_id)
    tasks = [ctx.call_activity("process_item", input=item) for item in items]
    results = yield task.when_all(tasks)
    return (yield ctx.call_activity("aggregate_results", input=results))


@task.orchestrator
def human_interaction(ctx: task.OrchestrationContext, request: dict):
    yield ctx.call_activity("send_approval_request", input=request)
    approval_event = ctx.wait_for_external_event("ApprovalReceived")
    timeout_event = ctx.create_timer(timedelta(hours=24))
    winner = yield task.when_any([approval_event, timeout_event])
    if winner == approval_event:
        approval = yield approval_event
        return {"approved": approval.get("approved", False)}
    return {"approved": False, "reason": "Timeout"}


RETRY = task.RetryPolicy(
    first_retry_interval=timedelta(seconds=1),
    max_number_of_attempts=5,
    backoff_coefficient=2.0,
    max_retry_interval=timedelta(minutes=1),
)


@task.orchestrator
def retries(ctx: task.OrchestrationContext, input_data: dict):
    return (yield ctx.call_activity("unreliable_activity", input=input_data, retry_policy=RETRY))


@task.orchestrator
def sub_orchestration(ctx: task.OrchestrationContext, order: dict):
    shipping = yield ctx.call_sub_orchestrator("shipping", input={"order_id": order["id"]})
    return {"order_id": order["id"], "tracking": shipping["tracking_number"]}


@task.orchestrator
def long_timer(ctx: task.OrchestrationContext, days: int):
    yield ctx.create_timer(timedelta(days=days))
    return ctx.current_utc_datetime.isoformat()


@task.orchestrator
def error_handling(ctx: task.OrchestrationContext, order: dict):
    try:
        result = yield ctx.call_activity("risky_operation", input=order)
        return {"success": True, "result": result}
    except task.TaskFailedError as e:
        yield ctx.call_activity("log_error", input=e.details.message)
        return {"success": False, "error": e.details.error_type}


@task.orchestrator
def suspend_resume(ctx: task.OrchestrationContext, _):
    ctx.set_custom_status("waiting")
    value = yield ctx.wait_for_external_event("go")
    ctx.set_custom_status("got it")
    return value


@task.orchestrator
def order_flow(ctx: task.OrchestrationContext, order: dict):
    """Version 1 of an order flow; ``nondeterminism_changed_code.json`` was recorded with it."""
    yield ctx.call_activity("reserve_stock", input=order)
    receipt = yield ctx.call_activity("charge_card", input=order)
    yield ctx.call_activity("ship", input=order)
    return receipt


def order_flow_v2_renamed(ctx: task.OrchestrationContext, order: dict):
    """The same flow after a deploy that renamed the second activity: replay must refuse it."""
    yield ctx.call_activity("reserve_stock", input=order)
    receipt = yield ctx.call_activity("charge_payment", input=order)
    yield ctx.call_activity("ship", input=order)
    return receipt


def order_flow_v2_timer(ctx: task.OrchestrationContext, order: dict):
    """The same flow after a deploy that inserted a timer before charging."""
    yield ctx.call_activity("reserve_stock", input=order)
    yield ctx.create_timer(timedelta(minutes=5))
    receipt = yield ctx.call_activity("charge_card", input=order)
    return receipt
