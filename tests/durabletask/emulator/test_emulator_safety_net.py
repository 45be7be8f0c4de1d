"""No dispatched or deliverable item may be stuck forever: lease expiry, lost wake-ups, dispatch errors."""

from __future__ import annotations

import time

import grpc

from conftest import RawStream, complete_orchestration, completion, get_state, schedule, start
from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask._proto import orchestrator_service_pb2_grpc as pb_grpc


def _stub(server):
    channel = grpc.insecure_channel(server.address)
    return channel, pb_grpc.TaskHubSidecarServiceStub(channel)


def test_expired_activity_lease_is_redelivered(make_server):
    server = make_server(lease_timeout=0.4)
    channel, stub = _stub(server)
    s = RawStream(stub)
    try:
        start(stub, "orch")
        complete_orchestration(stub, s.next(), schedule(1, "act"))
        act = s.next()
        assert act.HasField("activityRequest")
        t0 = time.monotonic()
        again = s.next(timeout=5)  # held past its lease on an open stream: redelivered
        assert time.monotonic() - t0 >= 0.2
        assert again.activityRequest.taskId == 1 and again.completionToken != act.completionToken
        stub.CompleteActivityTask(pb.ActivityResponse(instanceId="i1", taskId=1, completionToken=act.completionToken),
                                  timeout=10)  # stale: ignored
        assert s.none_within(0.2)
        stub.CompleteActivityTask(pb.ActivityResponse(instanceId="i1", taskId=1,
                                                      completionToken=again.completionToken), timeout=10)
        item = s.next()
        assert [e.WhichOneof("eventType") for e in item.orchestratorRequest.newEvents] == [
            "orchestratorStarted", "taskCompleted"]
    finally:
        s.close()
        channel.close()


def test_lost_wakeups_are_recovered_by_the_sweep(make_server):
    server = make_server(lease_timeout=0.4)  # sweeps every 0.1 s
    engine = server.engine
    channel, stub = _stub(server)
    s = RawStream(stub)
    try:
        start(stub, "orch")
        complete_orchestration(stub, s.next(), schedule(1, "act"))
        act = s.next()
        with engine.lock:  # simulate a lost wake-up of both kinds: queued nowhere, leased by no one
            lease = engine.leases[act.completionToken]
            engine._drop_lease(lease)
            lease.act.lease = None
            engine._ready_a.clear()
        again = s.next(timeout=5)
        assert again.activityRequest.taskId == 1
        stub.CompleteActivityTask(pb.ActivityResponse(instanceId="i1", taskId=1,
                                                      completionToken=again.completionToken), timeout=10)
        item = s.next()
        start(stub, "orch", instance_id="i2")
        with engine.lock:
            inst = engine.insts[("default", "i2")]
            engine._ready_o.clear()
            inst.queued = False
        got = s.next(timeout=5)
        assert got.orchestratorRequest.instanceId == "i2"
        complete_orchestration(stub, item, completion("ok"))
        assert get_state(stub).orchestrationState.orchestrationStatus == pb.ORCHESTRATION_STATUS_COMPLETED
    finally:
        s.close()
        channel.close()


def test_a_failure_while_building_a_work_item_does_not_lose_the_instance(make_server):
    server = make_server(abandon_delay=0.1)
    engine = server.engine
    original = engine._dispatch_orchestration
    calls = []

    def fail_once(inst, stream):
        calls.append(inst.key)
        if len(calls) == 1:
            raise RuntimeError("injected failure while building a work item")
        return original(inst, stream)

    engine._dispatch_orchestration = fail_once
    channel, stub = _stub(server)
    s = RawStream(stub)
    try:
        start(stub, "orch")
        item = s.next(timeout=5)  # the stream survives and the instance is retried
        assert item.orchestratorRequest.instanceId == "i1" and len(calls) >= 2
        assert s.error is None
        complete_orchestration(stub, item, completion("ok"))
        assert get_state(stub).orchestrationState.orchestrationStatus == pb.ORCHESTRATION_STATUS_COMPLETED
    finally:
        s.close()
        channel.close()


def test_a_write_that_fails_after_changing_the_database_rolls_back_its_batch(make_server):
    import pytest

    from durabletask.emulator.errors import InvalidArgument, Unavailable

    server = make_server()
    engine, store = server.engine, server.engine.store

    def refused_late(post):
        store.add_hub("half-written", 1)
        raise InvalidArgument("refused after writing")

    def broken(post):
        store.add_hub("also-half-written", 1)
        raise RuntimeError("a bug")

    with pytest.raises(InvalidArgument):
        engine.write(refused_late)
    with pytest.raises(RuntimeError):
        engine.write(broken)
    with engine.lock:  # a good write sharing the batch with a broken one is rolled back and told so
        _, epoch = engine._apply(lambda post: store.add_hub("batch-mate", 1))
        with pytest.raises(RuntimeError):
            engine._apply(broken)
        with pytest.raises(Unavailable):
            engine._check_committed(epoch)
    assert not {"half-written", "also-half-written", "batch-mate"} & set(store.hubs())
    channel, stub = _stub(server)
    try:
        start(stub, "orch")  # the engine keeps working
        assert get_state(stub).exists
    finally:
        channel.close()


def test_waiting_calls_cannot_starve_completions(make_server):
    # Waits and work-item streams hold no thread: hundreds of them parked at once (far more than
    # max_workers) must neither be refused nor delay a worker's completion.
    server = make_server(max_workers=8)
    channel, stub = _stub(server)
    s = RawStream(stub)
    futures = []
    try:
        for i in range(8):
            start(stub, "orch", instance_id=f"w{i}")
        item = s.next()
        futures = [stub.WaitForInstanceCompletion.future(pb.GetInstanceRequest(instanceId=f"w{i % 8}"), timeout=20)
                   for i in range(200)]
        time.sleep(0.5)
        assert not [f for f in futures if f.done()]  # all parked, none refused
        t0 = time.monotonic()
        complete_orchestration(stub, item, completion("ok"))
        assert time.monotonic() - t0 < 2.0
        done_id = item.orchestratorRequest.instanceId
        mine = [f for i, f in enumerate(futures) if f"w{i % 8}" == done_id]
        for f in mine:  # every waiter of that instance wakes with its final state
            assert f.result(timeout=5).orchestrationState.orchestrationStatus == pb.ORCHESTRATION_STATUS_COMPLETED
        assert not [f for f in futures if f not in mine and f.done()]
    finally:
        for f in futures:
            f.cancel()
        s.close()
        channel.close()
