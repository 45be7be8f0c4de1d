"""Throughput benchmark: the published Durable Task SDK vs our SDK and emulator, on one machine.

Configurations (each workload gets a fresh backend; backends run in their own process, like real use):
  (a) published SDK (PyPI durabletask 1.12.0), client + worker, on its own in-memory test backend
  (b) published SDK, client + worker, on our emulator with a file database
  (c) our SDK, client + worker, on our emulator with a file database

Workloads: 500 chained orchestrations of 3 activities (orchestrations/s, p50/p95 latency from schedule to
completion), one fan-out of 1,000 activities (total time), one 2,000-step sequential chain (total time and
per-step cost by decile). The chain and the fan-out run ``--repeat`` rounds (default 3), the
configurations interleaved so that load drifting on the machine hits each alike; the median round is
reported, and each chain target also shows the ratio round by round (the configurations of a round ran
back to back, so those ratios are the least exposed to the machine's drift). Prints a table and the target ratios with PASS/MISS; asserts nothing.

    .venv/bin/python bench/throughput.py [--quick] [--only a,b,c] [--repeat N] [--json FILE]

The published SDK is installed into <repo>/.interop-venv on first use (needs PyPI).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
WORKLOAD = Path(__file__).resolve().parent / "_workload.py"
PUBLISHED_BACKEND = REPO / "tests" / "interop" / "drivers" / "published_backend.py"
FULL_SIZES = {"chain": 500, "fanout": 1000, "sequence": 2000}
QUICK_SIZES = {"chain": 50, "fanout": 100, "sequence": 200}
CONFIGS = {
    "a": "published SDK + its in-memory backend",
    "b": "published SDK + our emulator (file db)",
    "c": "our SDK + our emulator (file db)",
    "n": "published SDK + a do-nothing backend (not run by default: how fast the SDK itself goes)",
}
DEFAULT_CONFIGS = "a,b,c"
NULL_BACKEND = Path(__file__).resolve().parent / "_null_backend.py"
STARTUP_TIMEOUT_S = 60
DEFAULT_TIMEOUT_S = 1200


def _load_interop_venv() -> Any:
    path = REPO / "tests" / "interop" / "interop_venv.py"
    spec = importlib.util.spec_from_file_location("dtstudio_interop_venv", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_listening(port: int, process: subprocess.Popen[Any], what: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port} within {STARTUP_TIMEOUT_S} s")


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a live process (Linux /proc), or None where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


@contextmanager
def _backend(config: str, published_python: Path, work_dir: Path) -> Iterator[dict[str, Any]]:
    """Start the backend of ``config`` in its own process; yield ``{"address"}`` (``cpu_seconds`` after)."""
    port = _free_port()
    log = open(work_dir / f"backend-{config}-{port}.log", "w")  # noqa: SIM115 - closed below
    if config == "a":
        cmd = [str(published_python), "-I", str(PUBLISHED_BACKEND), "--port", str(port)]
        what = "the published in-memory backend"
    elif config == "n":
        cmd = [sys.executable, str(NULL_BACKEND), "--port", str(port)]
        what = "the do-nothing backend"
    else:
        db = work_dir / f"emulator-{config}-{port}.db"
        cmd = [sys.executable, "-m", "durabletask.emulator", "--port", str(port), "--db", str(db),
               "--log-level", "WARNING"]
        what = "our emulator"
    process = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                               cwd=tempfile.gettempdir() if config == "a" else str(REPO))
    info: dict[str, Any] = {"address": f"127.0.0.1:{port}"}
    try:
        _wait_listening(port, process, what)
        yield info
    finally:
        info["cpu_seconds"] = _cpu_seconds(process.pid)
        if process.stdin is not None:
            process.stdin.close()  # the published backend stops on EOF
        process.terminate()  # our emulator stops on SIGTERM
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


#: Workloads run ``--repeat`` times (the 2,000-step chain takes minutes under the published SDK: once).
REPEATED = ("chain", "fanout")


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The round with the median time (an error if any round failed), with every round's rate."""
    failed = [r for r in runs if "error" in r]
    if failed:
        return failed[0]
    ordered = sorted(runs, key=lambda r: float(r["seconds"]))
    median = dict(ordered[len(ordered) // 2])
    if len(runs) > 1 and "per_second" in median:
        median["per_second_all"] = [float(r["per_second"]) for r in runs]
    return median


def _run_workload(config: str, workload: str, n: int, published_python: Path, work_dir: Path,
                  timeout: float) -> dict[str, Any]:
    python = sys.executable if config == "c" else str(published_python)
    out = work_dir / f"{config}-{workload}.json"
    log_path = work_dir / f"{config}-{workload}.log"
    with _backend(config, published_python, work_dir) as backend:
        cmd = [python, "-I", str(WORKLOAD), "--address", backend["address"], "--workload", workload, "--n", str(n),
               "--out", str(out), "--timeout", str(timeout)]
        with open(log_path, "w") as log:
            process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=tempfile.gettempdir())
            try:
                returncode = process.wait(timeout=timeout + 30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                returncode = None
    if returncode != 0 or not out.exists():
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-12:])
        why = f"timed out after {timeout:.0f} s" if returncode is None else f"exit {returncode}"
        return {"error": f"{why}\n{tail}"}
    figures: dict[str, Any] = json.loads(out.read_text())
    figures["backend_cpu_seconds"] = backend.get("cpu_seconds")
    return figures


# ------------------------------------------------------------------------------------------------ report


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _get(results: dict[str, dict[str, Any]], config: str, workload: str, key: str) -> float | None:
    entry = results.get(config, {}).get(workload)
    if not entry or "error" in entry:
        return None
    value = entry.get(key)
    return None if value is None else float(value)


def _paired_ratios(results: dict[str, dict[str, Any]], mine: str, base: str, workload: str) -> list[float]:
    """``mine / base`` throughput of each round: the configurations of a round ran back to back, so a
    round's ratio is less exposed to the machine's drift than the ratio of the two medians."""
    mine_all = (results.get(mine, {}).get(workload) or {}).get("per_second_all") or []
    base_all = (results.get(base, {}).get(workload) or {}).get("per_second_all") or []
    return [m / b for m, b in zip(mine_all, base_all) if b]


def print_report(results: dict[str, dict[str, Any]], sizes: dict[str, int], configs: list[str]) -> None:
    n_chain, n_fan, n_seq = sizes["chain"], sizes["fanout"], sizes["sequence"]
    rows = [
        (f"chain x{n_chain}: orchestrations/s", "chain", "per_second", 1),
        (f"chain x{n_chain}: p50 latency (ms)", "chain", "p50_ms", 0),
        (f"chain x{n_chain}: p95 latency (ms)", "chain", "p95_ms", 0),
        (f"chain x{n_chain}: total (s)", "chain", "seconds", 2),
        (f"chain x{n_chain}: client+worker CPU (s)", "chain", "client_worker_cpu_seconds", 2),
        (f"chain x{n_chain}: backend CPU (s)", "chain", "backend_cpu_seconds", 2),
        (f"fan-out x{n_fan}: total (s)", "fanout", "seconds", 2),
        (f"fan-out x{n_fan}: activities/s", "fanout", "activities_per_second", 0),
        (f"sequence x{n_seq}: total (s)", "sequence", "seconds", 2),
        (f"sequence x{n_seq}: client+worker CPU (s)", "sequence", "client_worker_cpu_seconds", 1),
        (f"sequence x{n_seq}: backend CPU (s)", "sequence", "backend_cpu_seconds", 1),
    ]
    label_width = max(len(r[0]) for r in rows) + 2
    col = 14
    print()
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"Durable Task throughput on this machine ({os.cpu_count()} CPUs; load average now {load}: "
          "other jobs on the machine make the figures noisy)")
    for config in configs:
        print(f"  ({config}) {CONFIGS[config]}")
    print()
    print("".ljust(label_width) + "".join(f"({c})".rjust(col) for c in configs))
    for label, workload, key, digits in rows:
        print(label.ljust(label_width) + "".join(_fmt(_get(results, c, workload, key), digits).rjust(col)
                                                 for c in configs))
    print()
    print(f"sequence x{n_seq}: wall time per step (ms) by decile of the chain")
    print("".ljust(8) + "".join(f"d{d + 1}".rjust(8) for d in range(10)))
    for config in configs:
        entry = results.get(config, {}).get("sequence") or {}
        deciles = entry.get("step_ms_by_decile")
        print(f"({config})".ljust(8) + ("".join(f"{v:8.2f}" for v in deciles) if deciles else "  -"))
    spreads = [(c, results[c]["chain"]["per_second_all"]) for c in configs
               if "per_second_all" in (results.get(c, {}).get("chain") or {})]
    if spreads:
        print()
        print(f"chain x{n_chain}: orchestrations/s in each round (the median round is shown above)")
        for config, rates in spreads:
            print(f"({config})".ljust(8) + "".join(f"{r:8.1f}" for r in rates))
    errors = [(c, w, e["error"]) for c in configs for w, e in results.get(c, {}).items() if "error" in e]
    for config, workload, error in errors:
        print(f"\nERROR ({config}) {workload}: {error}")
    print()
    print("Targets")
    targets = [
        ("(c) vs (a): chain throughput", "c", "a", "chain", "per_second", False, 2.0),
        ("(b) vs (a): chain throughput", "b", "a", "chain", "per_second", False, 1.5),
        ("(c) vs (a): 2,000-step chain time (a/c)", "c", "a", "sequence", "seconds", True, 2.0),
        ("(c) vs (b): chain throughput, same emulator", "c", "b", "chain", "per_second", False, 1.5),
        ("(c) vs (b): 2,000-step chain time (b/c)", "c", "b", "sequence", "seconds", True, 2.0),
    ]
    for label, mine, base, workload, key, lower_is_better, goal in targets:
        mine_v, base_v = _get(results, mine, workload, key), _get(results, base, workload, key)
        if mine_v is None or base_v is None or mine_v == 0 or base_v == 0:
            print(f"  {label:<46} {'n/a':>8}   (needs {mine} and {base})")
            continue
        ratio = base_v / mine_v if lower_is_better else mine_v / base_v
        verdict = "PASS" if ratio >= goal else "MISS"
        paired = _paired_ratios(results, mine, base, workload) if key == "per_second" else []
        spread = ""
        if len(paired) > 1:
            spread = (f"  (round by round {min(paired):.2f}-{max(paired):.2f}x, median {statistics.median(paired):.2f}x, "
                      f"{sum(r >= goal for r in paired)}/{len(paired)} rounds >= {goal:.1f}x)")
        print(f"  {label:<46} {ratio:7.2f}x  target >= {goal:.1f}x  {verdict}{spread}")
    if "n" in configs:  # not a target: the published SDK when its backend costs (almost) nothing
        free, published = _get(results, "n", "chain", "per_second"), _get(results, "a", "chain", "per_second")
        if free and published:
            print(f"  {'(n) vs (a): chain throughput, backend for free':<46} {free / published:7.2f}x  "
                  "(about 1x: the published SDK itself is the limit)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke test, figures are noisy)")
    parser.add_argument("--only", default=DEFAULT_CONFIGS,
                        help="configurations to run, e.g. a,c; add n for the published SDK on a do-nothing "
                             "in-memory backend (bench/_null_backend.py): what limits (a) and (b) is the SDK")
    parser.add_argument("--workloads", default="chain,fanout,sequence", help="workloads to run")
    parser.add_argument("--json", metavar="FILE", help="also write the raw figures as JSON")
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds of the chain and fan-out workloads (configurations interleaved; the "
                             "median round is reported, with the spread of throughput; default 3)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                        help=f"seconds allowed per workload and configuration (default {DEFAULT_TIMEOUT_S})")
    args = parser.parse_args(argv)
    configs = [c.strip() for c in args.only.split(",") if c.strip()]
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown or not configs:
        parser.error(f"--only takes a comma-separated subset of a,b,c,n (got {args.only!r})")
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    if not workloads or any(w not in FULL_SIZES for w in workloads):
        parser.error(f"--workloads takes a comma-separated subset of {','.join(FULL_SIZES)}")
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    interop_venv = _load_interop_venv()
    try:
        published_python = interop_venv.ensure_published_sdk()
    except interop_venv.InteropVenvError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    results: dict[str, dict[str, Any]] = {c: {} for c in configs}
    with tempfile.TemporaryDirectory(prefix="dtstudio-bench-") as tmp:
        work_dir = Path(tmp)
        for workload in workloads:
            rounds = args.repeat if workload in REPEATED else 1
            runs: dict[str, list[dict[str, Any]]] = {c: [] for c in configs}
            for round_no in range(rounds):  # configurations interleaved, so drifting load hits all alike
                for config in configs:
                    label = f" (round {round_no + 1}/{rounds})" if rounds > 1 else ""
                    print(f"running ({config}) {workload} x{sizes[workload]}{label} ...", file=sys.stderr,
                          flush=True)
                    started = time.perf_counter()
                    runs[config].append(_run_workload(config, workload, sizes[workload], published_python,
                                                      work_dir, args.timeout))
                    print(f"  done in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
            for config in configs:
                results[config][workload] = _median_run(runs[config])
    print_report(results, sizes, configs)
    if args.json:
        Path(args.json).write_text(json.dumps({"sizes": sizes, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
