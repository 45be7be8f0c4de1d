"""Results of the sync client that can also be awaited.

The user's document uses one sync client both ways: ``instance_id = client.schedule_new_orchestration(...)``
and ``instance_id = await client.schedule_new_orchestration(...)``. The call itself runs (and blocks)
immediately either way; awaiting the result just hands back the value already computed. So:

* :class:`AwaitableResult`: a mixin for result classes; ``await x`` gives ``x``.
* :class:`InstanceId`: a ``str`` (equal to, hashing like and printing as the plain id) that can be awaited.
* :class:`AwaitableList`: a ``list`` that can be awaited.
* :data:`DONE`: what methods with nothing to return give when an event loop runs in the calling thread
  (``await`` gives ``None``); outside a loop they return plain ``None``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["DONE", "AwaitableList", "AwaitableResult", "Done", "InstanceId", "done_value"]


class AwaitableResult:
    """Mixin: ``await result`` evaluates to the result itself (it is already complete)."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, Self]:
        return self
        yield  # pragma: no cover - makes this a generator function


class InstanceId(str):
    """An orchestration instance id: a plain ``str`` that may also be awaited."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, InstanceId]:
        return self
        yield  # pragma: no cover


class AwaitableList(list):  # type: ignore[type-arg]
    """A plain ``list`` that may also be awaited."""

    def __await__(self) -> Generator[Any, None, AwaitableList]:
        return self
        yield  # pragma: no cover


class Done:
    """The completed result of an operation that returns nothing: falsy, and ``await`` gives ``None``."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return None
        yield  # pragma: no cover

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "Done"


DONE = Done()


def done_value() -> Done | None:
    """``DONE`` when an asyncio loop runs in this thread (the caller may ``await``), else ``None``."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return None
    return DONE
