"""Errors the emulator's core raises; the gRPC layer turns each into a status code."""

from __future__ import annotations

__all__ = [
    "AlreadyExists",
    "DeadlineExceeded",
    "EmulatorError",
    "FailedPrecondition",
    "InvalidArgument",
    "NotFound",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
]


class EmulatorError(Exception):
    """A request the emulator refuses; ``code`` names the gRPC status code (``"NOT_FOUND"``, ...)."""

    code = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(EmulatorError):
    code = "NOT_FOUND"


class AlreadyExists(EmulatorError):
    code = "ALREADY_EXISTS"


class FailedPrecondition(EmulatorError):
    code = "FAILED_PRECONDITION"


class InvalidArgument(EmulatorError):
    code = "INVALID_ARGUMENT"


class Unimplemented(EmulatorError):
    code = "UNIMPLEMENTED"


class Unavailable(EmulatorError):
    code = "UNAVAILABLE"


class DeadlineExceeded(EmulatorError):
    code = "DEADLINE_EXCEEDED"


class Unauthenticated(EmulatorError):
    code = "UNAUTHENTICATED"
