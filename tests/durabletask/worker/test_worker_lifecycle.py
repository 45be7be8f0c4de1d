"""Starting and stopping: plain, awaited, context managers, restart, argument checks."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from durabletask.grpc_options import GrpcWorkerResiliencyOptions
from durabletask.worker import TaskHubGrpcWorker, VersioningOptions, VersionMatchStrategy

from .conftest import SidecarServer

FAST = GrpcWorkerResiliencyOptions(reconnect_backoff_base_seconds=0.05, reconnect_backoff_cap_seconds=0.2)


def test_defaults() -> None:
    worker = TaskHubGrpcWorker()
    assert worker.maximum_timer_interval == timedelta(days=3)
    assert worker.concurrency_options.maximum_thread_pool_workers >= 5
    assert worker.emit_trace_spans is True
    assert not worker.is_running
    worker.stop()  # stopping a worker that never started is a no-op


def test_bad_arguments_are_clear() -> None:
    with pytest.raises(TypeError):
        TaskHubGrpcWorker(concurrency_options=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        TaskHubGrpcWorker(maximum_timer_interval=timedelta(0))
    with pytest.raises(TypeError):
        TaskHubGrpcWorker().add_activity("not a function")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        TaskHubGrpcWorker().use_versioning("1.0")  # type: ignore[arg-type]


def test_start_twice_raises_and_restart_works(sidecar: SidecarServer) -> None:
    worker = TaskHubGrpcWorker(host_address=sidecar.address, resiliency_options=FAST)
    worker.start()
    try:
        with pytest.raises(RuntimeError):
            worker.start()
        sidecar.servicer.wait_for(lambda: len(sidecar.servicer.requests) == 1)
    finally:
        worker.stop()
    worker.stop()  # idempotent
    worker.start()
    try:
        sidecar.servicer.wait_for(lambda: len(sidecar.servicer.requests) == 2)
    finally:
        worker.stop()


async def test_await_start_and_async_with(sidecar: SidecarServer) -> None:
    async with TaskHubGrpcWorker(host_address=sidecar.address, resiliency_options=FAST) as worker:
        result = await worker.start()
        assert result is None
        assert worker.is_running
        await (
            __import__("asyncio")
            .get_running_loop()
            .run_in_executor(
                None, lambda: sidecar.servicer.wait_for(lambda: len(sidecar.servicer.requests) == 1)
            )
        )
    assert not worker.is_running


def test_plain_start_result_can_be_ignored(sidecar: SidecarServer) -> None:
    with TaskHubGrpcWorker(host_address=sidecar.address, resiliency_options=FAST) as worker:
        worker.start()
        assert worker.wait_until_connected(5)
    assert not worker.is_running


def test_log_handler_receives_worker_logs(sidecar: SidecarServer) -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("test.worker.custom")
    logger.setLevel(logging.INFO)
    handler = Keep()
    try:
        with TaskHubGrpcWorker(
            host_address=sidecar.address,
            logger=logger,
            log_handler=handler,
            log_formatter=logging.Formatter("%(message)s"),
            resiliency_options=FAST,
        ) as w:
            w.start()
            assert w.wait_until_connected(5)
    finally:
        logger.removeHandler(handler)
    assert any("started" in r.getMessage() for r in records)
    assert handler.formatter is not None


def test_versioning_options_are_accepted() -> None:
    worker = TaskHubGrpcWorker()
    worker.use_versioning(VersioningOptions(version="2.0", match_strategy=VersionMatchStrategy.STRICT))
    worker.use_work_item_filters(None)
