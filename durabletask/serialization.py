"""JSON in and out of payloads.

Every payload on the wire (inputs, outputs, event data, custom status) is JSON text. The
:class:`JsonDataConverter` is the default; dataclasses and named tuples are written as JSON objects
and read back as :class:`types.SimpleNamespace` unless an ``expected_type`` says otherwise, as the
published SDK does.
"""

from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace
from typing import Any, Protocol, runtime_checkable

__all__ = ["AUTO_SERIALIZED", "DataConverter", "JsonDataConverter", "to_json", "from_json"]

#: Marker key added to objects that were encoded from dataclasses / named tuples / namespaces.
AUTO_SERIALIZED = "__durabletask_autoobject__"


@runtime_checkable
class DataConverter(Protocol):
    """Turns Python values into payload text and back."""

    def serialize(self, value: Any) -> str | None: ...

    def deserialize(self, data: str | None, expected_type: type | None = None) -> Any: ...


class _Encoder(json.JSONEncoder):
    def encode(self, o: Any) -> str:
        # Named tuples would otherwise become JSON arrays before default() is consulted.
        return super().encode(_prepare(o))

    def default(self, o: Any) -> Any:
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            d = {f.name: getattr(o, f.name) for f in dataclasses.fields(o)}
            d[AUTO_SERIALIZED] = True
            return d
        if isinstance(o, SimpleNamespace):
            d = dict(vars(o))
            d[AUTO_SERIALIZED] = True
            return d
        if isinstance(o, (set, frozenset)):
            return list(o)
        if hasattr(o, "isoformat"):
            return o.isoformat()
        return super().default(o)


def _prepare(o: Any) -> Any:
    if isinstance(o, tuple) and hasattr(o, "_asdict"):
        d = {k: _prepare(v) for k, v in o._asdict().items()}
        d[AUTO_SERIALIZED] = True
        return d
    if isinstance(o, dict):
        return {k: _prepare(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_prepare(v) for v in o]
    return o


def _object_hook(d: dict[str, Any]) -> Any:
    if d.pop(AUTO_SERIALIZED, False):
        return SimpleNamespace(**d)
    return d


def _coerce(value: Any, expected_type: type | None) -> Any:
    if expected_type is None or value is None:
        return value
    if isinstance(value, SimpleNamespace):
        value = vars(value)
    if isinstance(value, dict) and dataclasses.is_dataclass(expected_type):
        names = {f.name for f in dataclasses.fields(expected_type)}
        return expected_type(**{k: v for k, v in value.items() if k in names})
    if isinstance(value, dict) and isinstance(expected_type, type) and hasattr(expected_type, "_fields"):
        return expected_type(**value)
    return value


class JsonDataConverter:
    """The default converter: ``json.dumps`` / ``json.loads`` with dataclass support."""

    def serialize(self, value: Any) -> str | None:
        if value is None:
            return None
        return json.dumps(value, cls=_Encoder)

    def deserialize(self, data: str | None, expected_type: type | None = None) -> Any:
        if data is None or data == "":
            return None
        return _coerce(json.loads(data, object_hook=_object_hook), expected_type)


_DEFAULT = JsonDataConverter()


def to_json(value: Any) -> str | None:
    """Serialize ``value`` with the default converter (``None`` stays ``None``)."""
    return _DEFAULT.serialize(value)


def from_json(data: str | None, expected_type: type | None = None) -> Any:
    """Deserialize payload text with the default converter (empty or ``None`` gives ``None``)."""
    return _DEFAULT.deserialize(data, expected_type)
