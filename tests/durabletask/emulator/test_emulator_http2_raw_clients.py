"""The h2 transport and clients that speak HTTP/2 differently from grpcio's C core, over a raw socket.

Clients it does not serve itself (no 0xFE03 setting, another user-agent, Huffman-coded headers, or
waiting for the server's SETTINGS first) are passed to its grpc.aio fallback byte for byte and get a
real answer from the emulator there, a path the C-core clients of the other tests never take. Legal
but unusual frames on a native connection keep the HPACK tables of both sides in step.
"""

from __future__ import annotations

import struct
import time

import grpc
import pytest
from raw_http2 import (
    ACK,
    DATA,
    END_HEADERS,
    END_STREAM,
    GOAWAY,
    GRPC_CORE_SETTING,
    HEADERS,
    PREFACE,
    SETTINGS,
    RawClient,
    frame,
    message,
)

from durabletask._proto import orchestrator_service_pb2 as pb
from durabletask.emulator import EmulatorServer, hpack

# "test" in HPACK's Huffman code (t=01001 e=00101 s=01000 t=01001, padded with ones).
HUFFMAN_TEST = bytes([0x80 | 3, 0x49, 0x50, 0x9F])


def request_headers(user_agent: str, *, huffman_header: bool = False) -> bytes:
    block = (b"\x83"  # :method POST
             + b"\x86"  # :scheme http
             + hpack.literal(":path", "/TaskHubSidecarService/GetInstance", name_index=4)
             + hpack.literal(":authority", "localhost", name_index=1)
             + hpack.literal("content-type", "application/grpc", name_index=15 + 16)
             + hpack.literal("te", "trailers")
             + hpack.literal("user-agent", user_agent, name_index=58))
    if huffman_header:
        block += b"\x00" + hpack.encode_int(len(b"x-probe"), 7) + b"x-probe" + HUFFMAN_TEST
    return block


def get_instance_request(instance_id: str) -> bytes:
    return message(pb.GetInstanceRequest(instanceId=instance_id).SerializeToString())


@pytest.fixture
def h2_server():
    server = EmulatorServer(db_path=None, port=0, transport="h2")
    server.start()
    try:
        with grpc.insecure_channel(server.address) as channel:
            stub_call = channel.unary_unary("/TaskHubSidecarService/StartInstance",
                                            request_serializer=pb.CreateInstanceRequest.SerializeToString,
                                            response_deserializer=pb.CreateInstanceResponse.FromString)
            stub_call(pb.CreateInstanceRequest(instanceId="known", name="orch"), timeout=10)
        yield server
    finally:
        server.stop(0)


def served_by_grpc_core(client: RawClient) -> bool:
    """True if the answering server announced grpcio's C-core setting 0xFE03 (the fallback does; the
    native transport does not)."""
    return any(payload[i:i + 2] == b"\xfe\x03" for payload in client.server_settings
               for i in range(0, len(payload), 6))


def one_call(port: int, user_agent: str, *, huffman_header: bool = False, wait_first: bool = False,
             instance_id: str = "known") -> tuple[dict[str, str], bytes, bool]:
    client = RawClient(port)
    try:
        client.send(PREFACE + frame(SETTINGS, 0, 0))
        if wait_first:  # like a client that waits for the server's SETTINGS before its first call
            kind, flags, _, _ = client.frames(time.monotonic() + 5)
            assert kind == SETTINGS and not flags & ACK
            client.send(frame(SETTINGS, ACK, 0))
        client.send(frame(HEADERS, END_HEADERS, 1, request_headers(user_agent, huffman_header=huffman_header))
                    + frame(DATA, END_STREAM, 1, get_instance_request(instance_id)))
        headers, data = client.answer(1)
        return headers, data, served_by_grpc_core(client)
    finally:
        client.close()


def parse_state(data: bytes) -> pb.GetInstanceResponse:
    assert len(data) >= 5 and data[0] == 0
    return pb.GetInstanceResponse.FromString(data[5:5 + int.from_bytes(data[1:5], "big")])


@pytest.mark.parametrize("case", ["other user-agent", "huffman-coded header", "waits for SETTINGS"])
def test_a_client_not_on_grpc_core_is_served_through_the_fallback(h2_server, case):
    headers, data, by_fallback = one_call(h2_server.port, "grpc-dotnet/2.60 (.NET 8)",
                                          huffman_header=case == "huffman-coded header",
                                          wait_first=case == "waits for SETTINGS")
    assert by_fallback
    assert headers.get("grpc-status") == "0", headers
    state = parse_state(data)
    assert state.exists and state.orchestrationState.instanceId == "known"
    assert state.orchestrationState.name == "orch"


def test_the_fallback_answers_errors_with_their_status(h2_server):
    headers, data, by_fallback = one_call(h2_server.port, "grpc-go/1.60", instance_id="")
    assert by_fallback
    assert headers.get("grpc-status") == str(grpc.StatusCode.INVALID_ARGUMENT.value[0]), headers
    assert data == b""


def test_a_grpc_core_user_agent_is_served_natively(h2_server):
    # Without the 0xFE03 setting the user-agent decides; a C-core agent is answered by the native path,
    # which (unlike grpc.aio's server) sends no SETTINGS other than its own first frame.
    headers, data, by_fallback = one_call(h2_server.port, "grpc-python/1.85 grpc-c/50.0.0 (linux; chttp2)")
    assert not by_fallback
    assert headers.get("grpc-status") == "0", headers
    assert parse_state(data).orchestrationState.instanceId == "known"


def test_a_huffman_header_after_a_native_start_is_refused_clearly(h2_server):
    client = RawClient(h2_server.port)
    try:
        client.send(PREFACE + frame(SETTINGS, 0, 0, GRPC_CORE_SETTING))
        client.send(frame(HEADERS, END_HEADERS, 1, request_headers("grpc-c/50", huffman_header=True))
                    + frame(DATA, END_STREAM, 1, get_instance_request("known")))
        headers, _ = client.answer(1)
    finally:
        client.close()
    assert headers.get("grpc-status") == str(grpc.StatusCode.UNIMPLEMENTED.value[0])
    assert "--transport grpc" in headers.get("grpc-message", "")


def test_headers_on_a_closed_stream_still_update_the_hpack_table(h2_server):
    """A header block on a finished stream is decoded all the same: the next call may refer to an entry
    it added to the dynamic table."""
    client = RawClient(h2_server.port)
    try:
        client.send(PREFACE + frame(SETTINGS, 0, 0, GRPC_CORE_SETTING))
        client.send(frame(HEADERS, END_HEADERS, 1, request_headers("grpc-c/50"))
                    + frame(DATA, END_STREAM, 1, get_instance_request("known")))
        headers, _ = client.answer(1)
        assert headers.get("grpc-status") == "0"
        # Late trailers on stream 1 add ("x-late", "1") to the table (literal with incremental indexing).
        late = b"\x40" + hpack.encode_int(6, 7) + b"x-late" + hpack.encode_int(1, 7) + b"1"
        client.send(frame(HEADERS, END_HEADERS | END_STREAM, 1, late))
        # The next call refers to that entry by its index (62: the newest dynamic entry).
        client.send(frame(HEADERS, END_HEADERS, 3, request_headers("grpc-c/50") + b"\xbe")
                    + frame(DATA, END_STREAM, 3, get_instance_request("known")))
        headers, data = client.answer(3)
    finally:
        client.close()
    assert headers.get("grpc-status") == "0", headers
    assert parse_state(data).orchestrationState.instanceId == "known"


def native_client(port: int) -> RawClient:
    client = RawClient(port)
    client.send(PREFACE + frame(SETTINGS, 0, 0, GRPC_CORE_SETTING))
    return client


def goaway_code(client: RawClient) -> int:
    deadline = time.monotonic() + 5
    while True:
        kind, _, _, payload = client.frames(deadline)
        if kind == GOAWAY:
            return int.from_bytes(payload[4:8], "big")


def test_a_new_call_below_the_last_stream_id_is_a_protocol_error(h2_server):
    client = native_client(h2_server.port)
    try:
        client.send(frame(HEADERS, END_HEADERS, 5, request_headers("grpc-c/50"))
                    + frame(DATA, END_STREAM, 5, get_instance_request("known")))
        assert client.answer(5)[0].get("grpc-status") == "0"
        client.send(frame(HEADERS, END_HEADERS, 3, request_headers("grpc-c/50"))
                    + frame(DATA, END_STREAM, 3, get_instance_request("known")))
        assert goaway_code(client) == 0x1  # PROTOCOL_ERROR, not a call left unanswered
    finally:
        client.close()


def test_a_frame_over_the_default_size_limit_is_a_frame_size_error(h2_server):
    client = native_client(h2_server.port)
    try:
        client.send(frame(DATA, 0, 1, b"x" * 16385))
        assert goaway_code(client) == 0x6  # FRAME_SIZE_ERROR
    finally:
        client.close()


def test_a_long_status_message_is_cut_to_fit_one_frame(h2_server):
    client = native_client(h2_server.port)
    try:
        block = (b"\x83\x86" + hpack.literal(":path", "/TaskHubSidecarService/" + "N" * 20000, name_index=4)
                 + hpack.literal("content-type", "application/grpc", name_index=31)
                 + hpack.literal("user-agent", "grpc-c/50", name_index=58))
        first, rest = block[:16000], block[16000:]
        client.send(frame(HEADERS, 0, 1, first) + frame(9, END_HEADERS, 1, rest)  # 9: CONTINUATION
                    + frame(DATA, END_STREAM, 1, get_instance_request("known")))
        headers, _ = client.answer(1)
    finally:
        client.close()
    assert headers.get("grpc-status") == str(grpc.StatusCode.UNIMPLEMENTED.value[0])
    assert headers["grpc-message"].endswith("...") and len(headers["grpc-message"]) <= 1000


@pytest.mark.parametrize(("increment", "code"), [(0, 0x1), (2**31 - 1, 0x3)])  # PROTOCOL / FLOW_CONTROL_ERROR
def test_a_bad_connection_window_update_is_a_connection_error(h2_server, increment, code):
    client = native_client(h2_server.port)
    try:
        client.send(frame(8, 0, 0, struct.pack(">I", increment)))  # 8: WINDOW_UPDATE
        assert goaway_code(client) == code
    finally:
        client.close()


def test_a_bad_stream_window_update_resets_only_that_stream(h2_server):
    client = native_client(h2_server.port)
    try:
        # Stream 1 is a parked wait (the instance never completes), so it is open when the update comes.
        wait = message(pb.GetInstanceRequest(instanceId="known").SerializeToString())
        block = (b"\x83\x86" + hpack.literal(":path", "/TaskHubSidecarService/WaitForInstanceCompletion",
                                              name_index=4)
                 + hpack.literal("content-type", "application/grpc", name_index=31)
                 + hpack.literal("user-agent", "grpc-c/50", name_index=58))
        client.send(frame(HEADERS, END_HEADERS, 1, block)
                    + frame(DATA, END_STREAM, 1, wait))
        time.sleep(0.2)
        client.send(frame(8, 0, 1, struct.pack(">I", 0)))
        deadline = time.monotonic() + 5
        while True:
            kind, _, sid, payload = client.frames(deadline)
            if kind == 3 and sid == 1:  # RST_STREAM
                assert int.from_bytes(payload, "big") == 0x1
                break
        client.send(frame(HEADERS, END_HEADERS, 3, request_headers("grpc-c/50"))
                    + frame(DATA, END_STREAM, 3, get_instance_request("known")))
        assert client.answer(3)[0].get("grpc-status") == "0"  # the connection goes on
    finally:
        client.close()
