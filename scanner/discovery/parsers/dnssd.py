"""DNS-SD over one-shot mDNS queries (RFC 6762 §5.1, §6.7; RFC 6763): the query and what an answer says.

A one-shot query is an ordinary DNS query sent from a port other than 5353; a responder answers it by
unicast to that port, echoing the query ID, with the records a multicast answer would carry (PTR answers,
SRV/TXT/address records as additional records). ``build_query`` asks PTR questions; ``parse_answer``
reads a response with python-zeroconf's decoder (it bounds the message size and rejects compression
loops) and keeps at most ``MAX_RECORDS`` records, ``MAX_INSTANCES`` instances and ``MAX_TXT`` TXT entries
per instance.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

ENUMERATION_TYPE = "_services._dns-sd._udp.local."  # RFC 6763 §9
# the camera-relevant service types the mdns probes ask for
BROWSE_TYPES = (
    "_CGI._tcp.local.",
    "_axis-video._tcp.local.",
    "_rtsp._tcp.local.",
    "_http._tcp.local.",
    "_onvif._tcp.local.",
    "_psia._tcp.local.",
    "_workstation._tcp.local.",
)
TYPE_PTR, TYPE_TXT, TYPE_SRV, CLASS_IN = 12, 16, 33, 1
MAX_RECORDS = 256  # records read per message
MAX_INSTANCES = 64  # instances kept per message
MAX_TYPES = 64  # enumerated service types kept per message
MAX_TXT = 32  # TXT entries kept per instance
MAX_QUESTIONS = 32
_SERVICE_TYPE = re.compile(r"^_[A-Za-z0-9][A-Za-z0-9-]{0,62}\._(?:tcp|udp)\.local\.$")
_HEADER = struct.Struct(">HHHHHH")


@dataclass(frozen=True, slots=True)
class Instance:
    name: str  # full instance name, e.g. 'AXIS M1014 - ACCC8E270AD8._axis-video._tcp.local.'
    type: str  # its service type, e.g. '_axis-video._tcp.local.'
    server: str | None = None  # SRV target
    port: int | None = None
    txt: tuple[str, ...] = ()  # 'key=value' or 'key'

    @property
    def label(self) -> str:
        suffix = "." + self.type
        return self.name[: -len(suffix)] if self.name.lower().endswith(suffix.lower()) else self.name


@dataclass(slots=True)
class Answer:
    types: list[str] = field(default_factory=list)  # service types the responder enumerated
    instances: list[Instance] = field(default_factory=list)

    def fields(self) -> list[tuple[str, str]]:
        """(signal, value) pairs: every service type, instance label, SRV target and TXT entry."""
        out: list[tuple[str, str]] = [("mdns.service", t) for t in self.types]
        for inst in self.instances:
            out.append(("mdns.service", inst.type))
            out.append(("mdns.instance", inst.label))
            if inst.server:
                out.append(("mdns.hostname", inst.server))
            out += [("mdns.txt", entry) for entry in inst.txt]
        return list(dict.fromkeys(out))


def encode_name(name: str) -> bytes:
    """A domain name in DNS wire format (no compression); ValueError for a label over 63 bytes."""
    out = b""
    for label in name.rstrip(".").split("."):
        raw = label.encode()
        if not raw or len(raw) > 63:
            raise ValueError(f"bad DNS label in {name!r}")
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def build_query(names: Sequence[str], query_id: int, qtype: int = TYPE_PTR) -> bytes:
    """A standard query with one ``qtype`` (PTR) question per name (at most ``MAX_QUESTIONS``)."""
    names = list(names)[:MAX_QUESTIONS]
    body = b"".join(encode_name(n) + struct.pack(">HH", qtype, CLASS_IN) for n in names)
    return _HEADER.pack(query_id & 0xFFFF, 0, len(names), 0, 0, 0) + body


def txt_entries(raw: bytes) -> tuple[str, ...]:
    """The character-strings of a TXT record's data as 'key=value' / 'key', at most ``MAX_TXT``."""
    out: list[str] = []
    i = 0
    while i < len(raw) and len(out) < MAX_TXT:
        n = raw[i]
        chunk = raw[i + 1 : i + 1 + n]
        i += 1 + n
        text = chunk.decode("utf-8", "replace")
        if text and not text.startswith("="):
            out.append(text)
    return tuple(out)


def parse_answer(data: bytes) -> Answer | None:
    """What a DNS response says about service types and instances; None for a query, junk or nothing."""
    records = _records(data)
    if records is None:
        return None
    from zeroconf._dns import DNSPointer, DNSService, DNSText

    srv = {r.name.lower(): r for r in reversed(records) if isinstance(r, DNSService)}
    txt = {r.name.lower(): r for r in reversed(records) if isinstance(r, DNSText)}
    answer = Answer()
    seen: set[str] = set()
    for ptr in (r for r in records if isinstance(r, DNSPointer)):
        if ptr.name.lower() == ENUMERATION_TYPE:
            if (
                _SERVICE_TYPE.match(ptr.alias)
                and ptr.alias not in answer.types
                and len(answer.types) < MAX_TYPES
            ):
                answer.types.append(ptr.alias)
            continue
        key = ptr.alias.lower()
        if not _SERVICE_TYPE.match(ptr.name) or key in seen or len(answer.instances) >= MAX_INSTANCES:
            continue
        seen.add(key)
        s, t = srv.get(key), txt.get(key)
        answer.instances.append(
            Instance(
                ptr.alias,
                ptr.name,
                server=s.server if s is not None else None,
                port=s.port if s is not None else None,
                txt=txt_entries(t.text) if t is not None else (),
            )
        )
    return answer if answer.types or answer.instances else None


def _records(data: bytes) -> list[Any] | None:
    """The records of a DNS response (at most ``MAX_RECORDS``), None for a query or undecodable bytes."""
    from zeroconf._protocol.incoming import DNSIncoming

    if not isinstance(data, bytes | bytearray) or len(data) < _HEADER.size:
        return None
    try:
        msg = DNSIncoming(bytes(data))
        if not msg.valid or not msg.is_response():
            return None
        return list(msg.answers()[:MAX_RECORDS])
    except Exception:  # noqa: BLE001 - whatever hostile bytes make the decoder raise
        return None
