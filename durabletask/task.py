"""The authoring API: what orchestrator and activity code sees.

Orchestrators are generator functions ``fn(ctx, input)`` that ``yield`` tasks made by the
:class:`OrchestrationContext` (activities, timers, external events, sub-orchestrations) and get each
task's result back when it completes. Activities are plain (or ``async``) functions
``fn(ctx, input)`` receiving an :class:`ActivityContext`. The replay engine that drives orchestrators
lives in ``durabletask._replay``; this module does no I/O.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Generic, TypeVar

from google.protobuf import json_format

from durabletask import history as _history
from durabletask._proto import orchestrator_service_pb2 as pb

__all__ = [
    "ActivityContext",
    "CancellableTask",
    "CompletableTask",
    "CompositeTask",
    "FailureDetails",
    "NonDeterminismError",
    "OrchestrationContext",
    "OrchestrationStateError",
    "ReplaySafeLogger",
    "RetryPolicy",
    "RetryableTask",
    "Task",
    "TaskCancelledError",
    "TaskFailedError",
    "TimerTask",
    "WhenAllTask",
    "WhenAnyTask",
    "activity",
    "get_entity_name",
    "get_name",
    "is_activity",
    "is_async_activity",
    "is_orchestrator",
    "orchestrator",
    "when_all",
    "when_any",
]

T = TypeVar("T")
TInput = TypeVar("TInput")
TOutput = TypeVar("TOutput")

#: An orchestrator: ``fn(ctx, input)`` returning a generator of tasks (or a plain value).
Orchestrator = Callable[["OrchestrationContext", Any], Generator["Task[Any]", Any, Any] | Any]
#: An activity: ``fn(ctx, input)`` returning a value (or an awaitable of one).
Activity = Callable[["ActivityContext", Any], Any]

_KIND_ATTR = "__durabletask_kind__"
_NAME_ATTR = "__durabletask_name__"
_ENTITIES_MESSAGE = (
    "Durable entities are not supported by this SDK yet (call_entity/signal_entity/lock_entities)."
)


# ---------------------------------------------------------------------------------------------------
# Errors and failure details
# ---------------------------------------------------------------------------------------------------


class NonDeterminismError(Exception):
    """Replaying the history produced different actions than the ones recorded."""


class OrchestrationStateError(Exception):
    """The orchestration or its history is in a state the engine cannot handle."""


class TaskCancelledError(Exception):
    """The task was cancelled before it completed."""


def _resolve_type(qualified_name: str) -> type | None:
    module_name, _, attr_path = qualified_name.rpartition(".")
    if not module_name:
        module_name, attr_path = "builtins", qualified_name
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr_path.split("."):
            obj = getattr(obj, part)
    except Exception:  # noqa: BLE001 - any failure to import simply means "not resolvable"
        return None
    return obj if isinstance(obj, type) else None


@dataclass
class FailureDetails:
    """Why a task or orchestration failed: message, qualified error type, stack trace, cause."""

    message: str
    error_type: str
    stack_trace: str | None
    inner_failure: FailureDetails | None = None
    properties: dict[str, Any] | None = None

    def is_caused_by(self, error_type: str | type[BaseException]) -> bool:
        """Whether the failure is of ``error_type`` (a type, or a qualified name like ``builtins.ValueError``).

        Subclasses match when the recorded type can be imported here.
        """
        if isinstance(error_type, str):
            wanted_name = error_type if "." in error_type else f"builtins.{error_type}"
            if self.error_type in (error_type, wanted_name):
                return True
            wanted = _resolve_type(wanted_name)
        elif isinstance(error_type, type):
            wanted = error_type
            if self.error_type == f"{error_type.__module__}.{error_type.__qualname__}":
                return True
        else:
            raise TypeError("error_type must be a qualified type name or an exception type")
        actual = _resolve_type(self.error_type)
        return wanted is not None and actual is not None and issubclass(actual, wanted)

    @classmethod
    def from_proto(cls, details: pb.TaskFailureDetails) -> FailureDetails:
        """Convert a ``TaskFailureDetails`` message, including inner failures."""
        props = {k: json_format.MessageToDict(v) for k, v in details.properties.items()} or None
        return cls(
            message=details.errorMessage,
            error_type=details.errorType,
            stack_trace=details.stackTrace.value if details.HasField("stackTrace") else None,
            inner_failure=cls.from_proto(details.innerFailure) if details.HasField("innerFailure") else None,
            properties=props,
        )


class TaskFailedError(Exception):
    """A task (activity, sub-orchestration) failed; ``details`` says why."""

    def __init__(self, message: str, details: pb.TaskFailureDetails | Exception) -> None:
        super().__init__(message)
        if isinstance(details, BaseException):
            details = _history.failure_details_from_exception(details)
        self._failure_proto = details
        self._details = FailureDetails.from_proto(details)

    @property
    def details(self) -> FailureDetails:
        return self._details


# ---------------------------------------------------------------------------------------------------
# Tasks
# ---------------------------------------------------------------------------------------------------


class Task(ABC, Generic[T]):
    """Something an orchestrator can ``yield``: completes once with a result or a failure."""

    def __init__(self) -> None:
        super().__init__()
        self._is_complete = False
        self._exception: Exception | None = None
        self._result: Any = None
        self._parents: list[CompositeTask[Any]] = []

    @property
    def is_complete(self) -> bool:
        return self._is_complete

    @property
    def is_failed(self) -> bool:
        return self._exception is not None

    @property
    def result(self) -> T:
        return self.get_result()

    def get_result(self) -> T:
        """The result; raises the failure if the task failed, ValueError if it is not complete."""
        if not self._is_complete:
            raise ValueError("The task has not completed.")
        if self._exception is not None:
            raise self._exception
        return self._result  # type: ignore[no-any-return]

    def get_exception(self) -> Exception:
        """The failure of a failed task (usually a :class:`TaskFailedError`)."""
        if self._exception is None:
            raise ValueError("The task has not failed.")
        return self._exception

    def _notify_parents(self) -> None:
        for parent in list(self._parents):
            parent.on_child_completed(self)

    # The user's document shadows the module name with a task variable (``task = ctx.call_activity``)
    # and then calls ``task.when_all(...)``: tasks offer the module functions too.
    @staticmethod
    def when_all(tasks: Sequence[Task[Any]]) -> WhenAllTask[Any]:
        """Same as :func:`durabletask.task.when_all`."""
        return WhenAllTask(list(tasks))

    @staticmethod
    def when_any(tasks: Sequence[Task[Any]]) -> WhenAnyTask[Any]:
        """Same as :func:`durabletask.task.when_any`."""
        return WhenAnyTask(list(tasks))


class CompletableTask(Task[T]):
    """A task completed from outside (by the replay engine)."""

    def __init__(self, expected_type: type | None = None) -> None:
        super().__init__()
        self._expected_type = expected_type
        self._retryable_parent: RetryableTask[Any] | None = None

    def complete(self, result: T) -> None:
        if self._is_complete:
            raise ValueError("The task has already completed.")
        self._result = result
        self._is_complete = True
        self._notify_parents()

    def fail(self, message: str, details: Exception | pb.TaskFailureDetails) -> None:
        if self._is_complete:
            raise ValueError("The task has already completed.")
        self._exception = TaskFailedError(message, details)
        self._is_complete = True
        self._notify_parents()


class CancellableTask(CompletableTask[T]):
    """A task that may be cancelled (timers, external events)."""

    def __init__(self, expected_type: type | None = None) -> None:
        super().__init__(expected_type)
        self._is_cancelled = False
        self._cancel_handler: Callable[[], None] | None = None

    @property
    def is_cancelled(self) -> bool:
        return self._is_cancelled

    def get_result(self) -> T:
        if self._is_cancelled:
            raise TaskCancelledError("The task was cancelled.")
        return super().get_result()

    def set_cancel_handler(self, cancel_handler: Callable[[], None]) -> None:
        self._cancel_handler = cancel_handler

    def cancel(self) -> bool:
        """Cancel the task if it is still pending; ``False`` if it had already completed."""
        if self._is_complete:
            return False
        self._is_cancelled = True
        self._is_complete = True
        self._exception = TaskCancelledError("The task was cancelled.")
        if self._cancel_handler is not None:
            self._cancel_handler()
        self._notify_parents()
        return True


#: Upper bound of any computed retry delay, so that ``now + delay`` stays a valid timestamp.
_LONGEST_RETRY_DELAY = timedelta(days=36500)


class RetryPolicy:
    """How to retry a failed activity or sub-orchestration."""

    def __init__(
        self,
        *,
        first_retry_interval: timedelta,
        max_number_of_attempts: int,
        backoff_coefficient: float | None = 1.0,
        max_retry_interval: timedelta | None = None,
        retry_timeout: timedelta | None = None,
    ) -> None:
        if not isinstance(first_retry_interval, timedelta):
            raise TypeError("first_retry_interval must be a timedelta")
        if first_retry_interval < timedelta(0):
            raise ValueError("first_retry_interval must be >= 0")
        if not isinstance(max_number_of_attempts, int) or isinstance(max_number_of_attempts, bool):
            raise TypeError("max_number_of_attempts must be an int")
        if max_number_of_attempts < 1:
            raise ValueError("max_number_of_attempts must be >= 1")
        if backoff_coefficient is not None and not backoff_coefficient >= 1:
            raise ValueError("backoff_coefficient must be >= 1")
        if max_retry_interval is not None and max_retry_interval < timedelta(0):
            raise ValueError("max_retry_interval must be >= 0")
        if retry_timeout is not None and retry_timeout < timedelta(0):
            raise ValueError("retry_timeout must be >= 0")
        self._first_retry_interval = first_retry_interval
        self._max_number_of_attempts = max_number_of_attempts
        self._backoff_coefficient = backoff_coefficient
        self._max_retry_interval = max_retry_interval
        self._retry_timeout = retry_timeout

    @property
    def first_retry_interval(self) -> timedelta:
        return self._first_retry_interval

    @property
    def max_number_of_attempts(self) -> int:
        return self._max_number_of_attempts

    @property
    def backoff_coefficient(self) -> float | None:
        return self._backoff_coefficient

    @property
    def max_retry_interval(self) -> timedelta | None:
        return self._max_retry_interval

    @property
    def retry_timeout(self) -> timedelta | None:
        return self._retry_timeout

    def delay_for_attempt(self, attempt: int) -> timedelta:
        """The wait after failed attempt number ``attempt`` (1-based), capped by ``max_retry_interval``."""
        coefficient = 1.0 if self._backoff_coefficient is None else self._backoff_coefficient
        try:
            seconds = self._first_retry_interval.total_seconds() * math.pow(coefficient, attempt - 1)
        except OverflowError:
            seconds = math.inf if self._first_retry_interval else 0.0
        if self._max_retry_interval is not None:
            seconds = min(seconds, self._max_retry_interval.total_seconds())
        return timedelta(seconds=min(seconds, _LONGEST_RETRY_DELAY.total_seconds()))


class RetryableTask(CompletableTask[T]):
    """An activity or sub-orchestration call with a retry policy."""

    def __init__(
        self,
        retry_policy: RetryPolicy,
        action: pb.OrchestratorAction,
        start_time: datetime,
        is_sub_orch: bool,
        expected_type: type | None = None,
    ) -> None:
        super().__init__(expected_type)
        self._retry_policy = retry_policy
        self._action = action
        self._start_time = start_time
        self._is_sub_orch = is_sub_orch
        self._attempt_count = 1
        self._now: Callable[[], datetime] = lambda: start_time

    def increment_attempt_count(self) -> None:
        self._attempt_count += 1

    def compute_next_delay(self) -> timedelta | None:
        """The delay before the next attempt, or ``None`` when no attempt is left.

        No attempt is left when ``max_number_of_attempts`` is reached, or when the next attempt would
        start after ``retry_timeout`` (measured from the first call, on the orchestration clock).
        """
        policy = self._retry_policy
        if self._attempt_count >= policy.max_number_of_attempts:
            return None
        delay = policy.delay_for_attempt(self._attempt_count)
        if policy.retry_timeout is not None:
            try:
                expiry = self._start_time + policy.retry_timeout
            except OverflowError:
                expiry = datetime.max
            now = self._now()
            if now >= expiry or delay > expiry - now:
                return None
        return delay


class TimerTask(CancellableTask[None]):
    """A durable timer; long timers are split into chunks of at most ``maximum_timer_interval``."""

    def __init__(
        self, final_fire_at: datetime | None = None, maximum_timer_interval: timedelta | None = None
    ) -> None:
        super().__init__()
        self._final_fire_at = final_fire_at
        self._maximum_timer_interval = maximum_timer_interval

    def set_retryable_parent(self, retryable_task: RetryableTask[Any]) -> None:
        self._retryable_parent = retryable_task


class CompositeTask(Task[T]):
    """A task made of other tasks."""

    def __init__(self, tasks: list[Task[Any]]) -> None:
        super().__init__()
        if isinstance(tasks, Task) or not isinstance(tasks, (list, tuple)):
            raise TypeError("expected a list of tasks")
        for t in tasks:
            if not isinstance(t, Task):
                raise TypeError(f"expected a list of tasks, got an item of type {type(t).__name__}")
        self._tasks = list(tasks)
        self._completed_tasks = 0
        self._failed_tasks = 0
        for t in self._tasks:
            t._parents.append(self)
        for t in self._tasks:
            if t.is_complete:
                self.on_child_completed(t)

    def get_tasks(self) -> list[Task[Any]]:
        return self._tasks

    @abstractmethod
    def on_child_completed(self, task: Task[Any]) -> None: ...


class WhenAllTask(CompositeTask[list[T]]):
    """Completes when every task has completed: with all results (in order), or, if any task failed,
    with the first failure observed (like the published SDK 1.12 and .NET ``Task.WhenAll``, it does
    not fail before the other tasks have finished)."""

    def __init__(self, tasks: list[Task[T]]) -> None:
        self._first_failure: Exception | None = None
        super().__init__(tasks)  # type: ignore[arg-type]
        if not self._tasks:
            self._result = []
            self._is_complete = True

    @property
    def pending_tasks(self) -> int:
        return len(self._tasks) - self._completed_tasks

    def on_child_completed(self, task: Task[Any]) -> None:
        self._completed_tasks += 1
        if task.is_failed:
            self._failed_tasks += 1
            if self._first_failure is None:
                self._first_failure = task.get_exception()
        if self._is_complete or self._completed_tasks < len(self._tasks):
            return
        if self._first_failure is not None:
            self._exception = self._first_failure
        else:
            self._result = [t.get_result() for t in self._tasks]
        self._is_complete = True
        self._notify_parents()

    def get_completed_tasks(self) -> int:
        return self._completed_tasks


class WhenAnyTask(CompositeTask[Task[T]]):
    """Completes when the first task completes; its result is that task (the winner)."""

    def __init__(self, tasks: list[Task[T]]) -> None:
        if isinstance(tasks, (list, tuple)) and not tasks:
            raise ValueError("when_any needs at least one task")
        super().__init__(tasks)  # type: ignore[arg-type]

    def on_child_completed(self, task: Task[Any]) -> None:
        self._completed_tasks += 1
        if not self._is_complete:
            self._is_complete = True
            self._result = task
            self._notify_parents()


def when_all(tasks: Sequence[Task[T]]) -> WhenAllTask[T]:
    """A task completing when all ``tasks`` complete; its result is the list of their results.

    Typed with ``Sequence`` (the published SDK says ``list``) so that a ``list[CompletableTask[X]]``
    from ``ctx.call_activity`` type-checks: ``list`` is invariant."""
    return WhenAllTask(list(tasks) if isinstance(tasks, tuple) else tasks)  # type: ignore[arg-type]


def when_any(tasks: Sequence[Task[T]]) -> WhenAnyTask[T]:
    """A task completing when any of ``tasks`` completes; its result is the winning task."""
    return WhenAnyTask(list(tasks) if isinstance(tasks, (list, tuple)) else tasks)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------
# Contexts
# ---------------------------------------------------------------------------------------------------


class ActivityContext:
    """What an activity knows about its call: the orchestration instance and the task id."""

    def __init__(self, orchestration_id: str, task_id: int) -> None:
        self._orchestration_id = orchestration_id
        self._task_id = task_id

    @property
    def orchestration_id(self) -> str:
        return self._orchestration_id

    @property
    def task_id(self) -> int:
        return self._task_id

    def __repr__(self) -> str:
        return f"ActivityContext(orchestration_id={self._orchestration_id!r}, task_id={self._task_id})"


class ReplaySafeLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """A logger that stays silent while the orchestrator replays history."""

    def __init__(self, logger: logging.Logger, is_replaying: Callable[[], bool]) -> None:
        super().__init__(logger, {})
        self._is_replaying = is_replaying

    def isEnabledFor(self, level: int) -> bool:
        if self._is_replaying():
            return False
        return self.logger.isEnabledFor(level)


class OrchestrationContext(ABC):
    """What an orchestrator function sees: identity, the replay clock, and ways to schedule work."""

    @property
    @abstractmethod
    def instance_id(self) -> str: ...

    @property
    @abstractmethod
    def parent_instance_id(self) -> str | None: ...

    @property
    @abstractmethod
    def version(self) -> str | None: ...

    @property
    @abstractmethod
    def current_utc_datetime(self) -> datetime: ...

    @property
    @abstractmethod
    def is_replaying(self) -> bool: ...

    @abstractmethod
    def set_custom_status(self, custom_status: Any) -> None: ...

    @abstractmethod
    def create_timer(self, fire_at: datetime | timedelta) -> TimerTask: ...

    @abstractmethod
    def call_activity(
        self,
        activity: Activity | str,
        *,
        input: Any | None = None,
        retry_policy: RetryPolicy | None = None,
        tags: dict[str, str] | None = None,
        return_type: type | None = None,
    ) -> CompletableTask[Any]: ...

    def call_entity(
        self, entity: Any, operation: str, input: Any = None, *, return_type: type | None = None
    ) -> CompletableTask[Any]:
        raise NotImplementedError(_ENTITIES_MESSAGE)

    def signal_entity(
        self, entity_id: Any, operation_name: str, input: Any = None, signal_time: datetime | None = None
    ) -> None:
        raise NotImplementedError(_ENTITIES_MESSAGE)

    def lock_entities(self, entities: list[Any]) -> CompletableTask[Any]:
        raise NotImplementedError(_ENTITIES_MESSAGE)

    @abstractmethod
    def call_sub_orchestrator(
        self,
        orchestrator: Orchestrator | str,
        *,
        input: Any | None = None,
        instance_id: str | None = None,
        retry_policy: RetryPolicy | None = None,
        version: str | None = None,
        return_type: type | None = None,
    ) -> CompletableTask[Any]: ...

    @abstractmethod
    def wait_for_external_event(
        self, name: str, *, data_type: type | None = None
    ) -> CancellableTask[Any]: ...

    @abstractmethod
    def send_event(self, instance_id: str, event_name: str, *, data: Any | None = None) -> None: ...

    @abstractmethod
    def continue_as_new(
        self, new_input: Any, *, save_events: bool = False, new_version: str | None = None
    ) -> None: ...

    @abstractmethod
    def new_uuid(self) -> str: ...

    def create_replay_safe_logger(self, logger: logging.Logger) -> ReplaySafeLogger:
        """A logger adapter that drops records while this orchestration replays."""
        return ReplaySafeLogger(logger, lambda: self.is_replaying)


# ---------------------------------------------------------------------------------------------------
# Names and decorators
# ---------------------------------------------------------------------------------------------------


def get_name(fn: Callable[..., Any]) -> str:
    """The registered name of an orchestrator or activity: the decorator's name, else ``__name__``."""
    explicit = getattr(fn, _NAME_ATTR, None)
    if isinstance(explicit, str) and explicit:
        return explicit
    name = getattr(fn, "__name__", None)
    if not isinstance(name, str) or not name:
        raise ValueError(f"Cannot infer a name from {fn!r}; pass a name explicitly.")
    if name == "<lambda>":
        raise ValueError("Cannot infer a name from a lambda function. Please provide a name explicitly.")
    return name


def get_entity_name(fn: Callable[..., Any]) -> str:
    """The registered name of an entity function or class (lower-cased, as entity ids use it)."""
    return get_name(fn).lower()


def _mark(kind: str, fn: Any, name: str | None) -> Any:
    def apply(f: Any) -> Any:
        if not callable(f):
            raise TypeError(f"@task.{kind} must decorate a function, got {type(f).__name__}")
        setattr(f, _KIND_ATTR, kind)
        if name is not None:
            if not isinstance(name, str) or not name:
                raise ValueError(f"@task.{kind}(name=...) needs a non-empty string")
            setattr(f, _NAME_ATTR, name)
        return f

    return apply if fn is None else apply(fn)


def orchestrator(fn: Any = None, *, name: str | None = None) -> Any:
    """Mark a function as an orchestrator. Usable bare (``@task.orchestrator``) or with ``name=``.

    The function itself is returned, unchanged and still callable.
    """
    return _mark("orchestrator", fn, name)


def activity(fn: Any = None, *, name: str | None = None) -> Any:
    """Mark a function (sync or ``async def``) as an activity. Usable bare or with ``name=``."""
    return _mark("activity", fn, name)


def is_orchestrator(fn: Any) -> bool:
    """Whether ``fn`` was decorated with :func:`orchestrator`."""
    return getattr(fn, _KIND_ATTR, None) == "orchestrator"


def is_activity(fn: Any) -> bool:
    """Whether ``fn`` was decorated with :func:`activity`."""
    return getattr(fn, _KIND_ATTR, None) == "activity"


def is_async_activity(fn: Any) -> bool:
    """Whether calling ``fn`` gives a coroutine (``async def``, also through partials / __call__)."""
    target = fn
    while hasattr(target, "func") and not inspect.isfunction(target):  # functools.partial
        target = target.func
    if inspect.iscoroutinefunction(target):
        return True
    call = getattr(target, "__call__", None)  # noqa: B004
    return call is not None and not inspect.isfunction(target) and inspect.iscoroutinefunction(call)


def _utc_naive(dt: datetime) -> datetime:
    """Normalise to naive UTC (the form ``current_utc_datetime`` uses, as in the published SDK)."""
    if dt.tzinfo is not None:
        return dt.astimezone(timezone.utc).replace(tzinfo=None)
    return dt
