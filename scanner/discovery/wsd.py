"""WS-Discovery / ONVIF discovery: typed and untyped Probes to the multicast group and to each host.

Measured here (../shared/MEASUREMENTS.md): the ``wsdiscovery`` client lost most replies from 254 devices
while a hand-written probe got them all, so this is our own code. Three Probes
(``dn:NetworkVideoTransmitter``, ``tds:Device``, untyped) go out in ``ROUNDS``; retransmissions reuse the
MessageID (SOAP-over-UDP) and unicast repeats go only to hosts that have not answered. Devices delay
multicast answers by up to ``APP_MAX_DELAY``, so the probe waits that long after its last multicast, then
ends after ``IDLE`` seconds of silence, or as soon as every host it asked has answered; never past
``ctx.timeout``.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import time
from ipaddress import IPv4Address

from scanner.discovery.base import Collector, ProbeContext, ProbeResult, ProbeStatus, log
from scanner.discovery.parsers.wsd import (
    APP_MAX_DELAY,
    GROUP,
    PORT,
    PROBE_TYPES,
    ProbeMatch,
    build_probe,
    match_mac,
    new_message_id,
    parse_probe_matches,
    scope_params,
    xaddr_ipv4,
)
from scanner.errors import TargetError

ROUNDS = (0.0, 0.3, 0.7)  # seconds after the start at which the probes are (re)sent
IDLE = 0.25  # seconds without a reply that end the probe once the multicast answers are due
SLACK = 0.1  # seconds allowed for a delayed multicast answer to cross the wire
DEFAULT_RATE = 5000  # unicast datagrams per second
BUFFER = 16 << 20  # socket buffers: unicast to unresolved neighbours stays charged to the send buffer
SO_SNDBUFFORCE, SO_RCVBUFFORCE = 32, 33  # Linux; need CAP_NET_ADMIN, else SO_SNDBUF/SO_RCVBUF (capped)
MULTICAST_TTL = 1  # SOAP-over-UDP: link-local scope


class WsdProbe:
    name = "wsd"
    description = "WS-Discovery / ONVIF Probes (NetworkVideoTransmitter, Device, untyped), multi- and unicast"

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        col = Collector(self.name, ctx)
        try:
            source = discovery_source(ctx)
        except TargetError as exc:
            return col.result(ProbeStatus.ERROR, error=str(exc))
        hosts = ctx.hosts_to_probe()
        if source is None and not hosts:
            return col.result(ProbeStatus.SKIPPED, notes=["WS-Discovery needs an interface or targets"])
        try:
            sock = open_udp_socket(source, MULTICAST_TTL)
        except OSError as exc:
            return col.result(ProbeStatus.ERROR, error=f"cannot open a WS-Discovery socket: {exc}")
        notes = [] if source else ["no interface given: unicast Probes only, no multicast"]
        session = _Session(sock, col, multicast=source is not None, hosts=hosts,
                           rate=float(ctx.options.get("rate", DEFAULT_RATE)))
        try:
            await session.run(ctx.timeout)
        finally:
            sock.close()
        unasked = len(set(hosts) - session.asked)
        if unasked:
            notes.append(f"{unasked} hosts got no unicast Probe (time budget or socket buffer exhausted)")
        return col.result(notes=notes, sent=session.sent, received=session.received)


def discovery_source(ctx: ProbeContext) -> IPv4Address | None:
    """The address multicast goes out from: ``ctx.source_ip``, else the address of ``ctx.interface``."""
    if ctx.source_ip is not None:
        return ctx.source_ip
    if ctx.interface:
        from scanner.netif import interface

        return interface(ctx.interface).ip
    return None


def open_udp_socket(source: IPv4Address | None, ttl: int) -> socket.socket:
    """A non-blocking UDP socket on an ephemeral port of ``source`` (else 0.0.0.0), multicasting from it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for force, plain in ((SO_SNDBUFFORCE, socket.SO_SNDBUF), (SO_RCVBUFFORCE, socket.SO_RCVBUF)):
            try:
                sock.setsockopt(socket.SOL_SOCKET, force, BUFFER)
            except PermissionError:
                sock.setsockopt(socket.SOL_SOCKET, plain, BUFFER)
        sock.bind((str(source) if source else "0.0.0.0", 0))
        if source is not None:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, source.packed)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class _Session:
    def __init__(self, sock: socket.socket, col: Collector, *, multicast: bool, hosts: list[str],
                 rate: float) -> None:
        self.sock, self.col, self.multicast, self.hosts = sock, col, multicast, hosts
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.probes = [build_probe(new_message_id(), t) for t in PROBE_TYPES]
        self.answered: set[str] = set()  # source addresses that sent a ProbeMatch
        self.endpoints: set[str] = set()
        self.asked: set[str] = set()  # hosts every unicast Probe went to
        self.sent = self.received = 0
        self.last_reply = 0.0
        self.deadline = 0.0
        self.wake = asyncio.Event()

    async def run(self, budget: float) -> None:
        loop = asyncio.get_running_loop()
        start = time.monotonic()
        self.deadline = start + max(budget, 0.1)
        loop.add_reader(self.sock.fileno(), self._on_readable)
        try:
            last_multicast = start
            for offset in ROUNDS:
                if not await self._pause_until(start + offset):
                    return
                if self.multicast:
                    for probe in self.probes:
                        self._send(probe, GROUP)
                    last_multicast = time.monotonic()
                await self._unicast([h for h in self.hosts if h not in self.answered])
            due = last_multicast + APP_MAX_DELAY + SLACK if self.multicast else 0.0
            while (quiet_at := max(due, self.last_reply + IDLE)) > time.monotonic():
                if not await self._sleep(quiet_at):
                    return
        finally:
            loop.remove_reader(self.sock.fileno())
            self._on_readable()  # whatever already arrived

    def _over(self) -> bool:
        """Past the deadline, or every host asked has answered."""
        all_answered = bool(self.hosts) and self.answered.issuperset(self.hosts)
        return all_answered or time.monotonic() >= self.deadline

    async def _sleep(self, until: float) -> bool:
        """Sleep until ``until`` or the next reply; False once the probe is over."""
        if self._over():
            return False
        self.wake.clear()
        try:
            await asyncio.wait_for(self.wake.wait(), max(0.0, min(until, self.deadline) - time.monotonic()))
        except TimeoutError:
            pass
        return not self._over()

    async def _pause_until(self, when: float) -> bool:
        while time.monotonic() < when:
            if not await self._sleep(when):
                return False
        return not self._over()

    async def _unicast(self, hosts: list[str]) -> None:
        """Each Probe to each host, paced; stops for this round when the send buffer is full."""
        started = time.monotonic()
        for i, host in enumerate(hosts):
            if time.monotonic() >= self.deadline:
                return
            if not all(self._send(probe, host) for probe in self.probes):
                return
            self.asked.add(host)
            ahead = started + (i + 1) * len(self.probes) * self.interval - time.monotonic()
            if ahead > 0.002:
                await asyncio.sleep(ahead)
            elif i % 32 == 31:
                await asyncio.sleep(0)  # let replies in

    def _send(self, datagram: bytes, host: str) -> bool:
        """False only when the send buffer is full (retry later); other errors lose just this datagram."""
        try:
            self.sock.sendto(datagram, (host, PORT))
        except (BlockingIOError, InterruptedError):
            return False
        except OSError as exc:
            if exc.errno == errno.ENOBUFS:
                return False
            log.debug("wsd: send to %s failed: %s", host, exc)
            return True
        self.sent += 1
        return True

    def _on_readable(self) -> None:
        for _ in range(256):
            try:
                data, (src, _port) = self.sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. an ICMP error queued on the socket
                log.debug("wsd: receive failed: %s", exc)
                continue
            self.received += 1
            matches = parse_probe_matches(data)
            if not matches:
                continue
            self.answered.add(src)
            self.last_reply = time.monotonic()
            self.wake.set()
            for match in matches:
                self._emit(match, src)

    def _emit(self, match: ProbeMatch, src: str) -> None:
        key = match.endpoint or f"{src} {' '.join(match.xaddrs)}"
        if key in self.endpoints:
            return
        self.endpoints.add(key)
        ip = xaddr_ipv4(match) or src
        add = self.col.add
        if match.endpoint:
            add("wsd.endpoint", match.endpoint, ip=ip, port=PORT)
        if match.types:
            add("wsd.types", " ".join(match.types), ip=ip, port=PORT)
        for scope in match.scopes:
            add("wsd.scope", scope, ip=ip, port=PORT)
        if match.xaddrs:
            add("wsd.xaddrs", " ".join(match.xaddrs), ip=ip, port=PORT)
        params = scope_params(match.scopes)
        for name in params.get("name", []):
            add("onvif.name", name, ip=ip, port=PORT)
        for hardware in params.get("hardware", []):
            add("onvif.hardware", hardware, ip=ip, port=PORT)
        mac = match_mac(match)
        if mac:
            add("mac", mac, ip=ip, mac=mac)
