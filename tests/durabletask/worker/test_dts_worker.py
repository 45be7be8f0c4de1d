"""DurableTaskSchedulerWorker: DTS metadata on every call, the options form, argument checks."""

from __future__ import annotations

import os
import socket
import time

import pytest
from azure.core.credentials import AccessToken

from durabletask.azuremanaged.worker import DurableTaskSchedulerWorker, DurableTaskSchedulerWorkerOptions
from durabletask.grpc_options import GrpcWorkerResiliencyOptions

from .conftest import SidecarServer, activity_item

FAST = GrpcWorkerResiliencyOptions(reconnect_backoff_base_seconds=0.05, reconnect_backoff_cap_seconds=0.2)


class Cred:
    def get_token(self, *scopes: str, **kw: object) -> AccessToken:
        return AccessToken("tok-123", int(time.time()) + 3600)


def greet(ctx, name):  # type: ignore[no-untyped-def]
    return f"hi {name}"


def test_metadata_on_hello_stream_and_completions(sidecar: SidecarServer) -> None:
    worker = DurableTaskSchedulerWorker(
        host_address=f"http://{sidecar.address}",
        taskhub="hub1",
        token_credential=Cred(),
        resiliency_options=FAST,
    )
    worker.add_activity(greet)
    with worker:
        worker.start()
        sidecar.servicer.items.put(activity_item("greet", '"x"'))
        sidecar.servicer.wait_for(lambda: len(sidecar.servicer.activity_completions) == 1)
    for md in (sidecar.servicer.hello_metadata[0], sidecar.servicer.stream_metadata[0]):
        assert md["taskhub"] == "hub1"
        assert md["authorization"] == "Bearer tok-123"
        assert md["x-user-agent"].startswith("durabletask-python/")
        host, pid, uid = md["workerid"].split(":")
        assert host == socket.gethostname() and pid == str(os.getpid()) and len(uid) == 36
        assert md["workerid"] == worker.worker_id
    assert worker.maximum_timer_interval is None  # DTS: no timer chunking


def test_options_form_registers_functions(sidecar: SidecarServer) -> None:
    opts = DurableTaskSchedulerWorkerOptions(
        host=f"http://{sidecar.address}", secure_channel=True, taskhub="default"
    )
    worker = DurableTaskSchedulerWorker(options=opts, activities=[greet], resiliency_options=FAST)
    assert worker.taskhub == "default"
    with worker:
        worker.start()
        sidecar.servicer.items.put(activity_item("greet", '"y"'))
        sidecar.servicer.wait_for(lambda: len(sidecar.servicer.activity_completions) == 1)
    md = sidecar.servicer.stream_metadata[0]
    assert md["taskhub"] == "default" and "authorization" not in md


def test_option_aliases() -> None:
    cred = Cred()
    a = DurableTaskSchedulerWorkerOptions(host_address="h:1", token_credential=cred, taskhub="t")
    assert a.host == "h:1" and a.credential is cred
    with pytest.raises(ValueError):
        DurableTaskSchedulerWorkerOptions(host="a", host_address="b")


def test_missing_settings_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="taskhub"):
        DurableTaskSchedulerWorker(host_address="localhost:1", taskhub="", token_credential=None)
    with pytest.raises(ValueError, match="endpoint"):
        DurableTaskSchedulerWorker(taskhub="x", token_credential=None)
    with pytest.raises(TypeError):
        DurableTaskSchedulerWorker(options={"host": "x"})  # type: ignore[arg-type]
