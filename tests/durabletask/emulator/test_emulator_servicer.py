"""The servicer's answers: when it commits and answers (client writes wait for durability, worker
completions do not), and how engine errors become status codes.

These drive :class:`SidecarService` handlers on a real event loop against a recording engine, so the
order of "answered" and "committed" is observed directly (through gRPC it would only show as timing).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask.emulator import service as service_module
from durabletask.emulator.core import deferred_commits
from durabletask.emulator.errors import NotFound
from durabletask.emulator.service import SidecarService

#: A gather window long enough that no stall of a loaded machine lets it run out while a test looks.
_LONG_GATHER_S = 0.5


class _Aborted(Exception):
    pass


class _Context:
    def invocation_metadata(self) -> tuple[()]:
        return ()

    async def abort(self, code: Any, message: str) -> None:
        raise _Aborted(f"{code}: {message}")


class _RecordingEngine:
    """Each write opens epoch 1, 2, ...; ``commit_now`` commits them all; callbacks fire on ``settle``."""

    def __init__(self, in_flight: int = 0) -> None:
        self.in_flight = in_flight
        self.next_epoch = 1
        self.open: list[int] = []
        self.commits: list[list[int]] = []
        self.callbacks: dict[int, list[Any]] = {}

    def _write(self) -> None:
        epochs = deferred_commits().get()
        assert epochs is not None, "the servicer must collect epochs of deferred writes"
        if not self.open:
            self.open.append(self.next_epoch)
            self.next_epoch += 1
        epochs.append(self.open[-1])

    # the engine API the handlers use
    def work_in_flight(self) -> int:
        return self.in_flight

    def complete_activity(self, request: pb.ActivityResponse) -> bool:
        self._write()
        return True

    def raise_event(self, hub: str, request: pb.RaiseEventRequest) -> None:
        if request.name == "unknown-instance":
            raise NotFound("no instance 'i1'")
        if request.name == "bug":
            raise RuntimeError("a bug in the engine")
        self._write()

    def commit_now(self) -> None:
        if self.open:
            self.commits.append(self.open)
            self.open = []

    def on_commit(self, epoch: int, callback: Any) -> None:
        self.callbacks.setdefault(epoch, []).append(callback)

    def settle(self) -> None:
        """The committed epochs become durable: call their waiters back."""
        for batch in self.commits:
            for epoch in batch:
                for callback in self.callbacks.pop(epoch, []):
                    callback(True)


Scenario = Callable[[SidecarService, _RecordingEngine], Awaitable[None]]


def _run(scenario: Scenario, in_flight: int = 0) -> None:
    """Run ``scenario(service, engine)`` on a fresh loop, the service bound to it over a recording engine."""

    async def main() -> None:
        engine = _RecordingEngine(in_flight=in_flight)
        service = SidecarService(engine)  # type: ignore[arg-type]
        service.bind(asyncio.get_running_loop())
        try:
            await scenario(service, engine)
        finally:
            service.close()

    asyncio.run(main())


def _completion() -> pb.ActivityResponse:
    return pb.ActivityResponse(instanceId="i1", taskId=1, completionToken="t1")


async def _spin(turns: int = 5) -> None:
    for _ in range(turns):
        await asyncio.sleep(0)


def test_a_client_write_is_answered_only_once_committed() -> None:
    async def scenario(service: SidecarService, engine: _RecordingEngine) -> None:
        call = asyncio.ensure_future(service.RaiseEvent(pb.RaiseEventRequest(instanceId="i1", name="go"),
                                                        _Context()))
        await _spin()
        assert engine.commits == [[1]], "a write a client waits for is committed at once"
        assert not call.done(), "answered before its commit was durable"
        engine.settle()
        await _spin()
        assert call.done() and isinstance(call.result(), pb.RaiseEventResponse)

    _run(scenario)


def test_a_worker_completion_is_answered_before_its_commit() -> None:
    async def scenario(service: SidecarService, engine: _RecordingEngine) -> None:
        answer = await asyncio.wait_for(service.CompleteActivityTask(_completion(), _Context()), 5)
        assert isinstance(answer, pb.CompleteTaskResponse)
        assert engine.callbacks == {}, "a completion must not wait for its commit"
        await _spin()
        assert engine.commits == [[1]], "the completion's write is still committed"

    _run(scenario)


def test_completions_share_a_commit_while_other_work_is_in_flight(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service_module, "COMMIT_GATHER_S", _LONG_GATHER_S)

    async def scenario(service: SidecarService, engine: _RecordingEngine) -> None:
        for _ in range(3):
            await service.CompleteActivityTask(_completion(), _Context())
            await _spin(2)
        assert engine.commits == [], "commits nobody waits for gather while work is in flight"
        await asyncio.sleep(_LONG_GATHER_S * 1.5)
        assert engine.commits == [[1]], "one commit covers the whole burst"

    _run(scenario, in_flight=10)


def test_a_lone_completion_is_committed_at_once() -> None:
    async def scenario(service: SidecarService, engine: _RecordingEngine) -> None:
        await service.CompleteActivityTask(_completion(), _Context())
        await _spin()
        assert engine.commits == [[1]], "with nothing else in flight, its follow-up waits for this commit"

    _run(scenario, in_flight=0)


def test_a_client_write_does_not_wait_for_gathered_completions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service_module, "COMMIT_GATHER_S", _LONG_GATHER_S)

    async def scenario(service: SidecarService, engine: _RecordingEngine) -> None:
        await service.CompleteActivityTask(_completion(), _Context())
        call = asyncio.ensure_future(service.RaiseEvent(pb.RaiseEventRequest(instanceId="i1", name="go"),
                                                        _Context()))
        await _spin()
        assert engine.commits == [[1]], "the client's write commits at once, the completion with it"
        engine.settle()
        await _spin()
        assert call.done()

    _run(scenario, in_flight=10)


@pytest.mark.parametrize("in_flight", [0, 10])
def test_a_refused_completion_commits_nothing(in_flight: int) -> None:
    async def scenario(service: SidecarService, engine: _RecordingEngine) -> None:
        with pytest.raises(_Aborted, match="INVALID_ARGUMENT"):
            await service.CompleteActivityTask(pb.ActivityResponse(instanceId="i1", taskId=1), _Context())
        await asyncio.sleep(service_module.COMMIT_GATHER_S * 2)
        assert engine.commits == []

    _run(scenario, in_flight=in_flight)


def test_engine_errors_become_their_status_and_bugs_internal(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario(service: SidecarService, engine: _RecordingEngine) -> None:
        with pytest.raises(_Aborted, match="NOT_FOUND: no instance 'i1'"):
            await service.RaiseEvent(pb.RaiseEventRequest(instanceId="i1", name="unknown-instance"), _Context())
        with pytest.raises(_Aborted, match="INTERNAL: internal emulator error in RaiseEvent: a bug in the engine"):
            await service.RaiseEvent(pb.RaiseEventRequest(instanceId="i1", name="bug"), _Context())
        assert engine.commits == [] and engine.open == []

    with caplog.at_level("ERROR", logger="durabletask.emulator"):
        _run(scenario)
    bugs = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(bugs) == 1 and "RaiseEvent" in bugs[0].getMessage() and bugs[0].exc_info is not None
