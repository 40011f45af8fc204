"""RTSP banners over raw asyncio TCP: ``OPTIONS`` then ``DESCRIBE`` on one connection, no credentials.

Records ``rtsp.status`` ("OPTIONS 200", "DESCRIBE 401"), ``rtsp.server`` and ``rtsp.www_authenticate``.
Ports: ``rtsp_ports`` option (default 554). Every read is capped (head 64 KiB, body 64 KiB skipped) and
every exchange has a time limit, so drips and endless headers end in bounded time.
"""

from __future__ import annotations

import asyncio
import logging

from scanner.discovery.banner_base import HostRecorder, host_timeout, ports_option, probe_each_host
from scanner.discovery.base import Collector, ProbeContext, ProbeResult, ProbeStatus
from scanner.discovery.http import READ_CHUNK, read_head
from scanner.discovery.parsers.rtsp import RtspReply, build_request, parse_reply

log = logging.getLogger("scanner.discovery")

RTSP_PORTS = (554,)
EXCHANGE_TIMEOUT = 2.0  # connect or one request/response
MAX_BODY = 64 * 1024


class RtspProbe:
    name = "rtsp"
    description = "RTSP OPTIONS/DESCRIBE banners: Server and WWW-Authenticate realm"

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        col = Collector(self.name, ctx)
        hosts = ctx.hosts_to_probe()
        if not hosts:
            return col.result(ProbeStatus.SKIPPED, notes=["no hosts to probe"])
        ports = ports_option(ctx, "rtsp", RTSP_PORTS)
        timeout = min(EXCHANGE_TIMEOUT, host_timeout(ctx))

        async def one(rec: HostRecorder) -> bool:
            return any(await asyncio.gather(*(converse(rec, p, timeout) for p in ports)))

        return await probe_each_host(col, hosts, one, len(ports) or 1)


def record_reply(rec: HostRecorder, method: str, reply: RtspReply, port: int) -> None:
    """Record one reply: ``rtsp.status`` ("DESCRIBE 401"), ``rtsp.server`` and every WWW-Authenticate."""
    rec.add("rtsp.status", f"{method} {reply.status}", port)
    rec.add("rtsp.server", reply.server or "", port)
    for realm in reply.www_authenticate:
        rec.add("rtsp.www_authenticate", realm, port)


async def converse(rec: HostRecorder, port: int, timeout: float) -> bool:
    """OPTIONS then DESCRIBE on one connection; True if at least one RTSP reply came back."""
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(rec.ip, port)
    except (OSError, TimeoutError):
        return False
    url = f"rtsp://{rec.ip}:{port}/"
    answered = False
    buffer = b""
    try:
        for cseq, method in enumerate(("OPTIONS", "DESCRIBE"), start=1):
            writer.write(build_request(method, url, cseq))
            async with asyncio.timeout(timeout):
                await writer.drain()
                head, buffer = await read_head(reader, buffer)
                reply = parse_reply(head) if head else None
                if reply is None:
                    break
                answered = True
                record_reply(rec, method, reply, port)
                if reply.content_length > MAX_BODY:
                    break
                buffer = await skip(reader, buffer, reply.content_length)
    except Exception as exc:  # resets, timeouts, hostile peers
        log.debug("rtsp: %s:%d: %r", rec.ip, port, exc)
    finally:
        writer.transport.abort()
    return answered


async def skip(reader: asyncio.StreamReader, buffer: bytes, length: int) -> bytes:
    """Drop a ``length``-byte body that may be partly in ``buffer``; the bytes after it."""
    while len(buffer) < length:
        chunk = await reader.read(min(READ_CHUNK, length - len(buffer)))
        if not chunk:
            return b""
        buffer += chunk
    return buffer[length:]
