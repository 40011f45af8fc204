"""The multicast/broadcast/unicast UDP discovery loop that SADP and DHIP share.

UDP sockets bound to the interface address on ephemeral ports (``sockets.open_udp_socket``; a socket
bound to 0.0.0.0 cannot broadcast in a namespace without a default route, see docs/PERFORMANCE.md) send each
request to the multicast group, to 255.255.255.255, to the directed broadcast and (paced) to every
explicit target, three times in the first second (discovery is lossy). Devices answer unicast to the
sending port, several times over (one copy per request they heard); answers are de-duplicated by device
MAC, else IP. Devices outside the scanned subnet (cameras on factory addresses) answer too and are
reported. The wait ends ``IDLE`` seconds after the last send or the last new device, or at
``ctx.timeout``. A protocol turns a datagram into an ``Answer`` (``make_answer``); ``record_answer``
emits it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import socket
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from scanner.discovery.base import Collector, ProbeContext, ProbeResult, ProbeStatus
from scanner.discovery.sockets import open_udp_socket
from scanner.errors import TargetError
from scanner.netif import interface, interfaces
from scanner.observations import normalise_mac

log = logging.getLogger("scanner.discovery")

SEND_AT = (0.0, 0.3, 0.8)  # seconds after the start: each request goes out three times
IDLE = 0.5  # seconds without a new device, after the last send, that end the wait
MIN_BUDGET = 0.5  # seconds, whatever ctx.timeout says
DEFAULT_RATE = 5000.0  # unicast datagrams per second (option "rate")
MAX_DATAGRAM = 65536  # bytes read per datagram
READS_PER_WAKEUP = 256
READ_SLICE = 0.02  # seconds of parsing per wake-up at most, so a flood cannot starve the timers
RCVBUF = 4 << 20  # both buffers capped by net.core.[rw]mem_max (not forced)
SNDBUF = 2 << 20  # unicast datagrams to silent on-link addresses sit here until ARP gives up
MULTICAST_TTL = 1
BROADCAST = "255.255.255.255"
SENT, BUSY, FAILED = "sent", "busy", "failed"  # outcomes of one send


class Answer(NamedTuple):
    """One device's reply, ready to emit."""

    key: str  # de-duplication key: the device MAC, else its IP
    ip: str
    mac: str | None
    fields: list[tuple[str, str]]  # (signal, value), emitted in order


def make_answer(
    prefix: str, fields: dict[str, str], claimed_ip: str, claimed_mac: str, source_ip: str, label: str
) -> Answer:
    """``<prefix>.reply`` (value: ``label`` or "yes"), ``mac`` and ``<prefix>.<Field>`` for every field,
    about the IP the device claims (else the UDP source) and its MAC."""
    ip = _ipv4_or(claimed_ip, source_ip)
    mac = _mac_or_none(claimed_mac)
    out = [(f"{prefix}.reply", label or "yes")]
    if mac:
        out.append(("mac", mac))
    out += [(f"{prefix}.{name}", value) for name, value in fields.items()]
    return Answer(mac or ip, ip, mac, out)


def record_answer(col: Collector, answer: Answer, port: int) -> None:
    """Add every field of one device's answer, about its IP and MAC, at the protocol's ``port``."""
    for signal, value in answer.fields:
        col.add(signal, value, ip=answer.ip, mac=answer.mac, port=port)


@dataclass
class _Plan:
    source_ip: str | None  # bind here; None: unicast only, from 0.0.0.0
    group_dests: list[str]  # multicast group and broadcasts
    unicast: list[str]


@dataclass
class _Receiver:
    """Reads datagrams as they arrive and emits each new device once."""

    col: Collector
    port: int
    answer: Callable[[bytes, str], Answer | None]
    own_ip: str | None = None  # our own requests loop back to the group listener: not replies
    seen: set[str] = field(default_factory=set)
    answered_ips: set[str] = field(default_factory=set)
    last_new: float = 0.0
    replies: int = 0
    dropped: int = 0

    def on_readable(self, sock: socket.socket) -> None:
        until = time.monotonic() + READ_SLICE
        for _ in range(READS_PER_WAKEUP):
            if time.monotonic() > until:
                return
            try:
                data, (src, sport) = sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.debug("%s: receive failed: %s", self.col.probe, exc)
                return
            if src == self.own_ip:
                continue
            ans = self.answer(data, src)
            if ans is None:
                self.dropped += 1
                log.debug(
                    "%s: ignored a %d-byte datagram from %s:%d that is not a reply",
                    self.col.probe,
                    len(data),
                    src,
                    sport,
                )
                continue
            self.replies += 1
            self.answered_ips.add(src)
            if ans.key in self.seen:
                continue
            self.seen.add(ans.key)
            self.last_new = time.monotonic()
            record_answer(self.col, ans, self.port)


async def udp_discovery(
    col: Collector,
    *,
    port: int,
    group: str,
    payloads: Sequence[bytes],
    answer: Callable[[bytes, str], Answer | None],
) -> ProbeResult:
    """Send ``payloads`` to ``group``, the broadcasts and the targets on ``port``; emit every new answer.

    Group/broadcast and unicast sends use separate sockets: unicast datagrams to silent on-link
    addresses wait for ARP (up to ~3 s) in their socket's send queue, and must not block the
    group re-sends. A full unicast queue ends that round's unicast; the next round goes on.
    """
    ctx = col.ctx
    try:
        plan = _plan(ctx, group)
    except TargetError as exc:
        return col.result(ProbeStatus.ERROR, error=str(exc))
    if not plan.group_dests and not plan.unicast:
        return col.result(ProbeStatus.SKIPPED, notes=["no interface and no targets: nothing sent"])
    rx = _Receiver(col, port, answer, own_ip=plan.source_ip)
    loop = asyncio.get_running_loop()
    failures: dict[str, str] = {}
    sent = busy_rounds = 0
    with contextlib.ExitStack() as stack:
        try:
            group_sock = stack.enter_context(_open_socket(plan)) if plan.group_dests else None
            unicast_sock = stack.enter_context(_open_socket(plan)) if plan.unicast else None
        except OSError as exc:
            return col.result(ProbeStatus.ERROR, error=f"cannot open a UDP socket on {plan.source_ip}: {exc}")
        listener = _group_listener(plan, group, port)
        if listener:
            stack.callback(listener.close)
        for s in (group_sock, unicast_sock, listener):
            if s:
                loop.add_reader(s.fileno(), rx.on_readable, s)
                stack.callback(loop.remove_reader, s.fileno())
        start = time.monotonic()
        deadline = start + max(ctx.timeout, MIN_BUDGET)
        for at in SEND_AT:
            if start + at >= deadline:
                break
            await asyncio.sleep(max(0.0, start + at - time.monotonic()))
            if group_sock:
                sent += _send_group(group_sock, port, payloads, plan.group_dests, failures)
            if unicast_sock:
                silent = [ip for ip in plan.unicast if ip not in rx.answered_ips and ip not in failures]
                n, busy = await _send_unicast(
                    unicast_sock, port, payloads, silent, _rate(ctx), deadline, failures
                )
                sent, busy_rounds = sent + n, busy_rounds + busy
        rx.last_new = max(rx.last_new, time.monotonic())
        while (wait := min(rx.last_new + IDLE, deadline) - time.monotonic()) > 0:  # noqa: ASYNC110 - the quiet deadline moves as replies arrive
            await asyncio.sleep(wait)
    notes = [f"ignored {rx.dropped} datagrams that were not replies"] if rx.dropped else []
    if busy_rounds:
        notes.append(
            f"the unicast send queue was full in {busy_rounds} round(s): some targets were asked fewer times"
        )
    error = _describe(failures)
    if failures and not sent:
        return col.result(ProbeStatus.ERROR, error=error, notes=notes)
    return col.result(
        ProbeStatus.PARTIAL if failures else None, error=error, notes=notes, sent=sent, received=rx.replies
    )


def _group_listener(plan: _Plan, group: str, port: int) -> socket.socket | None:
    """A socket on the protocol's own port, joined to its group on the interface: some firmware copies
    its reply to the group instead of (or as well as) answering the requester's port. Optional: None
    when there is no interface address or the port cannot be shared."""
    if not plan.source_ip:
        return None
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "SO_REUSEPORT"):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind(("", port))
        mreq = struct.pack("4s4s", socket.inet_aton(group), socket.inet_aton(plan.source_ip))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        s.setblocking(False)
    except OSError as exc:
        log.debug("no %s group listener on port %d: %s", group, port, exc)
        s.close()
        return None
    return s


def _plan(ctx: ProbeContext, group: str) -> _Plan:
    """Where to send from and to. Group and broadcast sends need the interface (or its address)."""
    source = str(ctx.source_ip) if ctx.source_ip else None
    network: ipaddress.IPv4Network | None = None
    if ctx.interface:
        itf = interface(ctx.interface)
        source = source or str(itf.ip)
        network = itf.network
    elif source:
        network = next((i.network for i in interfaces() if str(i.ip) == source), None)
    dests: list[str] = []
    if source:
        dests = [group, BROADCAST]
        if network is not None and network.prefixlen < 31:
            dests.append(str(network.broadcast_address))
    unicast = [str(t) for t in ctx.targets if str(t) != source]
    return _Plan(source, dests, unicast)


def _send_group(
    sock: socket.socket, port: int, payloads: Sequence[bytes], dests: list[str], failures: dict[str, str]
) -> int:
    sent = 0
    for dest in dests:
        for payload in payloads:
            if dest in failures or _try_send(sock, payload, (dest, port), failures) != SENT:
                break
            sent += 1
    return sent


async def _send_unicast(
    sock: socket.socket,
    port: int,
    payloads: Sequence[bytes],
    targets: list[str],
    rate: float,
    deadline: float,
    failures: dict[str, str],
) -> tuple[int, bool]:
    """Every payload to every target, at most ``rate`` datagrams a second; (sent, stopped on a full queue)."""
    sent = 0
    start = time.monotonic()
    for i, ip in enumerate(targets):
        for payload in payloads:
            outcome = _try_send(sock, payload, (ip, port), failures)
            if outcome == BUSY:
                return sent, True
            if outcome == FAILED:
                break
            sent += 1
        ahead = start + (i + 1) * len(payloads) / rate - time.monotonic()
        if ahead > 0.002:
            await asyncio.sleep(ahead)
        elif i % 64 == 63:
            await asyncio.sleep(0)  # let replies in
        if time.monotonic() >= deadline:
            break
    return sent, False


def _try_send(sock: socket.socket, payload: bytes, addr: tuple[str, int], failures: dict[str, str]) -> str:
    """One datagram, never waiting: SENT, BUSY (send queue full) or FAILED (recorded in ``failures``)."""
    try:
        sock.sendto(payload, addr)
        return SENT
    except (BlockingIOError, InterruptedError):
        return BUSY
    except OSError as exc:
        if exc.errno == errno.ENOBUFS:
            return BUSY
        failures[addr[0]] = exc.strerror or str(exc)
        return FAILED


def _describe(failures: dict[str, str], shown: int = 5) -> str | None:
    """'send failed to 10.9.0.1: Network is unreachable; …; and 40 more destinations' (None if none)."""
    if not failures:
        return None
    parts = [f"{dest}: {why}" for dest, why in list(failures.items())[:shown]]
    if len(failures) > shown:
        parts.append(f"and {len(failures) - shown} more destinations")
    return "send failed to " + "; ".join(parts)


def _open_socket(plan: _Plan) -> socket.socket:
    """A socket that multicasts (link-local TTL) and broadcasts from the plan's source, if it has one."""
    source = ipaddress.IPv4Address(plan.source_ip) if plan.source_ip else None
    return open_udp_socket(source, ttl=MULTICAST_TTL, rcvbuf=RCVBUF, sndbuf=SNDBUF, broadcast=True)


def _rate(ctx: ProbeContext) -> float:
    try:
        return max(1.0, float(ctx.options.udp_rate or DEFAULT_RATE))
    except ValueError:
        return DEFAULT_RATE


def _ipv4_or(text: str, fallback: str) -> str:
    """``text`` if it is a host's IPv4 address (not 0.0.0.0, multicast or broadcast), else ``fallback``."""
    try:
        addr = ipaddress.IPv4Address(text.strip())
    except ValueError:
        return fallback
    if addr.is_unspecified or addr.is_multicast or str(addr) == BROADCAST:
        return fallback
    return str(addr)


def _mac_or_none(text: str) -> str | None:
    """The normalised MAC, or None if ``text`` is not one or is all zeros / all ones."""
    try:
        mac = normalise_mac(text) if text else None
    except ValueError:
        return None
    return None if mac in ("00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff") else mac
