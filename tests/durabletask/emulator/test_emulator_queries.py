"""Contract tests of queries, paging, purge and history streaming."""

from __future__ import annotations

import json
import time

import grpc
import pytest
from emulator_fake_worker import Ctx, FakeWorker
from google.protobuf import wrappers_pb2

from conftest import RawStream, complete_orchestration, completion, get_state, history, start, wait_done
from durabletask._proto import orchestrator_service_pb2 as pb


def _finish_all(server, stub, ids):
    def done(ctx: Ctx) -> None:
        ctx.complete(ctx.input)

    with FakeWorker(server.address, {"done": done}):
        for i in ids:
            wait_done(stub, i)


def _query_all(stub, **query):
    pages, tokens = [], []
    token = None
    while True:
        q = pb.InstanceQuery(**query)
        if token is not None:
            q.continuationToken.value = token
        resp = stub.QueryInstances(pb.QueryInstancesRequest(query=q), timeout=10)
        pages.append([s.instanceId for s in resp.orchestrationState])
        if not resp.HasField("continuationToken"):
            return pages, tokens
        token = resp.continuationToken.value
        assert token and token != "0" and token not in tokens
        tokens.append(token)


def test_query_paging_with_keyset_tokens(server, stub):
    for i in range(45):
        start(stub, "orch", i, instance_id=f"q{i:03d}")
    pages, tokens = _query_all(stub, maxInstanceCount=20)
    assert [len(p) for p in pages] == [20, 20, 5]
    flat = [i for p in pages for i in p]
    assert sorted(flat) == [f"q{i:03d}" for i in range(45)] and len(set(flat)) == 45
    # Newest first: (created time, id) descending across pages.
    created = {s.instanceId: s.createdTimestamp.ToNanoseconds() for s in stub.QueryInstances(
        pb.QueryInstancesRequest(query=pb.InstanceQuery(maxInstanceCount=100)), timeout=10).orchestrationState}
    assert flat == sorted(flat, key=lambda i: (created[i], i), reverse=True)
    assert flat[0] == "q044" and flat[-1] == "q000"
    assert len(tokens) == 2
    # Exactly one page: no token.
    pages, tokens = _query_all(stub, maxInstanceCount=45)
    assert [len(p) for p in pages] == [45] and tokens == []
    # Python's default page size (2**31 - 1) still pages safely.
    pages, _ = _query_all(stub, maxInstanceCount=2**31 - 1)
    assert sum(len(p) for p in pages) == 45
    bad = pb.InstanceQuery(continuationToken=wrappers_pb2.StringValue(value="garbage"))
    with pytest.raises(grpc.RpcError) as info:
        stub.QueryInstances(pb.QueryInstancesRequest(query=bad), timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_query_filters_status_prefix_and_payloads(server, stub):
    for i in range(5):
        start(stub, "done", i, instance_id=f"a-{i}")
    _finish_all(server, stub, [f"a-{i}" for i in range(5)])
    for i in range(3):
        start(stub, "orch", i, instance_id=f"b-{i}")
    q = pb.InstanceQuery(runtimeStatus=[pb.ORCHESTRATION_STATUS_COMPLETED], fetchInputsAndOutputs=True)
    resp = stub.QueryInstances(pb.QueryInstancesRequest(query=q), timeout=10)
    assert sorted(s.instanceId for s in resp.orchestrationState) == [f"a-{i}" for i in range(5)]
    assert all(s.HasField("output") for s in resp.orchestrationState)
    q = pb.InstanceQuery(instanceIdPrefix=wrappers_pb2.StringValue(value="b-"))
    resp = stub.QueryInstances(pb.QueryInstancesRequest(query=q), timeout=10)
    assert sorted(s.instanceId for s in resp.orchestrationState) == ["b-0", "b-1", "b-2"]
    assert not any(s.HasField("input") for s in resp.orchestrationState)
    assert all(s.orchestrationStatus != pb.ORCHESTRATION_STATUS_CANCELED for s in resp.orchestrationState)
    q = pb.InstanceQuery(instanceIdPrefix=wrappers_pb2.StringValue(value="b_"))  # LIKE wildcards are literal
    assert not stub.QueryInstances(pb.QueryInstancesRequest(query=q), timeout=10).orchestrationState


def test_list_instance_ids_pages_terminal_instances(server, stub):
    ids = [f"t{i}" for i in range(7)]
    for i in ids:
        start(stub, "done", 1, instance_id=i)
    _finish_all(server, stub, ids)
    start(stub, "orch", instance_id="running")
    seen, key = [], None
    keys = []
    while True:
        req = pb.ListInstanceIdsRequest(pageSize=3)
        if key is not None:
            req.lastInstanceKey.value = key
        resp = stub.ListInstanceIds(req, timeout=10)
        seen.extend(resp.instanceIds)
        if not resp.HasField("lastInstanceKey"):
            break
        key = resp.lastInstanceKey.value
        assert key not in keys
        keys.append(key)
    assert sorted(seen) == ids and len(seen) == 7 and len(keys) == 2


def test_purge_single_recursive_and_by_filter(server, stub):
    def parent(ctx: Ctx) -> None:
        if not ctx.past_of("subOrchestrationInstanceCreated"):
            ctx.sub(1, "done", f"{ctx.req.instanceId}-kid", 1)
        elif ctx.of("subOrchestrationInstanceCompleted"):
            ctx.complete("ok")

    def done(ctx: Ctx) -> None:
        ctx.complete(ctx.input)

    assert stub.PurgeInstances(pb.PurgeInstancesRequest(instanceId="unknown"), timeout=10).deletedInstanceCount == 0
    with FakeWorker(server.address, {"parent": parent, "done": done}):
        for i in range(3):
            start(stub, "parent", instance_id=f"p{i}")
        for i in range(4):
            start(stub, "done", i, instance_id=f"d{i}")
        for i in range(3):
            wait_done(stub, f"p{i}")
        for i in range(4):
            wait_done(stub, f"d{i}")
    start(stub, "orch", instance_id="live")
    with pytest.raises(grpc.RpcError) as info:
        stub.PurgeInstances(pb.PurgeInstancesRequest(instanceId="live"), timeout=10)
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    resp = stub.PurgeInstances(pb.PurgeInstancesRequest(instanceId="p0", recursive=True), timeout=10)
    assert resp.deletedInstanceCount == 2
    assert not get_state(stub, "p0").exists and not get_state(stub, "p0-kid").exists
    resp = stub.PurgeInstances(pb.PurgeInstancesRequest(instanceId="p1"), timeout=10)
    assert resp.deletedInstanceCount == 1 and get_state(stub, "p1-kid").exists
    with pytest.raises(grpc.RpcError) as info:
        stub.StreamInstanceHistory(pb.StreamInstanceHistoryRequest(instanceId="p1"), timeout=10).next()
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    # By filter: every terminal instance (p1-kid, p2, p2-kid, d0..d3); the live one stays.
    f = pb.PurgeInstanceFilter(runtimeStatus=[pb.ORCHESTRATION_STATUS_COMPLETED])
    resp = stub.PurgeInstances(pb.PurgeInstancesRequest(purgeInstanceFilter=f), timeout=10)
    assert resp.deletedInstanceCount == 7 and resp.isComplete.value is True
    assert get_state(stub, "live").exists
    resp = stub.PurgeInstances(pb.PurgeInstancesRequest(purgeInstanceFilter=f), timeout=10)
    assert resp.deletedInstanceCount == 0


def test_purge_filter_by_created_time(server, stub):
    start(stub, "done", 1, instance_id="old")
    time.sleep(0.01)
    cut = time.time()
    time.sleep(0.01)
    start(stub, "done", 1, instance_id="new")
    _finish_all(server, stub, ["old", "new"])
    f = pb.PurgeInstanceFilter()
    f.createdTimeTo.FromNanoseconds(int(cut * 1e9))
    resp = stub.PurgeInstances(pb.PurgeInstancesRequest(purgeInstanceFilter=f), timeout=10)
    assert resp.deletedInstanceCount == 1
    assert not get_state(stub, "old").exists and get_state(stub, "new").exists


def test_stream_history_chunks_are_bounded_by_bytes(server, stub):
    server.engine.options.history_chunk_bytes = 50_000
    start(stub, "orch")
    s = RawStream(stub)
    try:
        item = s.next()
        for i in range(12):  # queued while the instance is locked: one batch
            stub.RaiseEvent(pb.RaiseEventRequest(instanceId="i1", name=f"e{i}",
                                                 input=wrappers_pb2.StringValue(value=json.dumps("x" * 20_000))),
                            timeout=10)
        complete_orchestration(stub, item)
        item = s.next()
        complete_orchestration(stub, item, completion("ok"))
    finally:
        s.close()
    chunks = list(stub.StreamInstanceHistory(pb.StreamInstanceHistoryRequest(instanceId="i1"), timeout=10))
    assert len(chunks) >= 5
    assert all(c.ByteSize() <= 50_000 + 21_000 for c in chunks)
    assert [e.WhichOneof("eventType") for c in chunks for e in c.events] == [
        e.WhichOneof("eventType") for e in history(stub)]
    assert sum(len(c.events) for c in chunks) == 3 + 1 + 12 + 2
    with pytest.raises(grpc.RpcError) as info:
        list(stub.StreamInstanceHistory(pb.StreamInstanceHistoryRequest(instanceId="nope"), timeout=10))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    req = pb.StreamInstanceHistoryRequest(instanceId="i1", executionId=wrappers_pb2.StringValue(value="other"))
    with pytest.raises(grpc.RpcError) as info:
        list(stub.StreamInstanceHistory(req, timeout=10))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


def test_first_query_page_is_fast_on_a_large_hub(make_server):
    server = make_server()
    store = server.engine.store
    base = 1_700_000_000_000_000
    rows = []
    for i in range(100_000):
        rows.append(("default", f"inst-{i:06d}", "e", "orch", None, (1, 3, 5, 0)[i % 4], base + i, base + i,
                     base + i if i % 4 != 3 else None))
    with server.engine.lock:
        store._db.execute("BEGIN")
        store._db.executemany(
            "INSERT INTO instances (hub, instance_id, execution_id, name, version, status, created_us, updated_us, "
            "completed_us) VALUES (?,?,?,?,?,?,?,?,?)", rows)
        store._db.execute("COMMIT")
        store.analyze()
    engine = server.engine
    cases = [pb.InstanceQuery(maxInstanceCount=100),
             pb.InstanceQuery(maxInstanceCount=100, runtimeStatus=[pb.ORCHESTRATION_STATUS_FAILED]),
             pb.InstanceQuery(maxInstanceCount=100, instanceIdPrefix=wrappers_pb2.StringValue(value="inst-0999")),
             pb.InstanceQuery(maxInstanceCount=100, runtimeStatus=[pb.ORCHESTRATION_STATUS_RUNNING],
                              instanceIdPrefix=wrappers_pb2.StringValue(value="inst-050"))]
    cases += [pb.InstanceQuery(maxInstanceCount=100, runtimeStatus=[pb.ORCHESTRATION_STATUS_COMPLETED,
                                                                    pb.ORCHESTRATION_STATUS_RUNNING]),
              pb.InstanceQuery(maxInstanceCount=100, instanceIdPrefix=wrappers_pb2.StringValue(value="inst-"))]
    first = engine.query_instances("default", pb.QueryInstancesRequest(query=cases[0]))
    assert [s.instanceId for s in first.orchestrationState[:3]] == ["inst-099999", "inst-099998", "inst-099997"]
    for q in cases:
        # Served by an index (25-600 here), not a scan of the hub (10,000-27,000 with the indexes dropped).
        assert _sqlite_steps(engine, q) < 2_000, q
    resp = engine.query_instances("default", pb.QueryInstancesRequest(query=cases[1]))
    assert len(resp.orchestrationState) == 100 and resp.HasField("continuationToken")
    assert resp.orchestrationState[0].instanceId == "inst-099997"  # i % 4 == 1 is FAILED
    # A deep page through a token is served by the index too.
    q = pb.InstanceQuery(maxInstanceCount=100, runtimeStatus=[pb.ORCHESTRATION_STATUS_COMPLETED,
                                                              pb.ORCHESTRATION_STATUS_FAILED])
    q.continuationToken.value = f"{base + 50_000}|inst-050000"
    assert _sqlite_steps(engine, q) < 2_000
    resp = engine.query_instances("default", pb.QueryInstancesRequest(query=q))
    assert [s.instanceId for s in resp.orchestrationState[:3]] == ["inst-049997", "inst-049996", "inst-049993"]
    mixed = engine.query_instances("default", pb.QueryInstancesRequest(query=cases[4]))
    assert [s.instanceId for s in mixed.orchestrationState[:4]] == [
        "inst-099999", "inst-099996", "inst-099995", "inst-099992"]


def test_query_pages_newest_first_stable_under_inserts_and_deletes(make_server):
    server = make_server()
    store, engine = server.engine.store, server.engine
    base = 1_700_000_000_000_000

    def insert(ids_times):
        with engine.lock:
            store._db.execute("BEGIN")
            store._db.executemany(
                "INSERT INTO instances (hub, instance_id, execution_id, name, status, created_us, updated_us) "
                "VALUES ('default', ?, 'e', 'orch', 1, ?, ?)", [(i, t, t) for i, t in ids_times])
            store._db.execute("COMMIT")

    # Ties on created time are broken by id (descending too).
    originals = [(f"x{i:02d}", base + i // 3) for i in range(20)]
    insert(originals)
    seen, tokens, token = [], [], None
    while True:
        q = pb.InstanceQuery(maxInstanceCount=4)
        if token is not None:
            q.continuationToken.value = token
        resp = engine.query_instances("default", pb.QueryInstancesRequest(query=q))
        seen.extend(s.instanceId for s in resp.orchestrationState)
        if len(tokens) == 1:  # between pages: newer rows arrive, an unseen row and a seen row go away
            insert([("new-a", base + 100), ("new-b", base + 3)])
            with engine.lock:
                store._db.execute("DELETE FROM instances WHERE instance_id IN ('x02', 'x19')")
        if not resp.HasField("continuationToken"):
            break
        token = resp.continuationToken.value
        assert token and token != "0" and token not in tokens
        tokens.append(token)
    expected = sorted((i for i, _ in originals if i != "x02"), key=lambda i: (base + int(i[1:]) // 3, i),
                      reverse=True)
    older = [i for i in seen if not i.startswith("new-")]
    assert older == expected
    assert "new-a" not in seen  # newer than the keyset: shows up on the next first page, not mid-way
    assert len(seen) == len(set(seen))


def _sqlite_steps(engine, q):
    """SQLite virtual-machine instructions (in hundreds) one query takes: a page read through an index
    costs a few thousand, a scan of the 100,000-row hub a few million, whatever the machine's load."""
    steps = 0

    def count():
        nonlocal steps
        steps += 1
        return 0

    engine.store._db.set_progress_handler(count, 100)
    try:
        engine.query_instances("default", pb.QueryInstancesRequest(query=q))
    finally:
        engine.store._db.set_progress_handler(None, 100)
    return steps
