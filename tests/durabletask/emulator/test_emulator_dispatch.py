"""Contract tests of work dispatch: leases, redelivery, abandon, duplicates, concurrency, pings, hubs, auth."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import grpc
import pytest
from emulator_fake_worker import Ctx, FakeWorker, chain, inc, utc
from emulator_streams import open_stream, server_stub, started_stream
from google.protobuf import empty_pb2

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
from durabletask.emulator import EmulatorServer


def test_closed_stream_redelivers_orchestration_and_activity(stub):
    start(stub, "orch")
    s1 = RawStream(stub)
    item = s1.next()
    first_token = item.completionToken
    s1.close()  # dies without completing
    with open_stream(stub) as s2:
        again = s2.next()
        assert again.orchestratorRequest.instanceId == "i1" and again.completionToken != first_token
        assert new_kinds(again) == ["orchestratorStarted", "executionStarted"]
        # The dead stream's token is stale now: its completion is ignored.
        complete_orchestration(stub, item, completion("stale"))
        assert get_state(stub).orchestrationState.orchestrationStatus == pb.ORCHESTRATION_STATUS_PENDING
        complete_orchestration(stub, again, schedule(1))
        act = s2.next()
        assert act.activityRequest.name == "act"
    with open_stream(stub) as s3:
        act2 = s3.next()
        assert act2.activityRequest.taskId == 1 and act2.completionToken != act.completionToken
        stub.CompleteActivityTask(pb.ActivityResponse(instanceId="i1", taskId=1, completionToken=act2.completionToken),
                                  timeout=10)
        item = s3.next()
        assert new_kinds(item) == ["orchestratorStarted", "taskCompleted"]


def test_abandon_redelivers_after_a_delay(stub):
    with started_stream(stub) as s:
        item = s.next()
        t0 = time.monotonic()
        stub.AbandonTaskOrchestratorWorkItem(pb.AbandonOrchestrationTaskRequest(completionToken=item.completionToken),
                                             timeout=10)
        again = s.next()
        assert time.monotonic() - t0 >= 0.15  # the test server's abandon delay is 0.2 s
        assert new_kinds(again) == ["orchestratorStarted", "executionStarted"]
        complete_orchestration(stub, again, schedule(1))
        act = s.next()
        t0 = time.monotonic()
        stub.AbandonTaskActivityWorkItem(pb.AbandonActivityTaskRequest(completionToken=act.completionToken),
                                         timeout=10)
        act2 = s.next()
        assert time.monotonic() - t0 >= 0.15
        assert act2.activityRequest.taskId == 1
        # Unknown tokens are ignored, not errors.
        stub.AbandonTaskActivityWorkItem(pb.AbandonActivityTaskRequest(completionToken="bogus"), timeout=10)


def test_duplicate_and_stale_completions_are_ignored(stub):
    with started_stream(stub) as s:
        item = s.next()
        complete_orchestration(stub, item, schedule(1))
        complete_orchestration(stub, item, schedule(1))  # duplicate
        act = s.next()
        done = pb.ActivityResponse(instanceId="i1", taskId=1, completionToken=act.completionToken)
        done.result.value = "1"
        stub.CompleteActivityTask(done, timeout=10)
        stub.CompleteActivityTask(done, timeout=10)  # duplicate
        stub.CompleteActivityTask(pb.ActivityResponse(instanceId="i1", taskId=1, completionToken="x:999"), timeout=10)
        item = s.next()
        assert new_kinds(item) == ["orchestratorStarted", "taskCompleted"]
        complete_orchestration(stub, item, completion(1))
        assert s.none_within(0.3)
        ev = history(stub)
        assert kinds(ev).count("taskScheduled") == 1 and kinds(ev).count("taskCompleted") == 1
        err = pytest.raises(grpc.RpcError, stub.CompleteActivityTask, pb.ActivityResponse(instanceId="i1"), timeout=10)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_one_orchestration_work_item_per_instance(stub):
    with started_stream(stub) as s:
        item = s.next()
        for i in range(3):
            stub.RaiseEvent(pb.RaiseEventRequest(instanceId="i1", name=f"e{i}"), timeout=10)
        assert s.none_within(0.3)  # locked while the first item is out
        complete_orchestration(stub, item)
        item = s.next()
        assert new_kinds(item) == ["orchestratorStarted", "eventRaised", "eventRaised", "eventRaised"]
        assert len(item.orchestratorRequest.pastEvents) == 3


def test_concurrency_limits_are_honoured(stub):
    start(stub, "orch")
    with open_stream(stub, pb.GetWorkItemsRequest(maxConcurrentOrchestrationWorkItems=1,
                                                  maxConcurrentActivityWorkItems=2)) as s:
        item = s.next()
        start(stub, "orch", instance_id="i2")
        assert s.none_within(0.3)  # one orchestration outstanding already
        complete_orchestration(stub, item, *[schedule(i) for i in range(1, 6)])
        got = [s.next() for _ in range(3)]  # i2 and two activities
        acts = [g for g in got if g.HasField("activityRequest")]
        orchs = [g for g in got if g.HasField("orchestratorRequest")]
        assert len(acts) == 2 and len(orchs) == 1
        assert s.none_within(0.3)
        stub.CompleteActivityTask(pb.ActivityResponse(instanceId="i1", taskId=acts[0].activityRequest.taskId,
                                                      completionToken=acts[0].completionToken), timeout=10)
        assert s.next().HasField("activityRequest")


def test_several_workers_share_the_work(server, stub):
    workers = [FakeWorker(server.address, {"chain": chain}, {"inc": inc}) for _ in range(2)]
    for w in workers:
        w.start()
    try:
        for i in range(20):
            start(stub, "chain", {"n": 2, "v": i}, instance_id=f"c{i}")
        for i in range(20):
            assert json.loads(wait_done(stub, f"c{i}").output.value) == i + 2
    finally:
        for w in workers:
            w.stop()
    assert all(w.activity_calls for w in workers)


def test_health_pings_on_idle_streams(stub):
    with open_stream(stub, skip_pings=False) as s:
        item = s.next(timeout=3)
        assert item.HasField("healthPing")


def test_timers_fire_at_fire_at(server, stub):
    def sleeper(ctx: Ctx) -> None:
        if not ctx.past_of("timerCreated"):
            ctx.timer(1, utc(ctx.now) + timedelta(seconds=0.5))
        elif ctx.of("timerFired"):
            ctx.complete("woke")

    with FakeWorker(server.address, {"sleeper": sleeper}) as w:
        start(stub, "sleeper")
        st = wait_done(stub)
        assert st.output.value == '"woke"'
    ev = history(stub)
    created = next(e for e in ev if e.HasField("timerCreated"))
    fired = next(e for e in ev if e.HasField("timerFired"))
    assert fired.timerFired.fireAt == created.timerCreated.fireAt and fired.timerFired.timerId == 1
    assert fired.timestamp == created.timerCreated.fireAt
    episode_start = ev[ev.index(fired) - 1]
    assert episode_start.HasField("orchestratorStarted")
    assert episode_start.timestamp.ToDatetime() >= created.timerCreated.fireAt.ToDatetime()
    assert len(w.orchestration_requests) == 2


def test_scheduled_start_is_honoured(server, stub):
    req = pb.CreateInstanceRequest(instanceId="i1", name="orch")
    req.scheduledStartTimestamp.FromMilliseconds(int(time.time() * 1000) + 800)
    stub.StartInstance(req, timeout=10)
    with open_stream(stub) as s:
        item = s.next(timeout=10)
        assert new_kinds(item) == ["orchestratorStarted", "executionStarted"]
        assert item.orchestratorRequest.newEvents[0].timestamp.ToMilliseconds() >= \
            req.scheduledStartTimestamp.ToMilliseconds()  # not dispatched before its time
        assert item.orchestratorRequest.newEvents[1].executionStarted.HasField("scheduledStartTimestamp")


def test_continue_as_new_keeps_events_and_resets_history(server, stub):
    with started_stream(stub, "orch", 0) as s:
        item = s.next()
        exec1 = item.orchestratorRequest.executionId.value
        stub.RaiseEvent(pb.RaiseEventRequest(instanceId="i1", name="mid"), timeout=10)  # arrives mid-episode
        carry = pb.HistoryEvent(eventId=-1, eventRaised=pb.EventRaisedEvent(name="kept"))
        a = pb.OrchestratorAction(id=-1)
        a.completeOrchestration.orchestrationStatus = pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW
        a.completeOrchestration.result.value = "1"
        a.completeOrchestration.carryoverEvents.append(carry)
        complete_orchestration(stub, item, schedule(7), a)
        item = s.next()
        req = item.orchestratorRequest
        assert req.executionId.value != exec1 and len(req.pastEvents) == 0
        assert new_kinds(item) == ["orchestratorStarted", "executionStarted", "eventRaised", "eventRaised"]
        assert req.newEvents[1].executionStarted.input.value == "1"
        assert [e.eventRaised.name for e in req.newEvents[2:]] == ["kept", "mid"]
        st = get_state(stub).orchestrationState
        assert st.orchestrationStatus == pb.ORCHESTRATION_STATUS_RUNNING and st.input.value == "1"
        complete_orchestration(stub, item, completion(2))
        assert wait_done(stub).output.value == "2"
        assert s.none_within(0.3)  # the scheduleTask of the continued episode was not queued


def test_sub_orchestrations_and_failure_details(server, stub):
    def parent(ctx: Ctx) -> None:
        if not ctx.past_of("subOrchestrationInstanceCreated"):
            ctx.sub(1, "child", "kid-ok", 1)
            ctx.sub(2, "bad", "kid-bad")
            return
        ok = ctx.of("subOrchestrationInstanceCompleted")
        bad = ctx.of("subOrchestrationInstanceFailed")
        if ok and bad:
            f = bad[0].subOrchestrationInstanceFailed.failureDetails
            ctx.complete({"ok": ctx.result_of(ok[0]), "err": f.errorType, "msg": f.errorMessage})

    def child(ctx: Ctx) -> None:
        ctx.complete(ctx.input + 1)

    def bad(ctx: Ctx) -> None:
        ctx.fail("child broke", "mymod.CustomError")

    with FakeWorker(server.address, {"parent": parent, "child": child, "bad": bad}) as w:
        start(stub, "parent")
        st = wait_done(stub)
    assert json.loads(st.output.value) == {"ok": 2, "err": "mymod.CustomError", "msg": "child broke"}
    kid = next(r for r in w.orchestration_requests if r.instanceId == "kid-ok")
    started = kid.newEvents[1].executionStarted
    assert started.parentInstance.orchestrationInstance.instanceId == "i1"
    assert started.parentInstance.taskScheduledId == 1 and started.parentInstance.name.value == "parent"


def test_send_event_to_other_instance_and_drop_to_missing(server, stub):
    def sender(ctx: Ctx) -> None:
        ctx.send_event(1, "receiver", "ping", 42)
        ctx.send_event(2, "missing", "ping", 0)
        ctx.complete("sent")

    def receiver(ctx: Ctx) -> None:
        got = ctx.of("eventRaised")
        if got:
            ctx.complete(json.loads(got[0].eventRaised.input.value))

    with FakeWorker(server.address, {"sender": sender, "receiver": receiver}):
        start(stub, "receiver", instance_id="receiver")
        stub.WaitForInstanceStart(pb.GetInstanceRequest(instanceId="receiver"), timeout=10)
        start(stub, "sender", instance_id="sender")
        assert wait_done(stub, "sender").output.value == '"sent"'
        assert wait_done(stub, "receiver").output.value == "42"
    assert not get_state(stub, "missing").exists
    sent = [e for e in history(stub, "sender") if e.HasField("eventSent")]
    assert [(e.eventId, e.eventSent.instanceId, e.eventSent.name) for e in sent] == [
        (1, "receiver", "ping"), (2, "missing", "ping")]


def test_task_hubs_are_isolated_and_limited(make_server):
    with server_stub(make_server, taskhubs=["a", "b"]) as stub:
        start(stub, "orch", metadata=(("taskhub", "a"),))
        assert get_state(stub, metadata=(("taskhub", "a"),)).exists
        assert not get_state(stub, metadata=(("taskhub", "b"),)).exists
        for md in ((("taskhub", "c"),), ()):
            with pytest.raises(grpc.RpcError) as info:
                get_state(stub, metadata=md)
            assert info.value.code() == grpc.StatusCode.NOT_FOUND
            assert info.value.details() == f"Task hub not found: {md[0][1] if md else 'default'}"
        s = RawStream(stub, metadata=(("taskhub", "c"),))
        with pytest.raises(grpc.RpcError) as info:
            s.next()
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
        # A worker on hub b never sees hub a's work.
        sb = RawStream(stub, metadata=(("taskhub", "b"),))
        assert sb.none_within(0.3)
        sb.close()
        sa = RawStream(stub, metadata=(("taskhub", "a"), ("authorization", "Bearer ignored")))
        assert sa.next().orchestratorRequest.instanceId == "i1"
        sa.close()


def test_any_hub_is_accepted_without_a_list(stub):
    start(stub, "orch", metadata=(("taskhub", "fresh"),))
    assert get_state(stub, metadata=(("taskhub", "fresh"),)).exists
    assert not get_state(stub).exists  # the default hub is another hub


def test_token_auth(make_server):
    with pytest.raises(ValueError, match="token"):
        EmulatorServer(host="0.0.0.0", port=0)
    with server_stub(make_server, token="s3cret") as stub:
        for md in ((), (("authorization", "Bearer wrong"),)):
            with pytest.raises(grpc.RpcError) as info:
                stub.Hello(empty_pb2.Empty(), metadata=md, timeout=10)
            assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        stub.Hello(empty_pb2.Empty(), metadata=(("authorization", "Bearer s3cret"),), timeout=10)
        s = RawStream(stub)
        with pytest.raises(grpc.RpcError) as info:
            s.next()
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_entities_answer_unimplemented(stub):
    with pytest.raises(grpc.RpcError) as info:
        stub.SignalEntity(pb.SignalEntityRequest(instanceId="@e@k", name="op"), timeout=10)
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED and "entities" in info.value.details()


def test_expired_leases_are_redelivered(make_server):
    with server_stub(make_server, lease_timeout=0.4) as stub, started_stream(stub) as s:
        item = s.next()
        t0 = time.monotonic()
        again = s.next(timeout=5)  # never completed: the lease expires and the item comes back
        assert time.monotonic() - t0 >= 0.3
        assert again.orchestratorRequest.instanceId == "i1" and again.completionToken != item.completionToken
        complete_orchestration(stub, item, completion("late"))  # the expired lease's completion is stale
        assert get_state(stub).orchestrationState.orchestrationStatus == pb.ORCHESTRATION_STATUS_PENDING
        complete_orchestration(stub, again, completion("ok"))
        assert get_state(stub).orchestrationState.output.value == '"ok"'


def test_work_item_filters(stub):
    start(stub, "a", instance_id="ia")
    start(stub, "b", instance_id="ib")
    filters = pb.WorkItemFilters(orchestrations=[pb.OrchestrationFilter(name="a")],
                                 activities=[pb.ActivityFilter(name="wanted")])
    with open_stream(stub, pb.GetWorkItemsRequest(workItemFilters=filters)) as only_a:
        item = only_a.next()
        assert item.orchestratorRequest.instanceId == "ia"
        complete_orchestration(stub, item, schedule(1, "unwanted"), schedule(2, "wanted"))
        act = only_a.next()
        assert act.activityRequest.name == "wanted"
        assert only_a.none_within(0.3)  # neither "b" nor "unwanted"
        rest = RawStream(stub)
        got = {rest.next().WhichOneof("request") for _ in range(2)}
        assert got == {"orchestratorRequest", "activityRequest"}
        rest.close()
