"""WS-Discovery / ONVIF discovery: typed and untyped Probes to the multicast group and to each host.

Measured here (docs/PERFORMANCE.md): the ``wsdiscovery`` client lost most replies from 254 devices
while a hand-written probe got them all, so this is our own code. Three Probes
(``dn:NetworkVideoTransmitter``, ``tds:Device``, untyped) go out in ``ROUNDS``; retransmissions reuse the
MessageID (SOAP-over-UDP) and unicast repeats go only to hosts that have not answered. Devices delay
multicast answers by up to ``APP_MAX_DELAY``, so the probe waits that long after its last multicast, then
ends after ``IDLE`` seconds of silence, or as soon as every host it asked has answered; never past
``ctx.timeout``. That send/receive loop, ``IDLE`` included, is shared with SSDP (``multicast_search``);
``record_match`` turns one ProbeMatch into observations.
"""

from __future__ import annotations

import socket

from scanner.discovery.base import Collector, ProbeContext, ProbeResult
from scanner.discovery.multicast_search import MulticastSearch, run_search
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

ROUNDS = (0.0, 0.3, 0.7)  # seconds after the start at which the probes are (re)sent
MULTICAST_TTL = 1  # SOAP-over-UDP: link-local scope


class WsdProbe:
    name = "wsd"
    description = "WS-Discovery / ONVIF Probes (NetworkVideoTransmitter, Device, untyped), multi- and unicast"

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        return await run_search(Collector(self.name, ctx), _Search)


def record_match(col: Collector, match: ProbeMatch, source_ip: str) -> None:
    """Add one ProbeMatch's observations, about the IPv4 host of its XAddrs (else ``source_ip``): endpoint,
    types, every scope, XAddrs, the ONVIF name and hardware scopes, and the MAC it reveals."""
    ip = xaddr_ipv4(match) or source_ip
    add = col.add
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


class _Search(MulticastSearch[list[ProbeMatch]]):
    protocol, request = "WS-Discovery", "Probe"
    group, port, ttl = GROUP, PORT, MULTICAST_TTL
    rounds, reply_delay = ROUNDS, APP_MAX_DELAY

    def __init__(self, sock: socket.socket, col: Collector, *, multicast: bool, hosts: list[str]) -> None:
        super().__init__(sock, col, multicast=multicast, hosts=hosts)
        self.probes = [build_probe(new_message_id(), t) for t in PROBE_TYPES]
        self.endpoints: set[str] = set()  # matches already reported

    def multicast_datagrams(self) -> list[bytes]:
        return self.probes

    def unicast_datagrams(self, host: str) -> list[bytes]:
        return self.probes

    def parse(self, data: bytes) -> list[ProbeMatch] | None:
        return parse_probe_matches(data) or None

    def record(self, reply: list[ProbeMatch], src: str) -> None:
        for match in reply:
            key = match.endpoint or f"{src} {' '.join(match.xaddrs)}"
            if key not in self.endpoints:
                self.endpoints.add(key)
                record_match(self.col, match, src)
