"""The names under which a worker knows its orchestrators and activities."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from durabletask import task

__all__ = ["Registry"]


class Registry:
    """Orchestrator and activity functions by registered name."""

    def __init__(self) -> None:
        self.orchestrators: dict[str, Callable[..., Any]] = {}
        self.activities: dict[str, Callable[..., Any]] = {}

    @staticmethod
    def _add(kind: str, table: dict[str, Callable[..., Any]], fn: Any, name: str | None) -> str:
        if not callable(fn):
            raise ValueError(f"An {kind} must be callable, got {type(fn).__name__}.")  # noqa: TRY004
        if name is None:
            name = task.get_name(fn)
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"An {kind} name must be a non-empty string.")
        if name in table:
            raise ValueError(f"A '{name}' {kind} already exists.")
        table[name] = fn
        return name

    def add_orchestrator(self, fn: Callable[..., Any], name: str | None = None) -> str:
        """Register an orchestrator; returns its name. ValueError on duplicates and non-callables."""
        return self._add("orchestrator", self.orchestrators, fn, name)

    def add_activity(self, fn: Callable[..., Any], name: str | None = None) -> str:
        """Register an activity (sync or async); returns its name."""
        return self._add("activity", self.activities, fn, name)

    def get_orchestrator(self, name: str) -> Callable[..., Any] | None:
        return self.orchestrators.get(name)

    def get_activity(self, name: str) -> Callable[..., Any] | None:
        return self.activities.get(name)
