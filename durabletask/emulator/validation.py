"""Checks on client input: ids, names, payload sizes. Each failure is an InvalidArgument naming the limit."""

from __future__ import annotations

from .errors import InvalidArgument

__all__ = [
    "MAX_ID_LENGTH",
    "MAX_NAME_LENGTH",
    "MAX_PAYLOAD_BYTES",
    "check_instance_id",
    "check_name",
    "check_payload",
]

#: Largest input, output or event payload a client may send (a work item must stay under 4 MiB).
MAX_PAYLOAD_BYTES = 2 * 1024 * 1024
MAX_ID_LENGTH = 1024
MAX_NAME_LENGTH = 1024


def check_instance_id(instance_id: str) -> None:
    if not instance_id:
        raise InvalidArgument("instanceId must not be empty")
    if len(instance_id) > MAX_ID_LENGTH:
        raise InvalidArgument(f"instanceId is {len(instance_id)} characters long; the limit is {MAX_ID_LENGTH}")
    if any(ord(c) < 32 for c in instance_id):
        raise InvalidArgument("instanceId must not contain control characters")


def check_name(name: str, what: str = "name") -> None:
    if not name:
        raise InvalidArgument(f"{what} must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidArgument(f"{what} is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}")


def check_payload(value: str, what: str) -> None:
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > MAX_PAYLOAD_BYTES:
        raise InvalidArgument(
            f"{what} is {size} bytes; the emulator's limit is {MAX_PAYLOAD_BYTES} bytes "
            f"({MAX_PAYLOAD_BYTES // (1024 * 1024)} MiB)")
