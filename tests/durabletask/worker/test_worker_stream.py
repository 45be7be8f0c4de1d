"""The worker's connection: Hello, the GetWorkItems request, reconnects, watchdog, metadata."""

from __future__ import annotations

import random

import grpc
import pytest

from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask._worker_stream import backoff_delay
from durabletask.grpc_options import GrpcWorkerResiliencyOptions
from durabletask.worker import ConcurrencyOptions, TaskHubGrpcWorker, WorkItemFilters

from .conftest import END_STREAM, Abort, SidecarServer

FAST = GrpcWorkerResiliencyOptions(reconnect_backoff_base_seconds=0.05, reconnect_backoff_cap_seconds=0.2)


def make_worker(sidecar: SidecarServer, **kw: object) -> TaskHubGrpcWorker:
    kw.setdefault("resiliency_options", FAST)
    return TaskHubGrpcWorker(host_address=sidecar.address, **kw)  # type: ignore[arg-type]


def test_backoff_is_full_jitter_and_capped() -> None:
    rng = random.Random(7)
    for attempt in range(12):
        ceiling = min(30.0, 2.0**attempt)
        delays = [backoff_delay(attempt, 1.0, 30.0, rng) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # spread over the whole range, not a fixed value
        assert min(delays) < ceiling * 0.2


def test_hello_then_stream_with_concurrency_numbers(sidecar: SidecarServer) -> None:
    opts = ConcurrencyOptions(
        maximum_concurrent_activity_work_items=7, maximum_concurrent_orchestration_work_items=3
    )
    with make_worker(sidecar, concurrency_options=opts, metadata=[("x-test", "yes")]) as worker:
        worker.start()
        sidecar.servicer.wait_for(lambda: len(sidecar.servicer.requests) == 1)
    s = sidecar.servicer
    assert len(s.hellos) == 1 and s.hellos[0] <= s.stream_opened_at[0]
    req = s.requests[0]
    assert req.maxConcurrentOrchestrationWorkItems == 3
    assert req.maxConcurrentActivityWorkItems == 7
    assert req.maxConcurrentEntityWorkItems == 0
    assert list(req.capabilities) == []
    assert not req.HasField("workItemFilters")
    assert s.hello_metadata[0]["x-test"] == "yes"
    assert s.stream_metadata[0]["x-test"] == "yes"


def test_default_concurrency_is_100_per_cpu() -> None:
    import os

    opts = ConcurrencyOptions()
    assert opts.maximum_concurrent_activity_work_items == 100 * (os.cpu_count() or 1)
    assert opts.maximum_concurrent_orchestration_work_items == 100 * (os.cpu_count() or 1)
    with pytest.raises(ValueError):
        ConcurrencyOptions(maximum_concurrent_activity_work_items=0)


def test_clean_end_reconnects_at_once(sidecar: SidecarServer) -> None:
    # A long backoff proves a clean end does not back off.
    slow = GrpcWorkerResiliencyOptions(reconnect_backoff_base_seconds=20, reconnect_backoff_cap_seconds=30)
    with make_worker(sidecar, resiliency_options=slow) as worker:
        worker.start()
        s = sidecar.servicer
        s.wait_for(lambda: len(s.requests) == 1)
        s.items.put(pb.WorkItem(healthPing=pb.HealthPing()))
        s.items.put(END_STREAM)
        s.wait_for(lambda: len(s.requests) == 2, timeout=3)
    assert len(s.hellos) == 2  # a new Hello before each stream


def test_error_reconnects_with_backoff(sidecar: SidecarServer) -> None:
    with make_worker(sidecar) as worker:
        worker.start()
        s = sidecar.servicer
        s.wait_for(lambda: len(s.requests) == 1)
        s.items.put(Abort(grpc.StatusCode.UNAVAILABLE))
        s.wait_for(lambda: len(s.requests) == 2, timeout=3)
        s.items.put(Abort(grpc.StatusCode.INTERNAL))
        s.wait_for(lambda: len(s.requests) == 3, timeout=3)


def test_hello_failures_are_retried(sidecar: SidecarServer) -> None:
    sidecar.servicer.fail_hello = 3
    with make_worker(sidecar) as worker:
        worker.start()
        sidecar.servicer.wait_for(lambda: len(sidecar.servicer.requests) == 1, timeout=5)
    assert len(sidecar.servicer.hellos) == 4


def test_silent_stream_is_dropped_by_the_watchdog(sidecar: SidecarServer) -> None:
    opts = GrpcWorkerResiliencyOptions(
        silent_disconnect_timeout_seconds=0.3,
        reconnect_backoff_base_seconds=0.01,
        reconnect_backoff_cap_seconds=0.02,
    )
    with make_worker(sidecar, resiliency_options=opts) as worker:
        worker.start()
        s = sidecar.servicer
        s.wait_for(lambda: len(s.requests) >= 2, timeout=3)
        gap = s.stream_opened_at[1] - s.stream_opened_at[0]
        assert gap >= 0.29


def test_health_pings_keep_the_stream(sidecar: SidecarServer) -> None:
    import time

    opts = GrpcWorkerResiliencyOptions(silent_disconnect_timeout_seconds=0.8)
    with make_worker(sidecar, resiliency_options=opts) as worker:
        worker.start()
        s = sidecar.servicer
        s.wait_for(lambda: len(s.requests) == 1)
        end = time.monotonic() + 1.6
        while time.monotonic() < end:
            s.items.put(pb.WorkItem(healthPing=pb.HealthPing()))
            time.sleep(0.1)
        assert len(s.requests) == 1


def test_capabilities_and_filters_are_sent(sidecar: SidecarServer) -> None:
    def act(ctx, x):  # type: ignore[no-untyped-def]
        return x

    def orch(ctx, x):  # type: ignore[no-untyped-def]
        return x

    worker = make_worker(sidecar)
    worker.add_activity(act)
    worker.add_orchestrator(orch)
    worker.configure_scheduled_tasks()
    worker.use_work_item_filters()
    with worker:
        worker.start()
        sidecar.servicer.wait_for(lambda: len(sidecar.servicer.requests) == 1)
    req = sidecar.servicer.requests[0]
    assert list(req.capabilities) == [pb.WORKER_CAPABILITY_SCHEDULED_TASKS]
    assert [o.name for o in req.workItemFilters.orchestrations] == ["orch"]
    assert [a.name for a in req.workItemFilters.activities] == ["act"]


def test_explicit_empty_filters() -> None:
    msg = WorkItemFilters().to_proto()
    assert len(msg.orchestrations) == 0 and len(msg.activities) == 0


def test_stop_cancels_stream_quickly(sidecar: SidecarServer) -> None:
    import time

    worker = make_worker(sidecar)
    worker.start()
    sidecar.servicer.wait_for(lambda: len(sidecar.servicer.requests) == 1)
    t0 = time.monotonic()
    worker.stop()
    assert time.monotonic() - t0 < 2.0
    sidecar.servicer.wait_for(lambda: sidecar.servicer.stream_closed == 1)
    assert not worker.is_running


def test_stop_does_not_wait_for_a_hanging_hello() -> None:
    """A backend that accepts the call but never answers Hello must not delay stop()."""
    import threading
    import time
    from concurrent import futures

    import grpc as _grpc

    from durabletask._proto import orchestrator_service_pb2_grpc as pb_grpc

    release = threading.Event()
    entered = threading.Event()

    class Hanging(pb_grpc.TaskHubSidecarServiceServicer):
        def Hello(self, request, context):  # type: ignore[no-untyped-def] # noqa: N802
            entered.set()
            release.wait(10)
            from google.protobuf import empty_pb2

            return empty_pb2.Empty()

    server = _grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    pb_grpc.add_TaskHubSidecarServiceServicer_to_server(Hanging(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        worker = TaskHubGrpcWorker(host_address=f"127.0.0.1:{port}")
        worker.start()
        assert entered.wait(5)
        t0 = time.monotonic()
        worker.stop()
        assert time.monotonic() - t0 < 1.5
    finally:
        release.set()
        server.stop(None)


def test_interceptors_apply_to_own_and_given_channels(sidecar: SidecarServer) -> None:
    import grpc as _grpc

    from durabletask._grpc import MetadataInterceptor

    own = make_worker(sidecar, interceptors=[MetadataInterceptor([("x-own", "1")])])
    with own:
        own.start()
        sidecar.servicer.wait_for(lambda: len(sidecar.servicer.requests) == 1)
    channel = _grpc.insecure_channel(sidecar.address)
    given = TaskHubGrpcWorker(
        channel=channel, interceptors=[MetadataInterceptor([("x-given", "2")])], resiliency_options=FAST
    )
    with given:
        given.start()
        sidecar.servicer.wait_for(lambda: len(sidecar.servicer.requests) == 2)
    # The worker leaves a caller's channel open.
    from google.protobuf import empty_pb2

    from durabletask._proto import orchestrator_service_pb2_grpc as pb_grpc

    pb_grpc.TaskHubSidecarServiceStub(channel).Hello(empty_pb2.Empty(), timeout=5)
    channel.close()
    assert sidecar.servicer.stream_metadata[0]["x-own"] == "1"
    assert sidecar.servicer.stream_metadata[1]["x-given"] == "2"
    assert sidecar.servicer.hello_metadata[1]["x-given"] == "2"
