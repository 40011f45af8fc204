"""The address discovery sends from, and the non-blocking UDP sockets the discovery probes open.

A socket bound to 0.0.0.0 cannot broadcast in a namespace without a default route (docs/PERFORMANCE.md#sockets-and-namespaces), so
discovery sockets are bound to the interface's own address, which also picks the multicast interface.
Buffer sizes stay the caller's choice: unicast to silent on-link addresses sits in the send buffer
until ARP gives up, and each probe sizes for its own traffic.
"""

from __future__ import annotations

import socket
from ipaddress import IPv4Address

from scanner.discovery.base import ProbeContext

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
