"""Which targets answer at all, and which camera-relevant TCP ports they have open: a paced raw SYN
sweep plus ICMP echo (as nmap -sS -PE and masscan do), with an unprivileged connect() sweep as fallback.

Across a router ARP cannot tell which addresses are in use, and a banner probe pays its whole connect
timeout on every empty address. This probe asks every target cheaply first, so the banner phase only
visits hosts that answered. Two steps, both paced at ``rate`` packets per second:

1. **Hosts**: an ICMP echo and a SYN to each of ``HOST_PORTS`` for every target, asked twice at most
   (the second round only to the silent ones, in reverse order, after a short gap: what a saturated
   path dropped at the end of the first round goes first). Any answer — echo reply, SYN-ACK, RST — makes a host live.
2. **Ports**: on live hosts, a SYN to each of the ports (``DEFAULT_PORTS`` or the user's) that has not
   answered yet, asked up to ``PORT_TRIES`` times.

SYN-ACKs are never completed: the kernel, which knows no connection on our source port, answers them
with RST (the source port is reserved by a bound, unconnected TCP socket for the sweep's lifetime).
Every SYN's sequence number is a keyed hash of its destination (see parsers/tcp_syn.py), and only
answers from targets are kept: nothing a device says can add a host or a port that was not asked.
Without raw-socket rights the probe falls back to bounded-concurrency ``connect()`` calls (ECONNREFUSED
also proves a host is there) and says so in its notes.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import resource
import secrets
import socket
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Address

from scanner.discovery.base import Collector, ProbeContext, ProbeResult, ProbeStatus
from scanner.discovery.options import CONNECT_CONCURRENCY
from scanner.discovery.parsers.tcp_syn import (
    build_echo,
    build_syn,
    cookie,
    parse_echo_reply,
    parse_tcp_answer,
)

DEFAULT_PORTS = (80, 443, 554, 8000, 8080, 8443, 37777, 22, 23)  # web, RTSP, Hikvision/Dahua SDK, SSH, telnet
HOST_PORTS = (80, 443, 554, 8000)  # asked of every target in step 1 (cameras answer at least one)
HOST_TRIES = 2
PORT_TRIES = 3
MIN_WAIT = 0.5  # seconds to wait for late answers after a round, at least
RTT_FACTOR = 3.0  # ... and this many times the slowest answer seen so far
MAX_WAIT = 3.0
ROUND_GAP = 2.0  # seconds between host rounds: a router gives up resolving an absent address in ~3 s
RCVBUF = 8 << 20
CONNECT_TIMEOUT = 1.5  # fallback: above the kernel's first SYN retransmission (1 s)


def sweep_budget(targets: int, ports: int, rate: float) -> float:
    """Seconds the sweep needs for ``targets`` addresses at ``rate``: both host rounds at full size, the
    port rounds, and the waits between rounds (the scan gives the probe this much time)."""
    host_packets = targets * (1 + len(HOST_PORTS)) * HOST_TRIES
    waits = (HOST_TRIES + PORT_TRIES) * MAX_WAIT + (HOST_TRIES - 1) * ROUND_GAP
    return host_packets / max(rate, 1.0) + waits + ports * 0.01 + 2.0


@dataclass
class _Found:
    """What the sweep learnt, and when each target was first asked (for the round-trip estimate)."""

    live: dict[str, str] = field(default_factory=dict)  # ip -> how we know ("icmp-echo", "tcp-rst" …)
    open: dict[str, set[int]] = field(default_factory=dict)
    answered: dict[str, set[int]] = field(default_factory=dict)  # ip -> ports that said anything
    asked_at: dict[str, float] = field(default_factory=dict)
    slowest: float = 0.0
    last_answer: float = 0.0


class LivenessProbe:
    name = "liveness"
    description = "which targets answer (ICMP echo, TCP SYN) and which camera ports are open"

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        col = Collector(self.name, ctx)
        targets = [t for t in ctx.targets if isinstance(t, IPv4Address)]
        if not targets:
            return col.result(
                ProbeStatus.SKIPPED, notes=["no targets to sweep (on-link targets are the ARP sweep's)"]
            )
        ports = tuple(ctx.options.ports_for(self.name, DEFAULT_PORTS))
        rate = ctx.options.rate_for(self.name)
        try:
            tcp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
        except PermissionError:
            return await connect_sweep(col, targets, ports, ctx.timeout)
        try:
            icmp: socket.socket | None = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        except PermissionError:
            icmp = None
        try:
            return await _RawSweep(col, tcp, icmp, targets, rate, ctx.timeout).run(ports)
        finally:
            tcp.close()
            if icmp is not None:
                icmp.close()


class _RawSweep:
    """One raw sweep: its sockets, cookie secret, what it found, and its deadline."""

    def __init__(
        self,
        col: Collector,
        tcp: socket.socket,
        icmp: socket.socket | None,
        targets: list[IPv4Address],
        rate: float,
        budget: float,
    ) -> None:
        self.col, self.tcp, self.icmp, self.rate = col, tcp, icmp, rate
        self.pacer = col.ctx.pacer  # the scan's shared cap (--rate), on top of this sweep's own pace
        self.deadline = time.monotonic() + max(budget, 1.0)
        self.secret = secrets.token_bytes(16)
        self.ident = secrets.randbits(16)
        self.wanted = {str(t): t for t in targets}
        self.found = _Found()
        self.sources = _SourceAddresses()
        self.sent = 0
        self.sport = 0

    async def run(self, ports: tuple[int, ...]) -> ProbeResult:
        loop = asyncio.get_running_loop()
        reserve = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # holds our source port for the sweep
        reserve.bind(("0.0.0.0", 0))  # noqa: S104 - reserves an ephemeral port; never listens
        self.sport = reserve.getsockname()[1]
        readers = [(self.tcp, self._on_tcp), (self.icmp, self._on_icmp)]
        for sock, reader in readers:
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
                sock.setblocking(False)
                loop.add_reader(sock.fileno(), reader)
        try:
            finished = await self._host_rounds() and await self._port_rounds(ports)
        finally:
            for sock, _reader in readers:
                if sock is not None:
                    loop.remove_reader(sock.fileno())
            reserve.close()
        return self._result(finished)

    async def _host_rounds(self) -> bool:
        found, finished = self.found, True
        for round_no in range(HOST_TRIES):
            silent = [ip for ip in self.wanted if ip not in found.live]
            if not silent:
                break
            if round_no % 2:
                # A saturated path (a router's neighbour table, a rate limiter) drops the tail of a round:
                # ask the silent in reverse order, after the path had time to recover.
                silent.reverse()
                await asyncio.sleep(max(0.0, min(ROUND_GAP, self.deadline - time.monotonic() - 1.0)))
            finished = (
                await self._send_round([(ip, p) for ip in silent for p in (None, *HOST_PORTS)]) and finished
            )
            await self._settle()
        return finished

    async def _port_rounds(self, ports: tuple[int, ...]) -> bool:
        found, finished = self.found, True
        for _round in range(PORT_TRIES):
            jobs = [(ip, p) for ip in found.live for p in ports if p not in found.answered.get(ip, set())]
            if not jobs:
                break
            finished = await self._send_round(jobs) and finished
            await self._settle()
        return finished

    def _result(self, finished: bool) -> ProbeResult:
        found, notes = self.found, []
        if self.icmp is None:
            notes.append("no raw ICMP socket: hosts were found by TCP answers only")
        for reason, count in sorted(self.sources.failures.items()):
            notes.append(f"{count} packet(s) could not be sent: {reason}")
        notes.append(
            f"{len(found.live)} of {len(self.wanted)} target(s) answered; "
            f"{sum(len(p) for p in found.open.values())} open port(s) on {len(found.open)} host(s)"
        )
        if not finished:
            notes.append("ran out of time before every target was asked: the sweep is incomplete")
            return self.col.result(ProbeStatus.PARTIAL, notes=notes, sent=self.sent, received=len(found.live))
        return self.col.result(notes=notes, sent=self.sent, received=len(found.live))

    def _answered(self, ip: str, how: str, port: int | None = None, is_open: bool = False) -> None:
        found, now = self.found, time.monotonic()
        found.last_answer = now
        if ip in found.asked_at:
            found.slowest = max(found.slowest, now - found.asked_at[ip])
        if ip not in found.live:
            found.live[ip] = how
            self.col.add("host.alive", how, ip=ip)
        if port is not None:
            found.answered.setdefault(ip, set()).add(port)
            if is_open and port not in found.open.setdefault(ip, set()):
                found.open[ip].add(port)
                self.col.add("tcp.open", str(port), ip=ip, port=port)

    def _on_tcp(self) -> None:
        for packet in _drain(self.tcp):
            got = parse_tcp_answer(packet, self.sport, self.secret)
            if got is not None and got.src in self.wanted:
                self._answered(got.src, "tcp-syn-ack" if got.open else "tcp-rst", got.port, got.open)

    def _on_icmp(self) -> None:
        assert self.icmp is not None
        for packet in _drain(self.icmp):
            got = parse_echo_reply(packet, self.ident)
            if got is not None and got.src in self.wanted:
                self._answered(got.src, "icmp-echo")

    def _packet(self, ip: str, port: int | None, n: int) -> tuple[socket.socket, bytes] | None:
        """The echo (``port`` None) or SYN for one job, and the socket it goes out on; None to skip it."""
        if port is None:
            return (self.icmp, build_echo(self.ident, n & 0xFFFF)) if self.icmp is not None else None
        src = self.sources.for_target(ip)
        if src is None:
            return None
        dst = self.wanted[ip].packed
        return self.tcp, build_syn(src, dst, self.sport, port, cookie(self.secret, dst, port))

    async def _send_round(self, jobs: Iterable[tuple[str, int | None]]) -> bool:
        """Send each (ip, port) SYN, or (ip, None) echo, paced; False if the deadline cut it short."""
        interval = 1.0 / self.rate if self.rate > 0 else 0.0
        start = time.monotonic()
        for i, (ip, port) in enumerate(jobs):
            if time.monotonic() >= self.deadline:
                return False
            self.found.asked_at.setdefault(ip, time.monotonic())
            out = self._packet(ip, port, i)
            if out is None:
                continue
            if self.pacer is not None:
                await self.pacer.take()
            try:
                await _send(out[0], out[1], ip)
            except OSError as exc:  # e.g. EHOSTUNREACH for one address: go on with the rest
                reason = exc.strerror or str(exc)
                self.sources.failures[reason] = self.sources.failures.get(reason, 0) + 1
                continue
            self.sent += 1
            ahead = start + (i + 1) * interval - time.monotonic()
            if ahead > 0.002:
                await asyncio.sleep(ahead)
            elif i % 128 == 127:
                await asyncio.sleep(0)  # let answers in
        return True

    def _quiet(self) -> float:
        return min(MAX_WAIT, max(MIN_WAIT, RTT_FACTOR * self.found.slowest))

    async def _settle(self) -> None:
        """Wait for late answers: until nothing new came for a while scaled to the slowest answer."""
        mark = time.monotonic()
        while (wait := self._until_quiet(mark)) > 0:  # noqa: ASYNC110 - the quiet deadline moves as answers arrive
            await asyncio.sleep(min(wait, 0.1))

    def _until_quiet(self, mark: float) -> float:
        """Seconds left until the sweep has heard nothing new for a quiet period (or its deadline)."""
        return min(max(self.found.last_answer, mark) + self._quiet(), self.deadline) - time.monotonic()


def _drain(sock: socket.socket, limit: int = 1024) -> Iterator[bytes]:
    """What a non-blocking socket holds now, at most ``limit`` packets."""
    for _ in range(limit):
        try:
            yield sock.recv(4096)
        except OSError:  # BlockingIOError included: nothing more now
            return


async def _send(sock: socket.socket, packet: bytes, ip: str) -> None:
    while True:
        try:
            sock.sendto(packet, (ip, 0))
            return
        except (BlockingIOError, InterruptedError):
            await asyncio.sleep(0.001)
        except OSError as exc:
            if exc.errno == errno.ENOBUFS:  # the queue is full: let it drain
                await asyncio.sleep(0.001)
                continue
            raise


class _SourceAddresses:
    """The local address the kernel would send from to each target (the TCP checksum covers it)."""

    def __init__(self) -> None:
        self.cache: dict[str, bytes | None] = {}
        self.failures: dict[str, int] = {}

    def for_target(self, ip: str) -> bytes | None:
        if ip not in self.cache:
            probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                probe.connect((ip, 9))  # a UDP connect sends nothing; it only asks the routing table
                self.cache[ip] = socket.inet_aton(probe.getsockname()[0])
            except OSError as exc:
                self.cache[ip] = None
                reason = f"no route ({exc.strerror or exc})"
                self.failures[reason] = self.failures.get(reason, 0) + 1
            finally:
                probe.close()
        return self.cache[ip]


async def connect_sweep(
    col: Collector, targets: list[IPv4Address], ports: tuple[int, ...], budget: float
) -> ProbeResult:
    """Without raw sockets: ``connect()`` to each target's host ports, then to every port of live hosts.
    A refused connection proves the host is there as well as an accepted one."""
    deadline = time.monotonic() + max(budget, 1.0)
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = col.ctx.options.concurrency_for(CONNECT_CONCURRENCY)
    sem = asyncio.Semaphore(max(1, min(limit, soft - 64)))
    pacer = col.ctx.pacer
    live: dict[str, str] = {}
    open_ports: dict[str, set[int]] = {}
    attempts = 0
    unfinished = 0

    async def one(ip: str, port: int) -> None:
        nonlocal attempts, unfinished
        async with sem:
            left = deadline - time.monotonic()
            if left <= 0:
                unfinished += 1
                return
            attempts += 1
            if pacer is not None:  # a connect() sends a SYN: it counts against --rate too
                await pacer.take()
            try:
                async with asyncio.timeout(min(CONNECT_TIMEOUT, left)):
                    _reader, writer = await asyncio.open_connection(ip, port)
            except ConnectionRefusedError:
                if ip not in live:
                    live[ip] = "tcp-refused"
                    col.add("host.alive", "tcp-refused", ip=ip)
                return
            except (OSError, TimeoutError):
                return
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            if ip not in live:
                live[ip] = "tcp-connect"
                col.add("host.alive", "tcp-connect", ip=ip)
            if port not in open_ports.setdefault(ip, set()):
                open_ports[ip].add(port)
                col.add("tcp.open", str(port), ip=ip, port=port)

    names = [str(t) for t in targets]
    await asyncio.gather(*(one(ip, p) for ip in names for p in HOST_PORTS))
    await asyncio.gather(*(one(ip, p) for ip in list(live) for p in ports if p not in HOST_PORTS))
    notes = [
        "unprivileged: a connect() sweep instead of raw SYN/ICMP (slower; hosts that drop TCP to "
        f"{', '.join(map(str, HOST_PORTS))} are not seen)",
        f"{len(live)} of {len(names)} target(s) answered; "
        f"{sum(len(p) for p in open_ports.values())} open port(s) on {len(open_ports)} host(s)",
    ]
    if unfinished:
        notes.append(f"ran out of time: {unfinished} connection(s) not tried; the sweep is incomplete")
        return col.result(ProbeStatus.PARTIAL, notes=notes, sent=attempts, received=len(live))
    status = ProbeStatus.SUCCESS if live else ProbeStatus.NO_RESPONSE
    return col.result(status, notes=notes, sent=attempts, received=len(live))
