"""WS-Discovery / ONVIF discovery: typed and untyped Probes to the multicast group and to each host.

Measured on a namespace lab (docs/PERFORMANCE.md): the ``wsdiscovery`` client lost most replies from 254 devices
while a hand-written probe got them all, so this is our own code. Three Probes
(``dn:NetworkVideoTransmitter``, ``tds:Device``, untyped) go out in ``ROUNDS``; retransmissions reuse the
MessageID (SOAP-over-UDP) and unicast repeats go only to hosts that have not answered. Devices delay
multicast answers by up to ``APP_MAX_DELAY``, so the probe waits that long after its last multicast, then
ends after a quiet period, or as soon as every host it asked has answered; never past
``ctx.timeout``. Requests and replies go through ``udp_search`` (shared with SSDP, SADP, DHIP, SNMP);
``match_fields`` turns one ProbeMatch into observations about the reply's UDP source: the XAddrs host
and the MAC a match reveals are recorded as ``claimed.ip`` / ``claimed.mac``, never as its identity.
With ``--ipv6`` and an interface the same Probes also go to ff02::c (SOAP-over-UDP 1.1 §3.1.1, the
link-local IPv6 group) from the link-local address; a camera left on a foreign IPv4 address answers there,
and its XAddrs IPv4 host is recorded as a claim.
"""

from __future__ import annotations

import asyncio
import dataclasses

from scanner.discovery.base import Collector, ProbeContext, ProbeResult, ProbeStatus
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
from scanner.discovery.request_reply import Reply, Timing
from scanner.discovery.sockets import ipv6_link
from scanner.discovery.udp_search import claims, crowd_search, merge_results, run_udp, run_udp6
from scanner.errors import TargetError

ROUNDS = (0.0, 0.3, 0.7)  # seconds after the start at which the probes are (re)sent
MULTICAST_TTL = 1  # SOAP-over-UDP: link-local scope
SLACK = 0.1  # seconds allowed for a delayed multicast answer to cross the wire
GROUP6 = "ff02::c"  # SOAP-over-UDP 1.1 §3.1.1: the IPv6 link-local multicast address
TIMING = Timing(rounds=ROUNDS, reply_delay=APP_MAX_DELAY + SLACK, quiet=0.25)
WSD = dataclasses.replace(
    crowd_search("WS-Discovery", "Probe", PORT, GROUP, TIMING, MULTICAST_TTL), group6=GROUP6
)


class WsdProbe:
    name = "wsd"
    description = "WS-Discovery / ONVIF Probes (NetworkVideoTransmitter, Device, untyped), multi- and unicast"

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        probes = [build_probe(new_message_id(), t) for t in PROBE_TYPES]
        v4 = run_udp(
            Collector(self.name, ctx),
            WSD,
            group_payloads=probes,
            unicast=lambda _host: probes,
            handle=wsd_reply,
        )
        try:
            link = ipv6_link(ctx)
        except TargetError as exc:
            result, _ = await v4
            return merge_results(result, Collector(self.name, ctx).result(ProbeStatus.ERROR, error=str(exc)))
        if link is None:
            result, _ = await v4
            return result
        # own MessageIDs: a device answers one MessageID once, whichever family it came over
        probes6 = [build_probe(new_message_id(), t) for t in PROBE_TYPES]
        v6 = run_udp6(Collector(self.name, ctx), WSD, link, group_payloads=probes6, handle=wsd_reply)
        (result, _), result6 = await asyncio.gather(v4, v6)
        return merge_results(result, result6)


def wsd_reply(data: bytes, source: str, _port: int = PORT) -> Reply | None:
    """The observations of one ProbeMatches datagram from ``source`` (None if it holds no match)."""
    matches = parse_probe_matches(data)
    if not matches:
        return None
    fields = [f for match in matches for f in match_fields(match, source)]
    key = " ".join(sorted(m.endpoint or " ".join(m.xaddrs) for m in matches))
    return Reply(source, key, fields, port=PORT)


def match_fields(match: ProbeMatch, source: str) -> list[tuple[str, str]]:
    """One ProbeMatch's observations about ``source``: endpoint, types, every scope, XAddrs, the ONVIF
    name and hardware scopes, and what it claims: its XAddrs host and the MAC it reveals."""
    out: list[tuple[str, str]] = []
    if match.endpoint:
        out.append(("wsd.endpoint", match.endpoint))
    if match.types:
        out.append(("wsd.types", " ".join(match.types)))
    out += [("wsd.scope", scope) for scope in match.scopes]
    if match.xaddrs:
        out.append(("wsd.xaddrs", " ".join(match.xaddrs)))
    params = scope_params(match.scopes)
    out += [("onvif.name", name) for name in params.get("name", [])]
    out += [("onvif.hardware", hardware) for hardware in params.get("hardware", [])]
    out += claims(source, xaddr_ipv4(match) or "", match_mac(match) or "")
    return out
