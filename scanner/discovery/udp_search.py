"""UDP discovery plumbing: where a protocol's requests go, the sockets they leave from, which sources may
answer, and one ``request_reply.Exchange`` that runs it (SADP, DHIP, WS-Discovery, SSDP and SNMP).

Requests go to the protocol's multicast group (and, for SADP and DHIP, to 255.255.255.255 and the
directed broadcast) from a socket bound to the interface's own address (``sockets.open_udp_socket``: a
socket bound to 0.0.0.0 cannot broadcast in a namespace without a default route), and by unicast to
each target from a second socket: unicast to a silent on-link address waits for ARP (up to ~3 s) in
its socket's send queue and must not hold up the group requests. SADP and DHIP also listen on their
protocol port's group, because some firmware copies its reply there instead of answering the
requester's port. Replies are taken only from the targets and the interface's subnet
(``request_reply.Scope``), never from loopback or this host's own addresses.

IPv6 (``run_udp6``, only with ``--ipv6`` and an interface): the protocol's link-scope group
(``UdpProtocol.group6``, e.g. ff02::c) from the link-local address, hop limit 1; replies only from
link-local sources on that interface or its own prefixes, recorded with their zone (``fe80::1%eth0``).
No IPv6 unicast goes to hosts that merely answered: they are heard, not targets. ``merge_results``
joins a probe's IPv4 and IPv6 results into one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import logging
import socket
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from scanner.discovery.base import Collector, ProbeContext, ProbeResult, ProbeStatus
from scanner.discovery.request_reply import MAX_DATAGRAM, Exchange, Limits, Reply, Scope, Timing, UdpChannel
from scanner.discovery.sockets import Link6, discovery_source, open_udp6_socket, open_udp_socket, scoped
from scanner.errors import TargetError
from scanner.netif import Interface, interface, interfaces
from scanner.observations import normalise_mac

log = logging.getLogger("scanner.discovery")

BROADCAST = "255.255.255.255"


@dataclass(frozen=True, slots=True)
class UdpProtocol:
    """How one protocol uses UDP."""

    name: str  # as notes name it, e.g. "SSDP"
    request: str  # what one request is called in notes, e.g. "M-SEARCH"
    port: int
    group: str | None  # multicast group (None: unicast only)
    timing: Timing
    ttl: int = 1
    broadcast: bool = False  # also send to 255.255.255.255 and the directed broadcast
    listen_on_group_port: bool = False  # also read the group on the protocol's own port
    rcvbuf: int = 4 << 20
    sndbuf: int = 2 << 20
    force_buffers: bool = False  # past net.core.[rw]mem_max where permitted (CAP_NET_ADMIN)
    multicast_loop: bool = False
    group6: str | None = None  # link-scope IPv6 multicast group (used only with --ipv6)


def vendor_search(name: str, request: str, port: int, group: str) -> UdpProtocol:
    """SADP and DHIP: each request three times in the first second (discovery is lossy), to the group, the
    broadcasts and the targets, replies read on the group port too; the wait ends 0.5 s after the last send
    or the last new device."""
    timing = Timing(rounds=(0.0, 0.3, 0.8), quiet=0.5, end_when_all_answered=False)
    return UdpProtocol(
        name, request, port, group, timing, broadcast=True, listen_on_group_port=True, multicast_loop=True
    )


def crowd_search(name: str, request: str, port: int, group: str, timing: Timing, ttl: int) -> UdpProtocol:
    """SSDP and WS-Discovery: hundreds of devices may answer one multicast search at once, so 16 MiB socket
    buffers (past the system maximum where permitted)."""
    return UdpProtocol(
        name, request, port, group, timing, ttl=ttl, rcvbuf=16 << 20, sndbuf=16 << 20, force_buffers=True
    )


def claims(source: str, ip_text: str, mac_text: str) -> list[tuple[str, str]]:
    """What a payload claims about its sender, as evidence: ``claimed.ip``, ``claimed.mac`` and, when the
    claimed IPv4 address is not the UDP source, ``claimed.mismatch``. Never an address to probe."""
    out: list[tuple[str, str]] = []
    ip = host_ipv4(ip_text)
    if ip is not None:
        out.append(("claimed.ip", ip))
        if ip != source:
            out.append(("claimed.mismatch", f"claims {ip}, sent from {source}"))
    mac = unicast_mac(mac_text)
    if mac is not None:
        out.append(("claimed.mac", mac))
    return out


def host_ipv4(text: str) -> str | None:
    """``text`` if it is a host's IPv4 address (not 0.0.0.0, multicast or broadcast), else None."""
    try:
        addr = ipaddress.IPv4Address(text.strip())
    except ValueError:
        return None
    if addr.is_unspecified or addr.is_multicast or str(addr) == BROADCAST:
        return None
    return str(addr)


def unicast_mac(text: str) -> str | None:
    """The normalised MAC, or None if ``text`` is not one or is all zeros / all ones."""
    try:
        mac = normalise_mac(text) if text else None
    except ValueError:
        return None
    return None if mac in ("00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff") else mac


def scope_for(source: str | None, network: ipaddress.IPv4Network | None, targets: Sequence[str]) -> Scope:
    """Replies may come from the targets and the interface's subnet, never from this host's addresses."""
    own = {str(i.ip) for i in _interfaces_quietly()}
    if source:
        own.add(source)
    networks = [network] if network is not None else []
    return Scope(networks=networks, hosts=set(targets) - own, own=own)


def _interfaces_quietly() -> list[Interface]:
    try:
        return interfaces()
    except OSError:
        return []


def _where(col: Collector) -> tuple[str | None, ipaddress.IPv4Network | None]:
    """The address requests leave from and the interface's subnet (TargetError for a bad interface)."""
    ctx = col.ctx
    source = discovery_source(ctx)
    network: ipaddress.IPv4Network | None = None
    if ctx.interface:
        network = interface(ctx.interface).network
    elif source is not None:
        network = next((i.network for i in interfaces() if i.ip == source), None)
    return (str(source) if source else None), network


async def ask_everyone(
    name: str,
    ctx: ProbeContext,
    proto: UdpProtocol,
    payloads: Sequence[bytes],
    handle: Callable[[bytes, str, int], Reply | None],
    limits: Limits | None = None,
) -> ProbeResult:
    """The usual vendor-discovery exchange: the same ``payloads`` to the group and to every target."""
    result, _ = await run_udp(
        Collector(name, ctx),
        proto,
        group_payloads=payloads,
        unicast=lambda _host: payloads,
        handle=handle,
        limits=limits,
    )
    return result


async def run_udp(
    col: Collector,
    proto: UdpProtocol,
    *,
    group_payloads: Sequence[bytes],
    unicast: Callable[[str], Sequence[bytes]],
    handle: Callable[[bytes, str, int], Reply | None],
    busy: Callable[[], bool] = lambda: False,
    limits: Limits | None = None,
    targets: Sequence[str] | None = None,
    started: Callable[[Exchange], None] | None = None,
) -> tuple[ProbeResult, Exchange | None]:
    """Run ``proto``'s exchange for ``col.ctx``: group requests (with an interface) and unicast to the
    targets (``targets``, else ``ctx.hosts_to_probe()``); ``started`` sees the exchange before it runs."""
    ctx = col.ctx
    try:
        source, network = _where(col)
    except TargetError as exc:
        return col.result(ProbeStatus.ERROR, error=str(exc)), None
    hosts = [h for h in (targets if targets is not None else ctx.hosts_to_probe()) if h != source]
    dests: list[str] = []
    if source and proto.group:
        dests = [proto.group]
        if proto.broadcast:
            dests.append(BROADCAST)
            if network is not None and network.prefixlen < 31:
                dests.append(str(network.broadcast_address))
    if not dests and not hosts:
        return col.result(ProbeStatus.SKIPPED, notes=[f"{proto.name} needs an interface or targets"]), None
    notes = (
        []
        if source or not proto.group
        else [f"no interface given: unicast {proto.request} only, no multicast"]
    )
    timing = dataclasses.replace(
        proto.timing,
        rate=_rate(col),
        first_wait=max(proto.timing.first_wait, Timing.first_wait_for(ctx.timeout)),
    )
    with contextlib.ExitStack() as stack:
        try:
            group_sock = stack.enter_context(_open(proto, source)) if dests else None
            unicast_sock = stack.enter_context(_open(proto, source)) if hosts else None
        except OSError as exc:
            return col.result(ProbeStatus.ERROR, error=f"cannot open the {proto.name} socket: {exc}"), None
        listener = _group_listener(proto, source) if dests and proto.listen_on_group_port else None
        if listener is not None:
            stack.callback(listener.close)
        exchange = Exchange(
            col,
            handle=handle,
            timing=timing,
            scope=scope_for(source, network, hosts),
            targets=hosts,
            unicast=unicast,
            group=[(d, p) for d in dests for p in group_payloads],
            unicast_channel=UdpChannel(unicast_sock, proto.port) if unicast_sock else None,
            group_channel=UdpChannel(group_sock, proto.port) if group_sock else None,
            listeners=[UdpChannel(listener, proto.port)] if listener else [],
            limits=limits,
            busy=busy,
        )
        if started is not None:
            started(exchange)
        await exchange.run(ctx.timeout)
    return exchange.result(notes), exchange


def _open(proto: UdpProtocol, source: str | None) -> socket.socket:
    return open_udp_socket(
        ipaddress.IPv4Address(source) if source else None,
        ttl=proto.ttl,
        rcvbuf=proto.rcvbuf,
        sndbuf=proto.sndbuf,
        force_buffers=proto.force_buffers,
        broadcast=proto.broadcast,
        multicast_loop=proto.multicast_loop,
    )


def _group_listener(proto: UdpProtocol, source: str | None) -> socket.socket | None:
    """A socket on the protocol's own port, joined to its group on the interface; None when the port
    cannot be shared."""
    if not source or not proto.group:
        return None
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "SO_REUSEPORT"):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind(("", proto.port))
        mreq = struct.pack("4s4s", socket.inet_aton(proto.group), socket.inet_aton(source))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        s.setblocking(False)
    except OSError as exc:
        log.debug("no %s group listener on port %d: %s", proto.group, proto.port, exc)
        s.close()
        return None
    return s


def _rate(col: Collector) -> float:
    return max(1.0, col.ctx.options.rate_for(col.probe))


class Udp6Channel(UdpChannel):
    """An IPv6 UDP socket: sources come back with their zone (``fe80::1%eth0``), as every IPv6 address is
    written in this package."""

    def __init__(self, sock: socket.socket, port: int, ifname: str) -> None:
        super().__init__(sock, port)
        self.ifname = ifname

    def receive(self) -> tuple[bytes, str, int] | None:
        try:
            data, (src, sport, *_rest) = self.sock.recvfrom(MAX_DATAGRAM)
        except (BlockingIOError, InterruptedError):
            return None
        return data, scoped(src, self.ifname), sport


def scope6_for(link: Link6) -> Scope:
    """IPv6 replies may come from link-local sources on this link and from its own prefixes, never from
    this host's own addresses."""
    return Scope(own=set(link.own), link6=link.ifname, networks6=list(link.networks))


async def run_udp6(
    col: Collector,
    proto: UdpProtocol,
    link: Link6,
    *,
    group_payloads: Sequence[bytes],
    handle: Callable[[bytes, str, int], Reply | None],
    busy: Callable[[], bool] = lambda: False,
    limits: Limits | None = None,
    started: Callable[[Exchange], None] | None = None,
) -> ProbeResult:
    """``proto``'s exchange on the IPv6 link: the group requests to ``proto.group6`` on ``link``."""
    if not proto.group6:
        return col.result(ProbeStatus.SKIPPED, notes=[f"{proto.name} has no IPv6 group"])
    timing = dataclasses.replace(proto.timing, rate=_rate(col))
    try:
        sock = open_udp6_socket(link, hops=1, rcvbuf=proto.rcvbuf, sndbuf=proto.sndbuf)
    except OSError as exc:
        return col.result(ProbeStatus.ERROR, error=f"cannot open the IPv6 {proto.name} socket: {exc}")
    with contextlib.closing(sock):
        channel = Udp6Channel(sock, proto.port, link.ifname)
        exchange = Exchange(
            col,
            handle=handle,
            timing=timing,
            scope=scope6_for(link),
            group=[(f"{proto.group6}%{link.ifname}", p) for p in group_payloads],
            group_channel=channel,
            limits=limits,
            busy=busy,
        )
        if started is not None:
            started(exchange)
        await exchange.run(col.ctx.timeout)
    return exchange.result()


def merge_results(first: ProbeResult, second: ProbeResult | None, label: str = "IPv6") -> ProbeResult:
    """One probe's IPv4 result and its IPv6 result (``second``, None when IPv6 was not asked for) as one:
    observations, counts, notes and errors of both (the IPv6 ones prefixed by ``label``); the status is
    the worst failure, else success when either saw something."""
    if second is None:
        return first
    notes = [*first.notes, *(f"{label}: {n}" for n in second.notes)]
    errors = [e for e in (first.error, f"{label}: {second.error}" if second.error else None) if e]
    observations = [*first.observations, *second.observations]
    statuses = {first.status, second.status}
    status = ProbeStatus.SUCCESS if observations else ProbeStatus.NO_RESPONSE
    for bad in (ProbeStatus.ERROR, ProbeStatus.PARTIAL):
        if bad in statuses:
            status = ProbeStatus.PARTIAL if observations or statuses - {bad, ProbeStatus.SKIPPED} else bad
            break
    if statuses == {ProbeStatus.SKIPPED}:
        status = ProbeStatus.SKIPPED
    return ProbeResult(
        first.probe,
        status,
        observations,
        "; ".join(errors) or None,
        notes,
        max(first.duration, second.duration),
        first.sent + second.sent,
        first.received + second.received,
    )
