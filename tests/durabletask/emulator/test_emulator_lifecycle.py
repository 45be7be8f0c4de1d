"""Contract tests of the client RPCs: start, get, wait, raise, terminate, suspend/resume, restart, rewind."""

from __future__ import annotations

import json
import time

import grpc
import pytest
from emulator_fake_worker import FakeWorker, chain, inc

from conftest import (
    RawStream,
    complete_orchestration,
    completion,
    get_state,
    history,
    kinds,
    new_kinds,
    schedule,
    start,
    wait_done,
)
from durabletask._proto import orchestrator_service_pb2 as pb


def code_of(call, *args, **kw) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as info:
        call(*args, timeout=10, **kw)
    return info.value.code()


def test_start_validation_errors(stub):
    err = pytest.raises(grpc.RpcError, stub.StartInstance, pb.CreateInstanceRequest(instanceId="", name="x"),
                        timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "instanceId" in err.value.details()
    err = pytest.raises(grpc.RpcError, stub.StartInstance, pb.CreateInstanceRequest(instanceId="a"), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    big = pb.CreateInstanceRequest(instanceId="a", name="x")
    big.input.value = "x" * (3 * 1024 * 1024)
    err = pytest.raises(grpc.RpcError, stub.StartInstance, big, timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "2097152" in err.value.details()
    assert not get_state(stub, "a").exists


def test_get_unknown_and_pending_state(stub):
    assert not get_state(stub, "nope").exists
    req = pb.CreateInstanceRequest(instanceId="i1", name="orch", tags={"k": "v"})
    req.input.value = '"in"'
    req.version.value = "1.0"
    assert stub.StartInstance(req, timeout=10).instanceId == "i1"
    st = get_state(stub).orchestrationState
    assert st.orchestrationStatus == pb.ORCHESTRATION_STATUS_PENDING
    assert (st.name, st.input.value, st.version.value, dict(st.tags)) == ("orch", '"in"', "1.0", {"k": "v"})
    assert st.createdTimestamp.seconds > 0 and st.executionId.value
    no_payload = stub.GetInstance(pb.GetInstanceRequest(instanceId="i1"), timeout=10).orchestrationState
    assert not no_payload.HasField("input")


def test_id_conflicts_and_reuse_policy(server, stub):
    start(stub, "orch")
    assert code_of(stub.StartInstance, pb.CreateInstanceRequest(instanceId="i1", name="orch")) == \
        grpc.StatusCode.ALREADY_EXISTS
    # A policy that lists PENDING replaces the live instance.
    policy = pb.OrchestrationIdReusePolicy(replaceableStatus=[pb.ORCHESTRATION_STATUS_PENDING])
    first_exec = get_state(stub).orchestrationState.executionId.value
    stub.StartInstance(pb.CreateInstanceRequest(instanceId="i1", name="orch2", orchestrationIdReusePolicy=policy),
                       timeout=10)
    st = get_state(stub).orchestrationState
    assert st.name == "orch2" and st.executionId.value != first_exec
    stub.TerminateInstance(pb.TerminateRequest(instanceId="i1"), timeout=10)
    assert get_state(stub).orchestrationState.orchestrationStatus == pb.ORCHESTRATION_STATUS_TERMINATED
    # Terminal: the default policy replaces; an explicit policy without TERMINATED refuses.
    strict = pb.OrchestrationIdReusePolicy(replaceableStatus=[pb.ORCHESTRATION_STATUS_COMPLETED])
    assert code_of(stub.StartInstance, pb.CreateInstanceRequest(
        instanceId="i1", name="orch3", orchestrationIdReusePolicy=strict)) == grpc.StatusCode.ALREADY_EXISTS
    stub.StartInstance(pb.CreateInstanceRequest(instanceId="i1", name="orch3"), timeout=10)
    st = get_state(stub).orchestrationState
    assert st.name == "orch3" and st.orchestrationStatus == pb.ORCHESTRATION_STATUS_PENDING
    assert kinds(history(stub)) == []


def test_wait_for_start_and_completion(server, stub):
    resp = stub.WaitForInstanceCompletion(pb.GetInstanceRequest(instanceId="nope"), timeout=5)
    assert not resp.exists
    start(stub, "chain", {"n": 1, "v": 1})
    t0 = time.monotonic()
    with pytest.raises(grpc.RpcError) as info:
        stub.WaitForInstanceStart(pb.GetInstanceRequest(instanceId="i1"), timeout=0.5)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - t0 < 15
    with FakeWorker(server.address, {"chain": chain}, {"inc": inc}):
        st = stub.WaitForInstanceStart(pb.GetInstanceRequest(instanceId="i1"), timeout=10).orchestrationState
        assert st.orchestrationStatus != pb.ORCHESTRATION_STATUS_PENDING
        assert json.loads(wait_done(stub).output.value) == 2


def test_raise_event_before_start_is_delivered_after_execution_started(server, stub):
    assert code_of(stub.RaiseEvent, pb.RaiseEventRequest(instanceId="nope", name="e")) == grpc.StatusCode.NOT_FOUND
    assert code_of(stub.RaiseEvent, pb.RaiseEventRequest(instanceId="nope", name="")) == \
        grpc.StatusCode.INVALID_ARGUMENT
    start(stub, "orch")
    for i in range(3):
        stub.RaiseEvent(pb.RaiseEventRequest(instanceId="i1", name="e", input=_sv(i)), timeout=10)
    s = RawStream(stub)
    try:
        item = s.next()
        assert new_kinds(item) == ["orchestratorStarted", "executionStarted", "eventRaised", "eventRaised",
                                   "eventRaised"]
        assert [e.eventRaised.input.value for e in item.orchestratorRequest.newEvents[2:]] == ["0", "1", "2"]
        complete_orchestration(stub, item, completion("done"))
        assert wait_done(stub).orchestrationStatus == pb.ORCHESTRATION_STATUS_COMPLETED
        # A finished instance accepts events and drops them.
        stub.RaiseEvent(pb.RaiseEventRequest(instanceId="i1", name="late"), timeout=10)
        assert s.none_within(0.5)
    finally:
        s.close()


def _sv(value):
    from google.protobuf import wrappers_pb2

    return wrappers_pb2.StringValue(value=json.dumps(value))


def test_terminate(server, stub):
    assert code_of(stub.TerminateInstance, pb.TerminateRequest(instanceId="nope")) == grpc.StatusCode.NOT_FOUND
    # Never dispatched: terminated directly by the backend.
    start(stub, "orch", instance_id="p")
    stub.TerminateInstance(pb.TerminateRequest(instanceId="p", output=_sv("bye")), timeout=10)
    st = wait_done(stub, "p")
    assert st.orchestrationStatus == pb.ORCHESTRATION_STATUS_TERMINATED and st.output.value == '"bye"'
    # Running: the worker receives executionTerminated.
    start(stub, "orch")
    s = RawStream(stub)
    try:
        item = s.next()
        complete_orchestration(stub, item, schedule(1))
        s.next()  # the activity
        stub.TerminateInstance(pb.TerminateRequest(instanceId="i1", output=_sv("stop")), timeout=10)
        item = s.next()
        assert new_kinds(item) == ["orchestratorStarted", "executionTerminated"]
        assert item.orchestratorRequest.newEvents[1].executionTerminated.input.value == '"stop"'
        complete_orchestration(stub, item, completion("stop", pb.ORCHESTRATION_STATUS_TERMINATED))
        assert wait_done(stub).orchestrationStatus == pb.ORCHESTRATION_STATUS_TERMINATED
        stub.TerminateInstance(pb.TerminateRequest(instanceId="i1"), timeout=10)  # terminal: no-op
        assert s.none_within(0.3)
    finally:
        s.close()


def test_recursive_terminate_reaches_children(server, stub):
    from emulator_fake_worker import Ctx

    def parent(ctx: Ctx) -> None:
        if not ctx.past_of("subOrchestrationInstanceCreated"):
            ctx.sub(1, "child", "c1")
            ctx.sub(2, "child", "c2")

    def child(ctx: Ctx) -> None:
        pass  # waits forever

    with FakeWorker(server.address, {"parent": parent, "child": child}):
        start(stub, "parent")
        for cid in ("c1", "c2"):
            stub.WaitForInstanceStart(pb.GetInstanceRequest(instanceId=cid), timeout=10)
        stub.TerminateInstance(pb.TerminateRequest(instanceId="i1", recursive=True), timeout=10)
        assert wait_done(stub).orchestrationStatus == pb.ORCHESTRATION_STATUS_TERMINATED
        for cid in ("c1", "c2"):
            assert wait_done(stub, cid).orchestrationStatus == pb.ORCHESTRATION_STATUS_TERMINATED
        st = get_state(stub, "c1").orchestrationState
        assert st.parentInstanceId.value == "i1"


def test_suspend_resume_never_sends_stray_resume(server, stub):
    assert code_of(stub.SuspendInstance, pb.SuspendRequest(instanceId="nope")) == grpc.StatusCode.NOT_FOUND
    assert code_of(stub.ResumeInstance, pb.ResumeRequest(instanceId="nope")) == grpc.StatusCode.NOT_FOUND
    start(stub, "orch")
    s = RawStream(stub)
    try:
        item = s.next()
        complete_orchestration(stub, item)
        # Resume of a running instance is a no-op: no work item at all.
        stub.ResumeInstance(pb.ResumeRequest(instanceId="i1"), timeout=10)
        assert s.none_within(0.4)
        stub.SuspendInstance(pb.SuspendRequest(instanceId="i1", reason=_sv("r")), timeout=10)
        stub.SuspendInstance(pb.SuspendRequest(instanceId="i1"), timeout=10)  # already queued: no-op
        item = s.next()
        assert new_kinds(item) == ["orchestratorStarted", "executionSuspended"]
        complete_orchestration(stub, item)
        assert get_state(stub).orchestrationState.orchestrationStatus == pb.ORCHESTRATION_STATUS_SUSPENDED
        stub.ResumeInstance(pb.ResumeRequest(instanceId="i1"), timeout=10)
        stub.ResumeInstance(pb.ResumeRequest(instanceId="i1"), timeout=10)  # resume already queued: no-op
        item = s.next()
        assert new_kinds(item) == ["orchestratorStarted", "executionResumed"]
        complete_orchestration(stub, item)
        assert get_state(stub).orchestrationState.orchestrationStatus == pb.ORCHESTRATION_STATUS_RUNNING
        assert s.none_within(0.3)
    finally:
        s.close()


def test_restart(server, stub):
    assert code_of(stub.RestartInstance, pb.RestartInstanceRequest(instanceId="nope")) == grpc.StatusCode.NOT_FOUND
    start(stub, "chain", {"n": 1, "v": 5}, tags={"t": "1"})
    assert code_of(stub.RestartInstance, pb.RestartInstanceRequest(instanceId="i1")) == \
        grpc.StatusCode.FAILED_PRECONDITION
    with FakeWorker(server.address, {"chain": chain}, {"inc": inc}):
        first = wait_done(stub)
        assert stub.RestartInstance(pb.RestartInstanceRequest(instanceId="i1"), timeout=10).instanceId == "i1"
        again = wait_done(stub)
        assert again.executionId.value != first.executionId.value
        assert json.loads(again.output.value) == 6 and dict(again.tags) == {"t": "1"}
        new_id = stub.RestartInstance(pb.RestartInstanceRequest(instanceId="i1", restartWithNewInstanceId=True),
                                      timeout=10).instanceId
        assert new_id != "i1"
        assert json.loads(wait_done(stub, new_id).output.value) == 6


def test_rewind_sends_exactly_two_new_events(server, stub):
    assert code_of(stub.RewindInstance, pb.RewindInstanceRequest(instanceId="nope")) == grpc.StatusCode.NOT_FOUND
    start(stub, "orch")
    s = RawStream(stub)
    try:
        item = s.next()
        assert code_of(stub.RewindInstance, pb.RewindInstanceRequest(instanceId="i1")) == \
            grpc.StatusCode.FAILED_PRECONDITION
        complete_orchestration(stub, item, schedule(1, "flaky"))
        act = s.next()
        fail = pb.ActivityResponse(instanceId="i1", taskId=1, completionToken=act.completionToken)
        fail.failureDetails.errorType = "builtins.ValueError"
        fail.failureDetails.errorMessage = "boom"
        stub.CompleteActivityTask(fail, timeout=10)
        item = s.next()
        assert new_kinds(item) == ["orchestratorStarted", "taskFailed"]
        failed = completion(status=pb.ORCHESTRATION_STATUS_FAILED)
        failed.completeOrchestration.failureDetails.errorType = "builtins.ValueError"
        failed.completeOrchestration.failureDetails.errorMessage = "boom"
        complete_orchestration(stub, item, failed)
        st = wait_done(stub)
        assert st.orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED
        assert st.failureDetails.errorType == "builtins.ValueError"

        stub.RewindInstance(pb.RewindInstanceRequest(instanceId="i1", reason=_sv("again")), timeout=10)
        item = s.next()
        assert new_kinds(item) == ["orchestratorStarted", "executionRewound"]
        past = [e.WhichOneof("eventType") for e in item.orchestratorRequest.pastEvents]
        assert "executionCompleted" in past
        # The worker answers with the rewritten history (failed task and completion removed).
        from emulator_fake_worker import Ctx, handle_common

        ctx = Ctx(item.orchestratorRequest)
        assert handle_common(ctx)
        complete_orchestration(stub, item, *ctx.actions)
        item = s.next()
        assert new_kinds(item) == ["orchestratorStarted"]
        past = [e.WhichOneof("eventType") for e in item.orchestratorRequest.pastEvents]
        assert "taskFailed" not in past and "executionCompleted" not in past and "executionRewound" in past
        assert item.orchestratorRequest.executionId.value == "rewound-i1"
        complete_orchestration(stub, item, schedule(1, "flaky"))
        act = s.next()
        ok = pb.ActivityResponse(instanceId="i1", taskId=1, completionToken=act.completionToken, result=_sv(1))
        stub.CompleteActivityTask(ok, timeout=10)
        item = s.next()
        complete_orchestration(stub, item, completion("fixed"))
        st = wait_done(stub)
        assert st.orchestrationStatus == pb.ORCHESTRATION_STATUS_COMPLETED and st.output.value == '"fixed"'
        assert not st.HasField("failureDetails")
    finally:
        s.close()
