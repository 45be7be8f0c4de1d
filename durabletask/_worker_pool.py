"""A small fixed-size thread pool for work items.

Lighter than :class:`concurrent.futures.ThreadPoolExecutor` for our use: no Future (and no
Condition) per item, threads created once at start, a C-implemented queue. The worker never needs
the result of a job (jobs report their own results over gRPC), so ``submit`` returns nothing.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["WorkerPool"]

_STOP = object()
_log = logging.getLogger("durabletask.worker")


class WorkerPool:
    """``size`` threads running submitted ``fn(*args)`` calls in submission order."""

    def __init__(self, size: int, name: str) -> None:
        if size < 1:
            raise ValueError("a pool needs at least one thread")
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._run, name=f"{name}-{i}", daemon=True) for i in range(size)
        ]
        for t in self._threads:
            t.start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue ``fn(*args)``; RuntimeError once the pool is shut down."""
        if self._closed:
            raise RuntimeError("the pool is shut down")
        self._queue.put((fn, args))

    def _run(self) -> None:
        get = self._queue.get
        while True:
            job = get()
            if job is _STOP:
                return
            fn, args = job
            try:
                fn(*args)
            except BaseException:  # noqa: BLE001 - a job must never kill its thread
                _log.exception("A worker job failed")

    def shutdown(self, wait: bool = False, timeout: float | None = None) -> None:
        """Drop queued jobs, let running ones finish and the threads exit; optionally wait."""
        if self._closed:
            return
        self._closed = True
        dropped = 0
        while True:  # jobs not started yet are dropped (the backend redelivers their items)
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
            dropped += 1
        if dropped:
            _log.info("Dropped %d queued job(s) at shutdown", dropped)
        for _ in self._threads:
            self._queue.put(_STOP)
        if wait:
            for t in self._threads:
                t.join(timeout)
