"""Hikvision SADP discovery (UDP 37020): the XML ``inquiry`` to 239.255.255.250, the broadcasts and
the targets. Any answer is Hikvision-ecosystem firmware (HiWatch, LTS, EZVIZ and other OEM labels
included). Requests and replies go through ``udp_search`` (shared with DHIP, WS-Discovery, SSDP, SNMP).

A reply is about its UDP source: the ``IPv4Address`` and ``MAC`` it carries are recorded as
``claimed.ip`` / ``claimed.mac`` (and ``claimed.mismatch`` when the address is not the source), never
used as the device's identity.
"""

from __future__ import annotations

import uuid

from scanner.discovery.base import ProbeContext, ProbeResult
from scanner.discovery.parsers.sadp import GROUP, INQUIRY_TYPES, PORT, build_inquiry, parse_probe_match
from scanner.discovery.request_reply import Limits, Reply
from scanner.discovery.udp_search import ask_everyone, claims, unicast_mac, vendor_search

SADP = vendor_search("SADP", "inquiry", PORT, GROUP)
LIMITS = Limits(keys_per_source=4)  # one device answers for one MAC; a few NICs at most


class SadpProbe:
    name = "sadp"
    description = "Hikvision SADP inquiry (UDP 37020, multicast + broadcast + unicast to targets)"

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        request_id = str(uuid.uuid4()).upper()
        payloads = [build_inquiry(request_id, t) for t in INQUIRY_TYPES]
        return await ask_everyone(self.name, ctx, SADP, payloads, sadp_reply, LIMITS)


def sadp_reply(data: bytes, source: str, _port: int = PORT) -> Reply | None:
    """The observations of one ProbeMatch datagram from ``source`` (None if it is not one):
    ``sadp.reply`` (the model, else "yes"), the claimed address and MAC, then every ``sadp.<Field>``."""
    fields = parse_probe_match(data)
    if fields is None:
        return None
    out = [("sadp.reply", fields.get("DeviceDescription") or "yes")]
    out += claims(source, fields.get("IPv4Address", ""), fields.get("MAC", ""))
    out += [(f"sadp.{name}", value) for name, value in fields.items()]
    return Reply(source, unicast_mac(fields.get("MAC", "")) or "", out, port=PORT)
