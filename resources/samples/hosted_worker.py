"""A worker file to host in dtstudio (Worker → Load worker file…).

Functions marked with ``@task.orchestrator`` / ``@task.activity`` are found and registered by
dtstudio; their log lines show in the worker panel. Edit this file and press Reload to run the
new code.
"""

from __future__ import annotations

import logging
from typing import Any

from durabletask import task

log = logging.getLogger(__name__)


@task.activity
def greet(ctx: task.ActivityContext, name: str) -> str:
    """Greets someone."""
    log.info("greeting %s", name)
    return f"Hello {name}!"


@task.activity
def reserve_stock(ctx: task.ActivityContext, order: dict) -> dict:
    """Reserves stock for an order; refuses more than 10 items."""
    items = int(order.get("items", 1))
    if items > 10:
        raise ValueError(f"only 10 items in stock, {items} asked")
    log.info("reserved %d item(s) for order %s", items, order.get("id"))
    return {"order": order.get("id"), "reserved": items}


@task.orchestrator
def greetings(ctx: task.OrchestrationContext, names: list) -> Any:
    """Greets everyone in ``names`` one after another."""
    out = []
    for name in names or ["Tokyo", "Seattle", "London"]:
        out.append((yield ctx.call_activity(greet, input=name)))
    return out


@task.orchestrator
def place_order(ctx: task.OrchestrationContext, order: dict) -> Any:
    """Reserves stock for an order (fails above 10 items)."""
    order = order or {"id": 1, "items": 2}
    ctx.set_custom_status("reserving")
    reservation = yield ctx.call_activity(reserve_stock, input=order)
    return {"status": "placed", **reservation}
