"""Run our emulator with timing counters around its hot paths; print them when stopped (SIGTERM/SIGINT).

A profiling aid for ``bench/throughput.py`` findings, not part of the product:
``python bench/_emulator_stats.py --port P --db FILE``. Counts and times SQLite commits, the time callers
spend inside ``Engine.write`` (lock wait + apply + waiting for the group commit), and every RPC; wall time
and the calling thread's CPU time (``time.thread_time``) of each.
"""

from __future__ import annotations

import argparse
import collections
import functools
import inspect
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from durabletask.emulator import EmulatorServer
from durabletask.emulator import engine as engine_module
from durabletask.emulator import service as service_module
from durabletask.emulator import store as store_module

_lock = threading.Lock()
_count: collections.Counter[str] = collections.Counter()
_seconds: collections.defaultdict[str, float] = collections.defaultdict(float)
_cpu: collections.defaultdict[str, float] = collections.defaultdict(float)


def _record(name: str, started: float, cpu_started: float) -> None:
    elapsed = time.perf_counter() - started
    cpu = time.thread_time() - cpu_started
    with _lock:
        _count[name] += 1
        _seconds[name] += elapsed
        _cpu[name] += cpu


def _timed_async(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wall time of a coroutine handler, and the CPU of its thread while it ran (other calls included)."""
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        started, cpu_started = time.perf_counter(), time.thread_time()
        try:
            return await fn(*args, **kwargs)
        finally:
            _record(name, started, cpu_started)
    return wrapper


def _timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(fn):
        return _timed_async(name, fn)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started, cpu_started = time.perf_counter(), time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            _record(name, started, cpu_started)
    return wrapper


def _instrument() -> None:
    store_module.Store.commit = _timed("sqlite COMMIT", store_module.Store.commit)  # type: ignore[method-assign]
    engine_module.Engine.write = _timed("Engine.write (whole)", engine_module.Engine.write)  # type: ignore[method-assign]
    engine_module.Engine._apply = _timed("Engine._apply (op body)", engine_module.Engine._apply)  # type: ignore[method-assign]
    engine_module.Engine._dispatch_orchestration = _timed(  # type: ignore[method-assign]
        "Engine._dispatch_orchestration", engine_module.Engine._dispatch_orchestration)
    for name in dir(service_module.SidecarService):
        if name[:1].isupper() and name not in ("GetWorkItems",):
            attr = getattr(service_module.SidecarService, name)
            if callable(attr):
                setattr(service_module.SidecarService, name, _timed(f"rpc {name}", attr))


def _force_synchronous(level: str) -> None:
    """Experiment: override the store's ``PRAGMA synchronous`` (FULL by default)."""
    configure = store_module.Store._configure

    def wrapper(self: Any) -> None:
        configure(self)
        self._db.execute(f"PRAGMA synchronous={level}")

    store_module.Store._configure = wrapper  # type: ignore[method-assign]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--synchronous", choices=["FULL", "NORMAL", "OFF"], default=None,
                        help="experiment: override PRAGMA synchronous")
    args = parser.parse_args()
    _instrument()
    if args.synchronous:
        _force_synchronous(args.synchronous)
    server = EmulatorServer(db_path=args.db, port=args.port)
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(0.2):
        pass
    server.stop(grace=1.0)
    cpu = os.times()
    print(f"emulator process CPU: user {cpu.user:.2f} s, system {cpu.system:.2f} s")
    print(f"{'what':<40}{'count':>10}{'total s':>10}{'mean ms':>10}{'CPU s':>10}{'CPU ms':>10}")
    for name, count in sorted(_count.items(), key=lambda kv: -_seconds[kv[0]]):
        print(f"{name:<40}{count:>10}{_seconds[name]:>10.2f}{1000 * _seconds[name] / count:>10.3f}"
              f"{_cpu[name]:>10.2f}{1000 * _cpu[name] / count:>10.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
