"""HPACK (RFC 7541) for the emulator's own HTTP/2 transport: a decoder with its dynamic table, and the
few literal encodings the server's responses need.

Huffman-coded strings are not decoded: grpcio's C core (every Python client, ours and the published
SDK's) never sends them, and :class:`HuffmanCoded` lets the transport refuse a call that uses them with
a clear message instead of misreading it.
"""

from __future__ import annotations

__all__ = ["STATIC_TABLE", "Decoder", "HpackError", "HuffmanCoded", "encode_int", "literal"]

#: RFC 7541, appendix A: the static table, entries 1 to 61.
STATIC_TABLE: tuple[tuple[str, str], ...] = (
    (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"), (":path", "/index.html"),
    (":scheme", "http"), (":scheme", "https"), (":status", "200"), (":status", "204"), (":status", "206"),
    (":status", "304"), (":status", "400"), (":status", "404"), (":status", "500"), ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"), ("accept-language", ""), ("accept-ranges", ""), ("accept", ""),
    ("access-control-allow-origin", ""), ("age", ""), ("allow", ""), ("authorization", ""),
    ("cache-control", ""), ("content-disposition", ""), ("content-encoding", ""), ("content-language", ""),
    ("content-length", ""), ("content-location", ""), ("content-range", ""), ("content-type", ""),
    ("cookie", ""), ("date", ""), ("etag", ""), ("expect", ""), ("expires", ""), ("from", ""), ("host", ""),
    ("if-match", ""), ("if-modified-since", ""), ("if-none-match", ""), ("if-range", ""),
    ("if-unmodified-since", ""), ("last-modified", ""), ("link", ""), ("location", ""), ("max-forwards", ""),
    ("proxy-authenticate", ""), ("proxy-authorization", ""), ("range", ""), ("referer", ""), ("refresh", ""),
    ("retry-after", ""), ("server", ""), ("set-cookie", ""), ("strict-transport-security", ""),
    ("transfer-encoding", ""), ("user-agent", ""), ("vary", ""), ("via", ""), ("www-authenticate", ""),
)
_ENTRY_OVERHEAD = 32


class HpackError(ValueError):
    """A header block that does not decode (a connection error: the peer's and our tables now differ)."""


class HuffmanCoded(HpackError):
    """A header string used the Huffman code, which this decoder does not read."""


class Decoder:
    """Decodes header blocks of one connection, keeping its dynamic table."""

    def __init__(self, max_table_size: int = 4096) -> None:
        self._limit = max_table_size  # what we advertised (SETTINGS_HEADER_TABLE_SIZE)
        self._max = max_table_size
        self._size = 0
        self._table: list[tuple[str, str]] = []  # newest first

    def decode(self, block: bytes) -> list[tuple[str, str]]:
        """The (name, value) pairs of one complete header block, in order."""
        headers: list[tuple[str, str]] = []
        pos, end = 0, len(block)
        try:
            while pos < end:
                byte = block[pos]
                if byte & 0x80:  # indexed field
                    index, pos = _int(block, pos, 7)
                    headers.append(self._entry(index))
                elif byte & 0xE0 == 0x20:  # dynamic table size update
                    size, pos = _int(block, pos, 5)
                    if size > self._limit:
                        raise HpackError(f"table size update to {size} exceeds the advertised {self._limit}")
                    self._max = size
                    self._evict()
                else:
                    indexing = byte & 0xC0 == 0x40
                    index, pos = _int(block, pos, 6 if indexing else 4)
                    if index:
                        name = self._entry(index)[0]
                    else:
                        name, pos = _string(block, pos)
                    value, pos = _string(block, pos)
                    headers.append((name, value))
                    if indexing:
                        self._add(name, value)
        except IndexError:
            raise HpackError("truncated header block") from None
        return headers

    def _entry(self, index: int) -> tuple[str, str]:
        if 0 < index <= len(STATIC_TABLE):
            return STATIC_TABLE[index - 1]
        dynamic = index - len(STATIC_TABLE) - 1
        if index == 0 or dynamic >= len(self._table):
            raise HpackError(f"header index {index} is not in the table")
        return self._table[dynamic]

    def _add(self, name: str, value: str) -> None:
        self._table.insert(0, (name, value))
        self._size += len(name) + len(value) + _ENTRY_OVERHEAD
        self._evict()

    def _evict(self) -> None:
        while self._size > self._max and self._table:
            name, value = self._table.pop()
            self._size -= len(name) + len(value) + _ENTRY_OVERHEAD


def _int(data: bytes, pos: int, bits: int) -> tuple[int, int]:
    mask = (1 << bits) - 1
    value = data[pos] & mask
    pos += 1
    if value < mask:
        return value, pos
    shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value += (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 28:
            raise HpackError("integer too large")


def _string(data: bytes, pos: int) -> tuple[str, int]:
    huffman = data[pos] & 0x80
    length, pos = _int(data, pos, 7)
    if pos + length > len(data):
        raise HpackError("truncated string")
    if huffman:
        raise HuffmanCoded("Huffman-coded header strings are not supported")
    # Latin-1 maps every byte to one character, so nothing is lost; callers re-encode as they need.
    return data[pos:pos + length].decode("latin-1"), pos + length


def encode_int(value: int, bits: int, first: int = 0) -> bytes:
    """``value`` with a ``bits``-bit prefix, OR-ed into ``first`` (RFC 7541, 5.1)."""
    mask = (1 << bits) - 1
    if value < mask:
        return bytes([first | value])
    out = bytearray([first | mask])
    value -= mask
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def literal(name: str, value: str | bytes, name_index: int = 0) -> bytes:
    """A field "without indexing" (no table change), plain strings; ``name_index`` names a static entry."""
    raw = value if isinstance(value, bytes) else value.encode("utf-8")
    if name_index:
        head = encode_int(name_index, 4)
    else:
        raw_name = name.encode("ascii")
        head = b"\x00" + encode_int(len(raw_name), 7) + raw_name
    return head + encode_int(len(raw), 7) + raw
