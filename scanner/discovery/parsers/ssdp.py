"""SSDP over UDP 1900 (UPnP Device Architecture 1.1 §1.3, docs/PROTOCOLS.md#ssdp): M-SEARCH requests and replies.

Messages are HTTP-like: a start line, then ``Name: value`` lines. Header names are case-insensitive (kept
lower-cased, the first of duplicates wins), a header whose value holds a control character is dropped
(no CR/NUL smuggling), and the datagram, the number of headers and every value are bounded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from ipaddress import IPv4Address
from urllib.parse import urlsplit

PORT = 1900
GROUP = "239.255.255.250"
MAX_DATAGRAM = 8192  # bytes; a real reply is 250-500
MAX_HEADERS = 64
MAX_VALUE_LEN = 1024
_VERSIONS = ("HTTP/1.1", "HTTP/1.0")
_LINE_END = re.compile(rb"\r?\n")
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


@dataclass(frozen=True)
class SsdpMessage:
    """A start line and lower-cased headers."""

    start_line: str
    headers: dict[str, str]

    def get(self, name: str) -> str:
        return self.headers.get(name, "")


@dataclass(frozen=True)
class MSearch:
    """An M-SEARCH as a device receives it."""

    st: str
    mx: int | None  # None: absent or not a number
    host: str


def build_msearch(st: str, mx: int, host: str = GROUP) -> bytes:
    """An M-SEARCH for search target ``st``; ``host`` is the group or, for a unicast search, the device."""
    return (
        f'M-SEARCH * HTTP/1.1\r\nHOST: {host}:{PORT}\r\nMAN: "ssdp:discover"\r\nMX: {mx}\r\n'
        f"ST: {st}\r\nUSER-AGENT: Linux/1 UPnP/1.1 ndaa-scanner/0.1\r\n\r\n"
    ).encode()


def parse_message(data: bytes) -> SsdpMessage | None:
    """Any SSDP message (reply, NOTIFY or M-SEARCH); None for oversized or malformed input."""
    if not isinstance(data, bytes | bytearray) or len(data) > MAX_DATAGRAM:
        return None
    head = _HEAD_END.split(bytes(data), maxsplit=1)[0]
    lines = _LINE_END.split(head)
    start = lines[0].decode("latin-1").strip()
    is_start_line = start.startswith("HTTP/") or start.endswith(_VERSIONS)
    if not start or _CONTROL.search(start) or not is_start_line:
        return None
    headers: dict[str, str] = {}
    for raw in lines[1:]:
        if len(headers) >= MAX_HEADERS:
            break
        name, sep, value = raw.decode("utf-8", "replace").partition(":")
        name, value = name.strip().lower(), value.strip()
        if not sep or not _TOKEN.match(name) or _CONTROL.search(value):
            continue
        headers.setdefault(name, value[:MAX_VALUE_LEN])
    return SsdpMessage(start[:MAX_VALUE_LEN], headers)


def parse_response(data: bytes) -> SsdpMessage | None:
    """An M-SEARCH reply (``HTTP/1.1 200 OK`` with the headers); None for anything else."""
    msg = parse_message(data)
    if msg is None:
        return None
    parts = msg.start_line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or parts[1] != "200":
        return None
    return msg


def parse_msearch(data: bytes) -> MSearch | None:
    """An ``M-SEARCH * HTTP/1.1`` with MAN ``"ssdp:discover"`` and an ST; None for anything else."""
    msg = parse_message(data)
    if msg is None or msg.start_line.split() != ["M-SEARCH", "*", "HTTP/1.1"]:
        return None
    st, man = msg.get("st"), msg.get("man")
    if not st or man.strip('"') != "ssdp:discover":
        return None
    mx_text = msg.get("mx")
    mx = int(mx_text) if mx_text.isascii() and mx_text.isdigit() and len(mx_text) < 4 else None
    return MSearch(st, mx, msg.get("host"))


def fetchable_location(location: str, allowed_hosts: set[str]) -> str | None:
    """``location`` if it is an ``http://`` URL whose host is an IPv4 literal in ``allowed_hosts``, else None.

    A reply may point anywhere; the scanner fetches only from the host that answered or a scan target.
    """
    try:
        url = urlsplit(location)
        host, port = url.hostname, url.port
    except ValueError:
        return None
    if url.scheme != "http" or not host or url.username is not None or url.password is not None:
        return None
    try:
        ip = str(IPv4Address(host))
    except ValueError:
        return None
    if ip not in allowed_hosts or port == 0:
        return None
    return location
