"""Walk SNMP agents' tables with pysnmp (v2c or v3), bounded in time, rows and datagrams.

Each agent is asked for sysDescr/sysObjectID/sysName first (a silent agent costs one request timeout,
not one per table), then each table is walked with GETBULK from its root: our own loop over pysnmp's
``bulk_cmd``, so that a walk stops at the end of its subtree, at the first OID that does not increase (a
looping agent), after ``max_rows`` rows, and when the agent's time budget is spent; what was read until
then is kept. An agent that sends garbage is an error note on that agent, never an exception out of
``collect``. Credentials live only in ``SnmpAuth`` (hidden from repr) and are never logged.

The tables walked and their order: IP-MIB ipNetToPhysicalTable (ipNetToMediaTable only when that is
empty), BRIDGE-MIB dot1dBasePortIfIndex, Q-BRIDGE-MIB dot1qTpFdbTable (dot1qVlanFdbId when it has rows),
BRIDGE-MIB dot1dTpFdbTable, IF-MIB ifName and ifAlias (ifDescr when there is no ifName), LLDP-MIB
lldpRemTable. Parsing is ``snmp_tables``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from scanner.collect import snmp_tables as st

log = logging.getLogger("scanner.collect")

SNMP_PORT = 161
AUTH_PROTOCOLS = ("md5", "sha", "sha224", "sha256", "sha384", "sha512")
PRIV_PROTOCOLS = ("des", "aes", "aes192", "aes256")


@dataclass(frozen=True, slots=True)
class V3User:
    """An SNMPv3 USM user; the keys are never shown in a repr or logged."""

    user: str
    auth_key: str | None = field(default=None, repr=False)
    priv_key: str | None = field(default=None, repr=False)
    auth_protocol: str = "sha"
    priv_protocol: str = "aes"

    @property
    def level(self) -> str:
        return "authPriv" if self.priv_key else "authNoPriv" if self.auth_key else "noAuthNoPriv"


@dataclass(frozen=True, slots=True)
class SnmpAuth:
    """A v2c community or a v3 user (exactly one)."""

    community: str | None = field(default=None, repr=False)
    v3: V3User | None = None

    def describe(self) -> str:
        return f"SNMPv3 user {self.v3.user} ({self.v3.level})" if self.v3 else "SNMPv2c community (not shown)"


@dataclass(frozen=True, slots=True)
class WalkLimits:
    timeout: float = 2.0  # seconds per request
    retries: int = 1  # per request
    max_repetitions: int = 25  # GETBULK rows per request
    max_rows: int = 100_000  # varbinds per table walk
    agent_budget: float = 60.0  # seconds for everything asked of one agent
    concurrency: int = 16  # agents walked at once


@dataclass
class AgentResult:
    """One agent's tables, what was walked and what went wrong."""

    agent: str
    port: int
    tables: st.Tables = field(default_factory=st.Tables)
    rows: dict[str, int] = field(default_factory=dict)  # table name -> varbinds read
    errors: list[str] = field(default_factory=list)
    answered: bool = False
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return self.answered and not self.errors


class WalkError(Exception):
    """An agent's answer ended a walk: a timeout, an error status, a malformed or looping reply."""


TABLES: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("ipNetToPhysicalTable", st.IP_NET_TO_PHYSICAL),
    ("ipNetToMediaTable", st.IP_NET_TO_MEDIA),
    ("dot1dBasePortIfIndex", st.DOT1D_BASE_PORT_IFINDEX),
    ("dot1qTpFdbTable", st.DOT1Q_TP_FDB),
    ("dot1qVlanFdbId", st.DOT1Q_VLAN_FDB_ID),
    ("dot1dTpFdbTable", st.DOT1D_TP_FDB),
    ("ifName", st.IF_NAME),
    ("ifAlias", st.IF_ALIAS),
    ("ifDescr", st.IF_DESCR),
    ("lldpRemTable", st.LLDP_REM),
)


def convert(value: Any) -> st.Value | None:
    """A pysnmp value as int, bytes or dotted text; None for NULL and the v2 exceptions."""
    from pyasn1.type import univ
    from pysnmp.proto import rfc1902

    if isinstance(value, rfc1902.IpAddress):
        octets = bytes(value.asOctets())
        return ".".join(str(b) for b in octets) if len(octets) == 4 else octets
    if isinstance(value, univ.OctetString):
        return bytes(value.asOctets())
    if isinstance(value, univ.Integer):
        return int(value)
    if isinstance(value, univ.ObjectIdentifier):
        return ".".join(str(a) for a in tuple(value))
    return None  # Null, noSuchObject, noSuchInstance, endOfMibView


class Agent:
    """One agent's session: pysnmp engine, credentials and transport; bounded walks."""

    def __init__(self, engine: Any, auth: SnmpAuth, transport: Any, limits: WalkLimits) -> None:
        self.engine, self.auth, self.transport, self.limits = engine, auth, transport, limits
        self._auth_data = _auth_data(auth)

    async def get(self, oids: Sequence[tuple[int, ...]]) -> list[st.Var]:
        from pysnmp.hlapi.v3arch.asyncio import ContextData, ObjectIdentity, ObjectType, get_cmd

        binds = [ObjectType(ObjectIdentity(o)) for o in oids]
        ei, es, _, vbs = await get_cmd(
            self.engine, self._auth_data, self.transport, ContextData(), *binds, lookupMib=False
        )
        if ei:
            raise WalkError(str(ei))
        if es:
            raise WalkError(f"error status {es}")
        out: list[st.Var] = []
        for name, val in vbs:
            value = convert(val)
            if value is not None:
                out.append((tuple(name), value))
        return out

    async def walk(self, root: tuple[int, ...], into: list[st.Var]) -> None:
        """Append the subtree under ``root`` to ``into`` (rows read before an error are kept)."""
        from pysnmp.hlapi.v3arch.asyncio import ContextData, ObjectIdentity, ObjectType, bulk_cmd

        last, n = root, len(root)
        while len(into) < self.limits.max_rows:
            reps = max(1, min(self.limits.max_repetitions, self.limits.max_rows - len(into)))
            ei, es, _, vbs = await bulk_cmd(
                self.engine,
                self._auth_data,
                self.transport,
                ContextData(),
                0,
                reps,
                ObjectType(ObjectIdentity(last)),
                lookupMib=False,
            )
            if ei:
                raise WalkError(str(ei))
            if es:
                if int(es) == 2:  # noSuchName: an agent that answers v2c requests the v1 way
                    return
                raise WalkError(f"error status {es}")
            if not vbs:
                return
            for name, val in vbs:
                arcs = tuple(name)
                if arcs[:n] != root or len(arcs) <= n:
                    return  # past the subtree
                value = convert(val)
                if value is None:
                    return  # endOfMibView and friends
                if arcs <= last:
                    raise WalkError(f"OID not increasing ({'.'.join(map(str, arcs))[:80]})")
                into.append((arcs, value))
                last = arcs
        raise WalkError(f"stopped after {self.limits.max_rows} rows")


def _auth_data(auth: SnmpAuth) -> Any:
    from pysnmp.hlapi.v3arch import asyncio as hl

    if auth.v3 is None:
        return hl.CommunityData(auth.community or "", mpModel=1)  # noqa: S508 - the user chose v2c
    u = auth.v3
    auth_proto = {
        "md5": hl.usmHMACMD5AuthProtocol,
        "sha": hl.usmHMACSHAAuthProtocol,
        "sha224": hl.usmHMAC128SHA224AuthProtocol,
        "sha256": hl.usmHMAC192SHA256AuthProtocol,
        "sha384": hl.usmHMAC256SHA384AuthProtocol,
        "sha512": hl.usmHMAC384SHA512AuthProtocol,
    }
    priv_proto = {
        "des": hl.usmDESPrivProtocol,
        "aes": hl.usmAesCfb128Protocol,
        "aes192": hl.usmAesCfb192Protocol,
        "aes256": hl.usmAesCfb256Protocol,
    }
    if not u.auth_key:  # the levels the agent's user allows; the report names the level used
        return hl.UsmUserData(u.user)  # noqa: S509
    if not u.priv_key:
        return hl.UsmUserData(u.user, u.auth_key, authProtocol=auth_proto[u.auth_protocol])  # noqa: S509
    return hl.UsmUserData(
        u.user,
        u.auth_key,
        u.priv_key,
        authProtocol=auth_proto[u.auth_protocol],
        privProtocol=priv_proto[u.priv_protocol],
    )


async def collect_agent(engine: Any, result: AgentResult, auth: SnmpAuth, limits: WalkLimits) -> AgentResult:
    """Walk one agent into ``result`` within ``limits.agent_budget``; never raises for anything the agent
    does (a cancellation is re-raised, with what was read until then kept in ``result``)."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(limits.agent_budget):
            await _collect(engine, result, auth, limits)
    except TimeoutError:
        result.errors.append(f"out of time after {limits.agent_budget:g} s: tables read until then are kept")
    except asyncio.CancelledError:
        result.errors.append("interrupted: tables read until then are kept")
        raise
    except Exception as exc:  # a hostile reply pysnmp could not digest: this agent's error, not ours
        log.debug("snmp agent %s failed", result.agent, exc_info=True)
        result.errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
    finally:
        result.seconds = time.monotonic() - started
    return result


async def _collect(engine: Any, result: AgentResult, auth: SnmpAuth, limits: WalkLimits) -> None:
    from pysnmp.hlapi.v3arch.asyncio import UdpTransportTarget

    transport = await UdpTransportTarget.create(
        (result.agent, result.port), timeout=limits.timeout, retries=limits.retries
    )
    agent = Agent(engine, auth, transport, limits)
    try:
        system = await agent.get([st.SYS_DESCR, st.SYS_OBJECT_ID, st.SYS_NAME])
    except WalkError as exc:
        result.errors.append(f"no answer to sysDescr/sysObjectID/sysName: {exc}")
        return
    result.answered = True
    tables = result.tables
    st.parse_system(system, tables)

    async def walk(name: str, root: tuple[int, ...]) -> list[st.Var]:
        rows: list[st.Var] = []
        try:
            await agent.walk(root, rows)
        except WalkError as exc:
            result.errors.append(f"{name}: {exc}")
        result.rows[name] = len(rows)
        return rows

    tables.arp = st.parse_ip_net_to_physical(
        await walk("ipNetToPhysicalTable", st.IP_NET_TO_PHYSICAL), tables
    )
    if not tables.arp:
        tables.arp = st.parse_ip_net_to_media(await walk("ipNetToMediaTable", st.IP_NET_TO_MEDIA), tables)
    tables.port_ifindex = st.parse_port_ifindex(
        await walk("dot1dBasePortIfIndex", st.DOT1D_BASE_PORT_IFINDEX)
    )
    dot1q = await walk("dot1qTpFdbTable", st.DOT1Q_TP_FDB)
    vlans = st.parse_vlan_fdb_ids(await walk("dot1qVlanFdbId", st.DOT1Q_VLAN_FDB_ID)) if dot1q else {}
    dot1d = await walk("dot1dTpFdbTable", st.DOT1D_TP_FDB)
    tables.fdb = st.parse_fdb(dot1q, dot1d, vlans, tables)
    tables.if_names = st.parse_if_text(await walk("ifName", st.IF_NAME), st.IF_NAME)
    if not tables.if_names:
        tables.if_names = st.parse_if_text(await walk("ifDescr", st.IF_DESCR), st.IF_DESCR)
    tables.if_aliases = st.parse_if_text(await walk("ifAlias", st.IF_ALIAS), st.IF_ALIAS)
    tables.lldp = st.parse_lldp(await walk("lldpRemTable", st.LLDP_REM), tables)


def parse_agent(text: str) -> tuple[str, int]:
    """``HOST`` or ``HOST:PORT`` (an IPv4 address or a name); ValueError when malformed."""
    host, sep, port_text = text.strip().rpartition(":")
    if not sep:
        host, port_text = text.strip(), str(SNMP_PORT)
    if (
        not host
        or not port_text.isdigit()
        or not 0 < int(port_text) < 65536
        or any(c.isspace() for c in host)
    ):
        raise ValueError(f"not an SNMP agent (HOST or HOST:PORT): {text!r}")
    return host, int(port_text)


async def collect(
    agents: Sequence[tuple[str, int]],
    auth: SnmpAuth,
    limits: WalkLimits = WalkLimits(),
    results: list[AgentResult] | None = None,
) -> list[AgentResult]:
    """Walk every agent (``limits.concurrency`` at once); one result per agent, in the agents' order.

    ``results``, when given, is filled with those results before any walk starts, so a caller whose
    collection is cancelled (Ctrl-C) still holds everything each agent gave until then."""
    from pysnmp.hlapi.v3arch.asyncio import SnmpEngine

    out = [AgentResult(host, port) for host, port in agents]
    if results is not None:
        results[:] = out
    engine = SnmpEngine()
    gate = asyncio.Semaphore(max(1, limits.concurrency))

    async def one(result: AgentResult) -> None:
        async with gate:
            await collect_agent(engine, result, auth, limits)

    try:
        await asyncio.gather(*(one(r) for r in out))
    finally:
        engine.close_dispatcher()
    return out
