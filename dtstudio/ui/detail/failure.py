"""The Failure section: error type, message, stack trace and the chain of inner failures.

:func:`failure_chain` reads both failure shapes we meet: the client's ``task.FailureDetails``
(``error_type``, ``message``, ``stack_trace``, ``inner_failure``) and the wire's ``TaskFailureDetails``
(``errorType``, ``errorMessage``, ``stackTrace``, ``innerFailure``) found in history events.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QPushButton, QTextBrowser, QVBoxLayout, QWidget

from dtstudio.core.stack_frames import split_trace

__all__ = ["FailureInfo", "FailurePane", "failure_chain", "failure_html", "failure_plain_text", "short_type"]

_MAX_DEPTH = 32


@dataclass(frozen=True)
class FailureInfo:
    """One level of a failure chain."""

    error_type: str
    message: str
    stack_trace: str | None


def _field(obj: Any, *names: str) -> Any:
    for name in names:
        if hasattr(obj, "DESCRIPTOR") and name in obj.DESCRIPTOR.fields_by_name:
            field = obj.DESCRIPTOR.fields_by_name[name]
            if field.message_type is not None:
                if not obj.HasField(name):
                    return None
                value = getattr(obj, name)
                # google.protobuf.StringValue wrappers hold a .value
                return value.value if field.message_type.full_name == "google.protobuf.StringValue" else value
            return getattr(obj, name)
        if not hasattr(obj, "DESCRIPTOR") and hasattr(obj, name):
            return getattr(obj, name)
    return None


def failure_chain(failure: Any) -> list[FailureInfo]:
    """The failure and its inner failures, outermost first (empty for ``None``)."""
    chain: list[FailureInfo] = []
    seen: set[int] = set()
    current = failure
    while current is not None and len(chain) < _MAX_DEPTH and id(current) not in seen:
        seen.add(id(current))
        error_type = _field(current, "error_type", "errorType") or ""
        message = _field(current, "message", "errorMessage") or ""
        stack = _field(current, "stack_trace", "stackTrace") or None
        chain.append(FailureInfo(str(error_type) or "Error", str(message), str(stack) if stack else None))
        current = _field(current, "inner_failure", "innerFailure")
    return chain


def failure_plain_text(chain: list[FailureInfo]) -> str:
    """The chain as plain text (what the Copy button copies)."""
    parts: list[str] = []
    for depth, info in enumerate(chain):
        head = "Caused by: " if depth else ""
        parts.append(f"{head}{info.error_type}: {info.message}" if info.message else head + info.error_type)
        if info.stack_trace:
            parts.append(info.stack_trace.rstrip())
    return "\n".join(parts)


def _trace_html(trace: str, show_internal: bool) -> tuple[str, int]:
    """The trace as escaped text with runs of SDK/runtime frames folded; returns (html, frames hidden)."""
    if show_internal:
        return html.escape(trace), 0
    parts: list[str] = []
    hidden = 0
    for chunk in split_trace(trace):
        if chunk.internal:
            hidden += chunk.frames
            indent = chunk.text[: len(chunk.text) - len(chunk.text.lstrip())]
            noun = "frame" if chunk.frames == 1 else "frames"
            parts.append(f"<span style='color:#888'>{html.escape(indent)}… {chunk.frames} {noun} inside the "
                         "Durable Task SDK hidden</span>\n")
        else:
            parts.append(html.escape(chunk.text))
    return "".join(parts), hidden


def short_type(error_type: str) -> str:
    """``builtins.ValueError`` → ``ValueError`` (other qualified names stay as they are)."""
    return error_type.removeprefix("builtins.")


def failure_html(chain: list[FailureInfo], *, show_internal: bool = True) -> str:
    """The chain as readable rich text: a heading per level, the message, then the stack trace.

    With ``show_internal=False`` runs of frames inside the SDK (replay machinery, worker loop,
    grpc, threads) are folded into one grey line each.
    """
    if not chain:
        return "<p><i>No failure.</i></p>"
    out: list[str] = []
    for depth, info in enumerate(chain):
        margin = 16 * depth
        label = "Caused by" if depth else "Error"
        out.append(
            f"<div style='margin-left:{margin}px; margin-bottom:10px'>"
            f"<div style='color:#888'>{label}</div>"
            f"<div style='font-size:large; color:#c62828'><b>{html.escape(info.error_type)}</b></div>"
        )
        if info.message:
            out.append(f"<div style='white-space:pre-wrap'>{html.escape(info.message)}</div>")
        if info.stack_trace:
            body, _hidden = _trace_html(info.stack_trace.rstrip(), show_internal)
            out.append(
                "<pre style='font-family:monospace; background:rgba(127,127,127,0.12); padding:6px'>"
                f"{body}</pre>"
            )
        out.append("</div>")
    return "".join(out)


def _first_line(text: str, limit: int) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


class FailurePane(QWidget):
    """Shows a failure chain readably, with a Copy button."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._chain: list[FailureInfo] = []
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the error, message and stack traces as text")
        self.copy_button.clicked.connect(self.copy)
        self.show_internal = QCheckBox("Show SDK frames")
        self.show_internal.setToolTip("Show the stack frames inside the Durable Task SDK (replay, worker loop, grpc); "
                                      "Copy always copies the full traces")
        self.show_internal.toggled.connect(self._render)
        self.browser = QTextBrowser()
        self.browser.setOpenLinks(False)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.show_internal)
        top.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.browser, 1)
        self.set_failure(None)

    def set_failure(self, failure: Any) -> None:
        self._chain = failure_chain(failure)
        if not self._chain:
            self.summary.setText("This instance has not failed.")
        else:
            # The innermost failure is where it went wrong (e.g. the activity's exception).
            root = self._chain[-1]
            text = f"<b>{html.escape(short_type(root.error_type))}</b>"
            if root.message:
                text += f": {html.escape(_first_line(root.message, 300))}"
            if len(self._chain) > 1:
                text += (f"<br><span style='color:#888'>root cause, reported as "
                         f"{html.escape(short_type(self._chain[0].error_type))}</span>")
            self.summary.setText(text)
        self._render()
        self.copy_button.setEnabled(bool(self._chain))

    def _render(self) -> None:
        self.browser.setHtml(failure_html(self._chain, show_internal=self.show_internal.isChecked()))

    def hidden_frame_count(self) -> int:
        """How many SDK frames the view folds right now (0 when they are shown)."""
        if self.show_internal.isChecked():
            return 0
        return sum(_trace_html(i.stack_trace, False)[1] for i in self._chain if i.stack_trace)

    def chain(self) -> list[FailureInfo]:
        return self._chain

    def text(self) -> str:
        return failure_plain_text(self._chain)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text())
