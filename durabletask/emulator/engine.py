"""The emulator's engine: everything the gRPC service does, minus gRPC.

Built in layers, each a module: :mod:`.core` (state, transactions, timers, leases), :mod:`.routing`
(completions, messages between instances), :mod:`.dispatch` (worker streams), :mod:`.operations`
(client calls).
"""

from __future__ import annotations

from .core import EngineOptions, Post
from .operations import Operations

__all__ = ["Engine", "EngineOptions", "Post"]


class Engine(Operations):
    """The whole engine; construct it with a :class:`~.store.Store` and start serving it."""
