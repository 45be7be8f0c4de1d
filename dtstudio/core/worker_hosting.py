"""Hosting a worker from a user's Python file inside dtstudio (no Qt).

A :class:`WorkerHost` imports a worker file (see :mod:`dtstudio.core.worker_loading`), registers
what it declares with a fresh ``TaskHubGrpcWorker`` and runs it against a :class:`WorkerTarget`:
the address, task hub and credential of the connection dtstudio is using.

The host's methods block (importing user code, starting and stopping a worker take time): call
them off the GUI thread. They are serialised by a lock and never raise for a bad file: the
returned :class:`WorkerHostStatus` says what happened.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from dtstudio.core.profiles import BackendKind, ConnectionProfile, CredentialKind
from dtstudio.core.worker_loading import LoadedWorkerFile, WorkerLoadError, load_worker_file, register_into

__all__ = [
    "HOSTED_WORKER_LOGGER",
    "HostState",
    "WorkerHost",
    "WorkerHostStatus",
    "WorkerTarget",
    "worker_hosting_available",
    "worker_target_for",
]

log = logging.getLogger("dtstudio.core.worker")

#: The hosted worker logs here (a child of ``durabletask.worker``, so other workers in the process
#: are not mixed in); the host sets it to INFO and keeps its records to itself (the panel shows them).
HOSTED_WORKER_LOGGER = "durabletask.worker.hosted"
#: How long ``load``/``reload`` wait for the work-item stream before reporting "connecting".
CONNECT_WAIT_S = 3.0


def worker_hosting_available() -> bool:
    """Whether this build can host a worker."""
    return True


@dataclass(frozen=True)
class WorkerTarget:
    """Where a hosted worker connects: the current connection's address, task hub and credential."""

    address: str
    taskhub: str
    description: str
    scheduler: bool = False
    secure: bool = False
    credential: CredentialKind = CredentialKind.NONE
    managed_identity_client_id: str = ""

    def create_worker(self, logger: logging.Logger | None = None) -> Any:
        """A new, unstarted worker for this target (a DTS worker when a credential or Azure is used)."""
        if self.scheduler:
            from dtstudio.core.connection import make_sync_credential
            from durabletask.azuremanaged.worker import DurableTaskSchedulerWorker

            profile = ConnectionProfile("hosted", BackendKind.AZURE, self.address, self.taskhub, self.credential,
                                        self.managed_identity_client_id)
            return DurableTaskSchedulerWorker(
                host_address=self.address, taskhub=self.taskhub, token_credential=make_sync_credential(profile),
                secure_channel=self.secure, logger=logger,
            )
        from durabletask.worker import TaskHubGrpcWorker

        return TaskHubGrpcWorker(host_address=self.address, metadata=[("taskhub", self.taskhub)],
                                 secure_channel=self.secure, logger=logger)


def worker_target_for(profile: ConnectionProfile, embedded_address: str | None = None) -> WorkerTarget:
    """The target a worker needs to serve the same task hub as a client opened for ``profile``.

    Mirrors :func:`dtstudio.core.connection.open_client`. Raises ValueError if the profile is the
    embedded emulator and it is not running.
    """
    if profile.kind is BackendKind.EMBEDDED:
        if not embedded_address:
            raise ValueError("The embedded emulator is not running yet.")
        address = embedded_address if "://" in embedded_address else "http://" + embedded_address
        return WorkerTarget(address, profile.taskhub, f"embedded emulator at {embedded_address} · hub '{profile.taskhub}'")
    endpoint = profile.endpoint.strip()
    description = f"{endpoint} · hub '{profile.taskhub}'"
    if profile.kind is BackendKind.AZURE or profile.credential is not CredentialKind.NONE:
        return WorkerTarget(endpoint, profile.taskhub, description, scheduler=True,
                            secure=not endpoint.lower().startswith("http://"), credential=profile.credential,
                            managed_identity_client_id=profile.managed_identity_client_id)
    return WorkerTarget(endpoint, profile.taskhub, description,
                        secure=endpoint.lower().startswith(("https://", "grpcs://")))


class HostState(str, Enum):
    """Where a hosted worker is in its life."""

    EMPTY = "empty"  # no file loaded
    RUNNING = "running"
    STOPPED = "stopped"
    FAILED = "failed"  # the file did not load; ``error`` says why


@dataclass(frozen=True)
class WorkerHostStatus:
    """A snapshot of the host for display."""

    state: HostState = HostState.EMPTY
    path: Path | None = None
    orchestrators: tuple[str, ...] = ()
    activities: tuple[str, ...] = ()
    error: WorkerLoadError | None = None
    #: One sentence about the state ("Running on ...", "Stopped: the connection changed ...").
    message: str = "No worker file loaded."
    notices: tuple[str, ...] = ()
    target: WorkerTarget | None = None
    #: False while a running worker has not reached the backend yet.
    connected: bool = False
    logger_names: tuple[str, ...] = (HOSTED_WORKER_LOGGER,)


class WorkerHost:
    """Loads a worker file and runs it; one file at a time. Blocking methods: call off the GUI thread."""

    def __init__(self, worker_factory: Callable[[WorkerTarget, logging.Logger], Any] | None = None) -> None:
        self._lock = threading.RLock()
        self._factory = worker_factory or (lambda target, logger: target.create_worker(logger))
        self._logger = logging.getLogger(HOSTED_WORKER_LOGGER)
        if self._logger.level == logging.NOTSET or self._logger.level > logging.INFO:
            self._logger.setLevel(logging.INFO)
        # Its records are for the worker panel; passed on, they would print INFO lines on the
        # console of an app that logs warnings only.
        self._logger.propagate = False
        self._path: Path | None = None
        self._loaded: LoadedWorkerFile | None = None
        self._worker: Any = None
        self._status = WorkerHostStatus()
        self._raised_levels: list[logging.Logger] = []

    @property
    def status(self) -> WorkerHostStatus:
        return self._status

    @property
    def path(self) -> Path | None:
        return self._path

    def load(self, path: str | Path, target: WorkerTarget | None) -> WorkerHostStatus:
        """Unload what runs, import ``path``, register it and start it on ``target`` (if given)."""
        with self._lock:
            self._teardown()
            self._path = Path(path).expanduser()
            return self._load_and_start(target)

    def reload(self, target: WorkerTarget | None) -> WorkerHostStatus:
        """Stop, re-import the same file (picking up edits) and start again on ``target``."""
        with self._lock:
            if self._path is None:
                return self._status
            self._teardown()
            return self._load_and_start(target)

    def stop(self, message: str | None = None) -> WorkerHostStatus:
        """Stop the worker (the file stays loaded; ``reload`` starts it again)."""
        with self._lock:
            self._stop_worker()
            if self._status.state is HostState.RUNNING:
                self._status = _replace(self._status, state=HostState.STOPPED, connected=False,
                                        message=message or "Stopped. Press Reload to start it again.")
            elif message and self._status.state is HostState.STOPPED:
                self._status = _replace(self._status, message=message)
            return self._status

    def unload(self) -> WorkerHostStatus:
        """Stop the worker and forget the file."""
        with self._lock:
            self._teardown()
            self._path = None
            self._status = WorkerHostStatus()
            return self._status

    # -- internals -------------------------------------------------------------------------------

    def _stop_worker(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            try:
                worker.stop()
            except Exception as exc:  # noqa: BLE001 - stopping must not fail the caller
                log.warning("stopping the hosted worker failed: %s", exc)

    def _teardown(self) -> None:
        self._stop_worker()
        loaded, self._loaded = self._loaded, None
        if loaded is not None:
            loaded.forget()
        for logger in self._raised_levels:
            logger.setLevel(logging.NOTSET)
        self._raised_levels = []

    def _load_and_start(self, target: WorkerTarget | None) -> WorkerHostStatus:
        assert self._path is not None
        path = self._path
        try:
            loaded = load_worker_file(path)
        except WorkerLoadError as exc:
            self._status = WorkerHostStatus(HostState.FAILED, path, error=exc, message=str(exc), target=target)
            return self._status
        self._loaded = loaded
        names = tuple(loaded.logger_names())
        for name in names:
            logger = logging.getLogger(name)
            if logger.level == logging.NOTSET:
                logger.setLevel(logging.INFO)
                self._raised_levels.append(logger)
        worker_target = target or WorkerTarget("localhost:4001", "default", "nowhere")
        try:
            worker = self._factory(worker_target, self._logger)
            reg = register_into(worker, loaded)
        except WorkerLoadError as exc:
            self._teardown()
            self._status = WorkerHostStatus(HostState.FAILED, path, error=exc, message=str(exc), target=target)
            return self._status
        except Exception as exc:  # noqa: BLE001 - e.g. a credential that cannot be created
            self._teardown()
            err = WorkerLoadError("register", f"Could not create the worker: {type(exc).__name__}: {exc}")
            self._status = WorkerHostStatus(HostState.FAILED, path, error=err, message=str(err), target=target)
            return self._status
        base = WorkerHostStatus(
            HostState.STOPPED, path, tuple(reg.orchestrators), tuple(reg.activities), notices=tuple(reg.notices),
            target=target, logger_names=(HOSTED_WORKER_LOGGER, *names),
        )
        if target is None:
            self._status = _replace(base, message="Loaded, not running: connect to a backend, then press Reload.")
            return self._status
        try:
            # Ask only for the work this file can do, so another worker on the same hub keeps its own
            # orchestrations (and this one never fails theirs as "not registered").
            if hasattr(worker, "use_work_item_filters"):
                worker.use_work_item_filters()
            worker.start()
        except Exception as exc:  # noqa: BLE001
            self._status = _replace(base, state=HostState.FAILED, message=f"The worker did not start: {exc}")
            return self._status
        self._worker = worker
        connected = bool(worker.wait_until_connected(CONNECT_WAIT_S))
        message = f"Running on {target.description}." if connected else (
            f"Running, but not connected to {target.description} yet (retrying; see the log)."
        )
        self._status = _replace(base, state=HostState.RUNNING, connected=connected, message=message)
        log.info("hosting %s: %d orchestrators, %d activities on %s", path, len(reg.orchestrators),
                 len(reg.activities), target.description)
        return self._status


def _replace(status: WorkerHostStatus, **changes: Any) -> WorkerHostStatus:
    from dataclasses import replace

    return replace(status, **changes)
