"""Odd or hostile values from workers and clients never crash the emulator or corrupt stored state."""

from __future__ import annotations

import grpc
import pytest
from emulator_streams import open_stream, server_stub, started_stream

from conftest import (
    complete_orchestration,
    completion,
    get_state,
    history,
    kinds,
    new_kinds,
)
from durabletask._proto import orchestrator_service_pb2 as pb


def test_unknown_action_and_bad_completion_status_fail_cleanly(stub):
    with started_stream(stub) as s:
        item = s.next()
        empty = pb.OrchestratorAction(id=5)  # no action type set
        weird = completion(status=99)
        complete_orchestration(stub, item, empty, weird)
        st = get_state(stub).orchestrationState
        assert st.orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED
        assert st.failureDetails.errorType == "InvalidCompletion" and "99" in st.failureDetails.errorMessage
        assert kinds(history(stub))[-2:] == ["orchestratorCompleted", "executionCompleted"]


def test_canceled_is_never_stored(stub):
    with started_stream(stub) as s:
        complete_orchestration(stub, s.next(), completion(status=pb.ORCHESTRATION_STATUS_CANCELED))
        assert get_state(stub).orchestrationState.orchestrationStatus == pb.ORCHESTRATION_STATUS_TERMINATED


def test_completion_for_another_instance_is_ignored(stub):
    with started_stream(stub) as s:
        item = s.next()
        stub.CompleteOrchestratorTask(pb.OrchestratorResponse(
            instanceId="someone-else", actions=[completion(1)], completionToken=item.completionToken), timeout=10)
        assert get_state(stub).orchestrationState.orchestrationStatus == pb.ORCHESTRATION_STATUS_PENDING
        complete_orchestration(stub, item, completion(2))
        assert get_state(stub).orchestrationState.output.value == "2"


def test_timer_without_fire_time_and_past_scheduled_start(stub):
    req = pb.CreateInstanceRequest(instanceId="i1", name="orch")
    req.scheduledStartTimestamp.FromSeconds(1000)  # long past: starts now
    stub.StartInstance(req, timeout=10)
    with open_stream(stub) as s:
        item = s.next()
        timer = pb.OrchestratorAction(id=1, createTimer=pb.CreateTimerAction())  # fireAt unset: the epoch
        complete_orchestration(stub, item, timer)
        item = s.next()
        assert new_kinds(item) == ["orchestratorStarted", "timerFired"]
        assert item.orchestratorRequest.newEvents[1].timerFired.timerId == 1


def test_bad_query_values_are_invalid_arguments(stub):
    with pytest.raises(grpc.RpcError) as info:
        stub.QueryInstances(pb.QueryInstancesRequest(query=pb.InstanceQuery(runtimeStatus=[42])), timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as info:
        stub.PurgeInstances(pb.PurgeInstancesRequest(), timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as info:
        stub.GetInstance(pb.GetInstanceRequest(instanceId="x" * 5000), timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    req = pb.ListInstanceIdsRequest()
    req.lastInstanceKey.value = "not-a-key"
    with pytest.raises(grpc.RpcError) as info:
        stub.ListInstanceIds(req, timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_oversized_history_fails_the_orchestration_instead_of_looping(make_server):
    with server_stub(make_server, max_history_size=6) as stub, started_stream(stub) as s:
        item = s.next()
        complete_orchestration(stub, item)  # 3 events
        stub.RaiseEvent(pb.RaiseEventRequest(instanceId="i1", name="a"), timeout=10)
        item = s.next()
        complete_orchestration(stub, item)  # 6 events
        stub.RaiseEvent(pb.RaiseEventRequest(instanceId="i1", name="b"), timeout=10)
        assert s.none_within(0.5)  # would need 8 events: failed by the emulator, not dispatched
        st = get_state(stub).orchestrationState
        assert st.orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED
        assert "limit of 6 events" in st.failureDetails.errorMessage
