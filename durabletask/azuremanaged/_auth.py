"""Metadata and bearer tokens for Azure Durable Task Scheduler (DTS) connections.

Every call and stream to DTS carries ``taskhub``, ``x-user-agent`` and, when a credential is given,
``authorization: Bearer <token>``; workers also send ``workerid``. Tokens come from any azure-identity
credential (sync ``TokenCredential`` or async ``AsyncTokenCredential``): fetched on the first call,
refreshed when within :data:`REFRESH_MARGIN_SECONDS` of expiry, one fetch at a time.

Used by the clients here and by the worker engineer's ``DurableTaskSchedulerWorker``:
:func:`dts_interceptors` (sync channels) and :func:`dts_async_interceptors` (grpc.aio channels).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from durabletask import __version__
from durabletask._grpc import AsyncMetadataInterceptor, MetadataInterceptor

__all__ = [
    "DEFAULT_RESOURCE",
    "REFRESH_MARGIN_SECONDS",
    "US_GOVERNMENT_RESOURCE",
    "AccessTokenManager",
    "AsyncAccessTokenManager",
    "default_resource",
    "dts_async_interceptors",
    "dts_interceptors",
    "dts_metadata",
    "token_scope",
    "user_agent",
]

logger = logging.getLogger("durabletask.azuremanaged")

DEFAULT_RESOURCE = "https://durabletask.io"
US_GOVERNMENT_RESOURCE = "https://durabletask.azure.us"
#: A token is refreshed once it is this close (seconds) to its expiry.
REFRESH_MARGIN_SECONDS = 600.0


def user_agent() -> str:
    """The ``x-user-agent`` value: ``durabletask-python/<our version>``."""
    return f"durabletask-python/{__version__}"


def default_resource() -> str:
    """``https://durabletask.io``, or the US Government cloud's resource when ``REGION_NAME`` says so."""
    region = os.environ.get("REGION_NAME", "").strip().lower()
    if region.startswith(("usgov", "usdod")):
        return US_GOVERNMENT_RESOURCE
    return DEFAULT_RESOURCE


def token_scope(resource_id: str | None = None) -> str:
    """The OAuth scope for a resource id (whitespace, trailing ``/`` and ``/.default`` are stripped)."""
    resource = (resource_id or "").strip()
    while True:
        stripped = resource.rstrip("/")
        stripped = stripped.removesuffix("/.default")
        if stripped == resource:
            break
        resource = stripped
    if not resource:
        resource = default_resource()
    return f"{resource}/.default"


def dts_metadata(taskhub: str, worker_id: str | None = None) -> list[tuple[str, str]]:
    """The fixed DTS metadata pairs; raises ValueError for an empty task hub name."""
    if not isinstance(taskhub, str) or not taskhub.strip():
        raise ValueError("taskhub must be a non-empty task hub name")
    pairs = [("taskhub", taskhub.strip()), ("x-user-agent", user_agent())]
    if worker_id:
        pairs.append(("workerid", str(worker_id)))
    return pairs


def _token_parts(token: Any) -> tuple[str, float]:
    value = getattr(token, "token", None)
    expires_on = getattr(token, "expires_on", None)
    if not isinstance(value, str) or not value or expires_on is None:
        raise TypeError(f"the credential returned {token!r}, not an AccessToken(token, expires_on)")
    return value, float(expires_on)


def _run_coroutine_in_thread(coro: Any) -> Any:
    """Run a coroutine to completion on a private loop in a helper thread (safe inside a running loop)."""
    box: dict[str, Any] = {}

    def runner() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=runner, name="durabletask-token", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


class AccessTokenManager:
    """Caches a bearer token from a credential for sync callers; thread-safe, single-flight."""

    def __init__(
        self,
        credential: Any,
        *,
        resource_id: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if credential is None or not callable(getattr(credential, "get_token", None)):
            raise TypeError("token_credential must be an azure-identity credential with get_token()")
        self._credential = credential
        self.scope = token_scope(resource_id)
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_on = 0.0

    def _fresh(self) -> bool:
        return self._token is not None and self._expires_on - self._clock() > REFRESH_MARGIN_SECONDS

    def get_token(self) -> str:
        """The current token, fetching a new one when none is cached or it expires within 10 minutes."""
        if self._fresh():
            return self._token  # type: ignore[return-value]
        with self._lock:
            if not self._fresh():
                result = self._credential.get_token(self.scope)
                if inspect.isawaitable(result):
                    result = _run_coroutine_in_thread(result)
                self._token, self._expires_on = _token_parts(result)
                logger.debug("fetched an access token for %s", self.scope)
            return self._token  # type: ignore[return-value]


class AsyncAccessTokenManager:
    """Caches a bearer token for grpc.aio callers; one fetch at a time under an asyncio lock.

    Accepts an async credential (awaited) or a sync one (run in a thread, so the loop never blocks).
    """

    def __init__(
        self,
        credential: Any,
        *,
        resource_id: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if credential is None or not callable(getattr(credential, "get_token", None)):
            raise TypeError("token_credential must be an azure-identity credential with get_token()")
        self._credential = credential
        self.scope = token_scope(resource_id)
        self._clock = clock
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        self._token: str | None = None
        self._expires_on = 0.0
        self._is_async = inspect.iscoroutinefunction(credential.get_token)

    def _fresh(self) -> bool:
        return self._token is not None and self._expires_on - self._clock() > REFRESH_MARGIN_SECONDS

    async def get_token(self) -> str:
        """The current token, fetching a new one when none is cached or it expires within 10 minutes."""
        if self._fresh():
            return self._token  # type: ignore[return-value]
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:  # an asyncio.Lock serves one loop
            self._lock, self._lock_loop = asyncio.Lock(), loop
        async with self._lock:
            if not self._fresh():
                if self._is_async:
                    result = await self._credential.get_token(self.scope)
                else:
                    result = await asyncio.to_thread(self._credential.get_token, self.scope)
                    if inspect.isawaitable(result):
                        result = await result
                self._token, self._expires_on = _token_parts(result)
                logger.debug("fetched an access token for %s", self.scope)
            return self._token  # type: ignore[return-value]


def dts_interceptors(
    *,
    taskhub: str,
    token_credential: Any,
    resource_id: str | None = None,
    worker_id: str | None = None,
) -> list[Any]:
    """Sync client interceptors sending the DTS metadata (and a bearer token) on every call and stream."""
    fixed = dts_metadata(taskhub, worker_id)
    if token_credential is None:
        return [MetadataInterceptor(fixed)]
    manager = AccessTokenManager(token_credential, resource_id=resource_id)

    def bearer() -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {manager.get_token()}")]

    return [MetadataInterceptor(fixed, provider=bearer)]


def dts_async_interceptors(
    *,
    taskhub: str,
    token_credential: Any,
    resource_id: str | None = None,
    worker_id: str | None = None,
) -> list[Any]:
    """grpc.aio interceptors sending the DTS metadata (and a bearer token) on every call and stream."""
    fixed = dts_metadata(taskhub, worker_id)
    if token_credential is None:
        return [AsyncMetadataInterceptor(fixed)]
    manager = AsyncAccessTokenManager(token_credential, resource_id=resource_id)

    async def bearer() -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {await manager.get_token()}")]

    return [AsyncMetadataInterceptor(fixed, provider=bearer)]
