"""Drive the emulator with raw gRPC (a fake worker, no SDK) and print orchestrations per second.

    python bench/emulator_raw.py                 # file database in a temp dir, both scenarios
    python bench/emulator_raw.py --in-memory --orchestrations 1000 --chain 500
    python bench/emulator_raw.py --address localhost:8080   # an emulator you started yourself

Scenario 1 (fan of chains): N orchestrations, each calling 3 activities in sequence.
Scenario 2 (long chain): one orchestration calling one activity S times in sequence.
The fake worker keeps no replay state: it derives each step from the history the emulator sends,
so the numbers measure the emulator (and gRPC), not an SDK.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
from google.protobuf import empty_pb2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask._proto import orchestrator_service_pb2_grpc as pb_grpc
from durabletask.emulator import EmulatorServer

from _fake_chain import orchestrate  # noqa: E402


class RawWorker:
    """One GetWorkItems stream; items are handled on a thread pool and completed over unary calls."""

    def __init__(self, address: str, threads: int) -> None:
        self.channel = grpc.insecure_channel(address)
        self.stub = pb_grpc.TaskHubSidecarServiceStub(self.channel)
        self.pool = ThreadPoolExecutor(threads)
        self.stream = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.stub.Hello(empty_pb2.Empty(), timeout=10)
        self.stream = self.stub.GetWorkItems(pb.GetWorkItemsRequest(
            maxConcurrentOrchestrationWorkItems=100, maxConcurrentActivityWorkItems=100))
        self.thread.start()

    def _run(self) -> None:
        try:
            for item in self.stream:  # type: ignore[union-attr]
                which = item.WhichOneof("request")
                if which == "orchestratorRequest":
                    self.pool.submit(self._orch, item.orchestratorRequest, item.completionToken)
                elif which == "activityRequest":
                    self.pool.submit(self._act, item.activityRequest, item.completionToken)
        except grpc.RpcError:
            pass

    def _orch(self, req: pb.OrchestratorRequest, token: str) -> None:
        resp = orchestrate(req)
        resp.completionToken = token
        self.stub.CompleteOrchestratorTask(resp, timeout=60)

    def _act(self, req: pb.ActivityRequest, token: str) -> None:
        resp = pb.ActivityResponse(instanceId=req.orchestrationInstance.instanceId, taskId=req.taskId,
                                   completionToken=token)
        resp.result.value = json.dumps(json.loads(req.input.value) + 1)
        self.stub.CompleteActivityTask(resp, timeout=60)

    def stop(self) -> None:
        if self.stream is not None:
            self.stream.cancel()
        self.pool.shutdown(wait=True)
        self.channel.close()


def _run_scenario(stub: pb_grpc.TaskHubSidecarServiceStub, count: int, steps: int, prefix: str,
                  clients: int) -> float:
    ids = [f"{prefix}-{i}" for i in range(count)]
    t0 = time.perf_counter()

    def start(iid: str) -> None:
        req = pb.CreateInstanceRequest(instanceId=iid, name="chain")
        req.input.value = json.dumps({"n": steps, "v": 0})
        stub.StartInstance(req, timeout=60)

    def wait(iid: str) -> None:
        r = stub.WaitForInstanceCompletion(pb.GetInstanceRequest(instanceId=iid, getInputsAndOutputs=True),
                                           timeout=600)
        assert r.orchestrationState.orchestrationStatus == pb.ORCHESTRATION_STATUS_COMPLETED, r
        assert json.loads(r.orchestrationState.output.value) == steps

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(start, ids))
        list(pool.map(wait, ids))
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--address", help="use a running emulator instead of starting one")
    p.add_argument("--in-memory", action="store_true", help="in-memory database (default: a file in a temp dir)")
    p.add_argument("--db", help="database file to use")
    p.add_argument("--orchestrations", type=int, default=500)
    p.add_argument("--activities", type=int, default=3)
    p.add_argument("--chain", type=int, default=2000, help="length of the long sequential chain (0 = skip)")
    p.add_argument("--worker-threads", type=int, default=8)
    args = p.parse_args(argv)

    server = None
    tmp = None
    address = args.address
    if address is None:
        db = None
        if not args.in_memory:
            if args.db:
                db = args.db
            else:
                tmp = tempfile.TemporaryDirectory()
                db = str(Path(tmp.name) / "bench.db")
        server = EmulatorServer(db_path=db, port=0)
        server.start()
        address = server.address
        print(f"emulator on {address}, database: {db or 'in memory'}")
    worker = RawWorker(address, args.worker_threads)
    worker.start()
    channel = grpc.insecure_channel(address)
    stub = pb_grpc.TaskHubSidecarServiceStub(channel)
    try:
        tag = str(int(time.time()))
        if args.orchestrations:
            secs = _run_scenario(stub, args.orchestrations, args.activities, f"fan{tag}", 16)
            print(f"{args.orchestrations} orchestrations x {args.activities} activities: {secs:.2f} s, "
                  f"{args.orchestrations / secs:.1f} orchestrations/s")
        if args.chain:
            secs = _run_scenario(stub, 1, args.chain, f"chain{tag}", 1)
            print(f"1 orchestration x {args.chain} sequential activities: {secs:.2f} s, "
                  f"{args.chain / secs:.1f} steps/s")
    finally:
        worker.stop()
        channel.close()
        if server is not None:
            server.stop(0)
        if tmp is not None:
            tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
