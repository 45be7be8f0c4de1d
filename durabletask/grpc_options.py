"""Options for the gRPC channels of clients and workers.

Plain dataclasses: :class:`GrpcChannelOptions` tunes the channel itself (message sizes, keepalive,
a transport retry policy for UNAVAILABLE, raw channel arguments); :class:`GrpcClientResiliencyOptions`
and :class:`GrpcWorkerResiliencyOptions` describe how a client or a worker reacts to transport failures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DEFAULT_MAX_MESSAGE_LENGTH",
    "GrpcChannelOptions",
    "GrpcClientResiliencyOptions",
    "GrpcRetryPolicyOptions",
    "GrpcWorkerResiliencyOptions",
]

#: Receive/send limit used when nothing else is configured (gRPC's own default is 4 MiB).
DEFAULT_MAX_MESSAGE_LENGTH = 64 * 1024 * 1024


@dataclass
class GrpcRetryPolicyOptions:
    """A transport-level retry policy (gRPC service config) that retries UNAVAILABLE calls only."""

    max_attempts: int = 4
    initial_backoff_seconds: float = 0.5
    max_backoff_seconds: float = 5.0
    backoff_multiplier: float = 2.0
    retryable_status_codes: list[str] = field(default_factory=lambda: ["UNAVAILABLE"])

    def __post_init__(self) -> None:
        if self.max_attempts < 2:
            raise ValueError("max_attempts must be at least 2")
        if self.initial_backoff_seconds <= 0 or self.max_backoff_seconds <= 0:
            raise ValueError("backoff times must be positive")
        if self.backoff_multiplier <= 0:
            raise ValueError("backoff_multiplier must be positive")

    def to_service_config(self) -> str:
        """The JSON service config that gRPC expects in ``grpc.service_config``."""
        return json.dumps(
            {
                "methodConfig": [
                    {
                        "name": [{"service": "TaskHubSidecarService"}],
                        "retryPolicy": {
                            "maxAttempts": self.max_attempts,
                            "initialBackoff": f"{self.initial_backoff_seconds}s",
                            "maxBackoff": f"{self.max_backoff_seconds}s",
                            "backoffMultiplier": self.backoff_multiplier,
                            "retryableStatusCodes": list(self.retryable_status_codes),
                        },
                    }
                ]
            }
        )


@dataclass
class GrpcChannelOptions:
    """Settings applied when the SDK creates a channel itself (ignored for a channel you pass in)."""

    max_receive_message_length: int | None = None
    max_send_message_length: int | None = None
    keepalive_time_ms: int | None = None
    keepalive_timeout_ms: int | None = None
    keepalive_permit_without_calls: bool | None = None
    retry_policy: GrpcRetryPolicyOptions | None = None
    #: Any other raw gRPC channel arguments, e.g. ``[("grpc.primary_user_agent", "me")]``.
    raw_options: list[tuple[str, Any]] = field(default_factory=list)

    def to_grpc_options(self) -> list[tuple[str, Any]]:
        """The channel arguments as a list of ``(name, value)`` pairs."""
        out: list[tuple[str, Any]] = []
        if self.max_receive_message_length is not None:
            out.append(("grpc.max_receive_message_length", int(self.max_receive_message_length)))
        if self.max_send_message_length is not None:
            out.append(("grpc.max_send_message_length", int(self.max_send_message_length)))
        if self.keepalive_time_ms is not None:
            out.append(("grpc.keepalive_time_ms", int(self.keepalive_time_ms)))
        if self.keepalive_timeout_ms is not None:
            out.append(("grpc.keepalive_timeout_ms", int(self.keepalive_timeout_ms)))
        if self.keepalive_permit_without_calls is not None:
            out.append(
                ("grpc.keepalive_permit_without_calls", int(bool(self.keepalive_permit_without_calls)))
            )
        if self.retry_policy is not None:
            out.append(("grpc.enable_retries", 1))
            out.append(("grpc.service_config", self.retry_policy.to_service_config()))
        out.extend(self.raw_options)
        return out


@dataclass
class GrpcClientResiliencyOptions:
    """How a client reacts to transport failures (UNAVAILABLE / DEADLINE_EXCEEDED).

    After ``channel_recreate_failure_threshold`` consecutive failures a channel that the SDK created
    itself is closed and created again, at most once every ``min_recreate_interval_seconds``.
    A threshold of 0 disables recreation.
    """

    channel_recreate_failure_threshold: int = 5
    min_recreate_interval_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.channel_recreate_failure_threshold < 0:
            raise ValueError("channel_recreate_failure_threshold must not be negative")
        if self.min_recreate_interval_seconds < 0:
            raise ValueError("min_recreate_interval_seconds must not be negative")


@dataclass
class GrpcWorkerResiliencyOptions:
    """How a worker keeps its work-item stream alive.

    ``silent_disconnect_timeout_seconds``: with no message (work item or health ping) for this long the
    worker drops the stream and reconnects (0 disables the watchdog). Reconnects back off with full
    jitter between ``reconnect_backoff_base_seconds`` and ``reconnect_backoff_cap_seconds``.
    """

    hello_timeout_seconds: float = 30.0
    silent_disconnect_timeout_seconds: float = 120.0
    reconnect_backoff_base_seconds: float = 1.0
    reconnect_backoff_cap_seconds: float = 30.0
    channel_recreate_failure_threshold: int = 5
    min_recreate_interval_seconds: float = 30.0

    def __post_init__(self) -> None:
        for name in (
            "hello_timeout_seconds",
            "silent_disconnect_timeout_seconds",
            "reconnect_backoff_base_seconds",
            "reconnect_backoff_cap_seconds",
            "min_recreate_interval_seconds",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.channel_recreate_failure_threshold < 0:
            raise ValueError("channel_recreate_failure_threshold must not be negative")
