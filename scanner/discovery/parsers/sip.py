"""SIP (RFC 3261) OPTIONS requests and response heads: what a user agent calls itself.

An OPTIONS request (RFC 3261 §11) asks a user agent for its capabilities without setting up a call: no
phone rings. Its answer (usually ``200 OK``) carries the agent's ``Server`` or ``User-Agent`` header
(§20.35, §20.41). The request is built as §8.1.1 requires (Request-URI, To, From with a tag, Call-ID,
CSeq, Max-Forwards, Via with a ``z9hG4bK`` branch) plus ``rport`` (RFC 3581), so that an agent answers
the port the request came from. A response matches a request by its Call-ID and ``CSeq: 1 OPTIONS``;
header names are matched case-insensitively, with the compact forms of §7.3.3 (``i`` for Call-ID).
"""

from __future__ import annotations

from typing import NamedTuple

from scanner.discovery.parsers.http import USER_AGENT, parse_head

PORT = 5060
MAX_REPLY = 8192  # bytes of a datagram looked at
MAX_VALUE = 512  # characters of a Server / User-Agent value kept


class SipReply(NamedTuple):
    status: int
    call_id: str | None
    cseq: str | None  # "1 OPTIONS"
    agents: tuple[str, ...]  # Server, then User-Agent values, as sent


def build_options(target: str, local: str, local_port: int, call_id: str, branch: str, tag: str) -> bytes:
    """An OPTIONS request from ``local:local_port`` to ``target`` (IPv4 address)."""
    lines = [
        f"OPTIONS sip:{target} SIP/2.0",
        f"Via: SIP/2.0/UDP {local}:{local_port};branch=z9hG4bK{branch};rport",
        "Max-Forwards: 70",
        f"From: <sip:{USER_AGENT}@{local}>;tag={tag}",
        f"To: <sip:{target}>",
        f"Call-ID: {call_id}",
        "CSeq: 1 OPTIONS",
        f"Contact: <sip:{USER_AGENT}@{local}:{local_port}>",
        "Accept: application/sdp",
        f"User-Agent: {USER_AGENT}",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def parse_reply(data: bytes) -> SipReply | None:
    """The fields of one SIP response; None unless it starts with ``SIP/2.0 NNN``."""
    head = parse_head(data[:MAX_REPLY], b"SIP")
    if head is None or head.version != "SIP/2.0":
        return None
    agents = tuple(
        v[:MAX_VALUE] for name in ("Server", "User-Agent") for v in head.get_all(name) if v.strip()
    )
    call_id = head.get("Call-ID") or head.get("i")
    return SipReply(head.status, call_id, " ".join((head.get("CSeq") or "").split()) or None, agents)
