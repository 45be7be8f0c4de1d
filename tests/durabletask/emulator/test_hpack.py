"""The emulator's HPACK decoder (RFC 7541) on hand-built header blocks: static and dynamic indexes,
incremental indexing, eviction, table size updates, prefix integers, and the errors it must raise."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from durabletask.emulator import hpack
from durabletask.emulator.hpack import Decoder, HpackError, HuffmanCoded, encode_int, literal

_STATIC = len(hpack.STATIC_TABLE)  # 61


def _string(text: str) -> bytes:
    raw = text.encode("latin-1")
    return encode_int(len(raw), 7) + raw


def _indexed_literal(name: str, value: str) -> bytes:
    """A literal field with incremental indexing and a literal name (RFC 7541, 6.2.1, 0x40)."""
    return b"\x40" + _string(name) + _string(value)


def _size_update(size: int) -> bytes:
    return encode_int(size, 5, 0x20)


def _entry_size(name: str, value: str) -> int:
    return len(name) + len(value) + 32


# ------------------------------------------------------------------------------------ static table
def test_indexed_static_entries() -> None:
    d = Decoder()
    assert d.decode(b"\x82") == [(":method", "GET")]
    assert d.decode(b"\x83\x86\x84") == [(":method", "POST"), (":scheme", "http"), (":path", "/")]
    assert d.decode(encode_int(_STATIC, 7, 0x80)) == [("www-authenticate", "")]


def test_static_table_is_rfc_7541_appendix_a() -> None:
    assert len(hpack.STATIC_TABLE) == 61
    assert hpack.STATIC_TABLE[0] == (":authority", "")
    assert hpack.STATIC_TABLE[7] == (":status", "200")
    assert hpack.STATIC_TABLE[30] == ("content-type", "")
    assert hpack.STATIC_TABLE[57] == ("user-agent", "")


def test_literal_with_a_static_name_index() -> None:
    d = Decoder()
    # without indexing (0000xxxx), never indexed (0001xxxx) and with indexing (01xxxxxx), name :path (4)
    assert d.decode(b"\x04" + _string("/a")) == [(":path", "/a")]
    assert d.decode(b"\x14" + _string("/b")) == [(":path", "/b")]
    assert d.decode(b"\x44" + _string("/c")) == [(":path", "/c")]
    # only the last one entered the dynamic table
    assert d.decode(b"\xbe") == [(":path", "/c")]
    with pytest.raises(HpackError):
        d.decode(b"\xbf")


def test_literal_helper_decodes_without_changing_the_table() -> None:
    d = Decoder()
    block = literal("grpc-status", "0") + literal("content-type", "application/grpc", name_index=31)
    assert d.decode(block) == [("grpc-status", "0"), ("content-type", "application/grpc")]
    with pytest.raises(HpackError):
        d.decode(b"\xbe")  # nothing was indexed


# ----------------------------------------------------------------------------------- dynamic table
def test_incremental_indexing_adds_to_the_dynamic_table() -> None:
    d = Decoder()
    assert d.decode(_indexed_literal("x-one", "1")) == [("x-one", "1")]
    assert d.decode(b"\xbe") == [("x-one", "1")]  # index 62: the newest dynamic entry
    d.decode(_indexed_literal("x-two", "2"))
    assert d.decode(b"\xbe\xbf") == [("x-two", "2"), ("x-one", "1")]  # newest first
    # an indexed name from the dynamic table (index 63 = x-one), with a new value
    assert d.decode(encode_int(63, 4) + _string("one again")) == [("x-one", "one again")]


def test_rfc_7541_c3_requests_share_one_dynamic_table() -> None:
    d = Decoder()
    first = bytes.fromhex("828684410f7777772e6578616d706c652e636f6d")
    assert d.decode(first) == [(":method", "GET"), (":scheme", "http"), (":path", "/"),
                               (":authority", "www.example.com")]
    second = bytes.fromhex("828684be58086e6f2d6361636865")
    assert d.decode(second) == [(":method", "GET"), (":scheme", "http"), (":path", "/"),
                                (":authority", "www.example.com"), ("cache-control", "no-cache")]
    third = bytes.fromhex("828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565")
    assert d.decode(third) == [(":method", "GET"), (":scheme", "https"), (":path", "/index.html"),
                               (":authority", "www.example.com"), ("custom-key", "custom-value")]
    assert d.decode(b"\xbe\xbf\xc0") == [("custom-key", "custom-value"), ("cache-control", "no-cache"),
                                         (":authority", "www.example.com")]
    with pytest.raises(HpackError):
        d.decode(b"\xc1")


def test_adding_past_the_table_size_evicts_the_oldest_entries() -> None:
    a, b, c = ("x-a", "A" * 20), ("x-b", "B" * 20), ("x-c", "C" * 20)
    d = Decoder(max_table_size=2 * _entry_size(*a))  # room for exactly two entries of this size
    d.decode(_indexed_literal(*a) + _indexed_literal(*b))
    assert d.decode(b"\xbe\xbf") == [b, a]
    d.decode(_indexed_literal(*c))
    assert d.decode(b"\xbe\xbf") == [c, b]
    with pytest.raises(HpackError):
        d.decode(b"\xc0")  # a was evicted


def test_an_entry_larger_than_the_table_empties_it() -> None:
    d = Decoder(max_table_size=100)
    d.decode(_indexed_literal("x-small", "s"))
    # RFC 7541, 4.4: an entry larger than the table empties it and is not added; the field still decodes
    assert d.decode(_indexed_literal("x-big", "b" * 100)) == [("x-big", "b" * 100)]
    with pytest.raises(HpackError):
        d.decode(b"\xbe")


def test_size_update_shrinking_the_table_evicts() -> None:
    a, b = ("x-a", "aaaa"), ("x-b", "bbbb")
    d = Decoder()
    d.decode(_indexed_literal(*a) + _indexed_literal(*b))
    assert d.decode(b"\xbe\xbf") == [b, a]
    # shrink to one entry's size: the oldest (a) goes, b stays
    assert d.decode(_size_update(_entry_size(*b))) == []
    assert d.decode(b"\xbe") == [b]
    with pytest.raises(HpackError):
        d.decode(b"\xbf")
    # the new size holds: a further entry evicts b
    d.decode(_indexed_literal("x-c", "cccc"))
    assert d.decode(b"\xbe") == [("x-c", "cccc")]
    with pytest.raises(HpackError):
        d.decode(b"\xbf")
    # size 0 empties the table; growing back (up to the advertised limit) allows entries again
    d.decode(_size_update(0))
    with pytest.raises(HpackError):
        d.decode(b"\xbe")
    d.decode(_size_update(4096) + _indexed_literal(*a))
    assert d.decode(b"\xbe") == [a]


def test_size_update_at_the_start_of_a_block_followed_by_fields() -> None:
    d = Decoder()
    d.decode(_indexed_literal("x-a", "a"))
    assert d.decode(_size_update(0) + _size_update(4096) + b"\x82") == [(":method", "GET")]
    with pytest.raises(HpackError):
        d.decode(b"\xbe")


@pytest.mark.parametrize("limit", [0, 100, 4096])
def test_size_update_above_the_advertised_limit_is_an_error(limit: int) -> None:
    d = Decoder(max_table_size=limit)
    d.decode(_size_update(limit))  # at the limit: allowed
    with pytest.raises(HpackError, match="exceeds"):
        d.decode(_size_update(limit + 1))


def test_size_update_below_the_limit_does_not_raise_the_limit() -> None:
    d = Decoder(max_table_size=4096)
    d.decode(_size_update(100))
    d.decode(_size_update(4096))  # back up to the advertised size is fine
    with pytest.raises(HpackError):
        d.decode(_size_update(4097))


# -------------------------------------------------------------------------------- prefix integers
def test_encode_int_matches_rfc_7541_c1() -> None:
    assert encode_int(10, 5) == b"\x0a"
    assert encode_int(1337, 5) == b"\x1f\x9a\x0a"
    assert encode_int(42, 8) == b"\x2a"
    assert encode_int(31, 5) == b"\x1f\x00"  # exactly the prefix: one zero continuation byte
    assert encode_int(30, 5, 0x20) == b"\x3e"
    assert encode_int(127, 7, 0x80) == b"\xff\x00"


def test_a_200_byte_value_uses_a_multi_byte_length() -> None:
    value = "v" * 200
    block = b"\x00" + _string("x-long") + _string(value)
    assert block[8:10] == b"\x7f\x49"  # 127 + 73: the 7-bit prefix overflows into a second byte
    assert Decoder().decode(block) == [("x-long", value)]
    assert Decoder().decode(literal("x-long", value)) == [("x-long", value)]


def test_a_multi_byte_name_index() -> None:
    # user-agent (58) does not fit a 4-bit prefix
    block = literal("user-agent", "grpc-python", name_index=58)
    assert block[:2] == b"\x0f\x2b"
    assert Decoder().decode(block) == [("user-agent", "grpc-python")]


def test_a_multi_byte_indexed_field() -> None:
    d = _decoder_with(100)
    # index 130 needs two bytes with a 7-bit prefix: 0xff, 3
    assert encode_int(130, 7, 0x80) == b"\xff\x03"
    assert d.decode(b"\xff\x03") == [_expected(130, 100)]


def test_an_overlong_integer_is_an_error() -> None:
    with pytest.raises(HpackError):
        Decoder().decode(b"\xff" + b"\xff" * 6 + b"\x01")
    # a small value (a size update to 31) padded with empty continuation bytes past the decoder's limit
    # (RFC 7541, 5.1: encodings that exceed the implementation's limits, in value or length, are errors)
    with pytest.raises(HpackError):
        Decoder().decode(b"\x3f" + b"\x80" * 5 + b"\x00")


def _decoder_with(count: int) -> Decoder:
    d = Decoder(max_table_size=65536)
    d.decode(b"".join(_indexed_literal(f"n{i}", f"v{i}") for i in range(count)))
    return d


def _expected(index: int, count: int) -> tuple[str, str]:
    if index <= _STATIC:
        return hpack.STATIC_TABLE[index - 1]
    added = count - 1 - (index - _STATIC - 1)  # index 62 is the last one added
    return f"n{added}", f"v{added}"


_DYNAMIC = 300


@pytest.mark.parametrize("bits,first", [(7, 0x80), (6, 0x40), (4, 0x00), (4, 0x10)])
@pytest.mark.parametrize("delta", [-2, -1, 0, 1, 2, 127, 128, 129])
def test_encode_int_round_trips_at_prefix_boundaries(bits: int, first: int, delta: int) -> None:
    index = (1 << bits) - 1 + delta
    assert 1 <= index <= _STATIC + _DYNAMIC
    _check_index(index, bits, first)


@given(st.integers(min_value=1, max_value=_STATIC + _DYNAMIC), st.sampled_from([(7, 0x80), (6, 0x40), (4, 0x00)]))
def test_encode_int_round_trips_any_index(index: int, form: tuple[int, int]) -> None:
    _check_index(index, *form)


def _check_index(index: int, bits: int, first: int) -> None:
    d = _decoder_with(_DYNAMIC)
    encoded = encode_int(index, bits, first)
    assert (len(encoded) == 1) == (index < (1 << bits) - 1)
    name, value = _expected(index, _DYNAMIC)
    if bits == 7:  # an indexed field
        assert d.decode(encoded) == [(name, value)]
    else:  # a literal naming the entry by index
        assert d.decode(encoded + _string("z")) == [(name, "z")]


@given(st.integers(min_value=0, max_value=70_000))
def test_encode_int_round_trips_string_lengths(length: int) -> None:
    value = "q" * length
    assert Decoder().decode(b"\x00" + _string("x") + encode_int(length, 7) + value.encode()) == [("x", value)]


@pytest.mark.parametrize("size", [0, 29, 30, 31, 32, 33, 158, 159, 160, 4095, 4096])
def test_encode_int_round_trips_size_updates(size: int) -> None:
    # observable through eviction: an entry of exactly `size` bytes survives an update to `size`, not to `size - 1`
    name = "x"
    value = "e" * max(0, size - 32 - len(name))
    d = Decoder()
    d.decode(_indexed_literal(name, value))
    if size >= _entry_size(name, value):
        d.decode(_size_update(size))
        assert d.decode(b"\xbe") == [(name, value)]
        if size:
            d.decode(_size_update(size - 1))
    else:
        d.decode(_size_update(size))
    with pytest.raises(HpackError):
        d.decode(b"\xbe")


# ------------------------------------------------------------------------------------------ errors
def test_a_huffman_coded_value_raises_huffman_coded() -> None:
    block = b"\x00" + _string("x-h") + b"\x83" + b"\x00\x00\x00"  # H bit set, length 3
    with pytest.raises(HuffmanCoded):
        Decoder().decode(block)
    assert issubclass(HuffmanCoded, HpackError)


def test_a_huffman_coded_name_raises_huffman_coded() -> None:
    with pytest.raises(HuffmanCoded):
        Decoder().decode(b"\x40\x82\x00\x00" + _string("v"))


def test_rfc_7541_c4_huffman_request_raises_huffman_coded() -> None:
    # C.4.1: the first fields decode from the static table, then :authority's Huffman value is refused
    with pytest.raises(HuffmanCoded):
        Decoder().decode(bytes.fromhex("828684418cf1e3c2e5f23a6ba0ab90f4ff"))


@pytest.mark.parametrize("block", [
    pytest.param(b"\x40", id="literal-without-name"),
    pytest.param(b"\x00", id="literal-without-name-length"),
    pytest.param(b"\x00\x05ab", id="name-shorter-than-its-length"),
    pytest.param(b"\x00\x01a", id="missing-value"),
    pytest.param(b"\x00\x01a\x05abc", id="value-shorter-than-its-length"),
    pytest.param(b"\x04", id="indexed-name-missing-value"),
    pytest.param(b"\xff", id="integer-missing-continuation"),
    pytest.param(b"\xff\x80", id="integer-continuation-truncated"),
    pytest.param(b"\x00\x7f", id="string-length-truncated"),
    pytest.param(b"\x3f", id="size-update-truncated"),
    pytest.param(b"\x82\x00\x7f\xff", id="truncated-after-a-good-field"),
])
def test_truncated_blocks_raise_hpack_error(block: bytes) -> None:
    with pytest.raises(HpackError):
        Decoder().decode(block)


@pytest.mark.parametrize("block", [
    pytest.param(b"\x80", id="indexed-zero"),
    pytest.param(b"\xbe", id="indexed-62-empty-table"),
    pytest.param(b"\xff\xff\x7f", id="indexed-huge"),
    pytest.param(b"\x0f\x2f" + b"\x01v", id="literal-name-index-62"),
    pytest.param(b"\x7f\x00" + b"\x01v", id="indexing-literal-name-index-63"),
])
def test_out_of_range_indexes_raise_hpack_error(block: bytes) -> None:
    d = Decoder()
    with pytest.raises(HpackError):
        d.decode(block)


def test_out_of_range_just_past_the_dynamic_table() -> None:
    d = _decoder_with(3)
    assert d.decode(encode_int(_STATIC + 3, 7, 0x80)) == [("n0", "v0")]
    with pytest.raises(HpackError):
        d.decode(encode_int(_STATIC + 4, 7, 0x80))
    with pytest.raises(HpackError):
        d.decode(encode_int(_STATIC + 4, 4) + _string("v"))


def test_an_empty_block_decodes_to_nothing() -> None:
    assert Decoder().decode(b"") == []
