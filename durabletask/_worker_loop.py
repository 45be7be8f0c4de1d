"""The worker's event loop thread, where ``async def`` activities run.

One loop for all async activities: awaiting (network calls, ``asyncio.sleep``) does not hold a
thread, so many async activities overlap. Blocking work never runs here: completion calls are
started from the loop without waiting for their answers, and abandon calls go to the worker's pool.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any

__all__ = ["EventLoopThread"]


class EventLoopThread:
    """An asyncio loop running on its own daemon thread until :meth:`stop`."""

    def __init__(self, name: str = "durabletask-async-activities") -> None:
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.call_soon(ready.set)
            self.loop.run_forever()

        self._thread = threading.Thread(target=run, name=name, daemon=True)
        self._thread.start()
        ready.wait(5)

    def submit(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Schedule ``coro`` on the loop (fire and forget; the coroutine reports its own result)."""
        asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, awaitable: Any, timeout: float | None = None) -> Any:
        """Await ``awaitable`` on the loop from another thread and return its result."""

        async def wrap() -> Any:
            return await awaitable

        return asyncio.run_coroutine_threadsafe(wrap(), self.loop).result(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel what still runs on the loop, then stop and close it."""
        loop = self.loop
        if loop.is_closed():
            return

        async def cancel_all() -> None:
            current = asyncio.current_task()
            pending = [t for t in asyncio.all_tasks() if t is not current]
            for t in pending:
                t.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
            await loop.shutdown_asyncgens()

        try:
            asyncio.run_coroutine_threadsafe(cancel_all(), loop).result(timeout)
        except Exception:  # noqa: BLE001 - best effort: the loop is stopped below either way
            pass
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            loop.close()
