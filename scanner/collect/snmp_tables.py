"""Routers' ARP tables, switches' forwarding tables and LLDP neighbours, from walked SNMP varbinds.

Pure functions on ``(oid arcs, value)`` pairs (``Var``), the form ``snmp_walk`` hands over: no sockets
here, so every table is tested on rows, hostile ones included. A row that does not parse (a short index,
a MAC that is not six bytes, an address that is not four) is skipped and counted, never raised.

Tables (column numbers are the MIBs'):
- IP-MIB ``ipNetToPhysicalTable`` (RFC 4293 §3.2.6; index ifIndex, InetAddressType, InetAddress) and
  the older ``ipNetToMediaTable`` (RFC 4293 / RFC 1213; index ifIndex, IpAddress): IP → MAC per router.
- BRIDGE-MIB (RFC 4188) ``dot1dBasePortIfIndex`` (bridge port → ifIndex) and ``dot1dTpFdbTable``
  (MAC → bridge port, index the MAC); Q-BRIDGE-MIB (RFC 4363) ``dot1qTpFdbTable`` (index dot1qFdbId and
  the MAC) with ``dot1qVlanFdbId`` (index TimeMark, VLAN; value the FDB id) to name the VLAN.
- IF-MIB (RFC 2863) ``ifName`` / ``ifAlias`` (ifXTable), ``ifDescr`` when ifName is absent.
- LLDP-MIB (IEEE 802.1AB-2005 §12) ``lldpRemTable`` (index TimeMark, lldpLocalPortNum, lldpRemIndex):
  chassis ID (subtype 4 = MAC), port ID, system name and description, enabled capabilities (BITS:
  bit 2 bridge, bit 4 router). The local port number is taken as the bridge port (802.1AB says it
  "should" be dot1dBasePort where the bridge MIB is implemented).

``observations()`` turns one agent's tables into observations and host notes: every MAC of every VLAN
is a host (keyed by its MAC, with its IP when a router's ARP table has it); its switch, port (ifName,
ifAlias) and VLAN are ``snmp.fdb`` evidence and a "location" note, unless the port is an uplink (at
least ``uplink_macs`` MACs behind it, or an LLDP neighbour there is a bridge or router), which is said
as ``snmp.fdb.uplink`` and never as a location.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from scanner.observations import HostNote, Observation

Value = int | bytes | str  # INTEGER/Counter/Gauge/TimeTicks; OCTET STRING/BITS; OID and IpAddress dotted
Var = tuple[tuple[int, ...], Value]

PROBE = "snmp-tables"

SYS_DESCR = (1, 3, 6, 1, 2, 1, 1, 1, 0)
SYS_OBJECT_ID = (1, 3, 6, 1, 2, 1, 1, 2, 0)
SYS_NAME = (1, 3, 6, 1, 2, 1, 1, 5, 0)
IP_NET_TO_PHYSICAL = (1, 3, 6, 1, 2, 1, 4, 35, 1)  # ipNetToPhysicalEntry
IP_NET_TO_MEDIA = (1, 3, 6, 1, 2, 1, 4, 22, 1)  # ipNetToMediaEntry
DOT1D_BASE_PORT_IFINDEX = (1, 3, 6, 1, 2, 1, 17, 1, 4, 1, 2)
DOT1D_TP_FDB = (1, 3, 6, 1, 2, 1, 17, 4, 3, 1)  # dot1dTpFdbEntry
DOT1Q_TP_FDB = (1, 3, 6, 1, 2, 1, 17, 7, 1, 2, 2, 1)  # dot1qTpFdbEntry
DOT1Q_VLAN_FDB_ID = (1, 3, 6, 1, 2, 1, 17, 7, 1, 4, 2, 1, 3)  # dot1qVlanFdbId
IF_DESCR = (1, 3, 6, 1, 2, 1, 2, 2, 1, 2)
IF_NAME = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1)
IF_ALIAS = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 18)
LLDP_REM = (1, 0, 8802, 1, 1, 2, 1, 4, 1, 1)  # lldpRemEntry

UPLINK_MACS = 24  # a port with this many MACs behind it is an uplink ("dozens of MACs"), not a location
MAX_TEXT = 256  # characters kept of a name, alias or description
MAX_PROBLEMS = 20  # problem lines kept per agent (the rest counted)

# ipNetToPhysicalType / ipNetToMediaType: invalid(2) rows are deleted entries
_INVALID_TYPE = 2
_ARP_TYPE = {1: "other", 3: "dynamic", 4: "static", 5: "local"}
_INCOMPLETE_STATES = {5, 7}  # ipNetToPhysicalState invalid(5), incomplete(7)
_FDB_SELF, _FDB_INVALID = 4, 2  # dot1dTpFdbStatus / dot1qTpFdbStatus self(4), invalid(2)
_CAP_BRIDGE, _CAP_WLAN_AP, _CAP_ROUTER = 2, 3, 4  # LldpSystemCapabilitiesMap bit numbers


@dataclass(frozen=True, slots=True)
class ArpEntry:
    ifindex: int
    ip: str  # dotted IPv4, or an IPv6 address in its usual text form
    mac: str
    kind: str  # dynamic, static, local, other


@dataclass(frozen=True, slots=True)
class FdbEntry:
    mac: str
    port: int  # bridge port; 0: the switch knows the MAC but not its port
    vlan: int | None  # None: dot1dTpFdbTable (no VLAN) or an FDB id shared by several VLANs
    fdb_id: int | None = None


@dataclass(frozen=True, slots=True)
class LldpNeighbour:
    local_port: int
    chassis_id: str  # a MAC (subtype 4), an IPv4 address (subtype 5, family 1), else text or hex
    mac: str | None  # the chassis ID when it is a MAC
    port_id: str
    port_desc: str
    sys_name: str
    sys_desc: str
    bridge_or_router: bool


@dataclass
class Tables:
    """What one agent's walks gave, parsed. ``problems`` says what was skipped and why (bounded)."""

    sys_descr: str = ""
    sys_object_id: str = ""
    sys_name: str = ""
    arp: list[ArpEntry] = field(default_factory=list)
    fdb: list[FdbEntry] = field(default_factory=list)
    port_ifindex: dict[int, int] = field(default_factory=dict)
    if_names: dict[int, str] = field(default_factory=dict)
    if_aliases: dict[int, str] = field(default_factory=dict)
    lldp: list[LldpNeighbour] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    skipped: int = 0

    def problem(self, message: str) -> None:
        self.skipped += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(message)


# --- value helpers --------------------------------------------------------------------------------


def text(value: Value | None) -> str:
    """Display text of a value: bytes decoded (NULs and control characters dropped), bounded."""
    if value is None:
        return ""
    raw = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    clean = "".join(c if c.isprintable() else " " for c in raw.replace("\0", ""))
    return " ".join(clean.split())[:MAX_TEXT]


def mac_of(value: Value | None) -> str | None:
    """Six bytes as ``aa:bb:cc:dd:ee:ff``; None for anything else, the all-zero and broadcast MACs."""
    if not isinstance(value, bytes) or len(value) != 6 or value in (b"\0" * 6, b"\xff" * 6):
        return None
    return ":".join(f"{b:02x}" for b in value)


def _mac_from_index(arcs: tuple[int, ...]) -> str | None:
    if len(arcs) != 6 or any(not 0 <= a <= 255 for a in arcs):
        return None
    return mac_of(bytes(arcs))


def _ipv4(arcs: Iterable[int]) -> str | None:
    parts = list(arcs)
    if len(parts) != 4 or any(not 0 <= a <= 255 for a in parts):
        return None
    return ".".join(str(a) for a in parts)


def _ipv6(arcs: tuple[int, ...]) -> str | None:
    import ipaddress

    if len(arcs) != 16 or any(not 0 <= a <= 255 for a in arcs):
        return None
    return str(ipaddress.IPv6Address(bytes(arcs)))


def columns(rows: Iterable[Var], entry: tuple[int, ...]) -> dict[int, dict[tuple[int, ...], Value]]:
    """Column number -> {index arcs: value} of the rows under ``entry`` (a table's Entry OID)."""
    out: dict[int, dict[tuple[int, ...], Value]] = defaultdict(dict)
    n = len(entry)
    for oid, value in rows:
        if len(oid) > n + 1 and oid[:n] == entry:
            out[oid[n]][oid[n + 1 :]] = value
    return out


def column(rows: Iterable[Var], col: tuple[int, ...]) -> dict[tuple[int, ...], Value]:
    """{index arcs: value} of one column (its full OID)."""
    n = len(col)
    return {oid[n:]: value for oid, value in rows if len(oid) > n and oid[:n] == col}


# --- tables ---------------------------------------------------------------------------------------


def parse_system(rows: Iterable[Var], tables: Tables) -> None:
    for oid, value in rows:
        if oid == SYS_DESCR:
            tables.sys_descr = text(value)
        elif oid == SYS_OBJECT_ID and isinstance(value, str):
            tables.sys_object_id = text(value)
        elif oid == SYS_NAME:
            tables.sys_name = text(value)


def parse_ip_net_to_physical(rows: Iterable[Var], tables: Tables) -> list[ArpEntry]:
    """ipNetToPhysicalTable rows: index (ifIndex, addrType 1 ipv4 / 2 ipv6, length, address octets)."""
    cols = columns(rows, IP_NET_TO_PHYSICAL)
    out: list[ArpEntry] = []
    for index, phys in cols.get(4, {}).items():  # ipNetToPhysicalPhysAddress
        kind = cols.get(6, {}).get(index, 3)  # ipNetToPhysicalType
        if kind == _INVALID_TYPE or cols.get(7, {}).get(index) in _INCOMPLETE_STATES:
            continue
        addr = None
        if len(index) >= 3 and index[2] == len(index) - 3:
            addr = _ipv4(index[3:]) if index[1] == 1 else _ipv6(index[3:]) if index[1] == 2 else None
        mac = mac_of(phys)
        if addr is None or mac is None:
            if phys:  # an empty address is an unresolved entry, not a problem
                tables.problem(f"ipNetToPhysicalTable: skipped row {'.'.join(map(str, index))[:80]}")
            continue
        out.append(
            ArpEntry(index[0], addr, mac, _ARP_TYPE.get(kind if isinstance(kind, int) else 1, "other"))
        )
    return out


def parse_ip_net_to_media(rows: Iterable[Var], tables: Tables) -> list[ArpEntry]:
    """ipNetToMediaTable rows: index (ifIndex, IPv4 address octets)."""
    cols = columns(rows, IP_NET_TO_MEDIA)
    out: list[ArpEntry] = []
    for index, phys in cols.get(2, {}).items():  # ipNetToMediaPhysAddress
        kind = cols.get(4, {}).get(index, 3)  # ipNetToMediaType
        if kind == _INVALID_TYPE:
            continue
        addr = _ipv4(index[1:]) if len(index) == 5 else None
        mac = mac_of(phys)
        if addr is None or mac is None:
            if phys:
                tables.problem(f"ipNetToMediaTable: skipped row {'.'.join(map(str, index))[:80]}")
            continue
        out.append(
            ArpEntry(index[0], addr, mac, _ARP_TYPE.get(kind if isinstance(kind, int) else 1, "other"))
        )
    return out


def parse_port_ifindex(rows: Iterable[Var]) -> dict[int, int]:
    return {
        index[0]: value
        for index, value in column(rows, DOT1D_BASE_PORT_IFINDEX).items()
        if len(index) == 1 and isinstance(value, int) and value > 0
    }


def parse_if_text(rows: Iterable[Var], col: tuple[int, ...]) -> dict[int, str]:
    return {index[0]: text(value) for index, value in column(rows, col).items() if len(index) == 1}


def parse_vlan_fdb_ids(rows: Iterable[Var]) -> dict[int, int | None]:
    """FDB id -> its VLAN (dot1qVlanFdbId, index TimeMark.VlanIndex); None when VLANs share the id."""
    vlans: dict[int, set[int]] = defaultdict(set)
    for index, value in column(rows, DOT1Q_VLAN_FDB_ID).items():
        if len(index) == 2 and isinstance(value, int) and 0 < index[1] < 4096:
            vlans[value].add(index[1])
    return {fdb: next(iter(v)) if len(v) == 1 else None for fdb, v in vlans.items()}


def parse_fdb(
    dot1q: Iterable[Var], dot1d: Iterable[Var], vlan_of_fdb: dict[int, int | None], tables: Tables
) -> list[FdbEntry]:
    """Forwarding entries: every Q-BRIDGE row (with its VLAN), then the BRIDGE-MIB rows of MACs the
    Q-BRIDGE table did not have. The switch's own MACs (status self) and invalid rows are left out."""
    out: list[FdbEntry] = []
    in_q: set[str] = set()
    q = columns(dot1q, DOT1Q_TP_FDB)
    for index, port in q.get(2, {}).items():  # dot1qTpFdbPort
        if q.get(3, {}).get(index) in (_FDB_SELF, _FDB_INVALID):
            continue
        mac = _mac_from_index(index[1:]) if len(index) == 7 else None
        if mac is None or not isinstance(port, int) or port < 0:
            tables.problem(f"dot1qTpFdbTable: skipped row {'.'.join(map(str, index))[:80]}")
            continue
        fdb_id = index[0]
        vlan = vlan_of_fdb.get(fdb_id, fdb_id if 0 < fdb_id < 4096 else None)
        out.append(FdbEntry(mac, port, vlan, fdb_id))
        in_q.add(mac)
    d = columns(dot1d, DOT1D_TP_FDB)
    for index, port in d.get(2, {}).items():  # dot1dTpFdbPort
        if d.get(3, {}).get(index) in (_FDB_SELF, _FDB_INVALID):
            continue
        mac = _mac_from_index(index)
        if mac is None or not isinstance(port, int) or port < 0:
            tables.problem(f"dot1dTpFdbTable: skipped row {'.'.join(map(str, index))[:80]}")
            continue
        if mac not in in_q:
            out.append(FdbEntry(mac, port, None))
            in_q.add(mac)
    return out


def _chassis(subtype: Value | None, raw: Value | None) -> tuple[str, str | None]:
    if subtype == 4:  # macAddress
        mac = mac_of(raw)
        if mac:
            return mac, mac
    if subtype == 5 and isinstance(raw, bytes) and len(raw) == 5 and raw[0] == 1:  # networkAddress, IPv4
        return ".".join(str(b) for b in raw[1:]), None
    if isinstance(raw, bytes) and raw and not all(32 <= b < 127 for b in raw):
        return raw[:32].hex(":"), None
    return text(raw), None


def _has_bit(bits: Value | None, n: int) -> bool:
    return isinstance(bits, bytes) and len(bits) > n // 8 and bool(bits[n // 8] & (0x80 >> (n % 8)))


def parse_lldp(rows: Iterable[Var], tables: Tables) -> list[LldpNeighbour]:
    cols = columns(rows, LLDP_REM)
    out: list[LldpNeighbour] = []
    indexes = set(cols.get(5, {})) | set(cols.get(9, {}))  # chassis ID or system name present
    for index in sorted(indexes):
        if len(index) != 3:
            tables.problem(f"lldpRemTable: skipped row {'.'.join(map(str, index))[:80]}")
            continue
        chassis, mac = _chassis(cols.get(4, {}).get(index), cols.get(5, {}).get(index))
        caps = cols.get(12, {}).get(index)  # lldpRemSysCapEnabled
        out.append(
            LldpNeighbour(
                local_port=index[1],
                chassis_id=chassis,
                mac=mac,
                port_id=text(cols.get(7, {}).get(index)),
                port_desc=text(cols.get(8, {}).get(index)),
                sys_name=text(cols.get(9, {}).get(index)),
                sys_desc=text(cols.get(10, {}).get(index)),
                bridge_or_router=_has_bit(caps, _CAP_BRIDGE) or _has_bit(caps, _CAP_ROUTER),
            )
        )
    return out


# --- observations ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Port:
    """A bridge port as a report names it."""

    switch: str
    number: int
    name: str
    alias: str

    def __str__(self) -> str:
        label = f"{self.switch} port {self.number}"
        if self.name:
            label += f" {self.name}"
        if self.alias and self.alias != self.name:
            label += f' "{self.alias}"'
        return label


def agent_label(agent: str, tables: Tables) -> str:
    return f"{tables.sys_name} ({agent})" if tables.sys_name else agent


def port_of(agent: str, tables: Tables, number: int) -> Port:
    ifindex = tables.port_ifindex.get(number, number)
    return Port(
        agent_label(agent, tables),
        number,
        tables.if_names.get(ifindex, ""),
        tables.if_aliases.get(ifindex, ""),
    )


def uplink_ports(tables: Tables, uplink_macs: int = UPLINK_MACS) -> dict[int, str]:
    """Bridge port -> why it is an uplink: at least ``uplink_macs`` distinct MACs behind it, or an LLDP
    neighbour there that is a bridge or a router."""
    macs: dict[int, set[str]] = defaultdict(set)
    for e in tables.fdb:
        if e.port > 0:
            macs[e.port].add(e.mac)
    out = {p: f"{len(m)} MACs behind it" for p, m in macs.items() if len(m) >= uplink_macs}
    for n in tables.lldp:
        if n.bridge_or_router and n.local_port not in out:
            out[n.local_port] = f"LLDP neighbour {n.sys_name or n.chassis_id} is a bridge or router"
    return out


def observations(
    agent: str, tables: Tables, *, uplink_macs: int = UPLINK_MACS, seen_at: datetime | None = None
) -> Iterator[Observation | HostNote]:
    """One agent's tables as observations and host notes (see the module doc)."""
    at = seen_at or datetime.now(UTC)
    for signal, value in (
        ("snmp.sys_descr", tables.sys_descr),
        ("snmp.sys_object_id", tables.sys_object_id),
        ("hostname", tables.sys_name),
    ):
        if value:
            yield Observation(signal=signal, value=value, probe=PROBE, ip=agent, seen_at=at)
    yield from _arp_items(agent, tables, at)
    yield from _fdb_items(agent, tables, uplink_ports(tables, uplink_macs), at)
    yield from _lldp_items(agent, tables, at)


def _arp_items(agent: str, tables: Tables, at: datetime) -> Iterator[Observation]:
    label = agent_label(agent, tables)
    for a in tables.arp:
        ifname = tables.if_names.get(a.ifindex, "")
        where = f"{label} {ifname}" if ifname else label
        ipv4 = a.ip if ":" not in a.ip else None
        value = f"{a.ip} in the ARP table of {where} ({a.kind})"
        yield Observation(signal="snmp.arp", value=value, probe=PROBE, ip=ipv4, mac=a.mac, seen_at=at)


def _fdb_items(
    agent: str, tables: Tables, uplinks: dict[int, str], at: datetime
) -> Iterator[Observation | HostNote]:
    label = agent_label(agent, tables)
    for e in tables.fdb:
        vlan = f"VLAN {e.vlan}" if e.vlan is not None else f"FDB {e.fdb_id}" if e.fdb_id else "VLAN unknown"
        if e.port == 0:
            value, signal, note = f"{label} (port unknown) {vlan}", "snmp.fdb", ""
        elif e.port in uplinks:
            value = f"{port_of(agent, tables, e.port)} {vlan} (uplink: {uplinks[e.port]})"
            signal, note = "snmp.fdb.uplink", f"seen through an uplink, not its location: {value}"
        else:
            value = f"{port_of(agent, tables, e.port)} {vlan}"
            signal, note = "snmp.fdb", f"location: {value}"
        yield Observation(signal=signal, value=value, probe=PROBE, mac=e.mac, seen_at=at)
        if note:
            yield HostNote(note, mac=e.mac)


def _lldp_items(agent: str, tables: Tables, at: datetime) -> Iterator[Observation | HostNote]:
    # the chassis ID is what the neighbour says of itself: it names a host only when the switch has learned
    # that MAC from frames (its forwarding or ARP table), else it stays a note on the agent
    learned = {e.mac for e in tables.fdb} | {a.mac for a in tables.arp}
    for n in tables.lldp:
        where = port_of(agent, tables, n.local_port)
        if n.mac is None or n.mac not in learned:
            yield HostNote(
                f"LLDP neighbour on {where}: chassis {n.chassis_id} {n.sys_name}".rstrip(), ip=agent
            )
            continue
        for signal, value in (
            ("lldp.chassis_id", n.chassis_id),
            ("lldp.port_id", n.port_id),
            ("lldp.sys_name", n.sys_name),
            ("lldp.sys_descr", n.sys_desc),
        ):
            if value:
                yield Observation(signal=signal, value=value, probe=PROBE, mac=n.mac, seen_at=at)
        yield HostNote(f"LLDP neighbour of {where}", mac=n.mac)


def summary(agent: str, tables: Tables, uplink_macs: int = UPLINK_MACS) -> str:
    """One line: what the agent's tables held."""
    vlans = Counter(e.vlan for e in tables.fdb if e.vlan is not None)
    macs = len({e.mac for e in tables.fdb})
    uplinks = sorted(uplink_ports(tables, uplink_macs))
    parts = [
        f"{agent_label(agent, tables)}: {len(tables.arp)} ARP entries",
        f"{len(tables.fdb)} forwarding entries ({macs} MACs, {len(vlans)} VLANs)",
        f"{len(tables.lldp)} LLDP neighbours",
    ]
    if uplinks:
        parts.append("uplink ports " + ", ".join(str(p) for p in uplinks[:16]))
    if tables.skipped:
        parts.append(f"{tables.skipped} malformed rows skipped")
    return "; ".join(parts)
