"""Crash tests: the emulator process is SIGKILLed under load and restarted on the same database.

Every instance must still complete with the right output, and no history event may be lost or
duplicated. A worker that dies mid-activity must get its activity redelivered elsewhere.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import grpc
import pytest
from emulator_fake_worker import Ctx, FakeWorker, inc, kind, utc
from google.protobuf import empty_pb2

from conftest import history, start, wait_done
from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask._proto import orchestrator_service_pb2_grpc as pb_grpc

pytestmark = pytest.mark.slow

COUNT = 200


def mixed(ctx: Ctx) -> None:
    """inc twice, a short timer, then a child that incs once more: output = input + 3."""
    value = ctx.input
    done = ctx.of("taskCompleted")
    if done:
        value = ctx.result_of(done[-1])
    if len(done) < 2:
        if len(ctx.past_of("taskScheduled")) == len(done):
            ctx.schedule(len(done) + 1, "inc", value)
        return
    if not ctx.past_of("timerCreated"):
        ctx.timer(3, utc(ctx.now) + timedelta(seconds=0.2))
        return
    if not ctx.of("timerFired"):
        return
    if not ctx.past_of("subOrchestrationInstanceCreated"):
        ctx.sub(4, "child", f"{ctx.req.instanceId}-child", value)
        return
    result = ctx.of("subOrchestrationInstanceCompleted")
    if result:
        ctx.complete(ctx.result_of(result[0]))


def child(ctx: Ctx) -> None:
    done = ctx.of("taskCompleted")
    if done:
        ctx.complete(ctx.result_of(done[0]))
    elif not ctx.past_of("taskScheduled"):
        ctx.schedule(1, "inc", ctx.input)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EmulatorProcess:
    def __init__(self, db: str, port: int) -> None:
        self.db, self.port = db, port
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = db + ".log"

    def start(self) -> None:
        deadline = time.monotonic() + 20
        while True:
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    [sys.executable, "-m", "durabletask.emulator", "--db", self.db, "--port", str(self.port),
                     "--log-level", "WARNING"], stdout=subprocess.DEVNULL, stderr=log)
            channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
            try:
                grpc.channel_ready_future(channel).result(timeout=10)
                pb_grpc.TaskHubSidecarServiceStub(channel).Hello(empty_pb2.Empty(), timeout=5)
                return
            except grpc.FutureTimeoutError:
                if self.proc.poll() is None or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)  # the killed process's port or lock not yet released: retry
            finally:
                channel.close()

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)


def _retrying(fn, *args, attempts: int = 200, **kw):
    for _ in range(attempts):
        try:
            return fn(*args, **kw)
        except grpc.RpcError as exc:
            if exc.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                                  grpc.StatusCode.CANCELLED, grpc.StatusCode.INTERNAL):
                raise
            time.sleep(0.1)
    raise AssertionError("the emulator never came back")


def _count_completed(stub: pb_grpc.TaskHubSidecarServiceStub) -> int:
    q = pb.InstanceQuery(runtimeStatus=[pb.ORCHESTRATION_STATUS_COMPLETED], maxInstanceCount=1000)
    return len(_retrying(stub.QueryInstances, pb.QueryInstancesRequest(query=q), timeout=10).orchestrationState)


def _check_history(events: list[pb.HistoryEvent], children: bool) -> None:
    k = Counter(kind(e) for e in events)
    assert k["executionStarted"] == 1 and k["executionCompleted"] == 1, k
    assert k["orchestratorStarted"] == k["orchestratorCompleted"], k
    scheduled = Counter(e.eventId for e in events if kind(e) == "taskScheduled")
    completed = Counter(e.taskCompleted.taskScheduledId for e in events if kind(e) == "taskCompleted")
    expected = {1: 1} if children else {1: 1, 2: 1}
    assert dict(scheduled) == expected and dict(completed) == expected, (scheduled, completed)
    if not children:
        assert (k["timerCreated"], k["timerFired"]) == (1, 1), k
        assert (k["subOrchestrationInstanceCreated"], k["subOrchestrationInstanceCompleted"]) == (1, 1), k


def test_emulator_killed_under_load_loses_and_duplicates_nothing(tmp_path):
    db = str(tmp_path / "crash.db")
    port = _free_port()
    emu = EmulatorProcess(db, port)
    emu.start()
    address = f"127.0.0.1:{port}"
    worker = FakeWorker(address, {"mixed": mixed, "child": child}, {"inc": inc}, threads=8, reconnect=True)
    worker.start()
    channel = grpc.insecure_channel(address)
    stub = pb_grpc.TaskHubSidecarServiceStub(channel)
    no_reuse = pb.OrchestrationIdReusePolicy()  # never replace: a retried start must not restart it

    def start_one(i: int) -> None:
        req = pb.CreateInstanceRequest(instanceId=f"m{i:03d}", name="mixed", orchestrationIdReusePolicy=no_reuse)
        req.input.value = str(i)
        try:
            _retrying(stub.StartInstance, req, timeout=5)
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.ALREADY_EXISTS  # the first attempt did commit

    stopping = threading.Event()
    starter = threading.Thread(target=lambda: [start_one(i) for i in range(COUNT) if not stopping.is_set()])
    starter.start()
    try:
        # Kill at points of progress (not fixed times), so every kill lands mid-load on any machine.
        for threshold in (150, 500, 900):
            deadline = time.monotonic() + 60
            while len(worker.orchestration_requests) < threshold:
                assert time.monotonic() < deadline, "the workload made no progress"
                time.sleep(0.01)
            completed = _count_completed(stub)
            emu.kill()
            assert completed < 2 * COUNT  # the kill lands mid-load
            emu.start()
        starter.join(60)
        assert not starter.is_alive()

        def finished(i: int) -> pb.OrchestrationState:
            req = pb.GetInstanceRequest(instanceId=f"m{i:03d}", getInputsAndOutputs=True)
            resp = _retrying(stub.WaitForInstanceCompletion, req, timeout=60)
            return resp.orchestrationState

        with ThreadPoolExecutor(8) as pool:
            states = list(pool.map(finished, range(COUNT)))
        for i, st in enumerate(states):
            assert st.orchestrationStatus == pb.ORCHESTRATION_STATUS_COMPLETED, (i, st)
            assert st.output.value == str(i + 3)
        for i in range(COUNT):
            _check_history(history(stub, f"m{i:03d}"), children=False)
            _check_history(history(stub, f"m{i:03d}-child"), children=True)
        assert worker.reconnects >= 3
    finally:
        stopping.set()
        worker.stop()
        channel.close()
        emu.stop()


def test_worker_killed_mid_activity_gets_the_activity_redelivered(server, stub):
    entered = threading.Event()
    release = threading.Event()

    def stuck(value: int) -> int:
        entered.set()
        release.wait(10)
        return value + 100

    def one_call(ctx: Ctx) -> None:
        done = ctx.of("taskCompleted")
        if done:
            ctx.complete(ctx.result_of(done[0]))
        elif not ctx.past_of("taskScheduled"):
            ctx.schedule(1, "slow", ctx.input)

    first = FakeWorker(server.address, {"one": one_call}, {"slow": stuck})
    first.start()
    start(stub, "one", 1)
    assert entered.wait(10)
    first._stream.cancel()  # the worker's stream dies while the activity runs
    second = FakeWorker(server.address, {"one": one_call}, {"slow": lambda v: v + 1})
    second.start()
    try:
        st = wait_done(stub)
        assert st.output.value == "2"  # the redelivered activity's result
        release.set()
        first.stop()  # the first worker's late completion carries a dead token: ignored
        events = history(stub)
        assert [kind(e) for e in events].count("taskCompleted") == 1
        assert [e.taskCompleted.result.value for e in events if kind(e) == "taskCompleted"] == ["2"]
    finally:
        release.set()
        second.stop()
        first.stop()
