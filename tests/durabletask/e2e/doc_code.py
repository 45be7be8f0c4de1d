"""The orchestrators and activities of the user's document (seed-python-sdk.md), as written there.

Each block is copied from one section of the document and changed only where noted (marked
ADAPTED: a long timer or retry interval shortened so the tests stay fast). The e2e test modules
import from here and assert the results the document implies.
"""

# ruff: noqa: E501, F841
from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from durabletask import task

# --- Quickstart: Function Chaining (worker.py) --------------------------------------------------

logger = logging.getLogger(__name__)


# Activity functions
def say_hello(ctx, name: str) -> str:
    """First activity that greets the user."""
    logger.info(f"Activity say_hello called with name: {name}")
    return f"Hello {name}!"


def process_greeting(ctx, greeting: str) -> str:
    """Second activity that processes the greeting."""
    logger.info(f"Activity process_greeting called with greeting: {greeting}")
    return f"{greeting} How are you today?"


def finalize_response(ctx, response: str) -> str:
    """Third activity that finalizes the response."""
    logger.info(f"Activity finalize_response called with response: {response}")
    return f"{response} I hope you're doing well!"


# Orchestrator function
def function_chaining_orchestrator(ctx, name: str) -> str:
    """Orchestrator that demonstrates function chaining pattern."""
    logger.info(f"Starting function chaining orchestration for {name}")

    # Call first activity - passing input directly without named parameter
    greeting = yield ctx.call_activity('say_hello', input=name)

    # Call second activity with the result from first activity
    processed_greeting = yield ctx.call_activity('process_greeting', input=greeting)

    # Call third activity with the result from second activity
    final_response = yield ctx.call_activity('finalize_response', input=processed_greeting)

    return final_response


# --- Defining Orchestrators: Basic Orchestrator -------------------------------------------------

@task.orchestrator
def order_processing_orchestrator(ctx: task.OrchestrationContext, order: dict):
    """Process an order through multiple steps."""

    # Step 1: Validate the order
    is_valid = yield ctx.call_activity("validate_order", input=order)

    if not is_valid:
        return {"success": False, "message": "Invalid order"}

    # Step 2: Process payment
    payment_result = yield ctx.call_activity(
        "process_payment",
        input=order["payment"]
    )

    # Step 3: Ship the order
    yield ctx.call_activity("ship_order", input=order)

    return {
        "success": True,
        "order_id": order["id"],
        "transaction_id": payment_result["transaction_id"]
    }


# --- Defining Orchestrators: Generator Syntax ---------------------------------------------------

@task.orchestrator
def hello_cities_orchestrator(ctx: task.OrchestrationContext, _):
    """Say hello to multiple cities."""

    results = []

    # Sequential execution
    results.append((yield ctx.call_activity("say_hello", input="Tokyo")))
    results.append((yield ctx.call_activity("say_hello", input="London")))
    results.append((yield ctx.call_activity("say_hello", input="Seattle")))

    return " ".join(results)


# --- Defining Activities: Basic Activity --------------------------------------------------------

@task.activity
def validate_order(ctx: task.ActivityContext, order: dict) -> bool:
    """Validate an order."""

    # Perform validation logic
    if not order.get("items"):
        return False

    if order.get("total", 0) <= 0:
        return False

    return True


# --- Defining Activities: Async Activity --------------------------------------------------------

@task.activity
async def process_payment(ctx: task.ActivityContext, payment: dict) -> dict:
    """Process payment asynchronously."""

    # Simulate async payment processing
    await asyncio.sleep(1)

    return {
        "transaction_id": f"txn_{payment['amount']}",
        "status": "completed"
    }


# --- Defining Activities: Activity with Logging -------------------------------------------------

@task.activity
def ship_order(ctx: task.ActivityContext, order: dict) -> dict:
    """Ship an order and return tracking info."""

    logger.info(f"Shipping order {order['id']} to {order['address']}")

    # Perform shipping logic
    tracking_number = f"TRACK-{order['id']}-{ctx.task_id}"

    logger.info(f"Order shipped with tracking: {tracking_number}")

    return {
        "tracking_number": tracking_number,
        "carrier": "FastShip"
    }


# --- Advanced Patterns: Fan-Out/Fan-In (note: the loop variable shadows `task`) -----------------

@task.orchestrator
def fan_out_fan_in_orchestrator(ctx: task.OrchestrationContext, work_items: list):
    """Process multiple work items in parallel."""

    # Fan out - create tasks for all items
    parallel_tasks = []
    for item in work_items:
        task = ctx.call_activity("process_item", input=item)
        parallel_tasks.append(task)

    # Fan in - wait for all to complete
    results = yield task.when_all(parallel_tasks)

    return results


# --- Advanced Patterns: Sub-Orchestrations -----------------------------------------------------
# The document leaves shipping_orchestrator to the reader; this one ships via ship_order and
# reports the parent it sees.

@task.orchestrator
def shipping_orchestrator(ctx: task.OrchestrationContext, shipment: dict):
    shipped = yield ctx.call_activity("ship_order", input={"id": shipment["order_id"], "address": shipment["address"]})
    return {"tracking_number": shipped["tracking_number"], "parent": ctx.parent_instance_id}


@task.orchestrator
def parent_orchestrator(ctx: task.OrchestrationContext, order: dict):
    """Parent orchestration that calls child orchestrators."""

    # Call a sub-orchestration
    shipping_result = yield ctx.call_sub_orchestrator(
        orchestrator=shipping_orchestrator,
        input={"order_id": order["id"], "address": order["address"]}
    )

    return {
        "order_id": order["id"],
        "tracking": shipping_result["tracking_number"]
    }


# --- Advanced Patterns: Durable Timers (ADAPTED: 24 hours -> TIMER_DELAY) ----------------------

TIMER_DELAY = timedelta(seconds=1)


@task.activity
def send_reminder(ctx: task.ActivityContext, message: str) -> str:
    return message


@task.orchestrator
def timer_orchestrator(ctx: task.OrchestrationContext, _):
    """Orchestration with a timer delay."""

    # Wait for 24 hours
    yield ctx.create_timer(TIMER_DELAY)

    # Continue after the delay
    yield ctx.call_activity("send_reminder", input="Timer completed!")

    return "Done"


# --- Advanced Patterns: External Events (ADAPTED: the 24 h timeout comes from the input) --------

@task.activity
def send_approval_request(ctx: task.ActivityContext, request: dict) -> None:
    logger.info(f"Approval requested: {request}")


@task.orchestrator
def approval_orchestrator(ctx: task.OrchestrationContext, request: dict):
    """Wait for human approval with timeout."""

    # Send approval request
    yield ctx.call_activity("send_approval_request", input=request)

    # Wait for approval event with 24 hour timeout
    approval_event = ctx.wait_for_external_event("ApprovalReceived")
    timeout_event = ctx.create_timer(timedelta(seconds=request.get("timeout_seconds", 24 * 3600)))

    # Wait for either approval or timeout
    winner = yield task.when_any([approval_event, timeout_event])

    if winner == approval_event:
        approval = yield approval_event
        return {"approved": approval.get("approved", False)}
    else:
        return {"approved": False, "reason": "Timeout"}


# --- Advanced Patterns: Retry Policies (ADAPTED: intervals from the input, in ms) ---------------

@task.orchestrator
def retry_orchestrator(ctx: task.OrchestrationContext, input_data: dict):
    """Orchestration with retry logic."""

    retry_policy = task.RetryPolicy(
        max_number_of_attempts=input_data.get("attempts", 5),
        first_retry_interval=timedelta(milliseconds=input_data.get("first_ms", 1000)),
        backoff_coefficient=2.0,
        max_retry_interval=timedelta(minutes=1)
    )

    result = yield ctx.call_activity(
        "unreliable_activity",
        input=input_data,
        retry_policy=retry_policy
    )

    return result


# --- Error Handling ----------------------------------------------------------------------------

@task.orchestrator
def error_handling_orchestrator(ctx: task.OrchestrationContext, order: dict):
    """Handle errors gracefully."""

    try:
        result = yield ctx.call_activity("risky_operation", input=order)
        return {"success": True, "result": result}
    except Exception as e:
        # Log or handle the error
        yield ctx.call_activity("log_error", input=str(e))
        return {"success": False, "error": str(e)}


@task.activity
def risky_operation(ctx: task.ActivityContext, data: dict):
    """Activity that might fail."""

    if not data.get("required_field"):
        raise ValueError("Missing required field")

    # Perform operation
    return {"processed": True}


logged_errors: list[str] = []


@task.activity
def log_error(ctx: task.ActivityContext, message: str) -> None:
    logged_errors.append(message)


# --- Complete Example --------------------------------------------------------------------------

@task.activity
def get_work_items(ctx: task.ActivityContext, batch_id: str) -> list:
    return [
        {"id": f"{batch_id}-1", "data": "item1"},
        {"id": f"{batch_id}-2", "data": "item2"},
        {"id": f"{batch_id}-3", "data": "item3"},
    ]


@task.activity
def process_item(ctx: task.ActivityContext, item: dict) -> dict:
    return {"id": item["id"], "status": "processed"}


@task.activity
def aggregate_results(ctx: task.ActivityContext, results: list) -> dict:
    return {"total": len(results), "items": results}


@task.orchestrator
def batch_processing_orchestrator(ctx: task.OrchestrationContext, batch_id: str):
    # Get work items
    items = yield ctx.call_activity("get_work_items", input=batch_id)

    # Process items in parallel (fan-out)
    tasks = [ctx.call_activity("process_item", input=item) for item in items]
    results = yield task.when_all(tasks)

    # Aggregate results (fan-in)
    summary = yield ctx.call_activity("aggregate_results", input=results)

    return summary
