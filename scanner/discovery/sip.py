"""SIP OPTIONS (RFC 3261 §11) over UDP 5060 to each live target: the agent's ``Server`` / ``User-Agent``
header as ``sip.user_agent`` (Huawei EchoLife ONTs, ZTE ZXHN gateways and F6xx ONTs name model and
firmware there: fingerprints/banners/sip.toml).

OPTIONS sets up no call and rings no phone. Requests go through ``udp_search`` (the engine every UDP
probe shares): paced, silent hosts asked again, the probe ends when every host answered or its budget
ran out. A reply counts only from a probed host's SIP port, as a SIP response carrying that host's
Call-ID and ``CSeq: 1 OPTIONS``; at most one per host is read (``Limits``), so a flood costs nothing
more. Port: ``ctx.options.ports`` key ``sip`` (the first port; default 5060).
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import socket
from ipaddress import IPv4Address

from scanner.discovery.base import Collector, ProbeContext, ProbeResult, ProbeStatus
from scanner.discovery.parsers.sip import PORT, build_options, parse_reply
from scanner.discovery.request_reply import Exchange, Limits, Reply, SocketChannel, Timing
from scanner.discovery.udp_search import UdpProtocol, run_udp

log = logging.getLogger("scanner.discovery")

SIP = UdpProtocol("SIP", "OPTIONS", PORT, None, Timing(rounds=(0.0,), first_wait=0.25, quiet=0.25))
LIMITS = Limits(keys_per_source=1, datagrams_per_source=16)
# Seconds the probe takes at least (more for many hosts: their sends at the probe's rate, twice). Most
# hosts speak no SIP and stay silent, so the exchange lasts until each was asked twice: with the banner
# phase's whole budget (8 s) the engine's first wait would be 1 s and the probe 2.7 s on every scan
# (measured on office50); with this one it is a third of a second per try. A reply that comes later than
# that but before the probe ends (about 1.1 s) still counts.
MIN_BUDGET = 2.0


class SipProbe:
    name = "sip"
    description = "SIP OPTIONS over UDP 5060: the agent's Server / User-Agent (no call set up)"

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        col = Collector(self.name, ctx)
        hosts = [h for h in ctx.hosts_to_probe() if ":" not in h]  # IPv4 only
        ports = ctx.options.ports_for("sip", (PORT,))
        if not hosts or not ports:
            return col.result(ProbeStatus.SKIPPED, notes=["no hosts to probe"])
        rate = max(1.0, ctx.options.rate_for(self.name))
        ctx = dataclasses.replace(ctx, timeout=min(ctx.timeout, max(MIN_BUDGET, 2 * len(hosts) / rate + 1.0)))
        col.ctx = ctx
        requests = _Requests(ctx, ports[0])
        proto = dataclasses.replace(SIP, port=ports[0])
        limits = dataclasses.replace(LIMITS, sources=max(LIMITS.sources, len(hosts)))
        result, _ = await run_udp(
            col,
            proto,
            group_payloads=[],
            unicast=requests.request,
            handle=requests.handle,
            limits=limits,
            targets=hosts,
            started=requests.started,
        )
        return result


class _Requests:
    """One Call-ID per host, the request's own address in its Via, and the matching of replies."""

    def __init__(self, ctx: ProbeContext, port: int) -> None:
        self.ctx, self.port = ctx, port
        self.local: str | None = None  # None: the socket is not bound to one address
        self.local_port = PORT
        self.call_ids: dict[str, str] = {}
        self.tag, self.branch = secrets.token_hex(4), secrets.token_hex(8)

    def started(self, exchange: Exchange) -> None:
        """Learn the address and port the requests leave from (the Via and Contact name them)."""
        channel = exchange.unicast_channel
        if isinstance(channel, SocketChannel):
            address = channel.sock.getsockname()
            self.local_port = address[1]
            self.local = None if IPv4Address(address[0]).is_unspecified else address[0]

    def request(self, ip: str) -> list[bytes]:
        call_id = self.call_ids.setdefault(ip, secrets.token_hex(12))
        local = self.local or route_source(ip)
        branch = f"{self.branch}{ip.replace('.', '')}"
        return [build_options(ip, local, self.local_port, call_id, branch, self.tag)]

    def handle(self, data: bytes, ip: str, port: int) -> Reply | None:
        if port != self.port or ip not in self.call_ids:
            return None
        reply = parse_reply(data)
        if reply is None or reply.call_id != self.call_ids[ip] or reply.cseq != "1 OPTIONS":
            log.debug("sip: ignored a datagram from %s", ip)
            return None
        fields = [("sip.user_agent", agent) for agent in reply.agents]
        return Reply(ip, "options", fields, port=self.port, mac=self.ctx.live_hosts.get(ip))


def route_source(ip: str) -> str:
    """The local address the kernel would send to ``ip`` from (a UDP connect sends nothing)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect((ip, PORT))
            return str(s.getsockname()[0])
    except OSError:
        return str(IPv4Address(0))  # no route: the request cannot leave either
