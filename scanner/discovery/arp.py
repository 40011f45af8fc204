"""ARP sweep of the on-link targets from a raw AF_PACKET socket, through the discovery engine.

Measured on a namespace lab (docs/PERFORMANCE.md#arp-sweep): a raw-socket sweep finds 254 hosts in ~0.3 s where scapy's srp, nmap -sn
and arp-scan take 1.4-1.8 s, so this hot path is our own code. The requests, retries and waits are
``request_reply.Exchange``'s (the engine every discovery protocol shares), on an ``ArpChannel``: who-has
frames paced at ``rate`` frames/s; silent targets asked again once their request had its time to be
answered (arp-scan's defaults: 2 tries, 500 ms; here the wait follows the replies' round trip and the
budget, and a lossy link gets more tries); the sweep ends when every target answered or nothing new
arrived for a quiet period after the last retry. Without raw-socket rights it falls back to
``neighbour.py`` (an unprivileged sweep through the kernel's neighbour table) and says so; on a
platform without AF_PACKET it uses scapy (``arp_scapy.py``) when installed.
"""

from __future__ import annotations

import dataclasses
import socket
from ipaddress import IPv4Address, IPv4Network

from scanner.discovery.base import Collector, ProbeContext, ProbeResult, ProbeStatus
from scanner.discovery.parsers.arp import ETH_P_ARP, build_request, parse_reply
from scanner.discovery.request_reply import Channel, Exchange, Limits, Reply, Scope, SocketChannel, Timing
from scanner.netif import interface

RCVBUF = 4 << 20
MAX_FRAME = 2048
FRAMES_PER_READ = 1024  # frames that are not replies to us skipped per read at most
# busy: the NIC queue drains fast. settle 0: a target answers ARP with one frame and its source keeps one
# reply (LIMITS.keys_per_source), so once every target answered nothing can follow that would be recorded;
# the engine's 50 ms settle kept every full sweep ~60 ms past its last reply (office254: 60-70 ms, now
# 8-13 ms; docs/PERFORMANCE.md, "ARP start-up")
TIMING = Timing(rounds=(0.0,), min_wait=0.25, quiet=0.25, busy_wait=1.0, settle=0.0, loss_settles=True)
LIMITS = Limits(keys_per_source=1, datagrams_per_source=64, observations_per_source=4)


class ArpChannel(SocketChannel):
    """A bound AF_PACKET socket as an exchange channel: a "datagram" is a whole frame, and what is
    received is only ARP replies addressed to ``own_ip``, with the sender's address as their source."""

    def __init__(self, sock: socket.socket, own_ip: IPv4Address) -> None:
        super().__init__(sock)
        self.own = own_ip.packed

    def send(self, datagram: bytes, dest: str) -> None:
        self.sock.send(datagram)

    def receive(self) -> tuple[bytes, str, int] | None:
        for _ in range(FRAMES_PER_READ):
            try:
                frame = self.sock.recv(MAX_FRAME)
            except (BlockingIOError, InterruptedError):
                return None
            # opcode 2 (reply) to our address; everything else on the wire is someone else's traffic
            if (
                len(frame) >= 42
                and frame[12:14] == b"\x08\x06"
                and frame[20:22] == b"\0\x02"
                and frame[38:42] == self.own
            ):
                return frame, socket.inet_ntoa(frame[28:32]), 0
        return None


class ArpProbe:
    name = "arp"
    description = "ARP sweep of on-link targets (raw socket; unprivileged neighbour-table fallback)"

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        col = Collector(self.name, ctx)
        if not ctx.interface:
            return col.result(ProbeStatus.SKIPPED, notes=["ARP needs an interface on the targets' subnet"])
        itf = interface(ctx.interface)
        targets = [t for t in ctx.targets if t in itf.network and t != itf.ip]
        if not targets:
            return col.result(
                ProbeStatus.SKIPPED, notes=[f"no target is on-link on {itf.name} ({itf.network})"]
            )
        if not hasattr(socket, "AF_PACKET"):
            from scanner.discovery import arp_scapy

            if arp_scapy.available():
                return await arp_scapy.scapy_sweep(ctx, targets, itf.name)
            from scanner.discovery.neighbour import neighbour_sweep

            return await neighbour_sweep(ctx, targets, itf)
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
        except PermissionError:
            from scanner.discovery.neighbour import neighbour_sweep

            return await neighbour_sweep(ctx, targets, itf)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
            sock.bind((itf.name, ETH_P_ARP))
            sock.setblocking(False)
            exchange = sweep(col, ArpChannel(sock, itf.ip), itf.mac, itf.ip, itf.network, targets)
            await exchange.run(ctx.timeout)
        except OSError as exc:
            return col.result(ProbeStatus.ERROR, error=f"ARP sweep on {itf.name} failed: {exc}")
        finally:
            sock.close()
        return exchange.result()


def sweep(
    col: Collector,
    channel: Channel,
    src_mac: str,
    src_ip: IPv4Address,
    network: IPv4Network,
    targets: list[IPv4Address],
) -> Exchange:
    """The exchange that asks every target who has its address, from ``src_mac``/``src_ip``."""
    mac_b = bytes.fromhex(src_mac.replace(":", ""))
    ip_b = src_ip.packed
    wanted = {str(t) for t in targets}
    rate = col.ctx.options.rate_for("arp")
    timing = dataclasses.replace(TIMING, rate=rate, first_wait=Timing.first_wait_for(col.ctx.timeout))

    def request(target: str) -> list[bytes]:
        return [build_request(mac_b, ip_b, IPv4Address(target).packed)]

    def handle(frame: bytes, _src: str, _port: int) -> Reply | None:
        reply = parse_reply(frame)
        if reply is None or reply.target_ip != str(src_ip) or reply.sender_ip not in wanted:
            return None
        return Reply(reply.sender_ip, reply.sender_ip, [("mac", reply.sender_mac)], mac=reply.sender_mac)

    return Exchange(
        col,
        handle=handle,
        timing=timing,
        scope=Scope(networks=[network], hosts=wanted, own={str(src_ip)}),
        targets=[str(t) for t in targets],
        unicast=request,
        unicast_channel=channel,
        # a reply counts only from a target asked: as many sources as targets (a /16 may hold thousands)
        limits=dataclasses.replace(LIMITS, sources=max(LIMITS.sources, len(targets))),
    )
