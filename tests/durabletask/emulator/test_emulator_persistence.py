"""Durability: restarts on the same file, schema versions, the CLI, the test backend helper."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta

import grpc
import pytest
from emulator_fake_worker import Ctx, FakeWorker, chain, inc, utc
from google.protobuf import empty_pb2

from conftest import get_state, history, start, wait_done
from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask._proto import orchestrator_service_pb2_grpc as pb_grpc
from durabletask.emulator import EmulatorServer, default_db_path
from durabletask.emulator.store import SCHEMA_VERSION, DatabaseInUseError, SchemaTooNewError, Store
from durabletask.testing import create_test_backend


def _stub(server: EmulatorServer) -> tuple[grpc.Channel, pb_grpc.TaskHubSidecarServiceStub]:
    channel = grpc.insecure_channel(server.address)
    return channel, pb_grpc.TaskHubSidecarServiceStub(channel)


def test_timers_and_scheduled_starts_survive_a_restart(tmp_path):
    db = tmp_path / "emu.db"
    fire_in = 1.5

    def sleeper(ctx: Ctx) -> None:
        if not ctx.past_of("timerCreated"):
            ctx.timer(1, utc(ctx.now) + timedelta(seconds=fire_in))
        elif ctx.of("timerFired"):
            ctx.complete("woke")

    server = EmulatorServer(db_path=db, port=0, health_ping_interval=0.5)
    server.start()
    channel, stub = _stub(server)
    req = pb.CreateInstanceRequest(instanceId="later", name="sleeper")
    req.scheduledStartTimestamp.FromMilliseconds(int(time.time() * 1000) + 1200)
    stub.StartInstance(req, timeout=10)
    with FakeWorker(server.address, {"sleeper": sleeper}):
        start(stub, "sleeper")
        stub.WaitForInstanceStart(pb.GetInstanceRequest(instanceId="i1"), timeout=10)
        created = time.time()
    channel.close()
    server.stop(0)

    server = EmulatorServer(db_path=db, port=0, health_ping_interval=0.5)
    server.start()
    channel, stub = _stub(server)
    try:
        assert get_state(stub, "later").orchestrationState.orchestrationStatus == pb.ORCHESTRATION_STATUS_PENDING
        with FakeWorker(server.address, {"sleeper": sleeper}) as w:
            assert wait_done(stub).output.value == '"woke"'
            woke = time.time()
            assert wait_done(stub, "later").output.value == '"woke"'
        assert woke - created >= fire_in - 0.3
        ev = history(stub)
        fired = [e for e in ev if e.HasField("timerFired")]
        assert len(fired) == 1 and fired[0].timerFired.fireAt == next(
            e for e in ev if e.HasField("timerCreated")).timerCreated.fireAt
        first = next(r for r in w.orchestration_requests if r.instanceId == "later")
        assert first.newEvents[0].timestamp.ToMilliseconds() >= req.scheduledStartTimestamp.ToMilliseconds()
    finally:
        channel.close()
        server.stop(0)


def test_completed_work_is_on_disk_after_restart(tmp_path):
    db = tmp_path / "emu.db"
    server = EmulatorServer(db_path=db, port=0)
    server.start()
    channel, stub = _stub(server)
    with FakeWorker(server.address, {"chain": chain}, {"inc": inc}):
        for i in range(5):
            start(stub, "chain", {"n": 2, "v": i}, instance_id=f"c{i}")
        for i in range(5):
            wait_done(stub, f"c{i}")
    before = {i: [e.SerializeToString() for e in history(stub, f"c{i}")] for i in range(5)}
    channel.close()
    server.stop(0)
    server = EmulatorServer(db_path=db, port=0)
    server.start()
    channel, stub = _stub(server)
    try:
        for i in range(5):
            assert json.loads(get_state(stub, f"c{i}").orchestrationState.output.value) == i + 2
            assert [e.SerializeToString() for e in history(stub, f"c{i}")] == before[i]
    finally:
        channel.close()
        server.stop(0)


def test_schema_version_is_checked(tmp_path):
    db = tmp_path / "emu.db"
    Store(db).close()
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    con.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    con.commit()
    con.close()
    with pytest.raises(SchemaTooNewError, match="newer"):
        Store(db)


def test_a_database_serves_one_emulator(tmp_path):
    store = Store(tmp_path / "emu.db")
    try:
        with pytest.raises(DatabaseInUseError):
            Store(tmp_path / "emu.db")
    finally:
        store.close()


def test_default_db_path_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    if sys.platform.startswith("linux"):
        assert default_db_path() == tmp_path / "dtstudio" / "emulator.db"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_db_path().name == "emulator.db" and "dtstudio" in default_db_path().parts


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "durabletask.emulator", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})


def _wait_ready(port: int, timeout: float = 20, metadata: tuple[tuple[str, str], ...] = ()) -> None:
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
        pb_grpc.TaskHubSidecarServiceStub(channel).Hello(empty_pb2.Empty(), timeout=5, metadata=metadata)
    finally:
        channel.close()


def test_cli_serves_stops_cleanly_and_refuses_a_taken_port(tmp_path):
    port = _free_port()
    db = tmp_path / "cli.db"
    proc = _cli("--port", str(port), "--db", str(db), "--taskhubs", "a,b")
    try:
        _wait_ready(port, metadata=(("taskhub", "a"),))
        taken = _cli("--port", str(port), "--in-memory")
        _, err = taken.communicate(timeout=30)
        assert taken.returncode == 2
        assert err.strip().count("\n") == 0 and "error:" in err and str(port) in err
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        stub = pb_grpc.TaskHubSidecarServiceStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            stub.Hello(empty_pb2.Empty(), timeout=5, metadata=(("taskhub", "z"),))
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
        start(stub, "orch", metadata=(("taskhub", "a"),))
        channel.close()
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"127.0.0.1:{port}" in err and str(db) in err and "Traceback" not in err
    store = Store(db)
    try:
        assert store.get_instance("a", "i1") is not None
    finally:
        store.close()


def test_cli_rejects_a_public_host_without_token():
    proc = _cli("--host", "0.0.0.0", "--port", "0", "--in-memory")
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "--token" in err and "Traceback" not in err


def test_create_test_backend_start_stop_reset():
    backend = create_test_backend(port=_free_port())
    try:
        backend.start()  # already serving: no-op
        channel = grpc.insecure_channel(f"localhost:{backend.port}")
        stub = pb_grpc.TaskHubSidecarServiceStub(channel)
        start(stub, "orch")
        assert get_state(stub).exists
        backend.reset()
        assert not get_state(stub).exists
        channel.close()
    finally:
        backend.stop()
