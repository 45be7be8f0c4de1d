"""Split a Python stack trace into the user's frames and the SDK's/libraries' own frames.

Failures recorded by our SDK carry stack traces that mostly show the worker's machinery
(``durabletask/_replay/...``, ``worker.py``, grpc, threads). The failure view folds those runs so
the user's own frames stand out; the stored text itself is never changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["TraceChunk", "fold_internal_frames", "is_internal_frame", "split_trace"]

_FRAME_RE = re.compile(r'^\s*File "(?P<path>[^"]+)", line \d+')
# Path pieces that mark a frame as not the user's code.
_INTERNAL_PATTERNS = [
    re.compile(r"(?<![/\\]tests)[/\\]durabletask[/\\]"),  # the SDK package (ours or the published one)
    re.compile(r"_worker_replay_cache\.py$"),
    re.compile(r"[/\\]site-packages[/\\]grpc[/\\]"),
    re.compile(r"[/\\]concurrent[/\\]futures[/\\]"),
    re.compile(r"[/\\]threading\.py$"),
    re.compile(r"[/\\]asyncio[/\\]"),
]


def is_internal_frame(path: str) -> bool:
    """Whether a frame's file belongs to the SDK or the runtime rather than to the user."""
    return any(p.search(path) for p in _INTERNAL_PATTERNS)


@dataclass(frozen=True)
class TraceChunk:
    """A run of lines of a trace: plain text, or ``frames`` consecutive frames that are all internal or all not."""

    text: str
    internal: bool
    frames: int


def split_trace(trace: str) -> list[TraceChunk]:
    """Cut ``trace`` into chunks; consecutive internal frames form one chunk.

    Joining every chunk's text gives back ``trace`` exactly. Text that is not a Python traceback
    comes back as one non-internal chunk.
    """
    lines = trace.splitlines(keepends=True)
    # Each entry: (kind, lines) where kind is "text", "user" or "internal".
    pieces: list[tuple[str, list[str]]] = []
    frame_indent: int | None = None
    for line in lines:
        m = _FRAME_RE.match(line)
        if m:
            frame_indent = len(line) - len(line.lstrip())
            kind = "internal" if is_internal_frame(m.group("path")) else "user"
            pieces.append((kind, [line]))
            continue
        indent = len(line) - len(line.lstrip())
        in_frame = (frame_indent is not None and pieces and pieces[-1][0] != "text"
                    and (indent > frame_indent or not line.strip()))
        if in_frame:
            pieces[-1][1].append(line)
        else:
            frame_indent = None
            if pieces and pieces[-1][0] == "text":
                pieces[-1][1].append(line)
            else:
                pieces.append(("text", [line]))
    chunks: list[TraceChunk] = []
    for kind, body in pieces:
        text = "".join(body)
        frames = 0 if kind == "text" else 1
        internal = kind == "internal"
        if chunks and kind != "text" and chunks[-1].frames and chunks[-1].internal == internal:
            last = chunks.pop()
            chunks.append(TraceChunk(last.text + text, internal, last.frames + 1))
        elif chunks and kind == "text" and chunks[-1].frames == 0:
            last = chunks.pop()
            chunks.append(TraceChunk(last.text + text, False, 0))
        else:
            chunks.append(TraceChunk(text, internal, frames))
    return chunks


def fold_internal_frames(trace: str) -> str:
    """``trace`` with each run of SDK/runtime frames replaced by one "… N frames inside the SDK" line."""
    out: list[str] = []
    for chunk in split_trace(trace):
        if chunk.internal:
            indent = chunk.text[: len(chunk.text) - len(chunk.text.lstrip())]
            noun = "frame" if chunk.frames == 1 else "frames"
            out.append(f"{indent}\u2026 {chunk.frames} {noun} inside the Durable Task SDK hidden\n")
        else:
            out.append(chunk.text)
    return "".join(out)
