"""One benchmark workload, run by ``bench/throughput.py`` with *either* SDK's python.

The code below uses only the API that the published SDK and ours share, so running it with the interop
venv's python measures the published SDK and running it with the project's python measures ours. It
starts a worker and a client in this process against a backend at ``--address`` and writes JSON figures
to ``--out``. Run it with ``python -I`` from outside the repository (see tests/interop/interop_venv.py).

Workloads:
  chain     N orchestrations of 3 chained activities, scheduled back to back; throughput and latency
            (created -> completed, both stamped by the backend)
  fanout    one orchestration that runs N activities in parallel; total time
  sequence  one orchestration that runs N activities one after the other; total time, and the wall time
            between consecutive activity executions by decile of the chain (shows growth with history)
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import threading
import time
from importlib import metadata
from typing import Any

from durabletask import client as dt_client
from durabletask import task
from durabletask import worker as dt_worker

WAIT_S = 1200.0  # replaced by --timeout

_step_times: list[tuple[int, float]] = []
_step_lock = threading.Lock()


def bench_inc(ctx: task.ActivityContext, value: int) -> int:
    return value + 1


def bench_step(ctx: task.ActivityContext, index: int) -> int:
    stamp = time.perf_counter()
    with _step_lock:
        _step_times.append((index, stamp))
    return index + 1


def bench_chain(ctx: task.OrchestrationContext, value: int):
    value = yield ctx.call_activity(bench_inc, input=value)
    value = yield ctx.call_activity(bench_inc, input=value)
    value = yield ctx.call_activity(bench_inc, input=value)
    return value


def bench_fanout(ctx: task.OrchestrationContext, count: int):
    results = yield task.when_all([ctx.call_activity(bench_inc, input=i) for i in range(count)])
    return sum(results)


def bench_sequence(ctx: task.OrchestrationContext, count: int):
    value = 0
    for _ in range(count):
        value = yield ctx.call_activity(bench_step, input=value)
    return value


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def _completed(state: Any, instance_id: str) -> Any:
    if state is None or state.runtime_status.name != "COMPLETED":
        status = None if state is None else (state.runtime_status.name, state.failure_details)
        raise RuntimeError(f"{instance_id} did not complete: {status}")
    return state


def run_chain(client: Any, n: int) -> dict[str, Any]:
    started = time.perf_counter()
    ids = [client.schedule_new_orchestration(bench_chain, input=i) for i in range(n)]
    scheduled = time.perf_counter()
    states = [_completed(client.wait_for_orchestration_completion(i, timeout=WAIT_S), i) for i in ids]
    finished = time.perf_counter()
    outputs = [s.get_output() for s in states]
    if outputs != [i + 3 for i in range(n)]:
        raise RuntimeError("wrong chain results")
    latencies = [(s.last_updated_at - s.created_at).total_seconds() for s in states]
    return {
        "count": n,
        "seconds": finished - started,
        "schedule_seconds": scheduled - started,
        "per_second": n / (finished - started),
        "p50_ms": 1000 * _percentile(latencies, 0.50),
        "p95_ms": 1000 * _percentile(latencies, 0.95),
    }


def run_fanout(client: Any, n: int) -> dict[str, Any]:
    started = time.perf_counter()
    iid = client.schedule_new_orchestration(bench_fanout, input=n)
    state = _completed(client.wait_for_orchestration_completion(iid, timeout=WAIT_S), iid)
    seconds = time.perf_counter() - started
    if state.get_output() != sum(range(1, n + 1)):
        raise RuntimeError("wrong fan-out result")
    return {"count": n, "seconds": seconds, "activities_per_second": n / seconds}


def run_sequence(client: Any, n: int) -> dict[str, Any]:
    _step_times.clear()
    started = time.perf_counter()
    iid = client.schedule_new_orchestration(bench_sequence, input=n)
    state = _completed(client.wait_for_orchestration_completion(iid, timeout=WAIT_S), iid)
    seconds = time.perf_counter() - started
    if state.get_output() != n:
        raise RuntimeError("wrong sequence result")
    stamps = [stamp for _, stamp in sorted(_step_times)]
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    deciles = []
    for d in range(10):
        part = gaps[d * len(gaps) // 10:(d + 1) * len(gaps) // 10]
        deciles.append(1000 * sum(part) / len(part) if part else 0.0)
    return {"count": n, "seconds": seconds, "step_ms_by_decile": deciles}


RUNNERS = {"chain": run_chain, "fanout": run_fanout, "sequence": run_sequence}


def main() -> int:
    global WAIT_S
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--address", required=True)
    parser.add_argument("--workload", choices=sorted(RUNNERS), required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--timeout", type=float, default=WAIT_S, help="seconds to wait for completion")
    args = parser.parse_args()
    WAIT_S = args.timeout
    worker = dt_worker.TaskHubGrpcWorker(host_address=args.address)
    for orchestrator in (bench_chain, bench_fanout, bench_sequence):
        worker.add_orchestrator(orchestrator)
    for activity in (bench_inc, bench_step):
        worker.add_activity(activity)
    worker.start()
    client = dt_client.TaskHubGrpcClient(host_address=args.address)
    try:
        figures = RUNNERS[args.workload](client, args.n)
    finally:
        client.close()
        worker.stop()
    try:
        version = metadata.version("durabletask")
    except metadata.PackageNotFoundError:
        version = "?"
    cpu = os.times()
    figures["client_worker_cpu_seconds"] = cpu.user + cpu.system
    figures["sdk"] = f"{dt_client.__name__} from {dt_client.__file__} (durabletask dist {version})"
    with open(args.out, "w") as handle:
        json.dump(figures, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
