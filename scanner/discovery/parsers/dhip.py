"""Dahua DHIP discovery over UDP 37810 (docs/PROTOCOLS.md#dhip): build the search, parse notifyDevInfo replies.

Every message is a 32-byte header of uint32 little-endian words ``0x20, "DHIP", session, id, json_len,
0, json_len, 0`` followed by ``json_len`` bytes of JSON (replies end it with a NUL). A reply's
``params.deviceInfo`` is flattened to ``{"DeviceType": …, "IPv4Address.IPAddress": …}``.
"""

from __future__ import annotations

import json
import struct
from typing import Any, NamedTuple

PORT = 37810
GROUP = "239.255.255.251"
MAGIC = b"DHIP"
HEADER = struct.Struct("<I4sIIIIII")  # header size, magic, session, id, json_len, 0, json_len, 0
MAX_BODY = 64 * 1024  # bytes of JSON accepted; a real reply is under 1 KiB
MAX_FIELDS = 256
MAX_DEPTH = 4  # nesting flattened into dotted keys; deeper values are kept as JSON text
MAX_FIELD_LEN = 1024
SEARCH_METHOD = "DHDiscover.search"
REPLY_METHOD = "client.notifyDevInfo"


class DhipReply(NamedTuple):
    mac: str  # the top-level "mac" as sent ("" if absent)
    info: dict[str, str]  # flattened deviceInfo, in reply order


def build_header(json_len: int, request_id: int = 0, session: int = 0) -> bytes:
    """The 32-byte DHIP header for a body of ``json_len`` bytes."""
    return HEADER.pack(HEADER.size, MAGIC, session, request_id, json_len, 0, json_len, 0)


def build_search(request_id: int = 0) -> bytes:
    """The ``DHDiscover.search`` datagram (header + compact JSON)."""
    body = _dumps({"method": SEARCH_METHOD, "params": {"mac": "", "uni": 1}}).encode()
    return build_header(len(body), request_id) + body


def build_reply(mac: str, device_info: dict[str, Any], request_id: int = 0) -> bytes:
    """A ``client.notifyDevInfo`` datagram: header, JSON, NUL (``json_len`` counts the NUL)."""
    message = {"mac": mac, "method": REPLY_METHOD, "params": {"deviceInfo": device_info}}
    body = _dumps(message).encode() + b"\0"
    return build_header(len(body), request_id) + body


def parse_reply(data: bytes) -> DhipReply | None:
    """The MAC and flattened deviceInfo of a notifyDevInfo reply; None for anything else."""
    msg = _parse_message(data)
    if msg is None or msg.get("method") != REPLY_METHOD:
        return None
    params = msg.get("params")
    info = params.get("deviceInfo") if isinstance(params, dict) else None
    if not isinstance(info, dict):
        return None
    mac = msg.get("mac")
    fields: dict[str, str] = {}
    _flatten(info, "", fields, 1)
    return DhipReply(mac[:MAX_FIELD_LEN] if isinstance(mac, str) else "", fields)


def is_search(data: bytes) -> bool:
    """True if ``data`` is a well-formed ``DHDiscover.search`` request (what a device answers)."""
    msg = _parse_message(data)
    return msg is not None and msg.get("method") == SEARCH_METHOD


def _parse_message(data: bytes) -> dict[str, Any] | None:
    """Header checks, then the JSON object of the body; None on any mismatch."""
    if not isinstance(data, bytes | bytearray) or len(data) < HEADER.size:
        return None
    size, magic, _session, _id, json_len, *_rest = HEADER.unpack_from(data, 0)
    if size != HEADER.size or magic != MAGIC or json_len > MAX_BODY or json_len > len(data) - HEADER.size:
        return None
    body = bytes(data[HEADER.size : HEADER.size + json_len]).split(b"\0", 1)[0]
    try:
        msg = json.loads(body.decode("utf-8", "replace"))
    except (ValueError, RecursionError):  # bad JSON, absurd integers, nesting past the recursion limit
        return None
    return msg if isinstance(msg, dict) else None


def _flatten(obj: dict[str, Any], prefix: str, out: dict[str, str], depth: int) -> None:
    for key, value in obj.items():
        if len(out) >= MAX_FIELDS:
            return
        name = f"{prefix}{key}"[:MAX_FIELD_LEN]
        if isinstance(value, dict) and depth < MAX_DEPTH:
            _flatten(value, name + ".", out, depth + 1)
        elif name not in out:
            out[name] = _text(value)


def _text(value: Any) -> str:
    """A field as text: strings as they are, everything else as compact JSON (true, 80, null, [...])."""
    if isinstance(value, str):
        return value[:MAX_FIELD_LEN]
    try:
        return _dumps(value)[:MAX_FIELD_LEN]
    except (ValueError, RecursionError):
        return ""


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
