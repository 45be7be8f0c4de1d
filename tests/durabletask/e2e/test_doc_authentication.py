"""Document section "Authentication": a token credential in the worker options and in the client.

The emulator is started with ``token=...``: every call must then carry ``authorization: Bearer
<token>``. A fake azure-identity credential hands out that token, so an orchestration completing
proves the token reached the server from both the worker and the client.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from azure.core.credentials import AccessToken

from durabletask.azuremanaged.client import DurableTaskSchedulerClient
from durabletask.azuremanaged.worker import DurableTaskSchedulerWorker, DurableTaskSchedulerWorkerOptions
from durabletask.client import OrchestrationStatus

from .conftest import FAST_RECONNECT, Emulator
from .doc_code import say_hello

SECRET = "s3cret-token"


class FakeCredential:
    """Behaves like DefaultAzureCredential / ManagedIdentityCredential: get_token(*scopes)."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.scopes: list[tuple[str, ...]] = []
        self.lock = threading.Lock()

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        with self.lock:
            self.scopes.append(scopes)
        return AccessToken(self.token, int(time.time()) + 3600)


def hello_orchestrator(ctx, name):  # type: ignore[no-untyped-def]
    greeting = yield ctx.call_activity("say_hello", input=name)
    return greeting


@pytest.fixture
def secured() -> Iterator[Emulator]:
    emu = Emulator(token=SECRET)
    try:
        yield emu
    finally:
        emu.stop()


def test_managed_identity_worker_and_client(secured: Emulator) -> None:
    credential = FakeCredential(SECRET)

    worker = DurableTaskSchedulerWorker(
        options=DurableTaskSchedulerWorkerOptions(
            host=secured.endpoint, secure_channel=True, taskhub="default", credential=credential
        ),
        orchestrators=[hello_orchestrator],
        activities=[say_hello],
        resiliency_options=FAST_RECONNECT,
    )

    client = DurableTaskSchedulerClient(
        host=secured.endpoint, secure_channel=True, taskhub="default", credential=credential
    )
    with worker:
        worker.start()
        iid = client.schedule_new_orchestration(hello_orchestrator, input="Auth")
        state = client.wait_for_orchestration_completion(iid, timeout=30)
    client.close()
    assert state is not None and state.runtime_status == OrchestrationStatus.COMPLETED
    assert state.get_output() == "Hello Auth!"
    assert credential.scopes and all(s == ("https://durabletask.io/.default",) for s in credential.scopes)


def test_wrong_token_is_refused(secured: Emulator) -> None:
    good = DurableTaskSchedulerClient(
        host=secured.endpoint, taskhub="default", credential=FakeCredential(SECRET)
    )
    iid = good.schedule_new_orchestration(hello_orchestrator, input="nobody")
    worker = DurableTaskSchedulerWorker(
        host_address=secured.endpoint,
        taskhub="default",
        token_credential=FakeCredential("wrong"),
        resiliency_options=FAST_RECONNECT,
    )
    worker.add_orchestrator(hello_orchestrator)
    worker.add_activity(say_hello)
    with worker:
        worker.start()
        assert not worker.wait_until_connected(1.0)
    state = good.get_orchestration_state(iid)
    good.close()
    assert state is not None and state.runtime_status == OrchestrationStatus.PENDING
