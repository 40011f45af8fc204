"""The address discovery sends from, and the non-blocking UDP sockets the discovery probes open.

A socket bound to 0.0.0.0 cannot broadcast in a namespace without a default route (docs/PERFORMANCE.md#sockets-and-namespaces), so
discovery sockets are bound to the interface's own address, which also picks the multicast interface.
Buffer sizes stay the caller's choice: unicast to silent on-link addresses sits in the send buffer
until ARP gives up, and each probe sizes for its own traffic.

IPv6 (``ipv6_link``, ``open_udp6_socket``) is used only when the user asked for it (``--ipv6``, which
needs ``--interface``): the link's link-local address is the source, the interface's index picks the
multicast interface, and hop limit 1 keeps every multicast on the link. A link-local address is written
with its zone, ``fe80::1%eth0``, everywhere (observations, targets, connects).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path

from scanner.discovery.base import ProbeContext
from scanner.errors import TargetError

SO_SNDBUFFORCE, SO_RCVBUFFORCE = 32, 33  # Linux; need CAP_NET_ADMIN, else SO_SNDBUF/SO_RCVBUF (capped)


def discovery_source(ctx: ProbeContext) -> IPv4Address | None:
    """The address multicast goes out from: ``ctx.source_ip``, else the address of ``ctx.interface``.

    Raises TargetError for an interface that does not exist or has no IPv4 address.
    """
    if ctx.source_ip is not None:
        return ctx.source_ip
    if ctx.interface:
        from scanner.netif import interface

        return interface(ctx.interface).ip
    return None


def open_udp_socket(
    source: IPv4Address | None,
    *,
    ttl: int,
    rcvbuf: int,
    sndbuf: int,
    force_buffers: bool = False,
    broadcast: bool = False,
    multicast_loop: bool = True,
) -> socket.socket:
    """A non-blocking UDP socket on an ephemeral port of ``source`` (else 0.0.0.0).

    With a ``source`` it multicasts from that address with ``ttl`` (looped back to this host only if
    ``multicast_loop``) and, if ``broadcast``, may send to broadcast addresses. ``force_buffers`` asks
    for the buffer sizes past ``net.core.[rw]mem_max`` (needs CAP_NET_ADMIN; else they are capped).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        _set_buffer(sock, socket.SO_RCVBUF, SO_RCVBUFFORCE if force_buffers else None, rcvbuf)
        _set_buffer(sock, socket.SO_SNDBUF, SO_SNDBUFFORCE if force_buffers else None, sndbuf)
        sock.bind((str(source) if source else "0.0.0.0", 0))  # noqa: S104 - a client socket, ephemeral port
        if source is not None:
            if broadcast:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, source.packed)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, int(multicast_loop))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _set_buffer(sock: socket.socket, option: int, forced: int | None, size: int) -> None:
    """``option`` to ``size``, through the ``forced`` variant when given and permitted."""
    if forced is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, forced, size)
            return
        except PermissionError:
            pass
    sock.setsockopt(socket.SOL_SOCKET, option, size)


# /proc/net follows the process's first thread; thread-self follows the calling thread's namespace.
IF_INET6 = Path("/proc/thread-self/net/if_inet6")
_IFA_F_DADFAILED, _IFA_F_TENTATIVE = 0x08, 0x40
_SCOPE_LINK = 0x20


@dataclass(frozen=True, slots=True)
class Link6:
    """The IPv6 link of the scan interface: its name, index, link-local address (no zone) and prefixes."""

    ifname: str
    index: int
    source: str
    networks: tuple[ipaddress.IPv6Network, ...] = ()  # the interface's global/ULA prefixes
    own: frozenset[str] = frozenset()  # every IPv6 address of this interface (no zone)

    def scoped(self, host: str) -> str:
        """``host`` with this link's zone when it is link-local (``fe80::1`` -> ``fe80::1%eth0``)."""
        return scoped(host, self.ifname)


def scoped(host: str, ifname: str) -> str:
    """A link-local IPv6 address with its zone ``ifname``; any other address unchanged."""
    bare = host.split("%", 1)[0]
    try:
        addr = ipaddress.IPv6Address(bare)
    except ValueError:
        return host
    return f"{bare}%{ifname}" if addr.is_link_local or addr.is_multicast else bare


def ipv6_link(ctx: ProbeContext) -> Link6 | None:
    """The IPv6 link to use, or None when IPv6 was not asked for (``ctx.options.ipv6``) or there is no
    interface: no probe sends IPv6 without both. TargetError when the interface has no usable link-local
    address (IPv6 disabled, or still tentative)."""
    if not ctx.options.ipv6 or not ctx.interface:
        return None
    return link6(ctx.interface)


def link6(ifname: str) -> Link6:
    """The IPv6 facts of interface ``ifname`` in the calling thread's namespace (TargetError if none)."""
    try:
        index = socket.if_nametoindex(ifname)
        text = IF_INET6.read_text()
    except OSError as exc:
        raise TargetError(f"interface {ifname!r}: no IPv6 ({exc})") from None
    source, networks, own = None, [], set()
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 6 or parts[5] != ifname:
            continue
        try:
            addr = ipaddress.IPv6Address(int(parts[0], 16))
            plen, scope, flags = int(parts[2], 16), int(parts[3], 16), int(parts[4], 16)
        except ValueError:
            continue
        own.add(str(addr))
        if flags & (_IFA_F_DADFAILED | _IFA_F_TENTATIVE):
            continue
        if scope == _SCOPE_LINK and addr.is_link_local:
            source = source or str(addr)
        elif scope == 0:
            networks.append(ipaddress.IPv6Network(f"{addr}/{plen}", strict=False))
    if source is None:
        raise TargetError(f"interface {ifname!r} has no usable IPv6 link-local address")
    return Link6(ifname, index, source, tuple(networks), frozenset(own))


def open_udp6_socket(
    link: Link6, *, hops: int = 1, rcvbuf: int = 1 << 20, sndbuf: int = 1 << 20
) -> socket.socket:
    """A non-blocking IPv6 UDP socket on an ephemeral port of the link-local address, multicasting on
    the link with ``hops`` hop limit (never looped back)."""
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        _set_buffer(sock, socket.SO_RCVBUF, None, rcvbuf)
        _set_buffer(sock, socket.SO_SNDBUF, None, sndbuf)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((link.source, 0, 0, link.index))
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, link.index)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, hops)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def local_addresses6() -> frozenset[str]:
    """Every IPv6 address of this namespace (no zone); empty when IPv6 is off."""
    out = set()
    try:
        text = IF_INET6.read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        parts = line.split()
        try:
            out.add(str(ipaddress.IPv6Address(int(parts[0], 16))))
        except (ValueError, IndexError):
            continue
    return frozenset(out)
