"""Document section "Quickstart: Function Chaining": its worker.py and client.py against our emulator.

The two ``main()`` functions are the document's, adapted only so they end: the worker's endless
``while True: await asyncio.sleep(1)`` stops when the test cancels it, and ``ENDPOINT``/``TASKHUB``
point at the test emulator. Because the endpoint is then not ``http://localhost:8080``, the document
creates a ``DefaultAzureCredential``; the test swaps in a fake credential class (no Azure login here),
which the emulator ignores.
"""

# ruff: noqa: E501
from __future__ import annotations

import asyncio
import logging
import os
import sys
import time

import pytest
from azure.core.credentials import AccessToken

from durabletask.azuremanaged.client import DurableTaskSchedulerClient
from durabletask.azuremanaged.worker import DurableTaskSchedulerWorker

from . import doc_code
from .conftest import Emulator
from .doc_code import finalize_response, function_chaining_orchestrator, process_greeting, say_hello


class DefaultAzureCredential:
    """Stands in for azure.identity.DefaultAzureCredential: a fixed token, no network."""

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        return AccessToken("fake-token", int(time.time()) + 3600)


logger = logging.getLogger(__name__)


async def worker_main(connected: list) -> None:
    """Main entry point for the worker process."""
    logger.info("Starting Function Chaining pattern worker...")

    # Get environment variables for taskhub and endpoint with defaults
    taskhub_name = os.getenv("TASKHUB", "default")
    endpoint = os.getenv("ENDPOINT", "http://localhost:8080")

    print(f"Using taskhub: {taskhub_name}")
    print(f"Using endpoint: {endpoint}")

    # Credential handling
    credential = None
    if endpoint != "http://localhost:8080":
        credential = DefaultAzureCredential()

    with DurableTaskSchedulerWorker(
        host_address=endpoint,
        secure_channel=endpoint != "http://localhost:8080",
        taskhub=taskhub_name,
        token_credential=credential
    ) as worker:

        # Register activities and orchestrators
        worker.add_activity(say_hello)
        worker.add_activity(process_greeting)
        worker.add_activity(finalize_response)
        worker.add_orchestrator(function_chaining_orchestrator)

        # Start the worker
        worker.start()
        connected.append(worker)

        try:
            # Keep the worker running
            while True:
                await asyncio.sleep(1)
        except KeyboardInterrupt:
            logger.info("Worker shutdown initiated")


results: list = []


async def client_main():
    """Main entry point for the client application."""
    logger.info("Starting Function Chaining pattern client...")

    # Get environment variables
    taskhub_name = os.getenv("TASKHUB", "default")
    endpoint = os.getenv("ENDPOINT", "http://localhost:8080")

    # Credential handling
    credential = None
    if endpoint != "http://localhost:8080":
        credential = DefaultAzureCredential()

    # Create a client
    client = DurableTaskSchedulerClient(
        host_address=endpoint,
        secure_channel=endpoint != "http://localhost:8080",
        taskhub=taskhub_name,
        token_credential=credential
    )

    # Get user input or use default name
    name = sys.argv[1] if len(sys.argv) > 1 else "User"

    # Schedule the orchestration
    instance_id = client.schedule_new_orchestration(
        "function_chaining_orchestrator",
        input=name
    )

    logger.info(f"Orchestration scheduled with ID: {instance_id}")

    # Wait for completion
    result = client.wait_for_orchestration_completion(
        instance_id,
        timeout=30
    )

    logger.info(f"Orchestration completed with result: {result.serialized_output}")
    results.append(result)


async def test_quickstart_worker_and_client(emulator: Emulator, monkeypatch: pytest.MonkeyPatch,
                                            caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("ENDPOINT", emulator.endpoint)
    monkeypatch.setenv("TASKHUB", "default")
    monkeypatch.setattr(sys, "argv", ["client.py", "World"])
    caplog.set_level(logging.INFO)
    results.clear()
    started: list = []
    worker_task = asyncio.create_task(worker_main(started))
    try:
        while not started:
            await asyncio.sleep(0.01)
        # client.py's blocking calls run in a thread so the worker's coroutine keeps going.
        await asyncio.to_thread(asyncio.run, client_main())
    finally:
        worker_task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await worker_task
    assert not started[0].is_running  # leaving the `with` block stopped the worker
    [state] = results
    assert state.runtime_status.name == "COMPLETED"
    assert state.get_output() == "Hello World! How are you today? I hope you're doing well!"
    messages = [r.getMessage() for r in caplog.records if r.name == doc_code.__name__]
    assert "Activity say_hello called with name: World" in messages
    assert "Activity finalize_response called with response: Hello World! How are you today?" in messages
    assert any(m.startswith("Orchestration completed with result: ") for m in
               (r.getMessage() for r in caplog.records))
