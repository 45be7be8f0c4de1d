"""Document sections "Defining Orchestrators" and "Defining Activities": the order-processing
orchestrator with decorated activities (sync, async, logging) and the generator-syntax example."""

from __future__ import annotations

import logging
import time

import pytest

from durabletask import task
from durabletask.client import OrchestrationStatus, TaskHubGrpcClient

from . import doc_code
from .conftest import WorkerFactory
from .doc_code import (
    hello_cities_orchestrator,
    order_processing_orchestrator,
    process_payment,
    say_hello,
    ship_order,
    validate_order,
)

ORDER = {
    "id": "order-123",
    "items": ["book"],
    "total": 99.99,
    "payment": {"amount": 99.99},
    "address": "1 Main St",
}


@pytest.fixture
def order_worker(start_worker: WorkerFactory) -> None:
    start_worker(
        orchestrators=[order_processing_orchestrator],
        activities=[validate_order, process_payment, ship_order],
    )


@pytest.mark.usefixtures("order_worker")
def test_valid_order_is_paid_and_shipped(client: TaskHubGrpcClient) -> None:
    t0 = time.monotonic()
    iid = client.schedule_new_orchestration(order_processing_orchestrator, input=ORDER)
    state = client.wait_for_orchestration_completion(iid, timeout=30)
    assert state is not None and state.runtime_status == OrchestrationStatus.COMPLETED
    assert state.get_output() == {"success": True, "order_id": "order-123", "transaction_id": "txn_99.99"}
    assert time.monotonic() - t0 >= 1.0  # the async payment activity awaited its 1 s sleep


@pytest.mark.usefixtures("order_worker")
@pytest.mark.parametrize("bad", [{"items": []}, {"total": 0}])
def test_invalid_order_stops_early(client: TaskHubGrpcClient, bad: dict) -> None:
    iid = client.schedule_new_orchestration(order_processing_orchestrator, input={**ORDER, **bad})
    state = client.wait_for_orchestration_completion(iid, timeout=30)
    assert state is not None and state.get_output() == {"success": False, "message": "Invalid order"}
    names = [e.name for e in client.get_orchestration_history(iid) if e.event_type == "TaskScheduled"]
    assert names == ["validate_order"]


@pytest.mark.usefixtures("order_worker")
def test_activity_logging(client: TaskHubGrpcClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=doc_code.__name__)
    iid = client.schedule_new_orchestration(order_processing_orchestrator, input=ORDER)
    state = client.wait_for_orchestration_completion(iid, timeout=30)
    assert state is not None and state.runtime_status == OrchestrationStatus.COMPLETED
    history = client.get_orchestration_history(iid)
    ship_id = next(e.event_id for e in history if e.event_type == "TaskScheduled" and e.name == "ship_order")
    messages = [r.getMessage() for r in caplog.records if r.name == doc_code.__name__]
    assert "Shipping order order-123 to 1 Main St" in messages
    assert f"Order shipped with tracking: TRACK-order-123-{ship_id}" in messages


def test_generator_syntax_hello_cities(client: TaskHubGrpcClient, start_worker: WorkerFactory) -> None:
    start_worker(orchestrators=[hello_cities_orchestrator], activities=[say_hello])
    iid = client.schedule_new_orchestration(hello_cities_orchestrator)
    state = client.wait_for_orchestration_completion(iid, timeout=30)
    assert state is not None and state.runtime_status == OrchestrationStatus.COMPLETED
    assert state.get_output() == "Hello Tokyo! Hello London! Hello Seattle!"


@task.orchestrator
def pay_many(ctx: task.OrchestrationContext, amounts: list):
    results = yield task.when_all([ctx.call_activity("process_payment", input={"amount": a}) for a in amounts])
    return [r["transaction_id"] for r in results]


def test_async_activities_overlap(client: TaskHubGrpcClient, start_worker: WorkerFactory) -> None:
    """Section "Async Activity": awaiting inside the activity does not hold a thread, so three
    payments of 1 s each finish together."""
    start_worker(orchestrators=[pay_many], activities=[process_payment])
    t0 = time.monotonic()
    iid = client.schedule_new_orchestration(pay_many, input=[1, 2, 3])
    state = client.wait_for_orchestration_completion(iid, timeout=30)
    elapsed = time.monotonic() - t0
    assert state is not None and state.get_output() == ["txn_1", "txn_2", "txn_3"]
    assert 1.0 <= elapsed < 2.9  # 3.0 s or more if they ran one after another
