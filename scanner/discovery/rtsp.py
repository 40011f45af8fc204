"""RTSP banners over raw asyncio TCP: ``OPTIONS`` then ``DESCRIBE`` on one connection, no credentials.

Records ``rtsp.status`` ("OPTIONS 200", "DESCRIBE 401"), ``rtsp.server`` and ``rtsp.www_authenticate``.
Ports: ``rtsp_ports`` option (default 554). Connects and reads heads with the shared client
(``http_client.connect``, ``read_head``: head 64 KiB at most); a body of up to 64 KiB is skipped, a longer
one ends the conversation; each exchange has ``EXCHANGE_TIMEOUT``, so drips and endless headers end in
bounded time. When OPTIONS gets no byte of reply (closed, reset or silent), the conversation is tried once
more on a fresh connection.
"""

from __future__ import annotations

import asyncio
import logging

from scanner.discovery.banner_base import BannerProbe, BannerRun, HostRecorder
from scanner.discovery.http_client import RETRIES, connect, read_head, skip_body, url_host
from scanner.discovery.parsers.rtsp import RtspReply, build_request, parse_reply

log = logging.getLogger("scanner.discovery")

RTSP_PORTS = (554,)
EXCHANGE_TIMEOUT = 2.0  # one request and its reply
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
    more when the first request got no byte of reply."""
    for _attempt in range(RETRIES + 1):
        outcome = await conversation(rec, port)
        if outcome is not None:
            return outcome
    return False


async def conversation(rec: HostRecorder, port: int) -> bool | None:
    """One connection's OPTIONS and DESCRIBE; None when the peer sent nothing back at all."""
    try:
        reader, writer = await connect(rec.ip, port)
    except (OSError, TimeoutError):
        return False
    url = f"rtsp://{url_host(rec.ip)}:{port}/"
    answered = False
    heard = False
    buffer = b""
    try:
        for cseq, method in enumerate(("OPTIONS", "DESCRIBE"), start=1):
            writer.write(build_request(method, url, cseq))
            async with asyncio.timeout(EXCHANGE_TIMEOUT):
                await writer.drain()
                if not buffer:
                    buffer = await reader.read(64 * 1024)
                    heard = heard or bool(buffer)
                head, buffer = await read_head(reader, buffer)
                reply = parse_reply(head) if head else None
                if reply is None:
                    break
                answered = True
                record_reply(rec, method, reply, port)
                if reply.content_length > MAX_BODY:
                    break
                buffer = await skip_body(reader, buffer, reply.content_length)
    except Exception as exc:  # resets, timeouts, hostile peers
        log.debug("rtsp: %s:%d: %r", rec.ip, port, exc)
    finally:
        writer.transport.abort()
    return answered if heard else None
