"""gRPC channels for clients and workers: address parsing, TLS choice, channel options, metadata.

Address rules (the published SDK's): an address starting with ``https://`` or ``grpcs://`` always uses
TLS, ``http://`` or ``grpc://`` always plaintext (the prefix is stripped); any other address uses TLS
only when ``secure_channel`` is true. No address means ``localhost:4001``.

:class:`MetadataInterceptor` (sync) and :class:`AsyncMetadataInterceptor` (grpc.aio) add metadata
pairs to every call of all four shapes (unary/stream in and out); the pairs are fixed or come from a
provider function called per call (used for bearer tokens).
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import grpc
import grpc.aio

from durabletask.grpc_options import DEFAULT_MAX_MESSAGE_LENGTH, GrpcChannelOptions

__all__ = [
    "DEFAULT_HOST_ADDRESS",
    "AsyncMetadataInterceptor",
    "ChannelOptionsLike",
    "MetadataInterceptor",
    "MetadataPairs",
    "channel_arguments",
    "get_async_grpc_channel",
    "get_grpc_channel",
    "parse_host_address",
    "split_async_interceptors",
]

logger = logging.getLogger("durabletask.grpc")

#: The address used when none is given (the published SDK's default sidecar port).
DEFAULT_HOST_ADDRESS = "localhost:4001"

_SECURE_PREFIXES = ("https://", "grpcs://")
_INSECURE_PREFIXES = ("http://", "grpc://")
_GRPC_TARGET_SCHEMES = ("unix:", "unix-abstract:", "dns:", "ipv4:", "ipv6:", "vsock:")

MetadataPairs = Sequence[tuple[str, str]]
ChannelOptionsLike = GrpcChannelOptions | Sequence[tuple[str, Any]] | None


def parse_host_address(host_address: str | None, secure_channel: bool = False) -> tuple[str, bool]:
    """Split an address into the gRPC target and whether to use TLS.

    >>> parse_host_address("http://localhost:8080", True)
    ('localhost:8080', False)
    """
    if host_address is None:
        return DEFAULT_HOST_ADDRESS, bool(secure_channel)
    if not isinstance(host_address, str):
        raise TypeError(
            f"host_address must be a string like 'localhost:4001', not {type(host_address).__name__}"
        )
    address = host_address.strip()
    lowered = address.lower()
    secure = bool(secure_channel)
    for prefix in _SECURE_PREFIXES:
        if lowered.startswith(prefix):
            address, secure = address[len(prefix) :], True
            break
    else:
        for prefix in _INSECURE_PREFIXES:
            if lowered.startswith(prefix):
                address, secure = address[len(prefix) :], False
                break
    if lowered.startswith(_GRPC_TARGET_SCHEMES):  # gRPC's own target syntax, e.g. unix:/tmp/sock
        return address, secure
    address = address.rstrip("/")
    if not address:
        raise ValueError(f"host_address {host_address!r} names no host")
    if "/" in address or any(ch.isspace() for ch in address):
        raise ValueError(f"host_address {host_address!r} is not of the form [scheme://]host[:port]")
    return address, secure


def channel_arguments(options: ChannelOptionsLike = None) -> list[tuple[str, Any]]:
    """Channel arguments: our defaults (64 MiB messages) overridden by ``options``."""
    merged: dict[str, Any] = {
        "grpc.max_receive_message_length": DEFAULT_MAX_MESSAGE_LENGTH,
        "grpc.max_send_message_length": DEFAULT_MAX_MESSAGE_LENGTH,
    }
    if isinstance(options, GrpcChannelOptions):
        pairs: Iterable[tuple[str, Any]] = options.to_grpc_options()
    elif options is None:
        pairs = ()
    else:
        pairs = options
    for item in pairs:
        try:
            name, value = item
        except (TypeError, ValueError):
            raise TypeError(f"channel option {item!r} is not a (name, value) pair") from None
        merged[str(name)] = value
    return list(merged.items())


def get_grpc_channel(
    host_address: str | None = None,
    secure_channel: bool = False,
    interceptors: Sequence[Any] | None = None,
    options: ChannelOptionsLike = None,
) -> grpc.Channel:
    """Create a blocking gRPC channel to a sidecar, with ``interceptors`` applied in order."""
    target, secure = parse_host_address(host_address, secure_channel)
    args = channel_arguments(options)
    if secure:
        channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(), options=args)
    else:
        channel = grpc.insecure_channel(target, options=args)
    logger.debug("channel to %s (%s)", target, "TLS" if secure else "plaintext")
    if interceptors:
        channel = grpc.intercept_channel(channel, *interceptors)
    return channel


def get_async_grpc_channel(
    host_address: str | None = None,
    secure_channel: bool = False,
    interceptors: Sequence[Any] | None = None,
    options: ChannelOptionsLike = None,
) -> grpc.aio.Channel:
    """Create a grpc.aio channel to a sidecar; ``interceptors`` must be grpc.aio client interceptors."""
    target, secure = parse_host_address(host_address, secure_channel)
    args = channel_arguments(options)
    icpts = split_async_interceptors(interceptors) if interceptors else None
    if secure:
        return grpc.aio.secure_channel(
            target, grpc.ssl_channel_credentials(), options=args, interceptors=icpts
        )
    return grpc.aio.insecure_channel(target, options=args, interceptors=icpts)


_AIO_SHAPES: tuple[tuple[type, str], ...] = (
    (grpc.aio.UnaryUnaryClientInterceptor, "intercept_unary_unary"),
    (grpc.aio.UnaryStreamClientInterceptor, "intercept_unary_stream"),
    (grpc.aio.StreamUnaryClientInterceptor, "intercept_stream_unary"),
    (grpc.aio.StreamStreamClientInterceptor, "intercept_stream_stream"),
)


def _shape_adapter(shape: type, method_name: str, target: Any) -> Any:
    """A single-shape interceptor forwarding to ``target``'s method for that shape."""

    async def intercept(self: Any, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return await getattr(target, method_name)(continuation, client_call_details, request)

    cls = type(f"_{shape.__name__}Adapter", (shape,), {method_name: intercept})
    return cls()


def split_async_interceptors(interceptors: Sequence[Any]) -> list[Any]:
    """One grpc.aio interceptor per call shape.

    grpc.aio files an interceptor under the *first* shape it implements only, so an object that
    implements several shapes would silently skip streams; this splits it into per-shape adapters.
    """
    out: list[Any] = []
    for icpt in interceptors:
        shapes = [(shape, name) for shape, name in _AIO_SHAPES if isinstance(icpt, shape)]
        if not shapes:
            raise TypeError(f"{icpt!r} is not a grpc.aio client interceptor")
        if len(shapes) == 1:
            out.append(icpt)
        else:
            out.extend(_shape_adapter(shape, name, icpt) for shape, name in shapes)
    return out


def _check_pairs(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    out = []
    for item in pairs:
        try:
            key, value = item
        except (TypeError, ValueError):
            raise TypeError(f"metadata entry {item!r} is not a (key, value) pair") from None
        if not isinstance(key, str) or not key:
            raise TypeError(f"metadata key {key!r} must be a non-empty string")
        key = key.lower()
        if not isinstance(value, (str, bytes)) or (isinstance(value, bytes) and not key.endswith("-bin")):
            raise TypeError(f"metadata value for {key!r} must be a string")
        out.append((key, value))
    return out


class _CallDetails(
    collections.namedtuple(
        "_CallDetails", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")
    ),
    grpc.ClientCallDetails,
):
    """Mutable-by-copy call details for the sync interceptor API."""


class MetadataInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds metadata pairs to every sync call: ``metadata`` (fixed) then ``provider()`` (per call)."""

    def __init__(
        self,
        metadata: MetadataPairs | None = None,
        *,
        provider: Callable[[], MetadataPairs] | None = None,
    ) -> None:
        self._fixed = _check_pairs(metadata or ())
        self._provider = provider

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        extra = list(self._fixed)
        if self._provider is not None:
            extra.extend(_check_pairs(self._provider()))
        if not extra:
            return details
        existing = list(details.metadata or ())
        return _CallDetails(
            details.method,
            details.timeout,
            existing + extra,
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]
        return continuation(self._details(client_call_details), request)

    def intercept_unary_stream(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]
        return continuation(self._details(client_call_details), request)

    def intercept_stream_unary(self, continuation, client_call_details, request_iterator):  # type: ignore[no-untyped-def]
        return continuation(self._details(client_call_details), request_iterator)

    def intercept_stream_stream(self, continuation, client_call_details, request_iterator):  # type: ignore[no-untyped-def]
        return continuation(self._details(client_call_details), request_iterator)


class AsyncMetadataInterceptor(
    grpc.aio.UnaryUnaryClientInterceptor,
    grpc.aio.UnaryStreamClientInterceptor,
    grpc.aio.StreamUnaryClientInterceptor,
    grpc.aio.StreamStreamClientInterceptor,
):
    """Adds metadata pairs to every grpc.aio call: fixed pairs then ``await provider()`` (per call).

    It implements all four shapes; pass it to :func:`get_async_grpc_channel` (or through
    :func:`split_async_interceptors` for your own channel) so that streams are covered too.
    """

    def __init__(
        self,
        metadata: MetadataPairs | None = None,
        *,
        provider: Callable[[], Awaitable[MetadataPairs]] | None = None,
    ) -> None:
        self._fixed = _check_pairs(metadata or ())
        self._provider = provider

    async def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        extra = list(self._fixed)
        if self._provider is not None:
            extra.extend(_check_pairs(await self._provider()))
        if not extra:
            return details
        merged = grpc.aio.Metadata(*(tuple(details.metadata) if details.metadata else ()), *extra)
        return grpc.aio.ClientCallDetails(
            details.method, details.timeout, merged, details.credentials, details.wait_for_ready
        )

    async def intercept_unary_unary(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]
        return await continuation(await self._details(client_call_details), request)

    async def intercept_unary_stream(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]
        return await continuation(await self._details(client_call_details), request)

    async def intercept_stream_unary(self, continuation, client_call_details, request_iterator):  # type: ignore[no-untyped-def]
        return await continuation(await self._details(client_call_details), request_iterator)

    async def intercept_stream_stream(self, continuation, client_call_details, request_iterator):  # type: ignore[no-untyped-def]
        return await continuation(await self._details(client_call_details), request_iterator)
