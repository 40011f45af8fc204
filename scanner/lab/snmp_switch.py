"""A switch's SNMP tables for the lab's real ``snmpd``: a net-snmp ``pass_persist`` program (stdlib only,
run by snmpd as ``python snmp_switch.py ROWS.json``).

snmpd itself answers SNMP (v2c, v3, GETBULK, encoding); this program only serves the rows a switch
would hold: BRIDGE-MIB dot1dBasePortIfIndex and dot1dTpFdbTable, Q-BRIDGE-MIB dot1qTpFdbTable and
dot1qVlanFdbId, IF-MIB ifName/ifAlias (registered over snmpd's own ifXTable) and LLDP-MIB lldpRemTable.
The ROWS file maps each OID to ``[type, value]`` (``switch_rows`` builds it). The protocol is net-snmp's
``pass_persist`` (snmpd.conf(5), "MIB-Specific Extension Commands"): ``PING`` → ``PONG``;
``get``/``getnext`` + OID → OID, type, value, or ``NONE``; ``set`` → ``not-writable``.
"""

from __future__ import annotations

import bisect
import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

DOT1D_BASE_PORT_IFINDEX = "1.3.6.1.2.1.17.1.4.1.2"
DOT1D_TP_FDB = "1.3.6.1.2.1.17.4.3.1"
DOT1Q_TP_FDB = "1.3.6.1.2.1.17.7.1.2.2.1"
DOT1Q_VLAN_FDB_ID = "1.3.6.1.2.1.17.7.1.4.2.1.3"
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"
IF_ALIAS = "1.3.6.1.2.1.31.1.1.1.18"
LLDP_REM = "1.0.8802.1.1.2.1.4.1.1"
# the subtrees snmpd hands to this program (pass_persist lines of the switch's snmpd.conf)
SUBTREES = ("1.3.6.1.2.1.17", "1.3.6.1.2.1.31.1.1.1", "1.0.8802.1.1.2")
LEARNED, SELF = 3, 4  # dot1dTpFdbStatus / dot1qTpFdbStatus


def _mac_arcs(mac: str) -> str:
    return ".".join(str(int(h, 16)) for h in mac.split(":"))


def _hex(mac: str) -> str:
    return " ".join(mac.split(":")).upper()


def switch_rows(
    ports: Sequence[tuple[int, int, str, str]],
    fdb: Iterable[tuple[str, int, int]],
    lldp: Iterable[dict[str, Any]] = (),
    own_mac: str | None = None,
) -> dict[str, list[Any]]:
    """OID -> [pass_persist type, value] of a switch.

    ``ports``: (bridge port, ifIndex, ifName, ifAlias); ``fdb``: (MAC, VLAN, bridge port); ``lldp``:
    dicts with port, chassis_mac, port_id, sys_name, sys_desc, bridge (bool). The FDB id of each VLAN is
    its position among the VLANs (1, 2, …), not the VLAN number, as on switches that number FDBs apart."""
    rows: dict[str, list[Any]] = {}
    for port, ifindex, name, alias in ports:
        rows[f"{DOT1D_BASE_PORT_IFINDEX}.{port}"] = ["integer", ifindex]
        rows[f"{IF_NAME}.{ifindex}"] = ["string", name]
        rows[f"{IF_ALIAS}.{ifindex}"] = ["string", alias]
    entries = list(fdb)
    fdb_ids = {vlan: i + 1 for i, vlan in enumerate(sorted({v for _, v, _ in entries}))}
    for vlan, fid in fdb_ids.items():
        rows[f"{DOT1Q_VLAN_FDB_ID}.0.{vlan}"] = ["gauge", fid]
    first_port: dict[str, int] = {}
    for mac, vlan, port in entries:
        arcs = _mac_arcs(mac)
        rows[f"{DOT1Q_TP_FDB}.2.{fdb_ids[vlan]}.{arcs}"] = ["integer", port]
        rows[f"{DOT1Q_TP_FDB}.3.{fdb_ids[vlan]}.{arcs}"] = ["integer", LEARNED]
        first_port.setdefault(mac, port)
    if own_mac:
        first_port[own_mac] = 0
    for mac, port in first_port.items():  # dot1dTpFdbTable: one row per MAC, whatever its VLANs
        arcs = _mac_arcs(mac)
        rows[f"{DOT1D_TP_FDB}.1.{arcs}"] = ["octet", _hex(mac)]
        rows[f"{DOT1D_TP_FDB}.2.{arcs}"] = ["integer", port]
        rows[f"{DOT1D_TP_FDB}.3.{arcs}"] = ["integer", SELF if mac == own_mac else LEARNED]
    for i, n in enumerate(lldp, start=1):
        idx = f"0.{n['port']}.{i}"
        caps = (
            "20 00" if n.get("bridge") else "01 00"
        )  # LldpSystemCapabilitiesMap: bridge(2) / stationOnly(7)
        rows[f"{LLDP_REM}.4.{idx}"] = ["integer", 4]  # chassis ID subtype macAddress
        rows[f"{LLDP_REM}.5.{idx}"] = ["octet", _hex(n["chassis_mac"])]
        rows[f"{LLDP_REM}.6.{idx}"] = ["integer", 5]  # port ID subtype interfaceName
        rows[f"{LLDP_REM}.7.{idx}"] = ["string", n.get("port_id", "")]
        rows[f"{LLDP_REM}.9.{idx}"] = ["string", n.get("sys_name", "")]
        rows[f"{LLDP_REM}.10.{idx}"] = ["string", n.get("sys_desc", "")]
        rows[f"{LLDP_REM}.12.{idx}"] = ["octet", caps]
    return rows


def _key(oid: str) -> tuple[int, ...]:
    return tuple(int(a) for a in oid.strip().strip(".").split(".") if a.isdigit())


def serve(rows: dict[str, list[Any]], lines: Iterable[str], out: Any) -> None:
    """Answer pass_persist requests read from ``lines`` on ``out`` until the input ends."""
    oids = sorted(rows, key=_key)
    keys = [_key(o) for o in oids]
    subtrees = [_key(t) for t in SUBTREES]
    it = iter(lines)

    def reply(*parts: object) -> None:
        out.write("\n".join(str(p) for p in parts) + "\n")
        out.flush()

    for line in it:
        cmd = line.strip().lower()
        if cmd == "ping":
            reply("PONG")
        elif cmd in ("get", "getnext"):
            asked = _key(next(it, ""))
            if cmd == "get":
                i = bisect.bisect_left(keys, asked)
                hit = i if i < len(keys) and keys[i] == asked else None
            else:  # the next row within the subtree snmpd asked about (it registered each apart)
                i = bisect.bisect_right(keys, asked)
                sub = next((k for k in subtrees if asked[: len(k)] == k), ())
                hit = i if i < len(keys) and keys[i][: len(sub)] == sub else None
            if hit is None:
                reply("NONE")
            else:
                kind, value = rows[oids[hit]]
                reply("." + oids[hit], kind, value)
        elif cmd == "set":
            next(it, "")
            next(it, "")
            reply("not-writable")
        elif not cmd:
            continue


def main(argv: list[str]) -> int:
    with open(argv[1], encoding="utf-8") as f:
        rows = json.load(f)
    serve(rows, sys.stdin, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
