"""Dahua DHIP discovery (UDP 37810): ``DHDiscover.search`` to 239.255.255.251, the broadcasts and the targets.

Dahua-built devices and their OEMs (Amcrest, Intelbras, …) answer ``client.notifyDevInfo`` with the
model, serial, firmware and vendor. The send/receive loop is shared with SADP (``udp_discovery``).
"""

from __future__ import annotations

from scanner.discovery.base import Collector, ProbeContext, ProbeResult
from scanner.discovery.parsers.dhip import GROUP, PORT, build_search, parse_reply
from scanner.discovery.udp_discovery import Answer, make_answer, udp_discovery


class DhipProbe:
    name = "dhip"
    description = "Dahua DHIP DHDiscover.search (UDP 37810, multicast + broadcast + unicast to targets)"

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        return await udp_discovery(
            Collector(self.name, ctx), port=PORT, group=GROUP, payloads=[build_search()], answer=dhip_answer
        )


def dhip_answer(data: bytes, source_ip: str) -> Answer | None:
    """The observations of one notifyDevInfo datagram (None if it is not one)."""
    reply = parse_reply(data)
    if reply is None:
        return None
    info = reply.info
    return make_answer(
        "dhip", info, info.get("IPv4Address.IPAddress", ""), reply.mac, source_ip, info.get("DeviceType", "")
    )
