"""HTTP/1.1 without sockets: requests, response heads, bodies (chunked, gzip), titles, icon links, favicons.

Every function taking untrusted bytes reads at most a bounded prefix and never raises for bad input.
The favicon mmh3 follows Shodan (``mmh3.hash(base64.encodebytes(data))``, signed 32-bit, as text), so
hashes compare with published lists (EdgeSecurityTeam/EHole@9a91e0b3:finger.json: Hikvision ``999357577``).
"""

from __future__ import annotations

import base64
import codecs
import hashlib
import html
import re
import zlib
from collections.abc import Iterable
from typing import NamedTuple
from urllib.parse import quote, urljoin, urlsplit

import mmh3

MAX_HEAD = 64 * 1024  # bytes of a response head we look at
MAX_HEADERS = 100
MAX_SCAN = 256 * 1024  # bytes of a page searched for the title and icon links
MAX_TITLE = 512
MAX_LINKS = 16

_LINK_TAG = re.compile(rb"<link\b([^<>]{0,2048})>", re.IGNORECASE)
_ATTR = re.compile(
    rb"""([a-zA-Z_:][-a-zA-Z0-9_:.]{0,63})\s*=\s*"""
    rb"""("[^"]{0,2048}"|'[^']{0,2048}'|[^\s"'>]{1,2048})"""
)
_META_CHARSET = re.compile(
    rb"""<meta[^<>]{0,512}?charset\s*=\s*["']?([-a-zA-Z0-9_:.]{1,40})""", re.IGNORECASE
)
_CT_CHARSET = re.compile(r"""charset\s*=\s*["']?([-a-zA-Z0-9_:.]{1,40})""", re.IGNORECASE)
_WS = re.compile(r"\s+")
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$")
_CHUNK_SIZE = re.compile(rb"^[0-9a-fA-F]{1,8}$")
_TARGET_SAFE = "/?&=%:@!$'()*+,;~-._[]"
USER_AGENT = "ndaa-scanner"


class Head(NamedTuple):
    """A parsed status line and header block (HTTP or RTSP)."""

    version: str
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]

    def get(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        low = name.lower()
        return next((v for k, v in self.headers if k.lower() == low), None)

    def get_all(self, name: str) -> list[str]:
        low = name.lower()
        return [v for k, v in self.headers if k.lower() == low]


def parse_head(data: bytes, protocol: bytes = b"HTTP") -> Head | None:
    """Parse ``PROTO/x.y CODE reason`` and the header lines up to the blank line; None if malformed."""
    block = data[:MAX_HEAD]
    end = block.find(b"\r\n\r\n")
    if end < 0:
        end = block.find(b"\n\n")
    lines = (block if end < 0 else block[:end]).replace(b"\r\n", b"\n").split(b"\n")
    parts = lines[0].split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(protocol + b"/"):
        return None
    if not parts[1].isdigit() or len(parts[1]) != 3:
        return None
    version = parts[0].decode("ascii", "replace")
    reason = parts[2].decode("latin-1").strip() if len(parts) == 3 else ""
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if len(headers) >= MAX_HEADERS:
            break
        if line[:1] in (b" ", b"\t") and headers:  # obsolete line folding
            key, text = headers[-1]
            headers[-1] = (key, f"{text} {line.strip().decode('latin-1')}")
            continue
        raw_name, sep, raw_value = line.partition(b":")
        key = raw_name.strip().decode("latin-1")
        if sep and _TOKEN.match(key):
            headers.append((key, raw_value.strip().decode("latin-1")))
    return Head(version, int(parts[1]), reason, tuple(headers))


def head_end(buffer: bytes) -> int:
    """Index just past the blank line that ends a response head, or -1 while it is incomplete."""
    end = buffer.find(b"\r\n\r\n", 0, MAX_HEAD + 4)
    if end >= 0:
        return end + 4
    end = buffer.find(b"\n\n", 0, MAX_HEAD + 2)
    return end + 2 if end >= 0 else -1


def build_request(
    method: str,
    host: str,
    port: int,
    target: str,
    *,
    tls: bool,
    body: bytes = b"",
    headers: Iterable[tuple[str, str]] = (),
) -> bytes:
    """An HTTP/1.1 request that asks the server to close the connection after answering."""
    authority = host if port == (443 if tls else 80) else f"{host}:{port}"
    lines = [
        f"{method} {quote(target or '/', safe=_TARGET_SAFE)} HTTP/1.1",
        f"Host: {authority}",
        f"User-Agent: {USER_AGENT}",
        "Accept: */*",
        "Accept-Encoding: identity",
        "Connection: close",
    ]
    lines += [f"{k}: {v}" for k, v in headers]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace") + body


def content_length(head: Head) -> int | None:
    text = (head.get("Content-Length") or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 16 else None


def is_chunked(head: Head) -> bool:
    return "chunked" in (head.get("Transfer-Encoding") or "").lower()


def dechunk(data: bytes, cap: int) -> tuple[bytes, bool]:
    """A chunked body decoded into at most ``cap`` bytes; (body, True once the last chunk was seen)."""
    out = bytearray()
    pos = 0
    while len(out) < cap:
        eol = data.find(b"\n", pos, pos + 1024)
        if eol < 0:
            return bytes(out), False
        size_text = data[pos:eol].split(b";", 1)[0].strip()
        if not _CHUNK_SIZE.match(size_text):
            return bytes(out), False
        size = int(size_text, 16)
        if size == 0:
            return bytes(out), True
        start = eol + 1
        out += data[start : start + min(size, cap - len(out))]
        pos = start + size
        if pos > len(data):
            return bytes(out), False
        if data[pos : pos + 2] == b"\r\n":
            pos += 2
        elif data[pos : pos + 1] == b"\n":
            pos += 1
        else:
            return bytes(out), False
    return bytes(out[:cap]), False


def inflate(raw: bytes, encoding: str, cap: int) -> tuple[bytes, bool]:
    """Undo gzip/deflate content coding into at most ``cap`` bytes; (body, fully decoded).

    Never inflates more than ``cap`` bytes: ``decompress(raw, cap)`` stops there and leaves the rest of
    the input unread (``unconsumed_tail``), so a bomb of a few KB costs ``cap`` bytes, not gigabytes."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return raw, True
    if encoding not in ("gzip", "x-gzip", "deflate"):
        return b"", False
    for wbits in (47, -15):  # gzip or zlib header (auto-detected), else raw deflate
        try:
            inflater = zlib.decompressobj(wbits)
            out = inflater.decompress(raw, cap)
        except zlib.error:
            continue
        return out, inflater.eof and not inflater.unconsumed_tail
    return b"", False


def charset_of(content_type: str | None, body: bytes = b"") -> str:
    """The encoding a Content-Type header or ``<meta charset>`` names, if Python knows it; else utf-8."""
    candidates = []
    if content_type and (m := _CT_CHARSET.search(content_type)):
        candidates.append(m.group(1))
    if m2 := _META_CHARSET.search(body[:4096]):
        candidates.append(m2.group(1).decode("ascii"))
    for name in candidates:
        try:
            return codecs.lookup(name).name
        except LookupError:
            continue
    return "utf-8"


def extract_title(body: bytes, content_type: str | None = None) -> str | None:
    """The first ``<title>``'s text, unescaped and whitespace-collapsed; None if absent or empty."""
    scan = body[:MAX_SCAN]
    low = scan.lower()
    start = low.find(b"<title")
    if start < 0:
        return None
    open_end = low.find(b">", start)
    if open_end < 0:
        return None
    close = low.find(b"</title", open_end)
    raw = scan[open_end + 1 : close if close >= 0 else open_end + 1 + MAX_TITLE * 4]
    raw = raw[: MAX_TITLE * 4]
    try:
        text = raw.decode(charset_of(content_type, scan), "replace")
    except LookupError:
        text = raw.decode("utf-8", "replace")
    title = _WS.sub(" ", html.unescape(text)).strip()[:MAX_TITLE]
    return title or None


def icon_links(body: bytes) -> list[str]:
    """The ``href`` of every ``<link rel="…icon…">`` in the page, in order (at most MAX_LINKS)."""
    out: list[str] = []
    for tag in _LINK_TAG.finditer(body[:MAX_SCAN]):
        attrs = {k.lower(): v.strip(b"\"'") for k, v in _ATTR.findall(tag.group(1))}
        rel = attrs.get(b"rel", b"").lower().split()
        href = attrs.get(b"href", b"").strip()
        if b"icon" in rel and href:
            out.append(html.unescape(href.decode("latin-1")))
            if len(out) >= MAX_LINKS:
                break
    return out


def same_host_url(base: str, ref: str) -> str | None:
    """``ref`` resolved against ``base`` if it stays on the same host over http(s); else None."""
    try:
        target = urlsplit(urljoin(base, ref.strip()))
        origin = urlsplit(base)
        if target.scheme not in ("http", "https") or target.hostname != origin.hostname:
            return None
        target.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return None
    return target._replace(fragment="").geturl()


def looks_like_html(data: bytes) -> bool:
    """True for a body that starts like an HTML document (an error page served in place of a file)."""
    head = data[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<script"))


def looks_like_image(data: bytes) -> bool:
    """True for the magic bytes of ICO, PNG, GIF, JPEG, BMP, WebP or SVG."""
    head = data[:256].lstrip().lower()
    return (
        data.startswith((b"\0\0\1\0", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"BM"))
        or (data.startswith(b"RIFF") and data[8:12] == b"WEBP")
        or head.startswith(b"<svg")
        or (head.startswith(b"<?xml") and b"<svg" in data[:1024].lower())
    )


def favicon_hashes(data: bytes) -> tuple[str, str]:
    """(md5 hex, Shodan-style mmh3 as a signed decimal string) of a favicon."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest(), str(mmh3.hash(base64.encodebytes(data)))
