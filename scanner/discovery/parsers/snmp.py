"""SNMPv2c messages (RFC 3416) in BER: build a GetRequest, parse a Response. Our own small codec.

Only definite lengths, single-byte tags and the universal/application types SNMP uses. The decoder
checks every length against the bytes present, bounds element count, integer and OID size, and returns
None for anything malformed instead of raising.
"""

from __future__ import annotations

from typing import NamedTuple

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
VERSION_2C = 1

INTEGER, OCTET_STRING, NULL, OID, SEQUENCE = 0x02, 0x04, 0x05, 0x06, 0x30
IP_ADDRESS, COUNTER32, GAUGE32, TIMETICKS, OPAQUE, COUNTER64 = 0x40, 0x41, 0x42, 0x43, 0x44, 0x46
NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW = 0x80, 0x81, 0x82
GET_REQUEST, GET_RESPONSE = 0xA0, 0xA2

MAX_MESSAGE = 65535
MAX_ITEMS = 64
MAX_OID_ARCS = 128
MAX_INT_BYTES = 9  # Counter64 plus a sign byte
EXCEPTIONS = {
    NO_SUCH_OBJECT: "noSuchObject",
    NO_SUCH_INSTANCE: "noSuchInstance",
    END_OF_MIB_VIEW: "endOfMibView",
}

Value = int | bytes | str | None  # str only for OIDs ("1.3.6…") and the v2 exception names


class VarBind(NamedTuple):
    oid: str
    tag: int
    value: Value


class Message(NamedTuple):
    version: int
    community: bytes
    pdu_type: int
    request_id: int
    error_status: int
    error_index: int
    varbinds: tuple[VarBind, ...]


# --- encoding ---------------------------------------------------------------------------------


def encode_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + encode_length(len(content)) + content


def encode_integer(value: int, tag: int = INTEGER) -> bytes:
    """Minimal two's-complement content (``tag`` may be an unsigned application type)."""
    size = max(1, (value + (value < 0)).bit_length() // 8 + 1)
    return tlv(tag, value.to_bytes(size, "big", signed=True))


def encode_oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.strip(".").split(".")]
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] >= 40) or any(a < 0 for a in arcs):
        raise ValueError(f"not an OID: {dotted!r}")
    out = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return tlv(OID, bytes(out))


def encode_value(tag: int, value: Value) -> bytes:
    if tag in (NULL, *EXCEPTIONS):
        return tlv(tag, b"")
    if tag == OID:
        return encode_oid(str(value))
    if tag in (OCTET_STRING, IP_ADDRESS, OPAQUE):
        return tlv(tag, value if isinstance(value, bytes) else str(value).encode())
    return encode_integer(int(value or 0), tag)


def encode_message(msg: Message) -> bytes:
    binds = b"".join(tlv(SEQUENCE, encode_oid(b.oid) + encode_value(b.tag, b.value)) for b in msg.varbinds)
    pdu = (
        encode_integer(msg.request_id)
        + encode_integer(msg.error_status)
        + encode_integer(msg.error_index)
        + tlv(SEQUENCE, binds)
    )
    head = encode_integer(msg.version) + tlv(OCTET_STRING, msg.community)
    return tlv(SEQUENCE, head + tlv(msg.pdu_type, pdu))


def build_get(community: bytes, request_id: int, oids: tuple[str, ...] = (SYS_DESCR, SYS_OBJECT_ID)) -> bytes:
    """An SNMPv2c GetRequest for ``oids``."""
    binds = tuple(VarBind(o, NULL, None) for o in oids)
    return encode_message(Message(VERSION_2C, community, GET_REQUEST, request_id, 0, 0, binds))


# --- decoding ---------------------------------------------------------------------------------


class _Malformed(Exception):
    pass


def _read_tlv(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the element at ``pos``; raises _Malformed."""
    if pos + 2 > end:
        raise _Malformed("truncated header")
    tag, first = data[pos], data[pos + 1]
    if tag & 0x1F == 0x1F:
        raise _Malformed("multi-byte tag")
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > end:
            raise _Malformed("bad length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > end:
        raise _Malformed("length past end")
    return tag, pos, pos + length


def _expect(data: bytes, pos: int, end: int, tag: int) -> tuple[int, int]:
    got, start, stop = _read_tlv(data, pos, end)
    if got != tag:
        raise _Malformed(f"expected tag {tag:#x}, got {got:#x}")
    return start, stop


def _int(content: bytes, *, signed: bool = True) -> int:
    if not content or len(content) > MAX_INT_BYTES:
        raise _Malformed("bad integer")
    return int.from_bytes(content, "big", signed=signed)


def decode_oid(content: bytes) -> str:
    if not content or content[-1] & 0x80:
        raise _Malformed("bad OID")
    arcs: list[int] = []
    arc = 0
    for byte in content:
        arc = (arc << 7) | (byte & 0x7F)
        if arc.bit_length() > 64:
            raise _Malformed("OID arc too large")
        if not byte & 0x80:
            arcs.append(arc)
            arc = 0
            if len(arcs) > MAX_OID_ARCS:
                raise _Malformed("OID too long")
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(a) for a in head + arcs[1:])


def _value(tag: int, content: bytes) -> Value:
    if tag in (OCTET_STRING, OPAQUE):
        return content
    if tag == INTEGER:
        return _int(content)
    if tag in (COUNTER32, GAUGE32, TIMETICKS, COUNTER64):
        return _int(content, signed=False)
    if tag == OID:
        return decode_oid(content)
    if tag == IP_ADDRESS:
        if len(content) != 4:
            raise _Malformed("bad IpAddress")
        return ".".join(str(b) for b in content)
    if tag == NULL:
        return None
    if tag in EXCEPTIONS:
        return EXCEPTIONS[tag]
    raise _Malformed(f"unknown value tag {tag:#x}")


def parse_message(data: bytes) -> Message | None:
    """Decode an SNMPv1/v2c message (any PDU type); None if malformed or oversized."""
    if not data or len(data) > MAX_MESSAGE:
        return None
    try:
        start, end = _expect(data, 0, len(data), SEQUENCE)
        v0, v1 = _expect(data, start, end, INTEGER)
        c0, c1 = _expect(data, v1, end, OCTET_STRING)
        pdu_type, p0, p1 = _read_tlv(data, c1, end)
        if pdu_type & 0xE0 != 0xA0:
            raise _Malformed("not a PDU")
        r0, r1 = _expect(data, p0, p1, INTEGER)
        s0, s1 = _expect(data, r1, p1, INTEGER)
        i0, i1 = _expect(data, s1, p1, INTEGER)
        b0, b1 = _expect(data, i1, p1, SEQUENCE)
        binds: list[VarBind] = []
        pos = b0
        while pos < b1:
            if len(binds) >= MAX_ITEMS:
                raise _Malformed("too many varbinds")
            e0, e1 = _expect(data, pos, b1, SEQUENCE)
            o0, o1 = _expect(data, e0, e1, OID)
            tag, x0, x1 = _read_tlv(data, o1, e1)
            binds.append(VarBind(decode_oid(data[o0:o1]), tag, _value(tag, data[x0:x1])))
            pos = e1
        return Message(
            _int(data[v0:v1]),
            data[c0:c1],
            pdu_type,
            _int(data[r0:r1]),
            _int(data[s0:s1]),
            _int(data[i0:i1]),
            tuple(binds),
        )
    except (_Malformed, IndexError, ValueError):
        return None


def text_value(value: Value) -> str | None:
    """A varbind value as display text (OCTET STRING decoded, trailing NULs dropped); None for exceptions."""
    if value is None or (isinstance(value, str) and value in EXCEPTIONS.values()):
        return None
    if isinstance(value, bytes):
        return value.rstrip(b"\0").decode("utf-8", "replace")
    return str(value)
