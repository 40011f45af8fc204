"""The HTTP/1.1 client of the banner probes and the SSDP description fetch: asyncio streams, bounded in bytes
and seconds.

Why our own client: on a 240-device lab ``GET /`` to every host took 0.05 s with it and 1.22 s with httpx
(median of 5 runs; ``benchmarks/bench_banners.py``). It sends ``Connection: close`` and
``Accept-Encoding: identity``, takes nothing from the environment (no proxies) and never follows redirects
itself (callers decide which Location is on the same host).

Bounds, so that hostile or broken peers end in bounded time and memory:

- bytes: a response head of at most ``MAX_HEAD`` bytes and ``MAX_HEADERS`` header lines; a body of at most
  the caller's ``cap`` bytes; chunked framing with chunk-size lines of at most 8 hex digits, read no further
  than ``cap`` plus framing; gzip/deflate (sent although we asked for identity) inflated incrementally with
  ``zlib.decompressobj(...).decompress(data, max_length)``, so at most ``cap`` inflated bytes ever exist
  (a gzip bomb costs what its first ``cap`` bytes cost).
- seconds: a TCP connect may take ``CONNECT_TIMEOUT`` (2.5 s: above Linux's first SYN retransmission at
  1 s, RFC 6298 §2.1 / ``TCP_TIMEOUT_INIT``, so one lost SYN or SYN-ACK costs a second, not the banner);
  a TLS handshake ``TLS_HANDSHAKE_TIMEOUT``; sending the request and reading the whole answer
  ``EXCHANGE_TIMEOUT`` in all (a tarpit dripping a byte every few seconds is cut there). Callers' own
  deadlines (``asyncio.timeout`` around a host) cut every wait too.
- one retry: a request whose connection came up but that got no byte of reply (silence until the
  exchange timeout, or a close or reset before the first byte) is sent once more on a fresh connection.
  A refused or silent connect is not retried: the kernel already retransmitted the SYN within the wait.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Iterable
from functools import cache
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from scanner.discovery.parsers.http import (
    MAX_HEAD,
    Head,
    build_request,
    content_length,
    dechunk,
    head_end,
    inflate,
    is_chunked,
    parse_head,
)

log = logging.getLogger("scanner.discovery")

CONNECT_TIMEOUT = 2.5  # seconds: survives one lost SYN (retransmitted after 1 s)
TLS_HANDSHAKE_TIMEOUT = 2.0
EXCHANGE_TIMEOUT = 3.0  # seconds from sending a request to the end of the (capped) answer
RETRIES = 1  # more sends of a request that got no byte of reply
READ_CHUNK = 64 * 1024


class Response(NamedTuple):
    """One HTTP answer: where it came from, its head, and its decoded body of at most ``cap`` bytes."""

    url: str
    port: int
    status: int
    head: Head
    body: bytes
    complete: bool  # False when the body was cut at the cap, cut short, or could not be decoded


class NoReply(Exception):
    """The connection came up but the peer sent nothing back (closed, reset or silent)."""


@cache
def insecure_context() -> ssl.SSLContext:
    """A TLS client context that accepts any certificate and old protocol versions (banner grabbing only)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:  # old cameras speak TLS 1.0 with weak keys; reading their certificate is all we do
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        context.set_ciphers("ALL:@SECLEVEL=0")
    except (ssl.SSLError, ValueError):
        pass
    return context


def url_host(host: str) -> str:
    """``host`` as a URL writes it: an IPv6 address in brackets, its zone as ``%25`` (RFC 6874)."""
    return f"[{host.replace('%', '%25')}]" if ":" in host else host


def host_header(host: str) -> str:
    """``host`` as a Host header writes it: an IPv6 address in brackets, without its zone."""
    return f"[{host.split('%', 1)[0]}]" if ":" in host else host


async def connect(
    host: str, port: int, *, tls: bool = False, timeout: float = CONNECT_TIMEOUT
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TCP connection (then a TLS handshake when ``tls``, any certificate accepted) within ``timeout``
    for the TCP part and ``TLS_HANDSHAKE_TIMEOUT`` for the handshake. Raises OSError, TimeoutError or
    ssl.SSLError."""
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(host, port, limit=READ_CHUNK)
    if tls:
        try:
            async with asyncio.timeout(TLS_HANDSHAKE_TIMEOUT):
                await writer.start_tls(
                    insecure_context(),
                    server_hostname=None if ":" in host else host,  # no SNI for an IPv6 literal
                    ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT,
                )
        except BaseException:
            writer.transport.abort()
            raise
    return reader, writer


async def fetch(
    url: str,
    cap: int,
    *,
    method: str = "GET",
    body: bytes = b"",
    headers: Iterable[tuple[str, str]] = (),
    retries: int = RETRIES,
) -> Response | None:
    """One request to an http(s) URL, its answer with a body of at most ``cap`` bytes; None on any network
    or protocol failure (refused, silent, reset, not HTTP, TLS errors, a bad URL)."""
    try:
        parts = urlsplit(url)
        tls = parts.scheme == "https"
        host = unquote(parts.hostname or "")  # an IPv6 zone is written %25 in a URL (RFC 6874)
        port = parts.port or (443 if tls else 80)
    except ValueError as exc:
        log.debug("http: bad URL %r: %r", url, exc)
        return None
    if parts.scheme not in ("http", "https") or not host:
        return None
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    request = build_request(method, host_header(host), port, target, tls=tls, body=body, headers=headers)
    for attempt in range(retries + 1):
        try:
            answer = await exchange(host, port, request, cap, tls=tls)
        except NoReply as exc:
            log.debug("http: %s %s: no reply (attempt %d): %s", method, url, attempt + 1, exc)
            continue
        except Exception as exc:  # refused, reset mid-answer, TLS errors, timeouts: a banner we did not get
            log.debug("http: %s %s: %r", method, url, exc)
            return None
        if answer is None:
            return None
        head, content, complete = answer
        return Response(
            f"{parts.scheme}://{url_host(host)}:{port}{target}", port, head.status, head, content, complete
        )
    return None


async def exchange(
    host: str, port: int, request: bytes, cap: int, *, tls: bool = False
) -> tuple[Head, bytes, bool] | None:
    """Connect, send ``request``, read one answer (see ``read_response``) within ``EXCHANGE_TIMEOUT``.
    Raises NoReply when the peer sent nothing back, else OSError, TimeoutError or ssl.SSLError for a
    failed connect or a cut answer."""
    reader, writer = await connect(host, port, tls=tls)
    replied = False
    try:
        async with asyncio.timeout(EXCHANGE_TIMEOUT):
            writer.write(request)
            await writer.drain()
            first = await reader.read(READ_CHUNK)
            if not first:
                raise NoReply("closed")
            replied = True
            return await read_response(reader, cap, first)
    except (TimeoutError, OSError) as exc:
        if not replied:
            raise NoReply(repr(exc)) from exc
        raise
    finally:
        writer.transport.abort()


async def read_response(
    reader: asyncio.StreamReader, cap: int, buffer: bytes = b""
) -> tuple[Head, bytes, bool] | None:
    """(head, decoded body of at most ``cap`` bytes, complete) of one response; None if it is not HTTP."""
    raw, buffer = await read_head(reader, buffer)
    head = parse_head(raw) if raw else None
    if head is None:
        return None
    if head.status in (204, 304) or 100 <= head.status < 200:
        return head, b"", True
    length = content_length(head)
    if is_chunked(head):
        body, complete = await read_chunked(reader, buffer, cap)
    elif length is not None:
        buffer = await read_up_to(reader, buffer, min(length, cap))
        body, complete = buffer[: min(length, cap)], len(buffer) >= length
    else:  # the body ends where the server closes
        buffer = await read_up_to(reader, buffer, cap + 1)
        body, complete = buffer[:cap], len(buffer) <= cap
    body, decoded = inflate(body, head.get("Content-Encoding") or "", cap)
    return head, body, complete and decoded


async def read_head(reader: asyncio.StreamReader, buffer: bytes) -> tuple[bytes | None, bytes]:
    """(one response head, the bytes after it); head None if the peer closed or sent over MAX_HEAD.
    Serves HTTP and RTSP alike."""
    while (end := head_end(buffer)) < 0:
        if len(buffer) > MAX_HEAD:
            return None, b""
        chunk = await reader.read(READ_CHUNK)
        if not chunk:
            return None, b""
        buffer += chunk
    return buffer[:end], buffer[end:]


async def read_up_to(reader: asyncio.StreamReader, buffer: bytes, size: int) -> bytes:
    """``buffer`` extended from the stream to ``size`` bytes, or to where the peer closed."""
    parts = [buffer]
    have = len(buffer)
    while have < size:
        chunk = await reader.read(min(READ_CHUNK, size - have))
        if not chunk:
            break
        parts.append(chunk)
        have += len(chunk)
    return b"".join(parts)


async def skip_body(reader: asyncio.StreamReader, buffer: bytes, length: int) -> bytes:
    """Drop a ``length``-byte body that may be partly in ``buffer``; the bytes after it (b"" at a close)."""
    while len(buffer) < length:
        chunk = await reader.read(min(READ_CHUNK, length - len(buffer)))
        if not chunk:
            return b""
        buffer += chunk
    return buffer[length:]


async def read_chunked(reader: asyncio.StreamReader, buffer: bytes, cap: int) -> tuple[bytes, bool]:
    """A chunked body decoded into at most ``cap`` bytes, reading no more than its framing needs."""
    limit = cap + cap // 2 + READ_CHUNK  # raw bytes allowed: ``cap`` of data plus generous chunk framing
    checked = -READ_CHUNK
    while True:
        # Decode again only after real progress or at a likely end, so a drip costs linear time.
        if len(buffer) - checked >= READ_CHUNK or buffer.endswith((b"\n\r\n", b"\n\n")):
            checked = len(buffer)
            body, done = dechunk(buffer, cap)
            if done or len(body) >= cap:
                return body, done
        if len(buffer) > limit:
            return dechunk(buffer, cap)[0], False
        chunk = await reader.read(READ_CHUNK)
        if not chunk:
            return dechunk(buffer, cap)[0], False
        buffer += chunk
