"""Dahua DHIP discovery (UDP 37810): ``DHDiscover.search`` to 239.255.255.251, the broadcasts and the targets.

Dahua-built devices and their OEMs (Amcrest, Intelbras, …) answer ``client.notifyDevInfo`` with the
model, serial, firmware and vendor. Requests and replies go through ``udp_search`` (shared with SADP).
A reply is about its UDP source: its ``IPv4Address.IPAddress`` and ``mac`` are recorded as
``claimed.ip`` / ``claimed.mac`` (and ``claimed.mismatch``), never used as the device's identity.
"""

from __future__ import annotations

from scanner.discovery.base import ProbeContext, ProbeResult
from scanner.discovery.parsers.dhip import GROUP, PORT, build_search, parse_reply
from scanner.discovery.request_reply import Limits, Reply
from scanner.discovery.udp_search import ask_everyone, claims, unicast_mac, vendor_search

DHIP = vendor_search("DHIP", "DHDiscover.search", PORT, GROUP)
LIMITS = Limits(keys_per_source=4)


class DhipProbe:
    name = "dhip"
    description = "Dahua DHIP DHDiscover.search (UDP 37810, multicast + broadcast + unicast to targets)"

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        return await ask_everyone(self.name, ctx, DHIP, [build_search()], dhip_reply, LIMITS)


def dhip_reply(data: bytes, source: str, _port: int = PORT) -> Reply | None:
    """The observations of one notifyDevInfo datagram from ``source`` (None if it is not one)."""
    reply = parse_reply(data)
    if reply is None:
        return None
    info = reply.info
    out = [("dhip.reply", info.get("DeviceType") or "yes")]
    out += claims(source, info.get("IPv4Address.IPAddress", ""), reply.mac)
    out += [(f"dhip.{name}", value) for name, value in info.items()]
    return Reply(source, unicast_mac(reply.mac) or "", out, port=PORT)
