"""Hikvision SADP discovery (UDP 37020): the XML ``inquiry`` to 239.255.255.250, the broadcasts and
the targets. Any answer is Hikvision-ecosystem firmware (HiWatch, LTS, EZVIZ and other OEM labels
included). The send/receive loop is shared with DHIP (``udp_discovery``).
"""

from __future__ import annotations

import uuid

from scanner.discovery.base import Collector, ProbeContext, ProbeResult
from scanner.discovery.parsers.sadp import GROUP, INQUIRY_TYPES, PORT, build_inquiry, parse_probe_match
from scanner.discovery.udp_discovery import Answer, make_answer, udp_discovery


class SadpProbe:
    name = "sadp"
    description = "Hikvision SADP inquiry (UDP 37020, multicast + broadcast + unicast to targets)"

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        request_id = str(uuid.uuid4()).upper()
        payloads = [build_inquiry(request_id, t) for t in INQUIRY_TYPES]
        return await udp_discovery(
            Collector(self.name, ctx), port=PORT, group=GROUP, payloads=payloads, answer=sadp_answer
        )


def sadp_answer(data: bytes, source_ip: str) -> Answer | None:
    """The observations of one ProbeMatch datagram (None if it is not one)."""
    fields = parse_probe_match(data)
    if fields is None:
        return None
    return make_answer(
        "sadp",
        fields,
        fields.get("IPv4Address", ""),
        fields.get("MAC", ""),
        source_ip,
        fields.get("DeviceDescription", ""),
    )
