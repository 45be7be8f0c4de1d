"""Clients for Azure Durable Task Scheduler (DTS) and the DTS emulator.

:class:`DurableTaskSchedulerClient` (blocking; results may also be awaited) and
:class:`AsyncDurableTaskSchedulerClient` (grpc.aio) are the plain clients plus the DTS metadata on every
call: ``taskhub``, ``x-user-agent`` and, with a credential, ``authorization: Bearer <token>``.

Both accept the published keywords (``host_address=``, ``token_credential=``) and the user document's
(``host=``, ``credential=``); ``taskhub`` defaults to ``"default"``; a missing credential means no
token (the DTS emulator needs none).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import grpc
import grpc.aio

from durabletask.azuremanaged._auth import dts_async_interceptors, dts_interceptors
from durabletask.client import AsyncTaskHubGrpcClient, TaskHubGrpcClient
from durabletask.grpc_options import GrpcChannelOptions, GrpcClientResiliencyOptions
from durabletask.serialization import DataConverter

__all__ = ["AsyncDurableTaskSchedulerClient", "DurableTaskSchedulerClient"]

DEFAULT_TASKHUB = "default"


def _pick(name_a: str, a: Any, name_b: str, b: Any) -> Any:
    if a is not None and b is not None and a != b:
        raise ValueError(f"pass either {name_a}= or {name_b}=, not both")
    return a if a is not None else b


def _resolve(
    host_address: str | None, host: str | None, taskhub: str | None, token_credential: Any, credential: Any
) -> tuple[str, str, Any]:
    address = _pick("host_address", host_address, "host", host)
    if address is None:
        raise ValueError("the scheduler endpoint is required: pass host_address= (or host=)")
    hub = DEFAULT_TASKHUB if taskhub is None else taskhub
    if not isinstance(hub, str) or not hub.strip():
        raise ValueError("taskhub must be a non-empty task hub name")
    return address, hub, _pick("token_credential", token_credential, "credential", credential)


class DurableTaskSchedulerClient(TaskHubGrpcClient):
    """A blocking client for a Durable Task Scheduler task hub."""

    def __init__(
        self,
        *,
        host_address: str | None = None,
        taskhub: str | None = None,
        token_credential: Any = None,
        resource_id: str | None = None,
        channel: grpc.Channel | None = None,
        secure_channel: bool = True,
        interceptors: Sequence[Any] | None = None,
        channel_options: GrpcChannelOptions | None = None,
        resiliency_options: GrpcClientResiliencyOptions | None = None,
        default_version: str | None = None,
        payload_store: Any = None,
        data_converter: DataConverter | None = None,
        log_handler: logging.Handler | None = None,
        log_formatter: logging.Formatter | None = None,
        logger: logging.Logger | None = None,
        host: str | None = None,
        credential: Any = None,
    ) -> None:
        address, hub, cred = _resolve(host_address, host, taskhub, token_credential, credential)
        self.taskhub = hub
        all_interceptors = dts_interceptors(taskhub=hub, token_credential=cred, resource_id=resource_id)
        all_interceptors.extend(interceptors or ())
        super().__init__(
            host_address=address,
            channel=channel,
            secure_channel=secure_channel,
            interceptors=all_interceptors,
            channel_options=channel_options,
            resiliency_options=resiliency_options,
            default_version=default_version,
            payload_store=payload_store,
            data_converter=data_converter,
            log_handler=log_handler,
            log_formatter=log_formatter,
            logger=logger,
        )


class AsyncDurableTaskSchedulerClient(AsyncTaskHubGrpcClient):
    """An asyncio client for a Durable Task Scheduler task hub."""

    def __init__(
        self,
        *,
        host_address: str | None = None,
        taskhub: str | None = None,
        token_credential: Any = None,
        resource_id: str | None = None,
        channel: grpc.aio.Channel | None = None,
        secure_channel: bool = True,
        interceptors: Sequence[Any] | None = None,
        channel_options: GrpcChannelOptions | None = None,
        resiliency_options: GrpcClientResiliencyOptions | None = None,
        default_version: str | None = None,
        payload_store: Any = None,
        data_converter: DataConverter | None = None,
        log_handler: logging.Handler | None = None,
        log_formatter: logging.Formatter | None = None,
        logger: logging.Logger | None = None,
        host: str | None = None,
        credential: Any = None,
    ) -> None:
        address, hub, cred = _resolve(host_address, host, taskhub, token_credential, credential)
        self.taskhub = hub
        all_interceptors = dts_async_interceptors(taskhub=hub, token_credential=cred, resource_id=resource_id)
        all_interceptors.extend(interceptors or ())
        super().__init__(
            host_address=address,
            channel=channel,
            secure_channel=secure_channel,
            interceptors=all_interceptors,
            channel_options=channel_options,
            resiliency_options=resiliency_options,
            default_version=default_version,
            payload_store=payload_store,
            data_converter=data_converter,
            log_handler=log_handler,
            log_formatter=log_formatter,
            logger=logger,
        )
