"""Orchestration work items through the worker: actions, custom status, versioning, bad histories."""

from __future__ import annotations

import json
import logging
import threading
import time

import grpc
import pytest

from durabletask import history as h
from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask.grpc_options import GrpcWorkerResiliencyOptions
from durabletask.worker import (
    TaskHubGrpcWorker,
    VersionFailureStrategy,
    VersioningOptions,
    VersionMatchStrategy,
)

from .conftest import SidecarServer

FAST = GrpcWorkerResiliencyOptions(reconnect_backoff_base_seconds=0.05, reconnect_backoff_cap_seconds=0.2)


def chain(ctx, name):  # type: ignore[no-untyped-def]
    ctx.set_custom_status({"step": 1})
    first = yield ctx.call_activity("say_hello", input=name)
    second = yield ctx.call_activity("say_hello", input=first)
    return second


def orchestration_item(
    past: list[pb.HistoryEvent], new: list[pb.HistoryEvent], token: str = "o1", instance_id: str = "inst"
) -> pb.WorkItem:
    req = pb.OrchestratorRequest(instanceId=instance_id)
    req.pastEvents.extend(past)
    req.newEvents.extend(new)
    return pb.WorkItem(orchestratorRequest=req, completionToken=token)


def started(version: str | None = None, name: str = "chain") -> list[pb.HistoryEvent]:
    return [
        h.new_orchestrator_started_event(),
        h.new_execution_started_event(name, "inst", json.dumps("World"), version=version),
    ]


def run_items(
    sidecar: SidecarServer,
    worker: TaskHubGrpcWorker,
    *items: pb.WorkItem,
    expect: int | None = None,
    abandoned: int = 0,
) -> list[pb.OrchestratorResponse]:
    want = len(items) - abandoned if expect is None else expect
    with worker:
        worker.start()
        for item in items:
            sidecar.servicer.items.put(item)
        sidecar.servicer.wait_for(
            lambda: (
                len(sidecar.servicer.orchestrator_completions) >= want
                and len(sidecar.servicer.abandoned) >= abandoned
            )
        )
    return sidecar.servicer.orchestrator_completions


def new_worker(sidecar: SidecarServer) -> TaskHubGrpcWorker:
    worker = TaskHubGrpcWorker(host_address=sidecar.address, resiliency_options=FAST)
    worker.add_orchestrator(chain)
    return worker


def test_first_episode_schedules_the_first_activity(sidecar: SidecarServer) -> None:
    [resp] = run_items(sidecar, new_worker(sidecar), orchestration_item([], started(), token="tok"))
    assert resp.instanceId == "inst" and resp.completionToken == "tok"
    assert [a.WhichOneof("orchestratorActionType") for a in resp.actions] == ["scheduleTask"]
    assert resp.actions[0].scheduleTask.name == "say_hello"
    assert json.loads(resp.actions[0].scheduleTask.input.value) == "World"
    assert json.loads(resp.customStatus.value) == {"step": 1}


def test_replay_to_completion(sidecar: SidecarServer) -> None:
    past = started() + [
        h.new_task_scheduled_event(1, "say_hello", json.dumps("World")),
        h.new_orchestrator_started_event(),
        h.new_task_completed_event(1, json.dumps("Hello World!")),
        h.new_task_scheduled_event(2, "say_hello", json.dumps("Hello World!")),
    ]
    new = [
        h.new_orchestrator_started_event(),
        h.new_task_completed_event(2, json.dumps("Hello Hello World!!")),
    ]
    [resp] = run_items(sidecar, new_worker(sidecar), orchestration_item(past, new))
    [action] = resp.actions
    assert action.completeOrchestration.orchestrationStatus == pb.ORCHESTRATION_STATUS_COMPLETED
    assert json.loads(action.completeOrchestration.result.value) == "Hello Hello World!!"


def test_unregistered_orchestrator_fails_the_instance(sidecar: SidecarServer) -> None:
    [resp] = run_items(sidecar, new_worker(sidecar), orchestration_item([], started(name="missing")))
    [action] = resp.actions
    assert action.completeOrchestration.orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED
    assert "missing" in action.completeOrchestration.failureDetails.errorMessage


def test_version_reject_abandons(sidecar: SidecarServer) -> None:
    worker = new_worker(sidecar)
    worker.use_versioning(
        VersioningOptions(
            version="1.0",
            match_strategy=VersionMatchStrategy.STRICT,
            failure_strategy=VersionFailureStrategy.REJECT,
        )
    )
    run_items(sidecar, worker, orchestration_item([], started(version="2.0"), token="v2"), abandoned=1)
    assert sidecar.servicer.abandoned == [("orchestration", "v2")]
    assert sidecar.servicer.orchestrator_completions == []


def test_version_fail_fails_and_older_versions_run(sidecar: SidecarServer) -> None:
    worker = new_worker(sidecar)
    worker.use_versioning(
        VersioningOptions(
            version="1.10",
            match_strategy=VersionMatchStrategy.CURRENT_OR_OLDER,
            failure_strategy=VersionFailureStrategy.FAIL,
        )
    )
    resps = run_items(
        sidecar,
        worker,
        orchestration_item([], started(version="1.11"), token="new", instance_id="a"),
        orchestration_item([], started(version="1.9"), token="old", instance_id="b"),
    )
    by_token = {r.completionToken: r for r in resps}
    failed = by_token["new"].actions[0].completeOrchestration
    assert failed.orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED
    # The published SDK's failure, word for word (users match on errorType "VersionMismatch").
    assert failed.failureDetails.errorType == "VersionMismatch"
    assert failed.failureDetails.errorMessage == (
        "The orchestration version '1.11' is greater than the worker version '1.10'."
    )
    assert failed.failureDetails.isNonRetriable
    assert by_token["old"].actions[0].WhichOneof("orchestratorActionType") == "scheduleTask"


def test_many_items_are_processed_in_parallel(sidecar: SidecarServer) -> None:
    items = [orchestration_item([], started(), token=f"t{i}", instance_id=f"i{i}") for i in range(50)]
    resps = run_items(sidecar, new_worker(sidecar), *items)
    assert sorted(r.completionToken for r in resps) == sorted(f"t{i}" for i in range(50))


def test_a_completion_the_backend_refuses_is_logged_and_the_replay_state_dropped(
    sidecar: SidecarServer, caplog: pytest.LogCaptureFixture
) -> None:
    # The completion call is answered on gRPC's thread, after the stream thread has moved on.
    def refuse(request: pb.OrchestratorResponse, context: grpc.ServicerContext) -> None:
        context.abort(grpc.StatusCode.UNAVAILABLE, "try again later")

    sidecar.servicer.on_orchestrator_completion = refuse
    caplog.set_level(logging.WARNING, logger="durabletask.worker")
    worker = new_worker(sidecar)
    with worker:
        worker.start()
        sidecar.servicer.items.put(orchestration_item([], started(), instance_id="inst"))
        deadline = time.monotonic() + 5
        while not any("Could not complete orchestration" in r.getMessage() for r in caplog.records):
            assert time.monotonic() < deadline, "the refused completion was not reported"
            time.sleep(0.01)
        runner = worker._runner
        assert runner is not None and runner.replay_cache is not None
        # The episode left a kept state; a completion that did not arrive must not keep it.
        assert "inst" not in runner.replay_cache
    [message] = [r.getMessage() for r in caplog.records if "Could not complete" in r.getMessage()]
    assert "inst" in message and "UNAVAILABLE" in message


def test_stop_waits_for_a_completion_not_answered_yet(
    sidecar: SidecarServer, caplog: pytest.LogCaptureFixture
) -> None:
    arrived = threading.Event()
    answered_at: list[float] = []

    def slow(request: pb.OrchestratorResponse, context: grpc.ServicerContext) -> None:
        arrived.set()
        time.sleep(0.5)
        answered_at.append(time.monotonic())

    sidecar.servicer.on_orchestrator_completion = slow
    caplog.set_level(logging.WARNING, logger="durabletask.worker")
    worker = new_worker(sidecar)
    worker.start()
    sidecar.servicer.items.put(orchestration_item([], started(), token="tok"))
    assert arrived.wait(5)
    worker.stop()  # must not close the channel under the call that is still waiting for its answer
    stopped_at = time.monotonic()
    assert answered_at and answered_at[0] <= stopped_at
    assert [r.completionToken for r in sidecar.servicer.orchestrator_completions] == ["tok"]
    assert not [r for r in caplog.records if "Could not complete" in r.getMessage()]


def test_the_stream_thread_survives_a_base_exception_from_an_episode(
    sidecar: SidecarServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from durabletask._worker_execution import WorkItemRunner

    class Escaped(BaseException):
        pass

    real = WorkItemRunner.run_orchestrator

    def explode_once(
        self: WorkItemRunner, req: pb.OrchestratorRequest, token: str
    ) -> pb.OrchestratorResponse:
        if token == "boom":
            raise Escaped()
        return real(self, req, token)

    monkeypatch.setattr(WorkItemRunner, "run_orchestrator", explode_once)
    items = [orchestration_item([], started(), token="boom"), orchestration_item([], started(), token="next")]
    resps = run_items(sidecar, new_worker(sidecar), *items, expect=1)
    assert [r.completionToken for r in resps] == ["next"]
