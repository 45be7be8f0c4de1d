"""Constructor plumbing shared by the sync and async clients: logging, converter, channel bookkeeping."""

from __future__ import annotations

import logging
import time
from typing import Any

import grpc

from durabletask._client_requests import (
    TRANSPORT_FAILURES,
    Operation,
    translate_rpc_error,
)
from durabletask._grpc import parse_host_address
from durabletask.grpc_options import GrpcChannelOptions, GrpcClientResiliencyOptions
from durabletask.serialization import DataConverter, JsonDataConverter

__all__ = ["ClientCore"]


def client_logger(
    logger: logging.Logger | None,
    log_handler: logging.Handler | None,
    log_formatter: logging.Formatter | None,
) -> logging.Logger:
    """The client's logger: ``logger`` or ``durabletask.client``, with ``log_handler`` attached once."""
    log = logger if logger is not None else logging.getLogger("durabletask.client")
    if log_handler is not None:
        if log_formatter is not None:
            log_handler.setFormatter(log_formatter)
        if log_handler not in log.handlers:
            log.addHandler(log_handler)
    return log


class ClientCore:
    """State shared by both clients: options, converter, the address and failure counting."""

    def _init_core(
        self,
        *,
        host_address: str | None,
        secure_channel: bool,
        metadata: list[tuple[str, str]] | None,
        channel_given: bool,
        channel_options: GrpcChannelOptions | None,
        resiliency_options: GrpcClientResiliencyOptions | None,
        default_version: str | None,
        data_converter: DataConverter | None,
        payload_store: Any,
        emit_trace_spans: bool,
        log_handler: logging.Handler | None,
        log_formatter: logging.Formatter | None,
        logger: logging.Logger | None,
    ) -> None:
        if data_converter is not None and not isinstance(data_converter, DataConverter):
            raise TypeError("data_converter must have serialize() and deserialize() methods")
        if default_version is not None and not isinstance(default_version, str):
            raise TypeError("default_version must be a string")
        if metadata is not None:
            metadata = list(metadata)
        self._logger = client_logger(logger, log_handler, log_formatter)
        self._data_converter: DataConverter = (
            data_converter if data_converter is not None else JsonDataConverter()
        )
        self.default_version = default_version
        self._payload_store = payload_store  # accepted for compatibility; payloads are sent inline
        self._emit_trace_spans = bool(emit_trace_spans)
        self._host_address = host_address
        self._secure_channel = bool(secure_channel)
        self._metadata = metadata
        self._channel_options = channel_options
        self._resiliency = (
            resiliency_options if resiliency_options is not None else GrpcClientResiliencyOptions()
        )
        self._owns_channel = not channel_given
        if channel_given:
            self._address = "the given channel"
        else:
            target, secure = parse_host_address(host_address, secure_channel)
            self._address = f"{'https' if secure else 'http'}://{target}"
        self._consecutive_failures = 0
        self._last_recreate = 0.0
        self._closed = False

    @property
    def emit_trace_spans(self) -> bool:
        """Accepted for compatibility with the published SDK; this SDK emits no trace spans."""
        return self._emit_trace_spans

    @property
    def address(self) -> str:
        """Where the client connects, as ``http(s)://host:port``."""
        return self._address

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this client is closed")

    def _error(self, err: grpc.RpcError, op: Operation) -> BaseException:
        """The exception to raise for a failed call; also counts transport failures."""
        code = err.code() if callable(getattr(err, "code", None)) else None
        if op.wait_message is not None and code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return TimeoutError(op.wait_message)
        if code in TRANSPORT_FAILURES:
            self._consecutive_failures += 1
        return translate_rpc_error(err, rpc=op.rpc, instance_id=op.instance_id, address=self._address)

    def _should_recreate(self) -> bool:
        threshold = self._resiliency.channel_recreate_failure_threshold
        if not self._owns_channel or threshold <= 0 or self._consecutive_failures < threshold:
            return False
        now = time.monotonic()
        if self._last_recreate and now - self._last_recreate < self._resiliency.min_recreate_interval_seconds:
            return False
        self._last_recreate = now
        self._consecutive_failures = 0
        self._logger.info("recreating the channel to %s after repeated transport failures", self._address)
        return True
