"""The DTS worker serves only its own task hub (the ``taskhub`` header selects it in the backend)."""

from __future__ import annotations

from durabletask import task
from durabletask.azuremanaged.client import DurableTaskSchedulerClient
from durabletask.azuremanaged.worker import DurableTaskSchedulerWorker
from durabletask.client import OrchestrationStatus

from .conftest import FAST_RECONNECT, Emulator


@task.orchestrator
def which_hub(ctx: task.OrchestrationContext, _: object):
    return ctx.instance_id
    yield  # pragma: no cover - a generator, as orchestrators usually are


def test_worker_only_sees_its_task_hub(emulator: Emulator) -> None:
    worker = DurableTaskSchedulerWorker(
        host_address=emulator.endpoint,
        taskhub="hub-a",
        token_credential=None,
        resiliency_options=FAST_RECONNECT,
    )
    worker.add_orchestrator(which_hub)
    hub_a = DurableTaskSchedulerClient(host_address=emulator.endpoint, taskhub="hub-a", token_credential=None)
    hub_b = DurableTaskSchedulerClient(host_address=emulator.endpoint, taskhub="hub-b", token_credential=None)
    with worker:
        worker.start()
        other = hub_b.schedule_new_orchestration(which_hub, instance_id="same-id")
        mine = hub_a.schedule_new_orchestration(which_hub, instance_id="same-id")
        state = hub_a.wait_for_orchestration_completion(mine, timeout=20)
        assert state is not None and state.runtime_status == OrchestrationStatus.COMPLETED
        assert state.get_output() == "same-id"
        pending = hub_b.get_orchestration_state(other)
        assert pending is not None and pending.runtime_status == OrchestrationStatus.PENDING
    hub_a.close()
    hub_b.close()
