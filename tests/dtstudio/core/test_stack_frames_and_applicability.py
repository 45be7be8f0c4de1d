"""Folding SDK frames out of stack traces, and which actions apply to which status."""

from __future__ import annotations

from dtstudio.core.action_applicability import why_not_applicable
from dtstudio.core.stack_frames import is_internal_frame, split_trace

TRACE = """Traceback (most recent call last):
  File "/srv/app/.venv/lib/python3.12/site-packages/durabletask/_replay/_executor.py", line 363, in continue_execution
    run.process(event)
  File "/srv/app/.venv/lib/python3.12/site-packages/durabletask/_worker_replay_cache.py", line 12, in resume
    next_task = self._generator.throw(previous.get_exception())
                ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^

  File "/srv/app/orders.py", line 103, in order_workflow
    return (yield ctx.call_activity(charge_card))
  File "/usr/lib/python3.12/threading.py", line 1010, in run
    self._target(*self._args, **self._kwargs)
durabletask.task.TaskFailedError: boom
"""


def test_split_trace_groups_internal_runs_and_round_trips() -> None:
    chunks = split_trace(TRACE)
    assert "".join(c.text for c in chunks) == TRACE
    kinds = [(c.internal, c.frames) for c in chunks]
    assert kinds == [(False, 0), (True, 2), (False, 1), (True, 1), (False, 0)]
    assert "orders.py" in chunks[2].text and "^^^" in chunks[1].text


def test_non_python_text_is_one_plain_chunk() -> None:
    text = "System.InvalidOperationException: nope\n   at Foo.Bar() in C:\\src\\Foo.cs:line 3\n"
    chunks = split_trace(text)
    assert len(chunks) == 1 and not chunks[0].internal and chunks[0].text == text


def test_internal_frame_paths() -> None:
    assert is_internal_frame("/x/site-packages/durabletask/worker.py")
    assert is_internal_frame("C:\\py\\Lib\\site-packages\\durabletask\\task.py")
    assert not is_internal_frame("/work/main/tests/durabletask/test_orch.py")
    assert not is_internal_frame("/home/me/project/workflows.py")


def test_why_not_applicable() -> None:
    assert why_not_applicable("terminate", "FAILED") == "already failed"
    assert why_not_applicable("terminate", "RUNNING") is None
    assert why_not_applicable("suspend", "SUSPENDED") == "already suspended"
    assert why_not_applicable("resume", "RUNNING") == "not suspended (it is running)"
    assert why_not_applicable("rewind", "COMPLETED") == "only failed instances can be rewound (it is completed)"
    assert why_not_applicable("rewind", "FAILED") is None
    assert why_not_applicable("purge", "ORCHESTRATION_STATUS_PENDING") == "still pending; only finished instances can be purged"
    assert why_not_applicable("restart", "COMPLETED") is None
    assert why_not_applicable("restart", "RUNNING") == "still running; only finished instances can be restarted"
    assert why_not_applicable("terminate", None) is None


def test_fold_internal_frames_keeps_user_frames() -> None:
    from dtstudio.core.stack_frames import fold_internal_frames

    folded = fold_internal_frames(TRACE)
    assert "_replay" not in folded and "threading.py" not in folded
    assert "  … 2 frames inside the Durable Task SDK hidden\n" in folded
    assert "  … 1 frame inside the Durable Task SDK hidden\n" in folded
    assert "orders.py" in folded and folded.endswith("durabletask.task.TaskFailedError: boom\n")


def test_history_event_text_folds_sdk_frames(qapp: object) -> None:
    from dtstudio.ui.detail.event_text import describe_event
    from durabletask._proto import orchestrator_service_pb2 as pb
    from durabletask.history import HistoryEvent

    ev = pb.HistoryEvent(eventId=-1)
    ev.taskFailed.taskScheduledId = 1
    ev.taskFailed.failureDetails.errorType = "builtins.ValueError"
    ev.taskFailed.failureDetails.errorMessage = "boom"
    ev.taskFailed.failureDetails.stackTrace.value = TRACE
    text = describe_event(HistoryEvent.from_proto(ev), 0)
    assert "builtins.ValueError: boom" in text and "orders.py" in text
    assert "_replay" not in text and "frames inside the Durable Task SDK hidden" in text
