"""Payload text for people: pretty JSON, one-line previews, and formatting big payloads off the GUI thread.

Payloads (inputs, outputs, custom status, event data) are JSON text on the wire, but nothing
guarantees it: a custom data converter, a truncated value or a plain string may come through. Nothing
here raises on bad input; text that is not JSON comes back unchanged with ``is_json=False``.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import Executor
from dataclasses import dataclass

__all__ = [
    "DISPLAY_LIMIT",
    "OFF_THREAD_THRESHOLD",
    "PrettyText",
    "one_line_preview",
    "pretty_json",
    "pretty_json_async",
]

#: Payloads longer than this (characters) are formatted in a worker thread.
OFF_THREAD_THRESHOLD = 32 * 1024
#: Text longer than this is cut for display (the full text stays available for copying).
DISPLAY_LIMIT = 2 * 1024 * 1024


@dataclass(frozen=True)
class PrettyText:
    """A payload ready to show."""

    text: str
    """What to display (pretty JSON, or the raw text), possibly cut to ``DISPLAY_LIMIT``."""
    is_json: bool
    raw: str | None
    """The payload as received (``None`` when there was none)."""
    truncated: bool = False

    @property
    def is_empty(self) -> bool:
        return self.raw is None or self.raw == ""


def pretty_json(raw: str | None, *, indent: int = 2, limit: int = DISPLAY_LIMIT) -> PrettyText:
    """Indent ``raw`` if it is JSON; otherwise return it as plain text. Never raises."""
    if raw is None:
        return PrettyText(text="", is_json=False, raw=None)
    if not isinstance(raw, str):
        raw = str(raw)
    stripped = raw.strip()
    text = raw
    is_json = False
    if stripped:
        try:
            value = json.loads(stripped)
        except (ValueError, RecursionError):
            pass
        else:
            is_json = True
            try:
                text = json.dumps(value, indent=indent, ensure_ascii=False, sort_keys=False)
            except (ValueError, RecursionError):  # pragma: no cover - json.loads output always dumps
                text = raw
    truncated = len(text) > limit
    if truncated:
        text = text[:limit]
    return PrettyText(text=text, is_json=is_json, raw=raw, truncated=truncated)


async def pretty_json_async(
    raw: str | None, *, executor: Executor | None = None, threshold: int = OFF_THREAD_THRESHOLD
) -> PrettyText:
    """:func:`pretty_json`, run in a worker thread when the payload is bigger than ``threshold``."""
    if raw is None or len(raw) <= threshold:
        return pretty_json(raw)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, pretty_json, raw)


def one_line_preview(raw: str | None, max_chars: int = 160) -> str:
    """The first ``max_chars`` characters of a payload on one line (cheap: no JSON parsing)."""
    if not raw:
        return ""
    head = raw[: max_chars * 2]
    text = " ".join(head.split())
    if len(text) > max_chars or len(raw) > len(head):
        return text[: max_chars - 1].rstrip() + "\u2026"
    return text
