"""Opening a client for a profile, checking that it answers, and explaining failures in plain words."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from typing_extensions import Self

from dtstudio.core.profiles import BackendKind, ConnectionProfile, CredentialKind

__all__ = [
    "ConnectionError_",
    "check_connection",
    "describe_error",
    "grpc_code_name",
    "make_sync_credential",
    "open_client",
]

log = logging.getLogger("dtstudio.core.connection")

CONNECT_TIMEOUT_S = 10.0


class ConnectionError_(Exception):
    """A connection attempt failed; ``str()`` is a sentence fit for a status bar or message box."""


def make_sync_credential(profile: ConnectionProfile) -> Any:
    """The azure-identity (synchronous) credential of the profile's kind, or None for no authentication.

    Used as is by a hosted worker (its token manager calls ``get_token`` on its own thread) and,
    behind a thread adapter, by the async client.
    """
    kind = profile.credential
    if kind is CredentialKind.NONE:
        return None
    from azure import identity

    if kind is CredentialKind.DEFAULT:
        return identity.DefaultAzureCredential()
    if kind is CredentialKind.AZURE_CLI:
        return identity.AzureCliCredential()
    if kind is CredentialKind.MANAGED_IDENTITY:
        client_id = profile.managed_identity_client_id.strip() or None
        return identity.ManagedIdentityCredential(client_id=client_id)
    if kind is CredentialKind.INTERACTIVE_BROWSER:
        return identity.InteractiveBrowserCredential()
    raise ValueError(f"unknown credential kind {kind!r}")


def _make_credential(profile: ConnectionProfile) -> Any:
    """An async credential of the profile's kind (None for no authentication).

    azure-identity's synchronous credentials are used behind a thread adapter: its ``aio``
    variants need aiohttp, which dtstudio does not depend on; token fetches are rare (cached and
    refreshed by the client's token manager), so a worker thread per fetch is cheap.
    """
    sync = make_sync_credential(profile)
    return None if sync is None else _ThreadedAsyncCredential(sync)


class _ThreadedAsyncCredential:
    """Adapts a synchronous azure-identity credential to the async protocol via a thread.

    Each fetch runs on its own daemon thread, not on the loop's default executor: a fetch can take
    long (a managed-identity probe, a browser sign-in nobody finishes), and closing the event loop
    waits for its default executor, so a user quitting mid-sign-in would wait for it. Awaiting
    :meth:`get_token` can be cancelled at once; the abandoned fetch ends on its own.
    """

    def __init__(self, sync_credential: Any) -> None:
        self._cred = sync_credential

    async def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        result: asyncio.Future[Any] = loop.create_future()

        def fetch() -> None:
            try:
                token = self._cred.get_token(*scopes, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task
                _deliver_threadsafe(loop, result, error=exc)
            else:
                _deliver_threadsafe(loop, result, value=token)

        threading.Thread(target=fetch, name="dtstudio-credential", daemon=True).start()
        return await result

    async def close(self) -> None:
        close = getattr(self._cred, "close", None)
        if close is not None:
            close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *args: object) -> None:
        await self.close()


def _deliver_threadsafe(loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], *, value: Any = None,
                        error: BaseException | None = None) -> None:
    """Settle ``future`` on its loop from another thread; nothing happens if the loop or the waiter is gone."""

    def settle() -> None:
        if future.done():  # cancelled: nobody waits any more
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    try:
        loop.call_soon_threadsafe(settle)
    except RuntimeError:  # the loop is closed (the app is quitting)
        pass


def open_client(profile: ConnectionProfile, *, embedded_address: str | None = None) -> Any:
    """Create (without any network traffic) the async client for ``profile``.

    For the embedded profile, ``embedded_address`` is the running emulator's host:port.
    """
    profile.validate()
    from durabletask.client import AsyncTaskHubGrpcClient

    if profile.kind is BackendKind.EMBEDDED:
        if not embedded_address:
            raise ConnectionError_("The embedded emulator is not running yet.")
        address = embedded_address
        if "://" not in address:
            address = "http://" + address
        return AsyncTaskHubGrpcClient(host_address=address, metadata=[("taskhub", profile.taskhub)])
    endpoint = profile.endpoint.strip()
    if profile.kind is BackendKind.AZURE or profile.credential is not CredentialKind.NONE:
        from durabletask.azuremanaged.client import AsyncDurableTaskSchedulerClient

        return AsyncDurableTaskSchedulerClient(
            host_address=endpoint,
            taskhub=profile.taskhub,
            token_credential=_make_credential(profile),
            secure_channel=not endpoint.lower().startswith("http://"),
        )
    secure = endpoint.lower().startswith(("https://", "grpcs://"))
    return AsyncTaskHubGrpcClient(
        host_address=endpoint, metadata=[("taskhub", profile.taskhub)], secure_channel=secure
    )


async def check_connection(client: Any, profile: ConnectionProfile, *, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Prove the endpoint answers and the task hub exists; raise :class:`ConnectionError_` if not.

    Cancelled (the window closes, or the user connects elsewhere), it closes ``client`` before
    passing the cancellation on: an abandoned attempt must not leave a channel connecting, e.g. to
    an unreachable scheduler, past the window or the event loop that started it.
    """
    from durabletask.client import OrchestrationQuery

    async def probe() -> None:
        hello = getattr(client, "hello", None)
        if hello is not None:
            await hello()
        # A one-row query also proves that the task hub exists (NOT_FOUND otherwise).
        await client.query_orchestrations(OrchestrationQuery(max_instance_count=1, fetch_inputs_and_outputs=False))

    try:
        await asyncio.wait_for(probe(), timeout)
    except asyncio.CancelledError:
        try:
            await client.close()
        except Exception as exc:  # noqa: BLE001 - the cancellation is what matters
            log.info("closing an abandoned client: %s", exc)
        raise
    except Exception as exc:
        raise ConnectionError_(describe_error(exc, profile, connecting=True)) from exc


def grpc_code_name(exc: BaseException) -> str | None:
    """'NOT_FOUND' for a gRPC error (searching the cause chain), else None."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        code = getattr(cur, "code", None)
        if callable(code):
            try:
                value = code()
                name = getattr(value, "name", None)
                if name:
                    return str(name)
            except Exception:  # noqa: BLE001, S110 - not a gRPC error after all
                pass
        cur = cur.__cause__ or cur.__context__
    return None


def _grpc_details(exc: BaseException) -> str:
    cur: BaseException | None = exc
    while cur is not None:
        details = getattr(cur, "details", None)
        if callable(details):
            try:
                text = details()
                if text:
                    return str(text).splitlines()[0][:300]
            except Exception:  # noqa: BLE001, S110 - not a gRPC error after all
                pass
        cur = cur.__cause__
    return str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__


def _is_local(endpoint: str) -> bool:
    host = endpoint.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]").lower()
    return host in ("localhost", "127.0.0.1", "::1", "0.0.0.0")


def describe_error(exc: BaseException, profile: ConnectionProfile | None = None, *, connecting: bool = False) -> str:
    """Turn any backend/client failure into one or two plain sentences."""
    where = "the backend"
    hub = "?"
    if profile is not None:
        where = "the embedded emulator" if profile.kind is BackendKind.EMBEDDED else profile.endpoint
        hub = profile.taskhub
    if isinstance(exc, ConnectionError_):
        return str(exc)
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return f"No answer from {where} within {CONNECT_TIMEOUT_S:.0f} seconds. Is it running and reachable?"
    type_name = type(exc).__name__
    if type_name in ("ClientAuthenticationError", "CredentialUnavailableError"):
        first = str(exc).splitlines()[0][:300] if str(exc) else type_name
        return f"Sign-in failed ({first}). Check the credential chosen for this connection."
    code = grpc_code_name(exc)
    details = _grpc_details(exc)
    if code == "UNAVAILABLE":
        text = f"Cannot reach {where}. Is it running, and is the address right?"
        if connecting and profile is not None and profile.kind is BackendKind.EMULATOR and _is_local(profile.endpoint):
            text += (" To run the DTS emulator: docker run -p 8080:8080 mcr.microsoft.com/dts/dts-emulator:latest"
                     " (or use the 'Embedded emulator' connection, which needs nothing else).")
        return f"{text} ({details})"
    if code == "NOT_FOUND":
        if connecting or "task hub" in details.lower() or "taskhub" in details.lower():
            return f"The task hub '{hub}' does not exist on {where}. ({details})"
        return f"Not found: {details}"
    if code == "UNAUTHENTICATED":
        return f"Authentication failed: {where} did not accept the credentials. ({details})"
    if code == "PERMISSION_DENIED":
        return (
            f"Access denied by {where}: your identity needs the 'Durable Task Data Contributor' role "
            f"on the scheduler or task hub. ({details})"
        )
    if code == "ALREADY_EXISTS":
        return f"An instance with this ID already exists and is still active. ({details})"
    if code == "FAILED_PRECONDITION":
        return f"Not possible in the instance's current state: {details}"
    if code == "INVALID_ARGUMENT":
        return f"The backend rejected the request: {details}"
    if code == "DEADLINE_EXCEEDED":
        return f"{where} took too long to answer. ({details})"
    if code == "UNIMPLEMENTED":
        return f"{where} does not support this operation. ({details})"
    if code is not None:
        return f"{code.replace('_', ' ').capitalize()}: {details}"
    return f"{details}" if type_name in ("ValueError", "RuntimeError") else f"{type_name}: {details}"
