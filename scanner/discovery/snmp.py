"""SNMPv2c GET of sysDescr.0 and sysObjectID.0, only with the community the user gave.

Runs only when ``ctx.options.snmp_community`` is set (no default, never guessed; the community is
never logged or reported). Requests go through ``udp_search`` (the engine every UDP discovery probe
shares): paced to every host, silent hosts asked again (more often on a lossy link), the probe ends
when every host answered or its budget ran out. A reply counts only if it comes from a probed host's
SNMP port, as a GetResponse carrying that host's request id and our community.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets

from scanner.discovery.base import Collector, ProbeContext, ProbeResult, ProbeStatus
from scanner.discovery.parsers.snmp import (
    GET_RESPONSE,
    SYS_DESCR,
    SYS_OBJECT_ID,
    build_get,
    parse_message,
    text_value,
)
from scanner.discovery.request_reply import Limits, Reply, Timing
from scanner.discovery.udp_search import UdpProtocol, run_udp

log = logging.getLogger("scanner.discovery")

SNMP_PORT = 161
SIGNAL_OF = {SYS_DESCR: "snmp.sys_descr", SYS_OBJECT_ID: "snmp.sys_object_id"}
# agents answer from a slow management CPU: a longer first wait than ARP's
SNMP = UdpProtocol("SNMP", "GET", SNMP_PORT, None, Timing(rounds=(0.0,), first_wait=0.5, quiet=0.25))
LIMITS = Limits(keys_per_source=1, datagrams_per_source=64)


class SnmpProbe:
    name = "snmp"
    description = "SNMPv2c sysDescr.0 / sysObjectID.0 with a user-given community (never guessed)"

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        col = Collector(self.name, ctx)
        community = ctx.options.snmp_community
        if not community:
            return col.result(ProbeStatus.SKIPPED, notes=["SNMP runs only with a community the user gives"])
        hosts = ctx.hosts_to_probe()
        if not hosts:
            return col.result(ProbeStatus.SKIPPED, notes=["no hosts to probe"])
        exchange = _Requests(ctx, community.encode(), ctx.options.snmp_port)
        proto = dataclasses.replace(SNMP, port=exchange.port)
        # a reply counts only from a host asked (its request id): as many sources as hosts
        limits = dataclasses.replace(LIMITS, sources=max(LIMITS.sources, len(hosts)))
        result, _ = await run_udp(
            col, proto, group_payloads=[], unicast=exchange.request, handle=exchange.handle, limits=limits
        )
        return result


class _Requests:
    """Request ids per host and the matching of replies to them."""

    def __init__(self, ctx: ProbeContext, community: bytes, port: int) -> None:
        self.ctx, self.community, self.port = ctx, community, port
        self.request_ids: dict[str, int] = {}

    def request(self, ip: str) -> list[bytes]:
        rid = self.request_ids.setdefault(ip, secrets.randbits(31))
        return [build_get(self.community, rid)]

    def handle(self, data: bytes, ip: str, port: int) -> Reply | None:
        if port != self.port or ip not in self.request_ids:
            return None
        msg = parse_message(data)
        if (
            msg is None
            or msg.pdu_type != GET_RESPONSE
            or msg.request_id != self.request_ids.get(ip)
            or msg.community != self.community
        ):
            log.debug("snmp: ignored a datagram from %s", ip)
            return None
        fields = []
        for bind in msg.varbinds:
            signal = SIGNAL_OF.get(bind.oid)
            value = text_value(bind.value)
            if signal and value:
                fields.append((signal, value))
        # the MAC comes from the ARP sweep (link layer), never from the reply
        return Reply(ip, "get", fields, port=self.port, mac=self.ctx.live_hosts.get(ip))
