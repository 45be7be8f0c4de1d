"""The orchestration context used while replaying: it records actions and drives the generator."""

from __future__ import annotations

import copy
import inspect
import logging
import uuid
from collections.abc import Callable, Generator
from datetime import datetime, timedelta
from typing import Any

from durabletask import task
from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask._replay import _actions as ph
from durabletask.history import failure_details_from_exception, new_event_raised_event
from durabletask.serialization import DataConverter

__all__ = ["RuntimeOrchestrationContext"]

#: Namespace name of the published SDK's deterministic ``new_uuid`` (uuid5 over NAMESPACE_OID).
_UUID_NAMESPACE_NAME = "9e952958-5e33-4daf-827f-2fa12937b875"
_UUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_OID, _UUID_NAMESPACE_NAME)
_UUID_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_log = logging.getLogger("durabletask.replay")


class RuntimeOrchestrationContext(task.OrchestrationContext):
    """The :class:`~durabletask.task.OrchestrationContext` of one execution of the replay core."""

    def __init__(
        self,
        instance_id: str,
        *,
        data_converter: DataConverter,
        maximum_timer_interval: timedelta | None,
    ) -> None:
        self._instance_id = instance_id
        self._converter = data_converter
        self._maximum_timer_interval = maximum_timer_interval
        self._parent_instance_id: str | None = None
        self._version: str | None = None
        self._current_utc_datetime = datetime(1000, 1, 1)
        self._is_replaying = True
        self._generator: Generator[Any, Any, Any] | None = None
        self._previous_task: task.Task[Any] | None = None
        self._sequence_number = 0
        self._uuid_counter = 0
        self._pending_actions: dict[int, pb.OrchestratorAction] = {}
        self._pending_tasks: dict[int, task.CompletableTask[Any]] = {}
        # External events: payloads (JSON text) waiting for a waiter, and waiters waiting for an event.
        self._received_events: dict[str, list[str | None]] = {}
        self._pending_events: dict[str, list[task.CancellableTask[Any]]] = {}
        self._custom_status: str | None = None
        self._is_complete = False
        self._completion_status: int | None = None
        self._new_input: Any = None
        self._new_version: str | None = None
        self._save_events = False

    # -- identity and clock -----------------------------------------------------------------------

    @property
    def instance_id(self) -> str:
        return self._instance_id

    @property
    def parent_instance_id(self) -> str | None:
        return self._parent_instance_id

    @property
    def version(self) -> str | None:
        return self._version

    @property
    def current_utc_datetime(self) -> datetime:
        return self._current_utc_datetime

    @current_utc_datetime.setter
    def current_utc_datetime(self, value: datetime) -> None:
        self._current_utc_datetime = task._utc_naive(value)

    @property
    def is_replaying(self) -> bool:
        return self._is_replaying

    @property
    def is_complete(self) -> bool:
        return self._is_complete

    @property
    def custom_status(self) -> str | None:
        return self._custom_status

    def next_sequence_number(self) -> int:
        self._sequence_number += 1
        return self._sequence_number

    # -- payloads ---------------------------------------------------------------------------------

    def encode(self, value: Any) -> str | None:
        return None if value is None else self._converter.serialize(value)

    def decode(self, payload: str | None, expected_type: type | None = None) -> Any:
        if payload is None or payload == "":
            return None
        return self._converter.deserialize(payload, expected_type)

    # -- the authoring API ------------------------------------------------------------------------

    def set_custom_status(self, custom_status: Any) -> None:
        self._custom_status = self.encode(custom_status)

    def create_timer(self, fire_at: datetime | timedelta) -> task.TimerTask:
        if isinstance(fire_at, timedelta):
            final = self._current_utc_datetime + fire_at
        elif isinstance(fire_at, datetime):
            final = task._utc_naive(fire_at)
        else:
            raise TypeError(f"create_timer expects a datetime or a timedelta, got {type(fire_at).__name__}")
        return self.create_timer_internal(final)

    def create_timer_internal(
        self, final_fire_at: datetime, retryable_task: task.RetryableTask[Any] | None = None
    ) -> task.TimerTask:
        timer = task.TimerTask(final_fire_at, self._maximum_timer_interval)
        if retryable_task is not None:
            timer.set_retryable_parent(retryable_task)
        self.schedule_timer_chunk(timer)
        return timer

    def schedule_timer_chunk(self, timer: task.TimerTask) -> None:
        """Emit the next ``createTimer`` for ``timer``: its final time, or one maximum interval ahead."""
        final = timer._final_fire_at
        assert final is not None
        fire_at = final
        interval = self._maximum_timer_interval
        if interval is not None and final - self._current_utc_datetime > interval:
            fire_at = self._current_utc_datetime + interval
        timer_id = self.next_sequence_number()
        self._pending_actions[timer_id] = ph.new_create_timer_action(timer_id, fire_at)
        self._pending_tasks[timer_id] = timer
        timer._timer_id = timer_id  # type: ignore[attr-defined]

        def cancel() -> None:
            current = getattr(timer, "_timer_id", None)
            if current is not None and self._pending_tasks.get(current) is timer:
                del self._pending_tasks[current]

        timer.set_cancel_handler(cancel)

    def call_activity(
        self,
        activity: task.Activity | str,
        *,
        input: Any | None = None,
        retry_policy: task.RetryPolicy | None = None,
        tags: dict[str, str] | None = None,
        return_type: type | None = None,
    ) -> task.CompletableTask[Any]:
        name = activity if isinstance(activity, str) else task.get_name(activity)
        if not name:
            raise ValueError("call_activity needs an activity name")
        action_id = self.next_sequence_number()
        action = ph.new_schedule_task_action(action_id, name, self.encode(input), tags)
        return self._register_call(action, retry_policy, return_type, is_sub_orch=False)

    def call_sub_orchestrator(
        self,
        orchestrator: task.Orchestrator | str,
        *,
        input: Any | None = None,
        instance_id: str | None = None,
        retry_policy: task.RetryPolicy | None = None,
        version: str | None = None,
        return_type: type | None = None,
    ) -> task.CompletableTask[Any]:
        name = orchestrator if isinstance(orchestrator, str) else task.get_name(orchestrator)
        if not name:
            raise ValueError("call_sub_orchestrator needs an orchestrator name")
        action_id = self.next_sequence_number()
        if instance_id is None:
            instance_id = f"{self._instance_id}:{action_id:04x}"
        action = ph.new_create_sub_orchestration_action(
            action_id, name, instance_id, self.encode(input), version
        )
        return self._register_call(action, retry_policy, return_type, is_sub_orch=True)

    def _register_call(
        self,
        action: pb.OrchestratorAction,
        retry_policy: task.RetryPolicy | None,
        return_type: type | None,
        *,
        is_sub_orch: bool,
    ) -> task.CompletableTask[Any]:
        fn_task: task.CompletableTask[Any]
        if retry_policy is None:
            fn_task = task.CompletableTask(return_type)
        else:
            if not isinstance(retry_policy, task.RetryPolicy):
                raise TypeError("retry_policy must be a durabletask.task.RetryPolicy")
            fn_task = task.RetryableTask(
                retry_policy, action, self._current_utc_datetime, is_sub_orch, expected_type=return_type
            )
        self._pending_actions[action.id] = action
        self._pending_tasks[action.id] = fn_task
        return fn_task

    def retry(self, retryable: task.RetryableTask[Any]) -> None:
        """Re-emit the action of a retryable call under its original id (after its retry timer)."""
        if self._is_complete:
            return
        action = copy.deepcopy(retryable._action)
        self._pending_actions[action.id] = action
        self._pending_tasks[action.id] = retryable

    def wait_for_external_event(
        self, name: str, *, data_type: type | None = None
    ) -> task.CancellableTask[Any]:
        if not isinstance(name, str) or not name:
            raise ValueError("wait_for_external_event needs a non-empty event name")
        event_task: task.CancellableTask[Any] = task.CancellableTask(data_type)
        key = name.casefold()
        buffered = self._received_events.get(key)
        if buffered:
            payload = buffered.pop(0)
            if not buffered:
                del self._received_events[key]
            event_task.complete(self.decode(payload, data_type))
            return event_task
        waiters = self._pending_events.setdefault(key, [])
        waiters.append(event_task)

        def cancel() -> None:
            current = self._pending_events.get(key)
            if current and event_task in current:
                current.remove(event_task)
                if not current:
                    del self._pending_events[key]

        event_task.set_cancel_handler(cancel)
        return event_task

    def send_event(self, instance_id: str, event_name: str, *, data: Any | None = None) -> None:
        if not instance_id or not event_name:
            raise ValueError("send_event needs a target instance id and an event name")
        action_id = self.next_sequence_number()
        self._pending_actions[action_id] = ph.new_send_event_action(
            action_id, instance_id, event_name, self.encode(data)
        )

    def continue_as_new(
        self, new_input: Any, *, save_events: bool = False, new_version: str | None = None
    ) -> None:
        if self._is_complete:
            return
        self._is_complete = True
        self._completion_status = pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW
        self._new_input = new_input
        self._save_events = save_events
        self._new_version = new_version

    def new_uuid(self) -> str:
        name = f"{self._instance_id}_{self._current_utc_datetime.strftime(_UUID_TIME_FORMAT)}_{self._uuid_counter}"
        self._uuid_counter += 1
        return str(uuid.uuid5(_UUID_NAMESPACE, name))

    # -- external events delivered by the engine ---------------------------------------------------

    def deliver_event(self, name: str, payload: str | None) -> bool:
        """Hand an external event to the oldest waiter (True), or buffer it (False)."""
        key = name.casefold()
        waiters = self._pending_events.get(key)
        # A finished execution leaves abandoned waiters behind (e.g. the losing branch of a when_any
        # that led to continue_as_new): buffer the event so that save_events carries it over.
        if waiters and not self._is_complete:
            waiter = waiters.pop(0)
            if not waiters:
                del self._pending_events[key]
            waiter.complete(self.decode(payload, waiter._expected_type))
            return True
        self._received_events.setdefault(key, []).append(payload)
        return False

    # -- generator driving -------------------------------------------------------------------------

    def start(self, fn: Callable[..., Any], orchestrator_input: Any) -> None:
        """Call the orchestrator function and run it up to its first incomplete task."""
        result = fn(self, orchestrator_input)
        if inspect.isgenerator(result):
            self._generator = result
            try:
                first = next(result)
            except StopIteration as stop:
                self.set_complete(stop.value, pb.ORCHESTRATION_STATUS_COMPLETED)
                return
            self._previous_task = self._check_yielded(first)
            self.resume()
        elif inspect.iscoroutine(result):
            result.close()
            raise TypeError(
                "Orchestrators must be generator functions (use 'yield', not 'async def'/'await')."
            )
        else:
            self.set_complete(result, pb.ORCHESTRATION_STATUS_COMPLETED)

    @staticmethod
    def _check_yielded(value: Any) -> task.Task[Any]:
        if not isinstance(value, task.Task):
            hint = ""
            if isinstance(value, (list, tuple)) and value and all(isinstance(v, task.Task) for v in value):
                hint = " To wait for several tasks, yield task.when_all([...]) or task.when_any([...])."
            raise TypeError(
                f"The orchestrator yielded a {type(value).__name__}; orchestrators may only yield tasks "
                f"(from ctx.call_activity, ctx.create_timer, task.when_all, ...).{hint}"
            )
        return value

    def resume(self) -> None:
        """Feed completed results into the generator until it waits on an incomplete task or ends."""
        if self._generator is None or self._is_complete:
            return
        while self._previous_task is not None and self._previous_task.is_complete and not self._is_complete:
            previous = self._previous_task
            try:
                if previous.is_failed:
                    next_task = self._generator.throw(previous.get_exception())
                else:
                    next_task = self._generator.send(previous.get_result())
            except StopIteration as stop:
                self.set_complete(stop.value, pb.ORCHESTRATION_STATUS_COMPLETED)
                return
            self._previous_task = self._check_yielded(next_task)

    def close_generator(self) -> None:
        """End a suspended orchestrator generator now, safely, because its execution is discarded.

        Python would otherwise close it whenever it is garbage collected: its ``finally`` blocks
        would run at a random time and an exception raised there (or a ``yield`` in a ``finally``)
        would only be printed as "Exception ignored". Here such errors are logged and dropped; any
        actions the cleanup code asks for are not sent (the execution's actions were already taken).
        """
        generator, self._generator = self._generator, None
        if generator is None:
            return
        for _ in range(10):  # a finally block that yields again is closed again
            try:
                generator.close()
                return
            except Exception as ex:  # noqa: BLE001 - user cleanup code must not break the worker
                _log.debug(
                    "%s: the orchestrator raised while its generator was closed: %s: %s",
                    self._instance_id,
                    type(ex).__name__,
                    ex,
                )
            if inspect.getgeneratorstate(generator) == inspect.GEN_CLOSED:
                return
        _log.warning("%s: the orchestrator generator would not close (it keeps yielding)", self._instance_id)

    # -- completion --------------------------------------------------------------------------------

    def set_complete(self, result: Any, status: int, *, is_result_encoded: bool = False) -> None:
        if self._is_complete:
            return
        self._is_complete = True
        self._completion_status = status
        try:
            encoded = result if is_result_encoded else self.encode(result)
        except (TypeError, ValueError) as ex:
            raise (TypeError if isinstance(ex, TypeError) else ValueError)(
                f"The orchestration result (a {type(result).__name__}) could not be serialized: {ex}"
            ) from ex
        action_id = self.next_sequence_number()
        self._pending_actions[action_id] = ph.new_complete_orchestration_action(action_id, status, encoded)

    def set_terminated(self, encoded_output: str | None) -> None:
        """Complete as TERMINATED: nothing else the orchestration asked for is sent."""
        if self._is_complete:
            return
        self._pending_actions.clear()
        self.set_complete(encoded_output, pb.ORCHESTRATION_STATUS_TERMINATED, is_result_encoded=True)

    def set_failed(self, failure: BaseException | pb.TaskFailureDetails, *, override: bool = True) -> None:
        """Complete as FAILED. With ``override`` an earlier completion (reached during a replay that then
        proved inconsistent with the history) is replaced by the failure."""
        if self._is_complete:
            if not override:
                return
            for action_id, action in list(self._pending_actions.items()):
                if action.HasField("completeOrchestration"):
                    del self._pending_actions[action_id]
            self._is_complete = False
        self._is_complete = True
        self._completion_status = pb.ORCHESTRATION_STATUS_FAILED
        details = (
            failure if isinstance(failure, pb.TaskFailureDetails) else failure_details_from_exception(failure)
        )
        action_id = self.next_sequence_number()
        self._pending_actions[action_id] = ph.new_complete_orchestration_action(
            action_id, pb.ORCHESTRATION_STATUS_FAILED, None, details
        )

    def get_actions(self) -> list[pb.OrchestratorAction]:
        """The actions to send: pending ones in order, the completion (if any) last."""
        # The completion goes last even if something was recorded after it.
        actions = sorted(self._pending_actions.values(), key=lambda a: a.HasField("completeOrchestration"))
        if self._completion_status == pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW:
            carryover: list[pb.HistoryEvent] = []
            if self._save_events:
                for name, payloads in self._received_events.items():
                    for payload in payloads:
                        carryover.append(new_event_raised_event(name, payload))
            action_id = self.next_sequence_number()
            actions.append(
                ph.new_complete_orchestration_action(
                    action_id,
                    pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW,
                    self.encode(self._new_input),
                    new_version=self._new_version,
                    carryover_events=carryover,
                )
            )
        return actions
