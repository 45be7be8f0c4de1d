"""Driver run with the interop venv's python: the *published* SDK as client and/or worker.

It only observes and reports; the tests decide what is right. Modes:

``suite --address HOST:PORT --out FILE [--scenarios a,b] [--no-worker] [--dts-hub HUB] [--parallel N]``
    Runs ``interop_scenarios`` with the published client (and a published worker unless ``--no-worker``)
    and writes ``{scenario: {"ok": bool, "result": ..., "error": str, "seconds": float}}`` as JSON to FILE.
``serve --address HOST:PORT``
    Runs a published worker with every workflow registered; prints ``READY``; stops when stdin closes.

Run it as ``<venv python> -I published_driver.py ...`` from a directory outside the repository, so that
our own ``durabletask`` package never shadows the published one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import uuid
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import interop_scenarios as sc
import interop_workflows as wf

from durabletask import client as dt_client
from durabletask import worker as dt_worker

WAIT_S = sc.WAIT_S
finish = sc.finish
describe = sc.describe


def sc_dts(hub: str, address: str) -> Callable[[Any, str], Any]:
    """Azure-managed client and worker on the task hub ``hub`` (plaintext, no credential)."""
    def run(default_client: Any, ns: str) -> Any:
        from durabletask.azuremanaged.client import DurableTaskSchedulerClient
        from durabletask.azuremanaged.worker import DurableTaskSchedulerWorker

        kwargs = {"host_address": f"http://{address}", "taskhub": hub, "token_credential": None,
                  "secure_channel": True}
        worker = DurableTaskSchedulerWorker(**kwargs)
        wf.register_all(worker)
        worker.start()
        try:
            c = DurableTaskSchedulerClient(**kwargs)
            chained = c.schedule_new_orchestration(wf.chain, input=2, instance_id=f"{ns}-dts-chain")
            parent = c.schedule_new_orchestration(wf.parent_of_child, input=6, instance_id=f"{ns}-dts-parent")
            waiter = c.schedule_new_orchestration(wf.wait_events, input=["ping"])
            c.wait_for_orchestration_start(waiter, timeout=WAIT_S)
            c.raise_orchestration_event(waiter, "ping", data="pong")
            result = {
                "chain": finish(c, chained), "parent": finish(c, parent), "events": finish(c, waiter),
                "query": sorted(s.instance_id for s in c.get_all_orchestration_states(
                    dt_client.OrchestrationQuery(instance_id_prefix=f"{ns}-dts-", max_instance_count=1))),
                "seen_from_default_hub": describe(default_client.get_orchestration_state(chained)),
                "unknown_hub": sc.error_of(lambda: DurableTaskSchedulerClient(
                    **{**kwargs, "taskhub": f"{hub}-unknown"}).get_orchestration_state(chained)),
            }
            c.close()
            return result
        finally:
            worker.stop()
    return run



def run_suite(args: argparse.Namespace) -> int:
    wanted = set(args.scenarios.split(",")) if args.scenarios else None
    phase_one = dict(sc.PHASE_ONE)
    phase_one["async_client"] = sc.async_client_scenario(args.address)
    if args.dts_hub:
        phase_one["dts"] = sc_dts(args.dts_hub, args.address)
    phases = [{k: v for k, v in p.items() if wanted is None or k in wanted} for p in (phase_one, sc.PHASE_TWO)]
    ns = args.namespace or uuid.uuid4().hex[:8]
    worker = None
    if not args.no_worker:
        worker = dt_worker.TaskHubGrpcWorker(host_address=args.address)
        wf.register_all(worker)
        worker.start()
    results: dict[str, Any] = {}
    try:
        client = dt_client.TaskHubGrpcClient(host_address=args.address)
        for phase in phases:
            results.update(sc.run_scenarios(client, phase, ns, args.parallel))
        client.close()
    finally:
        if worker is not None:
            worker.stop()
    with open(args.out, "w") as handle:
        json.dump(results, handle, indent=1, default=str)
    return 0


def serve(args: argparse.Namespace) -> int:
    worker = dt_worker.TaskHubGrpcWorker(host_address=args.address)
    wf.register_all(worker)
    worker.start()
    print("READY", flush=True)
    stop = threading.Event()

    def watch_stdin() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    stop.wait()
    worker.stop()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    suite = sub.add_parser("suite")
    suite.add_argument("--address", required=True)
    suite.add_argument("--out", required=True)
    suite.add_argument("--scenarios", default="")
    suite.add_argument("--namespace", default="")
    suite.add_argument("--no-worker", action="store_true")
    suite.add_argument("--dts-hub", default="")
    suite.add_argument("--parallel", type=int, default=6,
                       help="scenarios run at once (each holds one blocking wait on the server)")
    serve_parser = sub.add_parser("serve")
    serve_parser.add_argument("--address", required=True)
    args = parser.parse_args()
    return run_suite(args) if args.mode == "suite" else serve(args)


if __name__ == "__main__":
    sys.exit(main())
