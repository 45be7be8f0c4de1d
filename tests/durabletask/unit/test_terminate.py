"""Terminate: completes as TERMINATED with the given output, even while suspended."""

from __future__ import annotations

from durabletask import history as h
from durabletask._proto import orchestrator_service_pb2 as pb

from .test_custom_status import staged
from .test_suspend_resume import waits


def test_terminate_completes_with_the_given_output(replayer):
    r = replayer(waits)
    r.start("waits")
    r.step(h.new_execution_terminated_event('"stopped by user"'))
    assert r.kinds() == [("completeOrchestration", 2)]
    c = r.completion()
    assert c.orchestrationStatus == pb.ORCHESTRATION_STATUS_TERMINATED
    assert c.result.value == '"stopped by user"'


def test_terminate_while_suspended(replayer):
    r = replayer(waits)
    r.start("waits")
    r.step(h.new_execution_suspended_event())
    r.step(h.new_execution_terminated_event())
    c = r.completion()
    assert c.orchestrationStatus == pb.ORCHESTRATION_STATUS_TERMINATED
    assert not c.HasField("result")


def test_terminate_drops_actions_of_the_same_batch(replayer):
    r = replayer(staged)
    r.start("staged")
    r.step(h.new_task_completed_event(1), h.new_execution_terminated_event())  # "two" is not scheduled
    assert [a.WhichOneof("orchestratorActionType") for a in r.actions] == ["completeOrchestration"]
    assert r.status() == "ORCHESTRATION_STATUS_TERMINATED"
