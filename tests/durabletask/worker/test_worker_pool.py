"""The worker's thread pool: runs jobs, survives failing jobs, drops queued jobs at shutdown."""

from __future__ import annotations

import threading

import pytest

from durabletask._worker_pool import WorkerPool


def test_runs_jobs_and_survives_failures() -> None:
    pool = WorkerPool(2, "t")
    done: list[int] = []
    all_done = threading.Event()

    def job(i: int) -> None:
        if i % 3 == 0:
            raise RuntimeError("boom")
        done.append(i)
        if len(done) == 6:
            all_done.set()

    for i in range(9):
        pool.submit(job, i)
    assert all_done.wait(5)
    assert sorted(done) == [1, 2, 4, 5, 7, 8]
    pool.shutdown(wait=True, timeout=5)
    with pytest.raises(RuntimeError):
        pool.submit(job, 1)


def test_shutdown_drops_queued_jobs() -> None:
    pool = WorkerPool(1, "t")
    started, release = threading.Event(), threading.Event()
    ran: list[str] = []

    def blocker() -> None:
        started.set()
        release.wait(5)
        ran.append("blocker")

    pool.submit(blocker)
    assert started.wait(5)
    for _ in range(3):
        pool.submit(ran.append, "queued")
    pool.shutdown()
    release.set()
    pool.shutdown(wait=True)  # second call is a no-op
    for t in pool._threads:
        t.join(5)
    assert ran == ["blocker"]


def test_needs_a_thread() -> None:
    with pytest.raises(ValueError):
        WorkerPool(0, "t")
