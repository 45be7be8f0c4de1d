"""Closing the window leaves nothing connecting: channels close at once, abandoned connects clean up,
a sign-in nobody waits for any more does not hold up the event loop's end."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from dtstudio.core.profiles import BackendKind, ConnectionProfile, CredentialKind


@pytest.fixture
def unresponsive_endpoint() -> Iterator[str]:
    """An address that accepts TCP connections and then never answers (a stuck TLS or HTTP/2 handshake)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"127.0.0.1:{listener.getsockname()[1]}"


class _SlowCredential:
    """A credential whose sign-in does not finish until ``release`` is set (e.g. a browser sign-in)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.asked = threading.Event()

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        self.asked.set()
        self.release.wait(20)
        raise RuntimeError("sign-in abandoned")


def test_closing_the_window_closes_its_channel_at_once(window: Any, open_channels: Any) -> None:
    assert len(open_channels()) == 1
    window.close()
    # Closed when close() returns, not whenever the loop gets round to it (it may end first).
    assert open_channels() == []
    assert window.closing is None


def test_closing_while_connecting_to_an_unresponsive_endpoint_leaves_nothing_connecting(
    make_window: Any, qtbot: Any, open_channels: Any, unresponsive_endpoint: str
) -> None:
    w = make_window()
    w.show()
    w.store.upsert(ConnectionProfile("stuck", BackendKind.EMULATOR, f"http://{unresponsive_endpoint}", "default"))
    w.connect_to("stuck")
    qtbot.waitUntil(lambda: w.connection_state == "connecting" and len(open_channels()) == 1, timeout=5_000)
    qtbot.wait(200)  # the probe is under way
    started = time.monotonic()
    w.close()
    qtbot.waitUntil(lambda: not w.runner.busy, timeout=2_000)
    assert open_channels() == [], "the abandoned connection attempt kept its channel open"
    assert time.monotonic() - started < 2.0


def test_closing_while_signing_in_to_a_scheduler_does_not_wait_for_the_sign_in(
    make_window: Any, qtbot: Any, open_channels: Any, unresponsive_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dtstudio.core import connection

    credential = _SlowCredential()
    monkeypatch.setattr(connection, "make_sync_credential", lambda profile: credential)
    w = make_window()
    w.show()
    w.store.upsert(ConnectionProfile("scheduler", BackendKind.AZURE, f"https://{unresponsive_endpoint}", "hub",
                                     CredentialKind.DEFAULT))
    try:
        w.connect_to("scheduler")
        qtbot.waitUntil(credential.asked.is_set, timeout=5_000)
        started = time.monotonic()
        w.close()
        qtbot.waitUntil(lambda: not w.runner.busy, timeout=2_000)
        assert open_channels() == []
        assert time.monotonic() - started < 2.0
    finally:
        credential.release.set()


def test_an_abandoned_sign_in_does_not_hold_up_closing_the_event_loop(qapp: Any) -> None:
    import qasync

    from dtstudio.core.connection import _ThreadedAsyncCredential

    credential = _SlowCredential()
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    try:

        async def sign_in_then_give_up() -> None:
            try:
                await asyncio.wait_for(_ThreadedAsyncCredential(credential).get_token("scope"), 0.2)
            except asyncio.TimeoutError:
                pass

        loop.run_until_complete(sign_in_then_give_up())
        assert credential.asked.is_set()
        started = time.monotonic()
        loop.close()  # the app closes its loop when the window has closed
        assert time.monotonic() - started < 2.0, "closing the loop waited for the abandoned sign-in"
    finally:
        credential.release.set()
        asyncio.set_event_loop(None)


_QUIT_WHILE_SIGNING_IN = '''
import asyncio, socket, sys, threading, time
import dtstudio.app as app
from dtstudio.core import connection
from dtstudio.core.profiles import BackendKind, ConnectionProfile, CredentialKind

class NeverSignsIn:
    def get_token(self, *scopes, **kwargs):
        threading.Event().wait(30)
        raise RuntimeError("sign-in abandoned")

connection.make_sync_credential = lambda profile: NeverSignsIn()
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(16)
closed_at = []
create_window = app.create_window

def create_and_connect(args, **kwargs):
    ctx = create_window(args, **kwargs)
    window = ctx.window
    window.store.upsert(ConnectionProfile("scheduler", BackendKind.AZURE,
                                          f"https://127.0.0.1:{listener.getsockname()[1]}", "hub", CredentialKind.DEFAULT))

    async def connect_then_quit():
        await asyncio.sleep(0.3)
        window.connect_to("scheduler")
        await asyncio.sleep(1.0)
        assert window.connection_state == "connecting", window.connection_state
        closed_at.append(time.monotonic())
        window.close()

    asyncio.ensure_future(connect_then_quit())
    return ctx

app.create_window = create_and_connect
rc = app.run_app(sys.argv[1:])
print(f"quit after {time.monotonic() - closed_at[0]:.2f} s", flush=True)
sys.exit(rc)
'''


def test_quitting_while_signing_in_to_an_unresponsive_scheduler_exits_promptly(tmp_path: Any) -> None:
    """The real app: the window closes while a sign-in and a TLS handshake hang; the process ends at once."""
    import os
    import re
    import subprocess
    import sys

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run(
        [sys.executable, "-c", _QUIT_WHILE_SIGNING_IN, "--endpoint", "http://127.0.0.1:9", "--config-dir",
         str(tmp_path / "cfg")],
        capture_output=True, text=True, env=env, timeout=90, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = re.search(r"quit after ([0-9.]+) s", proc.stdout)
    assert found is not None, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert float(found.group(1)) < 5.0, "quitting waited for the sign-in"


def test_start_eagerly_runs_now_and_carries_on_what_has_to_wait(qloop: Any, qtbot: Any) -> None:
    from dtstudio.ui.main_window_shutdown import start_eagerly

    steps: list[str] = []

    async def at_once() -> None:
        steps.append("at once")

    assert start_eagerly(at_once()) is None and steps == ["at once"]

    gate = qloop.create_future()

    async def waits() -> str:
        steps.append("before")
        value = await gate
        await asyncio.sleep(0)
        steps.append(f"after {value}")
        return "done"

    task = start_eagerly(waits())
    assert task is not None and steps[-1] == "before"  # ran up to the wait before returning
    gate.set_result(1)
    qtbot.waitUntil(task.done, timeout=2_000)
    assert task.result() == "done" and steps[-1] == "after 1"

    async def cleans_up() -> None:
        try:
            await never_set
        finally:
            steps.append("cleaned up")

    for let_it_start in (False, True):
        never_set = qloop.create_future()
        steps.clear()
        task = start_eagerly(cleans_up())
        assert task is not None
        if let_it_start:
            qtbot.wait(50)
        task.cancel()
        qtbot.waitUntil(task.done, timeout=2_000)
        assert task.cancelled() and steps == ["cleaned up"]
