"""Typed JSON is checked with line/column errors; filters and formatting behave."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from dtstudio.core.formatting import format_duration, format_timestamp, status_label
from dtstudio.core.instance_filter import InstanceFilter
from dtstudio.core.json_input import NO_INPUT, JsonInputError, parse_json_input


def test_json_values_and_empty_input() -> None:
    assert parse_json_input('{"a": [1, 2]}') == {"a": [1, 2]}
    assert parse_json_input('"text"') == "text"
    assert parse_json_input("null") is None
    assert parse_json_input("  \n ") is NO_INPUT


def test_bad_json_reports_line_and_column() -> None:
    with pytest.raises(JsonInputError) as info:
        parse_json_input('{\n  "a": 1,\n  "b": }')
    assert (info.value.line, info.value.column) == (3, 8)
    assert str(info.value).startswith("Line 3, column 8:")


def test_common_mistakes_are_named() -> None:
    with pytest.raises(JsonInputError, match="trailing comma") as info:
        parse_json_input('{\n  "a": 1,\n}')
    assert (info.value.line, info.value.column) == (2, 9)
    with pytest.raises(JsonInputError, match="double quotes"):
        parse_json_input("{'a': 1}")


def test_deeply_nested_json_is_an_error_not_a_crash() -> None:
    with pytest.raises(JsonInputError):
        parse_json_input("[" * 100_000 + "]" * 100_000)


def test_filter_presets_and_client_side_part() -> None:
    now = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)
    flt = InstanceFilter(time_preset="1h")
    assert flt.created_range(now) == (now - timedelta(hours=1), None)
    assert InstanceFilter().created_range(now) == (None, None)
    flt = InstanceFilter(name_contains="Order", hide_sub_orchestrations=True)
    assert flt.accepts(SimpleNamespace(name="process_order", parent_instance_id=None))
    assert not flt.accepts(SimpleNamespace(name="process_order", parent_instance_id="p"))
    assert not flt.accepts(SimpleNamespace(name="hello", parent_instance_id=None))
    bad = InstanceFilter(time_preset="custom", created_from=now, created_to=now - timedelta(1))
    with pytest.raises(ValueError, match="ends before"):
        bad.validate()
    assert "ID starts with" in InstanceFilter(id_prefix="abc").describe()


def test_formatting() -> None:
    assert format_duration(0.25) == "250 ms"
    assert format_duration(75) == "1 min 15 s"
    assert format_duration(timedelta(hours=3, minutes=2)) == "3 h 02 min"
    assert format_duration(None) == ""
    t = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert format_timestamp(t, utc=True) == "2026-01-02 03:04:05 UTC"
    assert format_timestamp(None) == ""
    assert status_label("ORCHESTRATION_STATUS_FAILED") == "Failed"
    assert status_label(SimpleNamespace(name="CONTINUED_AS_NEW")) == "Continued as new"
