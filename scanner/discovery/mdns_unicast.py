"""One-shot mDNS queries (RFC 6762 §5.1, §5.5, §6.7): DNS-SD across routers, and mDNS on the IPv6 link.

``mdns-unicast``: multicast mDNS stays on its link, but RFC 6762 §5.5 lets a querier send its question
by unicast to port 5353 of a host; a responder answers by unicast to the querier's port (a one-shot,
"legacy" query: from a port other than 5353, §6.7). So each *off-link* target (off the interface's
subnet, or every target without an interface) is asked, paced and bounded like every unicast discovery
probe (``udp_search``). It runs with the banner probes, on the hosts the discovery round found alive
(the liveness sweep's, for off-link targets): a sparse routed /16 costs a datagram per live host. It asks
for the service-type enumeration and the camera types of
``parsers.dnssd.BROWSE_TYPES`` (``_CGI._tcp``, ``_axis-video._tcp``, …); the answer's PTR/SRV/TXT records become
``mdns.*`` observations about the UDP source. On-link targets are left to the multicast ``mdns`` probe.

``ask_link6``: the same query to ff02::fb on the IPv6 link (with ``--ipv6`` only), as the ``mdns``
probe's IPv6 part; answers come by unicast from each responder's link-local address.

Only answers from port 5353 are read; ``parsers/dnssd.py`` decodes them.
"""

from __future__ import annotations

import hashlib
import secrets
from ipaddress import IPv4Address, IPv4Network

from scanner.discovery.base import Collector, ProbeContext, ProbeResult, ProbeStatus
from scanner.discovery.parsers.dnssd import BROWSE_TYPES, ENUMERATION_TYPE, build_query, parse_answer
from scanner.discovery.request_reply import Reply, Timing
from scanner.discovery.sockets import Link6
from scanner.discovery.udp_search import UdpProtocol, run_udp, run_udp6
from scanner.errors import TargetError
from scanner.netif import interface

PORT = 5353
GROUP6 = "ff02::fb"  # RFC 6762 §3
QUESTION_TYPES = (ENUMERATION_TYPE, *BROWSE_TYPES, "_device-info._tcp.local.")
REPLY_DELAY = (
    0.5  # RFC 6762 §6: a shared-record answer to a multicast query may wait 20-120 ms (500 ms if truncated)
)
# a slow embedded responder (or a loaded host) still gets half a second before it is asked again, whatever
# the fastest responders' round trip says
MDNS_UNICAST = UdpProtocol(
    "mDNS", "one-shot query", PORT, None, Timing(rounds=(0.0, 0.4), quiet=0.25, min_wait=0.5), rcvbuf=4 << 20
)
MDNS6 = UdpProtocol(
    "mDNS",
    "one-shot query",
    PORT,
    None,
    Timing(rounds=(0.0, 0.4), reply_delay=REPLY_DELAY, quiet=0.25),
    group6=GROUP6,
)


def mdns_reply(data: bytes, source: str, sport: int) -> Reply | None:
    """The observations of one mDNS answer from ``source`` (None unless it came from port 5353 and says
    something about services)."""
    if sport != PORT:
        return None
    answer = parse_answer(data)
    if answer is None:
        return None
    fields = answer.fields()
    key = hashlib.sha1(repr(fields).encode(), usedforsecurity=False).hexdigest()
    return Reply(source, key, fields, port=PORT)


def query() -> bytes:
    return build_query(QUESTION_TYPES, secrets.randbelow(0xFFFF) + 1)


class MdnsUnicastProbe:
    name = "mdns-unicast"
    description = "one-shot mDNS queries to port 5353 of off-link targets (DNS-SD across routers)"

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        col = Collector(self.name, ctx)
        try:
            network = interface(ctx.interface).network if ctx.interface else None
        except TargetError as exc:
            return col.result(ProbeStatus.ERROR, error=str(exc))
        hosts = off_link(ctx.hosts_to_probe(), network)
        if not hosts:
            return col.result(
                ProbeStatus.SKIPPED, notes=["no off-link target: on-link hosts answer multicast mDNS"]
            )
        payload = query()
        result, _ = await run_udp(
            col,
            MDNS_UNICAST,
            group_payloads=[],
            unicast=lambda _h: [payload],
            handle=mdns_reply,
            targets=hosts,
        )
        return result


def off_link(hosts: list[str], network: IPv4Network | None) -> list[str]:
    """The IPv4 ``hosts`` outside ``network`` (all of them without one)."""
    out = []
    for h in hosts:
        try:
            addr = IPv4Address(h)
        except ValueError:
            continue
        if network is None or addr not in network:
            out.append(h)
    return out


async def ask_link6(col: Collector, link: Link6) -> ProbeResult:
    """The one-shot query to ff02::fb on ``link``; answers recorded about each responder's address."""
    return await run_udp6(col, MDNS6, link, group_payloads=[query()], handle=mdns_reply)
