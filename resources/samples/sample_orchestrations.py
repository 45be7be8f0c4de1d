"""Sample orchestrations for dtstudio's screenshots, benchmarks and GUI tests.

Plain Durable Task code (it runs on the published SDK too). ``register(worker)`` adds everything
to a ``TaskHubGrpcWorker``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from durabletask import task

__all__ = ["ORCHESTRATORS", "register"]


# ---------------------------------------------------------------- activities
def say_hello(ctx: Any, name: str) -> str:
    """Greets someone."""
    return f"Hello {name}!"


def charge_card(ctx: Any, order: dict) -> dict:
    """Pretends to charge a card; refuses amounts over 1000."""
    amount = float(order.get("amount", 0))
    if amount > 1000:
        raise ValueError(f"card declined: amount {amount:.2f} is over the limit of 1000.00")
    return {"order": order.get("id"), "charged": amount}


def ship_order(ctx: Any, order: dict) -> str:
    return f"shipped order {order.get('id')}"


def count_words(ctx: Any, text: str) -> int:
    return len(str(text).split())


_flaky_attempts: dict[str, int] = {}


def flaky_resize(ctx: Any, image: str) -> str:
    """Fails the first two attempts for each image (per worker process), then succeeds."""
    key = f"{ctx.orchestration_id}:{image}"
    _flaky_attempts[key] = _flaky_attempts.get(key, 0) + 1
    if _flaky_attempts[key] <= 2:
        raise ConnectionError(f"thumbnail service timed out for {image} (attempt {_flaky_attempts[key]})")
    return f"{image}-thumb.png"


# ---------------------------------------------------------------- orchestrators
def hello_sequence(ctx: task.OrchestrationContext, name: str) -> Any:
    """Three activities one after another."""
    results = []
    for who in (name or "Tokyo", "Seattle", "London"):
        results.append((yield ctx.call_activity(say_hello, input=who)))
    return results


def order_workflow(ctx: task.OrchestrationContext, order: dict) -> Any:
    """Charge, wait for approval (event 'approve'), ship. Fails when the amount is too high."""
    ctx.set_custom_status({"stage": "charging"})
    receipt = yield ctx.call_activity(charge_card, input=order)
    ctx.set_custom_status({"stage": "awaiting approval"})
    approved = yield ctx.wait_for_external_event("approve")
    if not approved:
        return {"receipt": receipt, "shipped": False}
    ctx.set_custom_status({"stage": "shipping"})
    shipped = yield ctx.call_activity(ship_order, input=order)
    return {"receipt": receipt, "shipped": shipped}


def approval_workflow(ctx: task.OrchestrationContext, _: Any) -> Any:
    """Waits for the 'approve' event and returns its data."""
    data = yield ctx.wait_for_external_event("approve")
    return {"approved": data}


def fan_out_fan_in(ctx: task.OrchestrationContext, texts: list) -> Any:
    """Counts words of every text in parallel."""
    counts = yield task.when_all([ctx.call_activity(count_words, input=t) for t in (texts or ["a b", "c d e"])])
    return sum(counts)


def fan_out_with_retries(ctx: task.OrchestrationContext, images: list) -> Any:
    """Resizes images in parallel; each call retries (the activity fails twice before it works)."""
    policy = task.RetryPolicy(first_retry_interval=timedelta(seconds=0.2), max_number_of_attempts=4,
                              backoff_coefficient=2.0)
    thumbs = yield task.when_all([ctx.call_activity(flaky_resize, input=img, retry_policy=policy)
                                  for img in (images or ["a.jpg", "b.jpg"])])
    return thumbs


def parent_with_children(ctx: task.OrchestrationContext, n: int) -> Any:
    """Runs ``n`` child hello_sequence orchestrations."""
    children = [ctx.call_sub_orchestrator(hello_sequence, input=f"child-{i}") for i in range(int(n or 2))]
    results = yield task.when_all(children)
    return len(results)


def failing_workflow(ctx: task.OrchestrationContext, amount: float) -> Any:
    """Always fails: charges an amount over the limit."""
    return (yield ctx.call_activity(charge_card, input={"id": "big", "amount": amount or 5000}))


def timer_workflow(ctx: task.OrchestrationContext, seconds: float) -> Any:
    """Sleeps on a durable timer."""
    yield ctx.create_timer(ctx.current_utc_datetime + timedelta(seconds=float(seconds or 1)))
    return "woke up"


ORCHESTRATORS = [hello_sequence, order_workflow, approval_workflow, fan_out_fan_in, fan_out_with_retries,
                 parent_with_children, failing_workflow, timer_workflow]
ACTIVITIES = [say_hello, charge_card, ship_order, count_words, flaky_resize]


def register(worker: Any) -> None:
    """Add every sample orchestrator and activity to ``worker``."""
    for fn in ORCHESTRATORS:
        worker.add_orchestrator(fn)
    for fn in ACTIVITIES:
        worker.add_activity(fn)
