"""Which instance actions make sense for which runtime status (so the UI can skip, not pretend).

The backend accepts e.g. a terminate of an already failed instance and simply does nothing; the
user would then read "termination requested" for an instance that was never running. The UI asks
:func:`why_not_applicable` first and reports such instances as skipped, with the reason.
"""

from __future__ import annotations

__all__ = ["FINISHED_STATUSES", "status_label", "why_not_applicable"]

#: Runtime status names (without the ORCHESTRATION_STATUS_ prefix) of instances that will not run again by themselves.
FINISHED_STATUSES = frozenset({"COMPLETED", "FAILED", "TERMINATED", "CANCELED"})


def status_label(status: str) -> str:
    """``CONTINUED_AS_NEW`` → ``Continued as new``."""
    return status.replace("_", " ").capitalize()


def why_not_applicable(action: str, status: str | None) -> str | None:
    """A short reason why ``action`` cannot affect an instance in ``status``; ``None`` when it can (or when unknown)."""
    if not status:
        return None
    status = status.upper().removeprefix("ORCHESTRATION_STATUS_")
    label = status_label(status)
    finished = status in FINISHED_STATUSES
    if action in ("terminate", "raise_event") and finished:
        return f"already {label.lower()}"
    if action == "suspend":
        if finished:
            return f"already {label.lower()}"
        if status == "SUSPENDED":
            return "already suspended"
    if action == "resume" and status != "SUSPENDED":
        return f"not suspended (it is {label.lower()})"
    if action == "rewind" and status != "FAILED":
        return f"only failed instances can be rewound (it is {label.lower()})"
    if action == "purge" and not finished:
        return f"still {label.lower()}; only finished instances can be purged"
    if action == "restart" and not finished:
        return f"still {label.lower()}; only finished instances can be restarted"
    return None
