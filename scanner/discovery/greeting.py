"""Server-first greetings: the SSH identification line (port 22), the telnet banner and login prompt (23)
and the FTP greeting (21) of each live target, recorded as ``ssh.banner``, ``telnet.banner`` and
``ftp.banner``. Telecom gear (routers, switches, ONTs of Huawei and ZTE) often has no web page on the
scanned side, only these.

The server speaks first, so the probe only listens: it sends nothing on SSH and FTP (no identification of
its own, no command), and on telnet nothing but refusals of the options the server asks for (``IAC WONT`` /
``IAC DONT``, RFC 854/855), which is what lets many telnet servers go on to their prompt. It never sends a
user name or a password. Parsing is ``parsers/greeting.py``.

Bounds, so that hostile peers (endless lines, IAC floods, binary garbage, one byte a second) end quickly:
one connection per host and port, no retry (a second connection would hold one more of a router's few
login sessions), a connect within ``http_client.CONNECT_TIMEOUT``, then one ``http_client.Window`` per host
and port (2 s plus four round trips) for everything read; bytes capped per protocol (SSH 8 KiB, FTP
8 KiB, telnet 4 KiB of text and 64 KiB in all); a telnet banner ends at a login prompt or after
``IDLE`` seconds without a byte once text has come. Ports: ``ctx.options.ports`` keys ``ssh``, ``telnet``
and ``ftp`` (defaults 22, 23, 21); hosts, concurrency and time limits through ``banner_base.BannerProbe``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from scanner.discovery.banner_base import BannerProbe, BannerRun, HostRecorder
from scanner.discovery.http_client import Connection, Window, open_connection, stretch
from scanner.discovery.parsers.greeting import (
    MAX_FTP_BYTES,
    MAX_SSH_BYTES,
    TelnetNegotiation,
    ftp_greeting,
    ssh_identification,
)

log = logging.getLogger("scanner.discovery")

DEFAULT_PORTS = {"ssh": (22,), "telnet": (23,), "ftp": (21,)}
SIGNALS = {"ssh": "ssh.banner", "telnet": "telnet.banner", "ftp": "ftp.banner"}
IDLE = 0.5  # seconds without a byte that end a telnet banner (plus the link's stretch)
READ_CHUNK = 4096

Reader = Callable[[Connection, Window], Awaitable[str | None]]


class GreetingProbe(BannerProbe):
    name = "greeting"
    description = "SSH identification, telnet banner and FTP greeting (server-first; only listens)"
    port_option, default_ports = "greeting", (22, 23, 21)  # the ports themselves come from ``services``

    def sockets_per_host(self, run: BannerRun) -> int:
        return max(1, len(services(run)))

    async def probe_host(self, run: BannerRun, rec: HostRecorder) -> bool:
        grabs = (grab(rec, proto, port) for proto, port in services(run))
        return any(await asyncio.gather(*grabs))


def services(run: BannerRun) -> list[tuple[str, int]]:
    """(protocol, port) pairs to listen to: the user's ports per protocol, else the defaults."""
    options = run.ctx.options
    return [
        (proto, port) for proto, ports in DEFAULT_PORTS.items() for port in options.ports_for(proto, ports)
    ]


async def grab(rec: HostRecorder, proto: str, port: int) -> bool:
    """Connect to ``port``, read its greeting as ``proto`` within one window, record it; True if one came."""
    try:
        conn = await open_connection(rec.ip, port)
    except (OSError, TimeoutError):
        return False  # refused, silent (the kernel already resent the SYN), unreachable
    try:
        value = await READERS[proto](conn, Window.after(conn.rtt))
    except Exception as exc:  # resets, hostile peers: no greeting
        log.debug("greeting: %s %s:%d: %r", proto, rec.ip, port, exc)
        value = None
    finally:
        conn.writer.transport.abort()
    if not value:
        return False
    rec.add(SIGNALS[proto], value, port)
    return True


async def read_chunk(conn: Connection, until: float) -> bytes | None:
    """The next bytes from ``conn`` (b"" when it closed), or None once ``until`` (monotonic) has passed.
    A reset counts as closed: what came before it stands."""
    remaining = until - time.monotonic()
    if remaining <= 0:
        return None
    try:
        return await asyncio.wait_for(conn.reader.read(READ_CHUNK), remaining)
    except TimeoutError:
        return None
    except OSError:
        return b""


async def read_ssh(conn: Connection, window: Window) -> str | None:
    """The identification line (RFC 4253 §4.2), after at most a few other lines."""
    return await _read_reply(conn, window, ssh_identification, MAX_SSH_BYTES)


async def read_ftp(conn: Connection, window: Window) -> str | None:
    """The greeting reply (RFC 959 §4.2), multi-line and after a ``1xx`` included."""
    return await _read_reply(conn, window, ftp_greeting, MAX_FTP_BYTES)


async def _read_reply(
    conn: Connection, window: Window, parse: Callable[..., tuple[str | None, bool]], limit: int
) -> str | None:
    """Read until ``parse`` says the reply is whole, the peer stops, ``limit`` bytes or the window ends."""
    data = b""
    while True:
        chunk = await read_chunk(conn, window.end)
        if chunk is not None:
            data += chunk
        ended = not chunk
        value, done = parse(data, ended=ended)
        if done or ended or len(data) >= limit:
            return value


async def read_telnet(conn: Connection, window: Window) -> str | None:
    """The banner up to a login prompt, an idle pause, the byte caps or the window's end; every option
    the server asks for refused on the way (the only bytes ever sent)."""
    telnet = TelnetNegotiation()
    idle = IDLE + stretch(conn.rtt)
    while not telnet.full and not telnet.at_prompt:
        until = window.end if not telnet.data else min(window.end, time.monotonic() + idle)
        chunk = await read_chunk(conn, until)
        if not chunk:
            break
        answer = telnet.feed(chunk)
        if answer and not conn.writer.transport.is_closing():
            conn.writer.write(answer)  # at most 2 x 256 refusals of 3 bytes per connection
    return telnet.text


READERS: dict[str, Reader] = {"ssh": read_ssh, "telnet": read_telnet, "ftp": read_ftp}
