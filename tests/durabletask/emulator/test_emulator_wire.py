"""The engine's hand-rolled protobuf framing (state.varint/field_header/field_bytes) matches protobuf's."""

from __future__ import annotations

from google.protobuf import wrappers_pb2
from hypothesis import given
from hypothesis import strategies as st

from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask.emulator import runtime as rt
from durabletask.emulator.state import Inst, field_bytes, field_header, varint
from durabletask.emulator.store import InstanceRow


@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_varint_matches_protobuf(n: int) -> None:
    # UInt64Value.value = 1 is a varint field: key byte 0x08, then the varint itself (0 is not written).
    expected = wrappers_pb2.UInt64Value(value=n).SerializeToString()
    assert (b"\x08" + varint(n) if n else b"") == expected
    assert varint(0) == b"\x00"


@given(st.binary(max_size=70_000))
def test_field_bytes_matches_protobuf(payload: bytes) -> None:
    # BytesValue.value = 1 is length-delimited: key byte 0x0A.
    expected = wrappers_pb2.BytesValue(value=payload).SerializeToString()
    if payload:
        assert field_bytes(0x0A, payload) == expected
        assert field_header(0x0A, len(payload)) + payload == expected


def _row() -> InstanceRow:
    return InstanceRow("hub", "i1", "e1", "orch", None, rt.RUNNING, 1, 1)


def test_history_blob_is_the_wire_form_of_past_events() -> None:
    """Inst.blob (set, then appended to) parses as OrchestratorRequest.pastEvents, in order."""
    events = [rt.event(1_700_000_000_000_000 + i, i, taskScheduled=pb.TaskScheduledEvent(name="a" * (i * 40)))
              for i in range(6)]
    data = [e.SerializeToString() for e in events]
    assert any(len(d) >= 0x80 for d in data)  # both one- and two-byte lengths are covered
    inst = Inst(_row())
    inst.set_history(data[:2])
    inst.add_history(data[2:])
    parsed = pb.OrchestratorRequest.FromString(bytes(inst.blob))
    assert list(parsed.pastEvents) == events
    assert inst.history == data


def test_event_sets_the_timestamp_exactly() -> None:
    us = 1_700_000_123_456_789
    e = rt.event(us, 7, orchestratorStarted=pb.OrchestratorStartedEvent())
    assert (e.eventId, e.timestamp.seconds, e.timestamp.nanos) == (7, 1_700_000_123, 456_789_000)
    assert e.WhichOneof("eventType") == "orchestratorStarted"
