"""RTSP/1.0 (RFC 2326) requests and response heads: OPTIONS and DESCRIBE without credentials."""

from __future__ import annotations

from typing import NamedTuple

from scanner.discovery.parsers.http import USER_AGENT, parse_head

MAX_VALUE = 1024


class RtspReply(NamedTuple):
    status: int
    cseq: int | None
    server: str | None
    www_authenticate: tuple[str, ...]
    public: str | None
    content_length: int


def build_request(method: str, url: str, cseq: int) -> bytes:
    """An RTSP request with CSeq and User-Agent (DESCRIBE asks for SDP)."""
    lines = [f"{method} {url} RTSP/1.0", f"CSeq: {cseq}", f"User-Agent: {USER_AGENT}"]
    if method == "DESCRIBE":
        lines.append("Accept: application/sdp")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def parse_reply(data: bytes) -> RtspReply | None:
    """The fields of one RTSP response head; None unless it starts with ``RTSP/x.y NNN``."""
    head = parse_head(data, b"RTSP")
    if head is None:
        return None
    server = head.get("Server")
    return RtspReply(
        status=head.status,
        cseq=_small_int(head.get("CSeq")),
        server=server[:MAX_VALUE] if server else None,
        www_authenticate=tuple(v[:MAX_VALUE] for v in head.get_all("WWW-Authenticate") if v),
        public=(head.get("Public") or None),
        content_length=_small_int(head.get("Content-Length")) or 0,
    )


def _small_int(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None
