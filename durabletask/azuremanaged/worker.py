"""A worker for Azure Durable Task Scheduler (DTS) and the DTS emulator.

:class:`DurableTaskSchedulerWorker` is :class:`durabletask.worker.TaskHubGrpcWorker` plus the DTS
metadata on every call (``taskhub``, ``x-user-agent``, ``workerid`` and, with a credential,
``authorization: Bearer <token>``), TLS by default, and no timer chunking. It takes the published
SDK's keywords (``host_address``, ``taskhub``, ``token_credential``) as well as the documented
options form::

    options = DurableTaskSchedulerWorkerOptions(host="...", taskhub="default", credential=cred)
    async with DurableTaskSchedulerWorker(options=options, orchestrators=[...], activities=[...]) as w:
        await w.start()
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc

from durabletask.azuremanaged._auth import dts_interceptors, dts_metadata
from durabletask.worker import ConcurrencyOptions, TaskHubGrpcWorker

__all__ = ["DurableTaskSchedulerWorker", "DurableTaskSchedulerWorkerOptions"]

_UNSET: Any = object()


@dataclass
class DurableTaskSchedulerWorkerOptions:
    """Where and how a :class:`DurableTaskSchedulerWorker` connects.

    ``host`` (alias ``host_address``) is the scheduler endpoint, e.g.
    ``"myscheduler.westus.durabletask.io"`` or ``"http://localhost:8080"`` for the emulator;
    ``credential`` (alias ``token_credential``) is an azure-identity credential or None (no auth).
    """

    host: str | None = None
    secure_channel: bool = True
    taskhub: str | None = None
    credential: Any = None
    resource_id: str | None = None
    host_address: str | None = None
    token_credential: Any = None

    def __post_init__(self) -> None:
        if self.host is None:
            self.host = self.host_address
        elif self.host_address is None:
            self.host_address = self.host
        elif self.host != self.host_address:
            raise ValueError("host and host_address are the same setting; give one of them")
        if self.credential is None:
            self.credential = self.token_credential
        elif self.token_credential is None:
            self.token_credential = self.credential
        elif self.credential is not self.token_credential:
            raise ValueError("credential and token_credential are the same setting; give one of them")


def new_worker_id() -> str:
    """A worker id as DTS expects it: ``<hostname>:<pid>:<uuid4>``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4()}"


class DurableTaskSchedulerWorker(TaskHubGrpcWorker):
    """A worker connected to Azure Durable Task Scheduler or its emulator."""

    def __init__(
        self,
        *,
        host_address: str | None = None,
        taskhub: str | None = None,
        token_credential: Any = _UNSET,
        resource_id: str | None = None,
        channel: grpc.Channel | None = None,
        secure_channel: bool | None = None,
        interceptors: Sequence[Any] | None = None,
        channel_options: Any = None,
        resiliency_options: Any = None,
        concurrency_options: ConcurrencyOptions | None = None,
        payload_store: Any = None,
        data_converter: Any = None,
        log_handler: Any = None,
        log_formatter: Any = None,
        logger: Any = None,
        exception_properties_provider: Any = None,
        options: DurableTaskSchedulerWorkerOptions | None = None,
        orchestrators: Iterable[Callable[..., Any]] | None = None,
        activities: Iterable[Callable[..., Any]] | None = None,
        host: str | None = None,
        credential: Any = _UNSET,
    ) -> None:
        if options is not None and not isinstance(options, DurableTaskSchedulerWorkerOptions):
            raise TypeError("options must be a DurableTaskSchedulerWorkerOptions")
        if host is not None and host_address is not None and host != host_address:
            raise ValueError("host and host_address are the same setting; give one of them")
        address = host_address or host or (options.host if options else None)
        if not address:
            raise ValueError("A scheduler endpoint is required (host_address=, host= or options.host)")
        hub = taskhub if taskhub is not None else (options.taskhub if options else None)
        if not hub or not str(hub).strip():
            raise ValueError("taskhub must be a non-empty task hub name")
        cred = token_credential if token_credential is not _UNSET else credential
        if cred is _UNSET:
            cred = options.credential if options else None
        secure = (
            secure_channel if secure_channel is not None else (options.secure_channel if options else True)
        )
        resource = resource_id if resource_id is not None else (options.resource_id if options else None)

        self._worker_id = new_worker_id()
        self._taskhub = str(hub).strip()
        metadata: list[tuple[str, str]] | None = None
        all_interceptors: list[Any] = []
        if cred is None:
            # Fixed headers only: sent with each call directly (cheaper than an interceptor).
            metadata = dts_metadata(self._taskhub, self._worker_id)
        else:
            all_interceptors = dts_interceptors(
                taskhub=self._taskhub, token_credential=cred, resource_id=resource, worker_id=self._worker_id
            )
        if interceptors:
            all_interceptors.extend(interceptors)
        super().__init__(
            host_address=address,
            metadata=metadata,
            log_handler=log_handler,
            log_formatter=log_formatter,
            logger=logger,
            channel=channel,
            secure_channel=secure,
            interceptors=all_interceptors or None,
            channel_options=channel_options,
            resiliency_options=resiliency_options,
            concurrency_options=concurrency_options,
            maximum_timer_interval=None,
            payload_store=payload_store,
            data_converter=data_converter,
            exception_properties_provider=exception_properties_provider,
        )
        for fn in orchestrators or ():
            self.add_orchestrator(fn)
        for fn in activities or ():
            self.add_activity(fn)

    @property
    def worker_id(self) -> str:
        """The ``workerid`` sent to the scheduler (``<hostname>:<pid>:<uuid4>``)."""
        return self._worker_id

    @property
    def taskhub(self) -> str:
        """The task hub this worker serves."""
        return self._taskhub
