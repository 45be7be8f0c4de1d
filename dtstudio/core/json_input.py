"""Checking JSON that a user typed (orchestration input, event payloads) before it is sent."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["NO_INPUT", "JsonInputError", "parse_json_input"]


class _NoInput:
    """Marker for an empty input box: send no payload at all (not JSON ``null``)."""

    def __repr__(self) -> str:
        return "NO_INPUT"


NO_INPUT: Any = _NoInput()


class JsonInputError(ValueError):
    """The text is not valid JSON; ``line`` and ``column`` are 1-based and point at the problem."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"Line {line}, column {column}: {message}")
        self.reason = message
        self.line = line
        self.column = column


def parse_json_input(text: str, *, what: str = "input") -> Any:
    """Parse ``text`` as one JSON value; blank text gives :data:`NO_INPUT`.

    Raises :class:`JsonInputError` (with the line and column of the first problem) for bad JSON.
    """
    if not text.strip():
        return NO_INPUT
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        msg, line, column = exc.msg, exc.lineno, exc.colno
        before = text[: exc.pos].rstrip()
        if before.endswith(",") and msg.startswith(("Expecting property name", "Expecting value", "Illegal trailing comma")):
            msg = "a trailing comma is not allowed in JSON"
            comma = len(before) - 1  # point at the comma itself, not at what follows it
            line = text.count("\n", 0, comma) + 1
            column = comma - (text.rfind("\n", 0, comma) + 1) + 1
        elif "'" in text and msg.startswith("Expecting property name enclosed in double quotes"):
            msg += " (JSON uses \"double quotes\", not 'single quotes')"
        raise JsonInputError(f"{msg} in the {what}", line, column) from None
    except RecursionError:
        raise JsonInputError(f"the {what} is nested too deeply", 1, 1) from None
