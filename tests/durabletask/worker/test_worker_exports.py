"""The public names of the worker modules stay put (code written for the published SDK imports them)."""

from __future__ import annotations

import inspect

import durabletask.azuremanaged.worker as dts_worker
import durabletask.worker as worker


def test_worker_exports() -> None:
    assert set(worker.__all__) == {
        "ActivityNotRegisteredError",
        "ActivityWorkItemFilter",
        "ConcurrencyOptions",
        "EntityWorkItemFilter",
        "OrchestrationWorkItemFilter",
        "OrchestratorNotRegisteredError",
        "TaskHubGrpcWorker",
        "VersionFailureStrategy",
        "VersionMatchStrategy",
        "VersionMismatchError",
        "VersioningOptions",
        "WorkItemFilters",
    }
    for name in worker.__all__:
        assert hasattr(worker, name)


def test_published_constructor_keywords() -> None:
    params = inspect.signature(worker.TaskHubGrpcWorker).parameters
    expected = {
        "host_address": None,
        "metadata": None,
        "log_handler": None,
        "log_formatter": None,
        "logger": None,
        "channel": None,
        "secure_channel": False,
        "interceptors": None,
        "channel_options": None,
        "resiliency_options": None,
        "concurrency_options": None,
        "payload_store": None,
        "data_converter": None,
        "exception_properties_provider": None,
        "emit_trace_spans": True,
    }
    for name, default in expected.items():
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY
        assert params[name].default == default, name
    from datetime import timedelta

    assert params["maximum_timer_interval"].default == timedelta(days=3)
    for method in (
        "add_orchestrator",
        "add_activity",
        "add_entity",
        "add_capability",
        "configure_scheduled_tasks",
        "use_versioning",
        "use_work_item_filters",
        "start",
        "stop",
        "__enter__",
        "__exit__",
        "__aenter__",
        "__aexit__",
    ):
        assert callable(getattr(worker.TaskHubGrpcWorker, method))


def test_dts_worker_exports_and_keywords() -> None:
    assert set(dts_worker.__all__) == {"DurableTaskSchedulerWorker", "DurableTaskSchedulerWorkerOptions"}
    params = inspect.signature(dts_worker.DurableTaskSchedulerWorker).parameters
    for name in (
        "host_address",
        "taskhub",
        "token_credential",
        "resource_id",
        "channel",
        "secure_channel",
        "interceptors",
        "channel_options",
        "resiliency_options",
        "concurrency_options",
        "payload_store",
        "data_converter",
        "log_handler",
        "log_formatter",
        "logger",
        "exception_properties_provider",
        "options",
        "orchestrators",
        "activities",
    ):
        assert name in params, name
    assert issubclass(dts_worker.DurableTaskSchedulerWorker, worker.TaskHubGrpcWorker)
