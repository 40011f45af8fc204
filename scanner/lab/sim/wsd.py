"""Own WS-Discovery target service (docs/PROTOCOLS.md#ws-discovery): answers Probes with the profile's Types and Scopes.

Parameters: ``types`` (space-separated QNames with the ``dn:``/``tds:`` prefixes), ``scopes`` (list of URIs),
``endpoint`` (default: a name-based UUID from the MAC). Like a real device it answers a typed Probe only
when it has every Type asked for, answers one MessageID once, replies unicast to the sender, and waits a
random 0..APP_MAX_DELAY before answering a multicast Probe (a unicast one is answered at once).
"""

from __future__ import annotations

import asyncio
import functools
import random
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from scanner.discovery.parsers.wsd import (
    ACTION_PROBE_MATCHES,
    ANONYMOUS,
    APP_MAX_DELAY,
    GROUP,
    NS_DN,
    NS_SOAP,
    NS_TDS,
    NS_WSA,
    NS_WSD,
    PORT,
    Probe,
    parse_probe,
)
from scanner.lab.sim.device import Responder, SimDevice

PREFIXES = {"dn": NS_DN, "tds": NS_TDS}
GROUP6 = "ff02::c"
SEEN_IDS = 256  # MessageIDs remembered per device


@dataclass
class Target:
    """One device's discovery identity and the MessageIDs it has answered."""

    endpoint: str
    types: str
    scopes: list[str]
    xaddrs: str
    seen: OrderedDict[str, None] = field(default_factory=OrderedDict)

    def qnames(self) -> set[tuple[str, str]]:
        out = set()
        for qname in self.types.split():
            prefix, _, local = qname.rpartition(":")
            out.add((PREFIXES.get(prefix, ""), local))
        return out

    def answer(self, probe: Probe) -> bytes | None:
        """The ProbeMatches for ``probe``, or None when its Types do not match or it was answered before."""
        if probe.message_id in self.seen or not set(probe.types) <= self.qnames():
            return None
        self.seen[probe.message_id] = None
        if len(self.seen) > SEEN_IDS:
            self.seen.popitem(last=False)
        return probe_matches(self, probe.message_id)


def probe_matches(target: Target, relates_to: str) -> bytes:
    ns = " ".join(f'xmlns:{p}="{u}"' for p, u in PREFIXES.items())
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{NS_SOAP}" xmlns:wsadis="{NS_WSA}" xmlns:d="{NS_WSD}" {ns}>'
        f"<SOAP-ENV:Header><wsadis:MessageID>{uuid.uuid4().urn}</wsadis:MessageID>"
        f"<wsadis:RelatesTo>{escape(relates_to)}</wsadis:RelatesTo>"
        f"<wsadis:To>{ANONYMOUS}</wsadis:To><wsadis:Action>{ACTION_PROBE_MATCHES}</wsadis:Action>"
        f'<d:AppSequence InstanceId="{random.randint(1, 1 << 31)}" MessageNumber="1"/></SOAP-ENV:Header>'
        "<SOAP-ENV:Body><d:ProbeMatches><d:ProbeMatch>"
        f"<wsadis:EndpointReference><wsadis:Address>{escape(target.endpoint)}</wsadis:Address>"
        f"</wsadis:EndpointReference><d:Types>{escape(target.types)}</d:Types>"
        f"<d:Scopes>{escape(' '.join(target.scopes))}</d:Scopes>"
        f"<d:XAddrs>{escape(target.xaddrs)}</d:XAddrs>"
        "<d:MetadataVersion>10</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches>"
        "</SOAP-ENV:Body></SOAP-ENV:Envelope>"
    ).encode()


class _Responder(Responder):
    def __init__(self, target: Target, max_delay: float) -> None:
        self.target, self.max_delay = target, max_delay

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        probe = parse_probe(data)
        reply = self.target.answer(probe) if probe else None
        if reply is None or self.transport is None:
            return
        delay = random.uniform(0, self.max_delay)
        if delay:
            asyncio.get_running_loop().call_later(delay, self.send, [reply], addr)
        else:
            self.send([reply], addr)


async def start(dev: SimDevice, params: dict[str, Any]) -> None:
    # XAddrs name the IPv4 address (a foreign one for a device left on its factory address), else the
    # link-local one
    host = dev.ip if dev.ipv4 else f"[{dev.link_local}]"
    target = Target(
        endpoint=params.get("endpoint") or uuid.uuid5(uuid.NAMESPACE_OID, dev.mac).urn,
        types=params.get("types", "dn:NetworkVideoTransmitter tds:Device"),
        scopes=list(params.get("scopes", [])),
        xaddrs=f"http://{host}/onvif/device_service",
    )
    loop = asyncio.get_running_loop()
    # Multicast arrives on the wildcard socket that joined the group; unicast on the one bound to the
    # device's own address (the more specific bind wins), so each knows whether to delay its answer.
    socks = []
    if dev.ipv4:
        socks += [
            (dev.udp_socket(PORT, (GROUP,)), APP_MAX_DELAY),
            (dev.udp_socket(PORT, bind_any=False), 0.0),
        ]
    if dev.ipv6:  # SOAP-over-UDP 1.1 §3.1.1: ff02::c
        socks += [
            (dev.udp6_socket(PORT, (GROUP6,)), APP_MAX_DELAY),
            (dev.udp6_socket(PORT, bind_any=False), 0.0),
        ]
    for sock, delay in socks:
        await loop.create_datagram_endpoint(functools.partial(_Responder, target, delay), sock=sock)
