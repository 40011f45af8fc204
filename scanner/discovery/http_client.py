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
  a TLS handshake ``TLS_HANDSHAKE_TIMEOUT`` plus the link's stretch (below). Once the first connection is
  up, a request has one time ``Window`` for everything after: sending, reading the whole (capped) answer,
  and its one retry. The window is ``WINDOW`` seconds plus ``STRETCH`` round trips (the kernel's smoothed
  round trip, ``kernel_rtt``, else the connect's duration; counted as at most ``MAX_RTT``), so a slow link gets the time a lost segment costs there (the kernel's
  retransmission timeout after a 600 ms round trip is 0.6 + 4 x 0.3 = 1.8 s, RFC 6298 §2.2-2.3) while a
  tarpit on a LAN costs ``WINDOW`` seconds per host and port, not one timeout per attempt.
- one retry, inside the window: when the first connection got no byte of reply by the window's middle
  (``Window.retry_at``), the request is sent once more on a fresh connection while the first one keeps
  listening; it is sent at once when the first connection ended (closed or reset) before any byte. The
  first attempt to hear a byte is the one whose answer counts; the other is dropped. Half a window is left
  for the retry: ``WINDOW / 2`` plus two round trips, its connect and its exchange. A refused or silent
  connect is not retried: the kernel already retransmitted the SYN within the wait.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import struct
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from functools import cache, partial
from typing import Any, NamedTuple, TypeVar
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
TLS_HANDSHAKE_TIMEOUT = 2.0  # seconds, plus the link's stretch
WINDOW = 2.0  # seconds for a request, its answer and its one retry on a LAN (see ``Window``)
STRETCH = 4  # round trips added to a window: a retry's connect and exchange, or one lost segment
MAX_RTT = 0.65  # seconds: the longest round trip a window stretches for (600 ms links and a margin)
RETRIES = 1  # more sends of a request that got no byte of reply
READ_CHUNK = 64 * 1024

T = TypeVar("T")


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


class Connection(NamedTuple):
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    rtt: float  # seconds: the kernel's round-trip estimate, else the connect's duration


@dataclass(frozen=True)
class Window:
    """The time one request (and its one retry) has once its first connection is up: ``WINDOW`` seconds
    plus ``STRETCH`` round trips of at most ``MAX_RTT``, on the event loop's clock (``time.monotonic``)."""

    start: float
    end: float

    @classmethod
    def after(cls, rtt: float, base: float = WINDOW) -> Window:
        now = time.monotonic()
        return cls(now, now + base + stretch(rtt))

    @property
    def retry_at(self) -> float:
        """When a first attempt that has heard nothing yet gets a second one beside it: the middle."""
        return (self.start + self.end) / 2


def stretch(rtt: float) -> float:
    """Seconds a link whose connect took ``rtt`` adds to a wait: ``STRETCH`` round trips, each at most
    ``MAX_RTT`` (so a peer that delays its SYN-ACK cannot buy itself a longer window)."""
    return STRETCH * min(max(rtt, 0.0), MAX_RTT)


TCP_INFO_RTT = struct.Struct("<II")  # tcpi_rtt, tcpi_rttvar (microseconds) in Linux's struct tcp_info
TCP_INFO_RTT_OFFSET = 68  # after 8 one-byte fields and 15 u32 fields (include/uapi/linux/tcp.h)


def kernel_rtt(writer: asyncio.StreamWriter) -> float | None:
    """The kernel's smoothed round-trip time of a connection, in seconds (Linux ``TCP_INFO``); None when
    unknown (another OS, or no sample yet: a SYN was retransmitted). Unlike the connect's duration it does
    not count the time a busy event loop took to notice the connect."""
    sock = writer.get_extra_info("socket")
    tcp_info = getattr(socket, "TCP_INFO", None)
    if sock is None or tcp_info is None:
        return None
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, tcp_info, TCP_INFO_RTT_OFFSET + TCP_INFO_RTT.size)
    except OSError:
        return None
    if len(raw) < TCP_INFO_RTT_OFFSET + TCP_INFO_RTT.size:
        return None
    rtt_us, _rttvar_us = TCP_INFO_RTT.unpack_from(raw, TCP_INFO_RTT_OFFSET)
    return rtt_us / 1e6 if rtt_us else None


async def open_connection(
    host: str, port: int, *, tls: bool = False, timeout: float = CONNECT_TIMEOUT
) -> Connection:
    """A TCP connection (then a TLS handshake when ``tls``, any certificate accepted) within ``timeout``
    for the TCP part and ``TLS_HANDSHAKE_TIMEOUT`` plus the link's stretch for the handshake. Raises
    OSError, TimeoutError or ssl.SSLError."""
    started = time.monotonic()
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(host, port, limit=READ_CHUNK)
    rtt = kernel_rtt(writer) or time.monotonic() - started
    if tls:
        handshake = TLS_HANDSHAKE_TIMEOUT + stretch(rtt)
        try:
            async with asyncio.timeout(handshake):
                await writer.start_tls(
                    insecure_context(),
                    server_hostname=None if ":" in host else host,  # no SNI for an IPv6 literal
                    ssl_handshake_timeout=handshake,
                )
        except BaseException:
            writer.transport.abort()
            raise
    return Connection(reader, writer, rtt)


async def connect(
    host: str, port: int, *, tls: bool = False, timeout: float = CONNECT_TIMEOUT
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """``open_connection`` without its round trip."""
    conn = await open_connection(host, port, tls=tls, timeout=timeout)
    return conn.reader, conn.writer


Heard = Callable[[], None]  # an attempt calls it when the first byte of reply arrives
Attempt = Callable[
    [Connection, Heard], Coroutine[Any, Any, T]
]  # one attempt on one connection; NoReply if unheard


async def with_one_retry(
    first: Connection,
    reconnect: Callable[[], Awaitable[Connection]],
    attempt: Attempt[T],
    window: Window,
    retries: int = RETRIES,
) -> T:
    """``attempt`` on ``first``; when it has heard no byte by ``window.retry_at``, or ended without one,
    ``attempt`` once more on ``reconnect()`` (``retries`` 0: never). The first attempt to hear a byte
    decides: its outcome is returned (or raised) and the other is dropped. Everything ends at
    ``window.end`` (TimeoutError). Raises NoReply when no attempt heard anything."""
    loop = asyncio.get_running_loop()
    winner: asyncio.Future[asyncio.Task[T]] = loop.create_future()
    tasks: list[asyncio.Task[T]] = []

    def heard(index: int) -> None:
        if not winner.done():
            winner.set_result(tasks[index])

    async def again(index: int) -> T:
        return await attempt(await reconnect(), partial(heard, index))

    try:
        async with asyncio.timeout_at(window.end):
            tasks.append(loop.create_task(attempt(first, partial(heard, 0))))
            if retries > 0:
                await settled(winner, tasks, window.retry_at)
                if not winner.done():  # silent until the middle, or ended without a byte: once more
                    tasks.append(loop.create_task(again(1)))
            await settled(winner, tasks)
            if not winner.done():
                raise NoReply("no attempt heard a byte")
            chosen = winner.result()
            for t in tasks:
                if t is not chosen:
                    t.cancel()
            return await chosen
    finally:
        await cancel_all(tasks)
        first.writer.transport.abort()  # in case its attempt was cancelled before it ran


async def cancel_all(tasks: list[asyncio.Task[T]]) -> None:
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def settled(
    winner: asyncio.Future[asyncio.Task[T]], tasks: list[asyncio.Task[T]], until: float | None = None
) -> None:
    """Wait until an attempt has heard a byte (``winner``), every attempt ended, or ``until`` (monotonic)."""
    while not winner.done() and (running := [t for t in tasks if not t.done()]):
        timeout = None if until is None else until - time.monotonic()
        if timeout is not None and timeout <= 0:
            return
        waiting: set[asyncio.Future[Any]] = {winner, *running}
        await asyncio.wait(waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)


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
    try:
        first = await open_connection(host, port, tls=tls)
    except (
        Exception
    ) as exc:  # refused, silent, TLS errors: a banner we did not get (the kernel resent the SYN)
        log.debug("http: %s %s: %r", method, url, exc)
        return None
    try:
        answer = await with_one_retry(
            first,
            partial(open_connection, host, port, tls=tls),
            partial(exchange, request=request, cap=cap),
            Window.after(first.rtt),
            retries,
        )
    except NoReply as exc:
        log.debug("http: %s %s: no reply: %s", method, url, exc)
        return None
    except Exception as exc:  # reset mid-answer, out of time, TLS errors: a banner we did not get
        log.debug("http: %s %s: %r", method, url, exc)
        return None
    if answer is None:
        return None
    head, content, complete = answer
    return Response(
        f"{parts.scheme}://{url_host(host)}:{port}{target}", port, head.status, head, content, complete
    )


async def exchange(
    conn: Connection, heard: Heard, *, request: bytes, cap: int
) -> tuple[Head, bytes, bool] | None:
    """Send ``request`` on ``conn`` and read one answer (see ``read_response``), calling ``heard`` at its
    first byte; the caller's window bounds the time. Raises NoReply when the peer sent nothing back, else
    OSError or ssl.SSLError for an answer cut short. Always closes ``conn``."""
    replied = False
    try:
        conn.writer.write(request)
        await conn.writer.drain()
        first = await conn.reader.read(READ_CHUNK)
        if not first:
            raise NoReply("closed")
        replied = True
        heard()
        return await read_response(conn.reader, cap, first)
    except OSError as exc:
        if not replied:
            raise NoReply(repr(exc)) from exc
        raise
    finally:
        conn.writer.transport.abort()


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
