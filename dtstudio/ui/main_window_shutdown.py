"""Closing the main window's connection for real, before the window or its event loop goes away.

A grpc.aio channel belongs to the event loop it was created on, and the SDK closes it with a
coroutine. Merely scheduled (``asyncio.ensure_future``) from ``closeEvent``, that close may never
run: the app's loop ends right after the last window closes, and a test's loop cancels whatever
is still pending. The channel then outlives its loop, maybe still connecting to an unreachable
endpoint. :func:`close_client_now` starts the close at once instead; a grpc.aio close does not
wait for anything, so it is done when the call returns.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

__all__ = ["close_client_now", "start_eagerly"]

log = logging.getLogger("dtstudio.ui")


def close_client_now(client: Any) -> asyncio.Task[Any] | None:
    """Close ``client`` now; None once closed, else the task finishing a close that has to wait."""
    return start_eagerly(_close_quietly(client))


def start_eagerly(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
    """Run ``coro`` right away, up to the first time it has to wait (like Python 3.12's eager tasks).

    Returns None if it finished (its result is dropped, an exception is logged), else a task on the
    running loop that carries it on from there. Without a running loop, a coroutine that has to
    wait is closed unfinished (and logged).
    """
    try:
        waiting_for = coro.send(None)
    except StopIteration:
        return None
    except Exception:  # like a task nobody awaits: logged, never raised into Qt
        log.exception("closing failed")
        return None
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        coro.close()
        log.warning("no running event loop: %r was abandoned unfinished", coro)
        return None
    task = loop.create_task(_carry_on(coro, waiting_for))
    # Cancelled before its first step, the task never enters _carry_on: close the coroutine so its
    # ``finally`` blocks still run (a no-op once it has finished).
    task.add_done_callback(lambda _task: coro.close())
    return task


async def _carry_on(coro: Coroutine[Any, Any, Any], waiting_for: Any) -> Any:
    """Drive an already started coroutine to its end, as a task would have (cancellation included)."""
    while True:
        if asyncio.isfuture(waiting_for):
            try:
                await asyncio.wait([waiting_for])
            except asyncio.CancelledError:
                waiting_for.cancel()  # the coroutine meets the cancellation where it waits
        else:  # a bare ``yield`` (asyncio.sleep(0))
            await asyncio.sleep(0)
        try:
            waiting_for = coro.send(None)
        except StopIteration as done:
            return done.value


async def _close_quietly(client: Any) -> None:
    try:
        await client.close()
    except Exception as exc:  # noqa: BLE001 - closing must not fail the window
        log.info("closing client: %s", exc)
