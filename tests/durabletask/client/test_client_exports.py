"""Pins the public names of the client modules and the published SDK's signatures (names, kinds, defaults)."""

from __future__ import annotations

import inspect

import pytest

import durabletask.azuremanaged.client as am_client
from durabletask import client, grpc_options
from durabletask.client import (
    AsyncTaskHubGrpcClient,
    EntityQuery,
    OrchestrationQuery,
    OrchestrationState,
    OrchestrationStatus,
    TaskHubGrpcClient,
)

PUBLISHED_CLIENT_NAMES = {
    "AsyncTaskHubGrpcClient",
    "CleanEntityStorageResult",
    "EntityQuery",
    "OrchestrationFailedError",
    "OrchestrationQuery",
    "OrchestrationState",
    "OrchestrationStatus",
    "Page",
    "PurgeInstancesResult",
    "TaskHubGrpcClient",
    "new_orchestration_state",
    "new_purge_instances_result",
    "parse_orchestration_state",
}
OUR_EXTRA_CLIENT_NAMES = {
    "DurableTaskRpcError",
    "EntityMetadata",
    "OrchestrationAlreadyExistsError",
    "OrchestrationNotFoundError",
}


def test_client_all_is_pinned():
    assert set(client.__all__) == PUBLISHED_CLIENT_NAMES | OUR_EXTRA_CLIENT_NAMES
    for name in client.__all__:
        assert getattr(client, name) is not None


def test_azuremanaged_client_all_is_pinned():
    assert set(am_client.__all__) == {"AsyncDurableTaskSchedulerClient", "DurableTaskSchedulerClient"}
    assert issubclass(am_client.DurableTaskSchedulerClient, TaskHubGrpcClient)
    assert issubclass(am_client.AsyncDurableTaskSchedulerClient, AsyncTaskHubGrpcClient)


def test_grpc_options_names():
    for name in ("GrpcChannelOptions", "GrpcClientResiliencyOptions", "GrpcWorkerResiliencyOptions"):
        assert name in grpc_options.__all__
    assert grpc_options.GrpcWorkerResiliencyOptions().silent_disconnect_timeout_seconds == 120
    with pytest.raises(ValueError):
        grpc_options.GrpcClientResiliencyOptions(channel_recreate_failure_threshold=-1)


def test_status_members():
    assert {m.name: m.value for m in OrchestrationStatus} == {
        "RUNNING": 0,
        "COMPLETED": 1,
        "CONTINUED_AS_NEW": 2,
        "FAILED": 3,
        "TERMINATED": 5,
        "PENDING": 6,
        "SUSPENDED": 7,
    }
    with pytest.raises(ValueError):
        OrchestrationStatus(4)  # CANCELED does not exist


def test_dataclass_fields_and_defaults():
    fields = list(inspect.signature(OrchestrationState).parameters)
    assert fields[:10] == [
        "instance_id",
        "name",
        "runtime_status",
        "created_at",
        "last_updated_at",
        "serialized_input",
        "serialized_output",
        "serialized_custom_status",
        "failure_details",
        "_data_converter",
    ]
    assert set(fields[10:]) == {
        "version",
        "tags",
        "parent_instance_id",
        "execution_id",
        "scheduled_start_at",
        "completed_at",
    }
    q = OrchestrationQuery()
    assert (q.max_instance_count, q.fetch_inputs_and_outputs, q.instance_id_prefix) == (
        2147483647,
        False,
        None,
    )
    e = EntityQuery()
    assert (e.include_state, e.include_transient, e.page_size) == (True, False, None)


CTOR_KEYWORDS = [
    "host_address",
    "metadata",
    "log_handler",
    "log_formatter",
    "logger",
    "channel",
    "secure_channel",
    "interceptors",
    "channel_options",
    "resiliency_options",
    "default_version",
    "payload_store",
    "data_converter",
    "emit_trace_spans",
]

# (method, [(parameter, kind, default)]) from the published 1.12 API; "-" = no default.
K, P = inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD
METHODS = {
    "schedule_new_orchestration": [
        ("orchestrator", P, "-"),
        ("input", K, None),
        ("instance_id", K, None),
        ("start_at", K, None),
        ("reuse_id_policy", K, None),
        ("tags", K, None),
        ("version", K, None),
    ],
    "get_orchestration_state": [("instance_id", P, "-"), ("fetch_payloads", K, True)],
    "get_orchestration_history": [
        ("instance_id", P, "-"),
        ("execution_id", K, None),
        ("for_work_item_processing", K, False),
    ],
    "list_instance_ids": [
        ("runtime_status", P, None),
        ("completed_time_from", P, None),
        ("completed_time_to", P, None),
        ("page_size", P, None),
        ("continuation_token", P, None),
    ],
    "get_all_orchestration_states": [("orchestration_query", P, None)],
    "wait_for_orchestration_start": [
        ("instance_id", P, "-"),
        ("fetch_payloads", K, False),
        ("timeout", K, 60),
    ],
    "wait_for_orchestration_completion": [
        ("instance_id", P, "-"),
        ("fetch_payloads", K, True),
        ("timeout", K, 60),
    ],
    "raise_orchestration_event": [("instance_id", P, "-"), ("event_name", P, "-"), ("data", K, None)],
    "terminate_orchestration": [("instance_id", P, "-"), ("output", K, None), ("recursive", K, True)],
    "suspend_orchestration": [("instance_id", P, "-"), ("reason", K, None)],
    "resume_orchestration": [("instance_id", P, "-"), ("reason", K, None)],
    "rewind_orchestration": [("instance_id", P, "-"), ("reason", K, None)],
    "restart_orchestration": [("instance_id", P, "-"), ("restart_with_new_instance_id", K, False)],
    "purge_orchestration": [("instance_id", P, "-"), ("recursive", P, True)],
    "purge_orchestrations_by": [
        ("created_time_from", P, None),
        ("created_time_to", P, None),
        ("runtime_status", P, None),
        ("recursive", P, False),
        ("timeout", P, None),
    ],
    "signal_entity": [
        ("entity_instance_id", P, "-"),
        ("operation_name", P, "-"),
        ("input", P, None),
        ("signal_time", P, None),
    ],
    "get_entity": [("entity_instance_id", P, "-"), ("include_state", P, True)],
    "get_all_entities": [("entity_query", P, None)],
    "clean_entity_storage": [("remove_empty_entities", P, True), ("release_orphaned_locks", P, True)],
    "close": [],
}


@pytest.mark.parametrize("cls", [TaskHubGrpcClient, AsyncTaskHubGrpcClient])
def test_constructor_keywords(cls):
    params = inspect.signature(cls).parameters
    for name in CTOR_KEYWORDS:
        assert params[name].kind is K, name
    assert params["secure_channel"].default is False and params["emit_trace_spans"].default is True


@pytest.mark.parametrize("cls", [TaskHubGrpcClient, AsyncTaskHubGrpcClient])
@pytest.mark.parametrize("method", sorted(METHODS))
def test_published_method_signatures(cls, method):
    fn = getattr(cls, method)
    assert inspect.iscoroutinefunction(fn) == (cls is AsyncTaskHubGrpcClient)
    params = list(inspect.signature(fn).parameters.values())[1:]
    expected = METHODS[method]
    got = [(p.name, p.kind, "-" if p.default is inspect.Parameter.empty else p.default) for p in params]
    assert got[: len(expected)] == expected
    for extra in got[len(expected) :]:
        assert extra[2] != "-", f"extra parameter {extra[0]} must have a default"


@pytest.mark.parametrize(
    "cls", [am_client.DurableTaskSchedulerClient, am_client.AsyncDurableTaskSchedulerClient]
)
def test_dts_constructor_keywords(cls):
    params = inspect.signature(cls).parameters
    for name in ("host_address", "taskhub", "token_credential", "resource_id", "host", "credential"):
        assert params[name].kind is K
    assert params["secure_channel"].default is True


def test_timedelta_is_accepted_for_waits():
    sig = inspect.signature(TaskHubGrpcClient.wait_for_orchestration_completion)
    assert "timedelta" in str(sig.parameters["timeout"].annotation)
