"""SNMPv2c GET of sysDescr.0 and sysObjectID.0, only with the community the user gave.

Runs only when ``ctx.options.snmp_community`` is set (no default, never guessed; the community is
never logged or reported). One UDP socket: requests are sent to every host, the silent ones are asked
once more, and the probe ends when every host answered or the round's wait ran out. A reply counts only
if it comes from a probed host's SNMP port, as a GetResponse carrying that host's request id and our
community.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time

from scanner.discovery.base import Collector, ProbeContext, ProbeResult, ProbeStatus
from scanner.discovery.parsers.snmp import (
    GET_RESPONSE,
    SYS_DESCR,
    SYS_OBJECT_ID,
    build_get,
    parse_message,
    text_value,
)

log = logging.getLogger("scanner.discovery")

SNMP_PORT = 161
ROUNDS = 2
PACE_EVERY = 64  # yield to the loop after this many datagrams
SIGNAL_OF = {SYS_DESCR: "snmp.sys_descr", SYS_OBJECT_ID: "snmp.sys_object_id"}


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
        port = ctx.options.snmp_port
        loop = asyncio.get_running_loop()
        exchange = _Exchange(col, ctx, community.encode(), hosts, port)
        bind = str(ctx.source_ip) if ctx.source_ip else "0.0.0.0"  # noqa: S104 - a client socket, ephemeral port
        try:
            transport, _ = await loop.create_datagram_endpoint(lambda: exchange, local_addr=(bind, 0))
        except OSError as exc:
            return col.result(ProbeStatus.ERROR, error=f"cannot open a UDP socket: {exc}")
        try:
            deadline = time.monotonic() + ctx.timeout
            for round_ in range(ROUNDS):
                silent = [ip for ip in hosts if ip not in exchange.answered]
                if not silent or time.monotonic() >= deadline:
                    break
                for i, ip in enumerate(silent):
                    transport.sendto(exchange.request(ip), (ip, port))
                    exchange.sent += 1
                    if i % PACE_EVERY == PACE_EVERY - 1:
                        await asyncio.sleep(0)
                wait = (deadline - time.monotonic()) / (ROUNDS - round_)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(exchange.all_done.wait(), max(0.0, wait))
        finally:
            transport.close()
        return col.result(sent=exchange.sent, received=len(exchange.answered))


class _Exchange(asyncio.DatagramProtocol):
    """Request ids per host and the matching of replies to them."""

    def __init__(
        self, col: Collector, ctx: ProbeContext, community: bytes, hosts: list[str], port: int
    ) -> None:
        self.col, self.ctx, self.community, self.port = col, ctx, community, port
        self.pending = set(hosts)
        self.request_ids: dict[str, int] = {}
        self.answered: set[str] = set()
        self.all_done = asyncio.Event()
        self.sent = 0

    def request(self, ip: str) -> bytes:
        rid = self.request_ids.setdefault(ip, secrets.randbits(31))
        return build_get(self.community, rid)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        ip = addr[0]
        if ip not in self.pending or ip in self.answered or addr[1] != self.port:
            return
        msg = parse_message(data)
        if (
            msg is None
            or msg.pdu_type != GET_RESPONSE
            or msg.request_id != self.request_ids.get(ip)
            or msg.community != self.community
        ):
            log.debug("snmp: ignored a datagram from %s", ip)
            return
        self.answered.add(ip)
        for bind in msg.varbinds:
            signal = SIGNAL_OF.get(bind.oid)
            value = text_value(bind.value)
            if signal and value:
                self.col.add(signal, value, ip=ip, mac=self.ctx.live_hosts.get(ip), port=self.port)
        if self.answered == self.pending:
            self.all_done.set()

    def error_received(self, exc: Exception) -> None:
        log.debug("snmp: %r", exc)
