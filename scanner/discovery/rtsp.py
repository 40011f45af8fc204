"""RTSP banners over raw asyncio TCP: ``OPTIONS`` then ``DESCRIBE`` on one connection, no credentials.

Records ``rtsp.status`` ("OPTIONS 200", "DESCRIBE 401"), ``rtsp.server`` and ``rtsp.www_authenticate``.
Ports: ``rtsp_ports`` option (default 554). Connects and reads heads with the shared client
(``http_client.open_connection``, ``read_head``: head 64 KiB at most); a body of up to 64 KiB is skipped, a
longer one ends the conversation. A conversation has one time window per host and port, as an HTTP
request has (``http_client.Window``: 2 s plus four round trips), shared with its one retry: when OPTIONS
has heard no byte by the window's middle, or the peer hung up without one, the conversation starts once
more on a fresh connection (``http_client.with_one_retry``). So drips, endless headers and tarpits end in
one window.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial

from scanner.discovery.banner_base import BannerProbe, BannerRun, HostRecorder
from scanner.discovery.http_client import (
    Connection,
    Heard,
    NoReply,
    Window,
    open_connection,
    read_head,
    skip_body,
    url_host,
    with_one_retry,
)
from scanner.discovery.parsers.rtsp import RtspReply, build_request, parse_reply

log = logging.getLogger("scanner.discovery")

RTSP_PORTS = (554,)
MAX_BODY = 64 * 1024


class RtspProbe(BannerProbe):
    name = "rtsp"
    description = "RTSP OPTIONS/DESCRIBE banners: Server and WWW-Authenticate realm"
    port_option, default_ports = "rtsp", RTSP_PORTS

    async def probe_host(self, run: BannerRun, rec: HostRecorder) -> bool:
        return any(await asyncio.gather(*(converse(rec, p) for p in run.ports)))


def record_reply(rec: HostRecorder, method: str, reply: RtspReply, port: int) -> None:
    """Record one reply: ``rtsp.status`` ("DESCRIBE 401"), ``rtsp.server`` and every WWW-Authenticate."""
    rec.add("rtsp.status", f"{method} {reply.status}", port)
    rec.add("rtsp.server", reply.server or "", port)
    for realm in reply.www_authenticate:
        rec.add("rtsp.www_authenticate", realm, port)


async def converse(rec: HostRecorder, port: int) -> bool:
    """OPTIONS then DESCRIBE on one connection; True if at least one RTSP reply came back. Tried once
    more when the first connection heard no byte (see ``with_one_retry``), all in one window."""
    try:
        first = await open_connection(rec.ip, port)
    except (OSError, TimeoutError):
        return False
    try:
        return await with_one_retry(
            first,
            partial(open_connection, rec.ip, port),
            partial(conversation, rec=rec, port=port),
            Window.after(first.rtt),
        )
    except Exception as exc:  # no reply, out of time, resets, hostile peers
        log.debug("rtsp: %s:%d: %r", rec.ip, port, exc)
        return False


async def conversation(conn: Connection, heard: Heard, *, rec: HostRecorder, port: int) -> bool:
    """One connection's OPTIONS and DESCRIBE, each reply recorded as it comes; True if one was RTSP.
    Calls ``heard`` at the first byte back; NoReply when the peer sent nothing at all."""
    reader, writer = conn.reader, conn.writer
    url = f"rtsp://{url_host(rec.ip)}:{port}/"
    answered = False
    buffer = b""
    try:
        for cseq, method in enumerate(("OPTIONS", "DESCRIBE"), start=1):
            writer.write(build_request(method, url, cseq))
            await writer.drain()
            if not buffer:
                buffer = await reader.read(64 * 1024)
                if not buffer and cseq == 1:
                    raise NoReply("closed")
                heard()
            head, buffer = await read_head(reader, buffer)
            reply = parse_reply(head) if head else None
            if reply is None:
                break
            answered = True
            record_reply(rec, method, reply, port)
            if reply.content_length > MAX_BODY:
                break
            buffer = await skip_body(reader, buffer, reply.content_length)
    except OSError as exc:  # resets: nothing heard is no reply; after a reply, what was recorded stands
        if cseq == 1 and not buffer and not answered:
            raise NoReply(repr(exc)) from exc
        log.debug("rtsp: %s:%d: %r", rec.ip, port, exc)
    finally:
        writer.transport.abort()
    return answered
