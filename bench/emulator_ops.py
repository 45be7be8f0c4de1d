"""The emulator engine's own cost per orchestration: no gRPC, no SDK, the engine API called directly.

    .venv/bin/python bench/emulator_ops.py                     # 500 chains of 3 activities, file db
    .venv/bin/python bench/emulator_ops.py --threads 1 --repeat 3
    .venv/bin/python bench/emulator_ops.py --profile /tmp/ops.prof   # cProfile of every thread

Starts N orchestrations (each calls one activity 3 times in sequence) through ``Engine.start_instance``,
then worker threads (one stream each) take work items with ``next_work_item`` and complete them with
``complete_orchestration``/``complete_activity``, answering like bench/emulator_raw.py's fake worker.
Prints the process CPU seconds per orchestration and the part spent inside engine calls (each thread's
``time.thread_time`` around them; the rest is the fake worker's parsing and building of protobufs).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from durabletask._proto import orchestrator_service_pb2 as pb  # noqa: E402
from durabletask.emulator.engine import Engine, EngineOptions  # noqa: E402
from durabletask.emulator.store import Store  # noqa: E402

from _fake_chain import orchestrate  # noqa: E402

HUB = "default"


class Run:
    """One workload against one engine; counts the CPU time of engine calls per thread."""

    def __init__(self, engine: Engine, count: int, steps: int) -> None:
        self.engine = engine
        self.count = count
        self.steps = steps
        self.finished = 0
        self.finished_lock = threading.Lock()
        self.all_done = threading.Event()
        self.engine_cpu = 0.0
        self.cpu_lock = threading.Lock()

    def start_all(self, prefix: str) -> None:
        spent = 0.0
        for i in range(self.count):
            req = pb.CreateInstanceRequest(instanceId=f"{prefix}-{i}", name="chain")
            req.input.value = json.dumps({"n": self.steps, "v": 0})
            t0 = time.thread_time()
            self.engine.start_instance(HUB, req)
            spent += time.thread_time() - t0
        with self.cpu_lock:
            self.engine_cpu += spent

    def work(self, profile: cProfile.Profile | None) -> None:
        if profile is not None:
            profile.enable()
        engine = self.engine
        stream = engine.open_stream(HUB, pb.GetWorkItemsRequest(
            maxConcurrentOrchestrationWorkItems=100, maxConcurrentActivityWorkItems=100))
        spent = 0.0
        try:
            while not self.all_done.is_set():
                t0 = time.thread_time()
                data = engine.next_work_item(stream, 0.05)
                spent += time.thread_time() - t0
                if data is None:
                    continue
                item = pb.WorkItem.FromString(data)
                if item.HasField("orchestratorRequest"):
                    resp = orchestrate(item.orchestratorRequest)
                    resp.completionToken = item.completionToken
                    final = any(a.HasField("completeOrchestration") for a in resp.actions)
                    t0 = time.thread_time()
                    ok = engine.complete_orchestration(resp)
                    spent += time.thread_time() - t0
                    assert ok, "orchestration completion refused"
                    if final:
                        with self.finished_lock:
                            self.finished += 1
                            if self.finished == self.count:
                                self.all_done.set()
                else:
                    act = item.activityRequest
                    aresp = pb.ActivityResponse(instanceId=act.orchestrationInstance.instanceId,
                                                taskId=act.taskId, completionToken=item.completionToken)
                    aresp.result.value = json.dumps(json.loads(act.input.value) + 1)
                    t0 = time.thread_time()
                    ok = engine.complete_activity(aresp)
                    spent += time.thread_time() - t0
                    assert ok, "activity completion refused"
        finally:
            engine.close_stream(stream)
            if profile is not None:
                profile.disable()
            with self.cpu_lock:
                self.engine_cpu += spent


def run_once(db: str | None, count: int, steps: int, threads: int, prefix: str,
             profiles: list[cProfile.Profile] | None) -> tuple[float, float, float]:
    """(process CPU s, engine-call CPU s, wall s) of one run on a fresh engine."""
    engine = Engine(Store(db), EngineOptions())
    try:
        run = Run(engine, count, steps)
        cpu0 = time.process_time()
        wall0 = time.perf_counter()
        main_profile = cProfile.Profile(time.thread_time) if profiles is not None else None
        if main_profile is not None:
            main_profile.enable()
        run.start_all(prefix)
        if main_profile is not None:
            main_profile.disable()
            assert profiles is not None
            profiles.append(main_profile)
        workers = []
        for _ in range(threads):
            prof = cProfile.Profile(time.thread_time) if profiles is not None else None
            if prof is not None:
                assert profiles is not None
                profiles.append(prof)
            t = threading.Thread(target=run.work, args=(prof,), daemon=True)
            t.start()
            workers.append(t)
        if not run.all_done.wait(600):
            raise SystemExit(f"timed out: {run.finished} of {count} finished")
        for t in workers:
            t.join()
        return time.process_time() - cpu0, run.engine_cpu, time.perf_counter() - wall0
    finally:
        engine.shutdown()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--orchestrations", type=int, default=500)
    p.add_argument("--activities", type=int, default=3)
    p.add_argument("--threads", type=int, default=4, help="worker threads, one stream each")
    p.add_argument("--repeat", type=int, default=1, help="runs on fresh databases; prints each and the best")
    p.add_argument("--in-memory", action="store_true", help="in-memory database (default: file in a temp dir)")
    p.add_argument("--profile", help="write a cProfile of all threads (pstats format) to this file")
    p.add_argument("--top", type=int, default=35, help="profile lines to print")
    args = p.parse_args(argv)

    profiles: list[cProfile.Profile] | None = [] if args.profile else None
    best: tuple[float, float, float] | None = None
    n = args.orchestrations
    for i in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            db = None if args.in_memory else str(Path(tmp) / "ops.db")
            cpu, engine_cpu, wall = run_once(db, n, args.activities, args.threads, f"r{i}", profiles)
        print(f"run {i + 1}: {n} orchestrations x {args.activities} activities: wall {wall:.2f} s, "
              f"process CPU {cpu:.2f} s ({cpu / n * 1000:.2f} ms/orch), "
              f"engine calls {engine_cpu:.2f} s ({engine_cpu / n * 1000:.2f} ms/orch)")
        if best is None or engine_cpu < best[1]:
            best = (cpu, engine_cpu, wall)
    if args.repeat > 1 and best is not None:
        print(f"best: process CPU {best[0] / n * 1000:.2f} ms/orch, engine calls {best[1] / n * 1000:.2f} ms/orch")
    if profiles:
        stats = pstats.Stats(profiles[0])
        for prof in profiles[1:]:
            stats.add(prof)
        stats.dump_stats(args.profile)
        stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
