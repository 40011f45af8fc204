"""Parsing routers' and switches' SNMP tables: real-shaped rows, bad rows, uplinks, LLDP, never a raise."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.collect import snmp_tables as t
from scanner.observations import HostNote, Observation

HIK, DAHUA, AXIS = "58:50:ed:1f:e3:85", "08:ed:ed:44:55:66", "ac:cc:8e:27:0a:d8"


def mac_bytes(mac: str) -> bytes:
    return bytes(int(h, 16) for h in mac.split(":"))


def mac_arcs(mac: str) -> tuple[int, ...]:
    return tuple(mac_bytes(mac))


def phys_row(col: int, ifindex: int, addr: tuple[int, ...], value: t.Value) -> t.Var:
    family = 1 if len(addr) == 4 else 2
    return (*t.IP_NET_TO_PHYSICAL, col, ifindex, family, len(addr), *addr), value


def test_ip_net_to_physical_keeps_resolved_ipv4_and_ipv6_and_skips_the_rest() -> None:
    v6 = (0xFE, 0x80, *([0] * 13), 1)
    rows = [
        phys_row(4, 2, (10, 1, 0, 10), mac_bytes(HIK)),
        phys_row(6, 2, (10, 1, 0, 10), 3),
        phys_row(7, 2, (10, 1, 0, 10), 1),
        phys_row(4, 2, (10, 1, 0, 11), mac_bytes(DAHUA)),
        phys_row(6, 2, (10, 1, 0, 11), 2),  # invalid(2): a deleted entry
        phys_row(4, 2, (10, 1, 0, 12), mac_bytes(AXIS)),
        phys_row(7, 2, (10, 1, 0, 12), 7),  # incomplete(7)
        phys_row(4, 2, (10, 1, 0, 13), b""),  # unresolved: empty, not a problem
        phys_row(4, 2, (10, 1, 0, 14), b"\x01\x02\x03"),  # not a MAC: a problem
        ((*t.IP_NET_TO_PHYSICAL, 4, 2, 1, 9, 1, 2), mac_bytes(AXIS)),  # length says 9, has 2
        phys_row(4, 3, v6, mac_bytes(AXIS)),
    ]
    tables = t.Tables()
    arp = t.parse_ip_net_to_physical(rows, tables)
    assert {(a.ip, a.mac, a.kind) for a in arp} == {
        ("10.1.0.10", HIK, "dynamic"),
        ("fe80::1", AXIS, "dynamic"),
    }
    assert tables.skipped == 2 and all("ipNetToPhysicalTable" in p for p in tables.problems)


def test_ip_net_to_media_is_the_fallback_with_ipv4_index() -> None:
    e = t.IP_NET_TO_MEDIA
    rows = [
        ((*e, 2, 3, 192, 168, 1, 64), mac_bytes(HIK)),
        ((*e, 3, 3, 192, 168, 1, 64), "192.168.1.64"),
        ((*e, 4, 3, 192, 168, 1, 64), 4),
        ((*e, 2, 3, 192, 168, 1, 65), mac_bytes(DAHUA)),
        ((*e, 4, 3, 192, 168, 1, 65), 2),  # invalid
        ((*e, 2, 3, 192, 168, 300, 66), mac_bytes(AXIS)),  # arc out of range
    ]
    tables = t.Tables()
    arp = t.parse_ip_net_to_media(rows, tables)
    assert [(a.ifindex, a.ip, a.mac, a.kind) for a in arp] == [(3, "192.168.1.64", HIK, "static")]
    assert tables.skipped == 1


def q_rows(fdb_id: int, mac: str, port: int, status: int = 3) -> list[t.Var]:
    return [
        ((*t.DOT1Q_TP_FDB, 2, fdb_id, *mac_arcs(mac)), port),
        ((*t.DOT1Q_TP_FDB, 3, fdb_id, *mac_arcs(mac)), status),
    ]


def d_rows(mac: str, port: int, status: int = 3) -> list[t.Var]:
    return [
        ((*t.DOT1D_TP_FDB, 1, *mac_arcs(mac)), mac_bytes(mac)),
        ((*t.DOT1D_TP_FDB, 2, *mac_arcs(mac)), port),
        ((*t.DOT1D_TP_FDB, 3, *mac_arcs(mac)), status),
    ]


def test_fdb_names_vlans_by_fdb_id_and_adds_bridge_rows_missing_from_q_bridge() -> None:
    own = "00:e0:fc:00:00:01"
    vlan_rows = [
        ((*t.DOT1Q_VLAN_FDB_ID, 0, 20), 1),
        ((*t.DOT1Q_VLAN_FDB_ID, 0, 30), 2),
        ((*t.DOT1Q_VLAN_FDB_ID, 0, 40), 3),  # FDB 3 shared by VLANs 40 and 41: VLAN unknown
        ((*t.DOT1Q_VLAN_FDB_ID, 0, 41), 3),
    ]
    dot1q = [
        *q_rows(1, HIK, 5),
        *q_rows(2, HIK, 5),  # the same MAC in a second VLAN: a second entry
        *q_rows(3, DAHUA, 6),
        *q_rows(1, own, 0, status=4),  # self: the switch's own MAC
        ((*t.DOT1Q_TP_FDB, 2, 1, 1, 2, 3), 7),  # a short index
    ]
    dot1d = [*d_rows(HIK, 5), *d_rows(AXIS, 9), *d_rows(own, 0, status=4)]
    tables = t.Tables()
    fdb = t.parse_fdb(dot1q, dot1d, t.parse_vlan_fdb_ids(vlan_rows), tables)
    assert {(e.mac, e.port, e.vlan) for e in fdb} == {
        (HIK, 5, 20),
        (HIK, 5, 30),
        (DAHUA, 6, None),
        (AXIS, 9, None),
    }
    assert tables.skipped == 1 and "dot1qTpFdbTable" in tables.problems[0]


def test_fdb_id_without_a_vlan_table_is_taken_as_the_vlan() -> None:
    fdb = t.parse_fdb(q_rows(100, HIK, 3), [], {}, t.Tables())
    assert [(e.mac, e.vlan) for e in fdb] == [(HIK, 100)]


def switch_tables(extra_macs: int = 0) -> t.Tables:
    tables = t.Tables(sys_name="sw-lobby", sys_descr="Switch OS", sys_object_id="1.3.6.1.4.1.2011.2.23.96")
    tables.port_ifindex = t.parse_port_ifindex(
        [((*t.DOT1D_BASE_PORT_IFINDEX, p), 1000 + p) for p in (3, 4, 24)]
    )
    tables.if_names = t.parse_if_text(
        [((*t.IF_NAME, 1000 + p), f"Gi1/0/{p}".encode()) for p in (3, 4, 24)], t.IF_NAME
    )
    tables.if_aliases = t.parse_if_text([((*t.IF_ALIAS, 1003), b"Lobby camera\x00")], t.IF_ALIAS)
    tables.fdb = [t.FdbEntry(HIK, 3, 20), t.FdbEntry(DAHUA, 4, 20)]
    tables.fdb += [t.FdbEntry(f"02:00:00:00:{i // 256:02x}:{i % 256:02x}", 24, 10) for i in range(extra_macs)]
    return tables


def by_mac(items: list[Observation | HostNote], mac: str) -> tuple[set[tuple[str, str]], list[str]]:
    obs = {(o.signal, o.value) for o in items if isinstance(o, Observation) and o.mac == mac}
    notes = [n.text for n in items if isinstance(n, HostNote) and n.mac == mac]
    return obs, notes


def test_location_names_switch_port_ifname_alias_and_vlan() -> None:
    items = list(t.observations("10.0.0.2", switch_tables()))
    obs, notes = by_mac(items, HIK)
    assert obs == {("snmp.fdb", 'sw-lobby (10.0.0.2) port 3 Gi1/0/3 "Lobby camera" VLAN 20')}
    assert notes == ['location: sw-lobby (10.0.0.2) port 3 Gi1/0/3 "Lobby camera" VLAN 20']
    agent = {(o.signal, o.value) for o in items if isinstance(o, Observation) and o.ip == "10.0.0.2"}
    assert agent == {
        ("snmp.sys_descr", "Switch OS"),
        ("snmp.sys_object_id", "1.3.6.1.4.1.2011.2.23.96"),
        ("hostname", "sw-lobby"),
    }


def test_a_port_with_dozens_of_macs_is_an_uplink_not_a_location() -> None:
    tables = switch_tables(extra_macs=t.UPLINK_MACS)
    assert t.uplink_ports(tables) == {24: f"{t.UPLINK_MACS} MACs behind it"}
    items = list(t.observations("10.0.0.2", tables))
    obs, notes = by_mac(items, "02:00:00:00:00:05")
    assert [s for s, _ in obs] == ["snmp.fdb.uplink"]
    assert notes and notes[0].startswith("seen through an uplink, not its location")
    assert not any(n.startswith("location:") for n in notes)
    # one MAC fewer and the same port is an access port again
    assert t.uplink_ports(switch_tables(extra_macs=t.UPLINK_MACS - 1)) == {}
    assert t.uplink_ports(switch_tables(extra_macs=5), uplink_macs=5) == {24: "5 MACs behind it"}


def lldp_rows(port: int, idx: int, chassis: bytes, subtype: int, name: str, caps: bytes) -> list[t.Var]:
    i = (0, port, idx)
    return [
        ((*t.LLDP_REM, 4, *i), subtype),
        ((*t.LLDP_REM, 5, *i), chassis),
        ((*t.LLDP_REM, 7, *i), b"GE0/0/1"),
        ((*t.LLDP_REM, 9, *i), name.encode()),
        ((*t.LLDP_REM, 10, *i), b"Huawei Versatile Routing Platform Software"),
        ((*t.LLDP_REM, 12, *i), caps),
    ]


def test_lldp_neighbours_bridge_marks_uplink_and_chassis_mac_needs_the_fdb() -> None:
    core = "00:e0:fc:11:22:33"
    rows = [
        *lldp_rows(24, 1, mac_bytes(core), 4, "core-sw", b"\x20\x00"),  # bridge
        *lldp_rows(4, 2, mac_bytes(DAHUA), 4, "cam-4", b"\x01\x00"),  # stationOnly
        *lldp_rows(3, 3, b"\x01\x0a\x00\x00\x07", 5, "by-ip", b"\x01\x00"),  # networkAddress IPv4
        ((*t.LLDP_REM, 9, 0, 1), b"short index"),
    ]
    tables = switch_tables()
    tables.lldp = t.parse_lldp(rows, tables)
    assert [(n.local_port, n.chassis_id, n.bridge_or_router) for n in tables.lldp] == [
        (3, "10.0.0.7", False),
        (4, DAHUA, False),
        (24, core, True),
    ]
    assert tables.skipped == 1
    assert t.uplink_ports(tables) == {24: "LLDP neighbour core-sw is a bridge or router"}
    items = list(t.observations("10.0.0.2", tables))
    obs, notes = by_mac(items, DAHUA)  # learned on port 4: its LLDP fields are its evidence
    assert ("lldp.sys_name", "cam-4") in obs and ("lldp.chassis_id", DAHUA) in obs
    assert any(n.startswith("LLDP neighbour of sw-lobby (10.0.0.2) port 4") for n in notes)
    assert by_mac(items, core) == (set(), [])  # never learned from a frame: not a host of its own
    agent_notes = [n.text for n in items if isinstance(n, HostNote) and n.ip == "10.0.0.2"]
    assert any("chassis 00:e0:fc:11:22:33 core-sw" in n for n in agent_notes)


def test_arp_observations_carry_ip_and_mac_and_the_router() -> None:
    tables = t.Tables(sys_name="edge")
    tables.if_names = {2: "eth1"}
    tables.arp = [t.ArpEntry(2, "10.1.0.10", HIK, "dynamic"), t.ArpEntry(2, "fe80::1", AXIS, "dynamic")]
    arp = [o for o in t.observations("10.254.254.1", tables) if o.signal == "snmp.arp"]
    assert [(o.ip, o.mac, o.value) for o in arp] == [
        ("10.1.0.10", HIK, "10.1.0.10 in the ARP table of edge (10.254.254.1) eth1 (dynamic)"),
        (None, AXIS, "fe80::1 in the ARP table of edge (10.254.254.1) eth1 (dynamic)"),
    ]


def test_text_drops_controls_and_nuls_and_is_bounded() -> None:
    assert t.text(b"Gi1/0/3\x00\x00") == "Gi1/0/3"
    assert t.text(b"a\x1b[31mb\r\nc") == "a [31mb c"
    assert t.text(b"\xff\xfeok") == "\ufffd\ufffdok"
    assert len(t.text(b"x" * 100_000)) == t.MAX_TEXT
    assert t.mac_of(b"\0" * 6) is None and t.mac_of(b"\xff" * 6) is None and t.mac_of(b"12345") is None


ROOTS = [t.IP_NET_TO_PHYSICAL, t.IP_NET_TO_MEDIA, t.DOT1D_TP_FDB, t.DOT1Q_TP_FDB, t.LLDP_REM, t.IF_NAME]
values = st.one_of(st.integers(-(2**63), 2**64), st.binary(max_size=40), st.text(max_size=20))
rows_strategy = st.lists(
    st.tuples(
        st.sampled_from(ROOTS).flatmap(
            lambda root: st.lists(st.integers(0, 2**32), max_size=20).map(lambda arcs: (*root, *arcs))
        ),
        values,
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(rows_strategy, rows_strategy)
def test_any_rows_parse_without_raising(rows: list[t.Var], more: list[t.Var]) -> None:
    tables = t.Tables()
    tables.arp = t.parse_ip_net_to_physical(rows, tables) + t.parse_ip_net_to_media(rows, tables)
    tables.fdb = t.parse_fdb(rows, more, t.parse_vlan_fdb_ids(more), tables)
    tables.port_ifindex = t.parse_port_ifindex(more)
    tables.if_names = t.parse_if_text(rows, t.IF_NAME)
    tables.lldp = t.parse_lldp(rows + more, tables)
    items = list(t.observations("10.0.0.1", tables, uplink_macs=2))
    assert len(tables.problems) <= t.MAX_PROBLEMS
    assert all(len(i.value) <= 4096 for i in items if isinstance(i, Observation))
    assert t.summary("10.0.0.1", tables)


def test_the_lab_switch_program_answers_pass_persist_requests() -> None:
    import io

    from scanner.lab.snmp_switch import DOT1D_BASE_PORT_IFINDEX, IF_NAME, serve, switch_rows

    rows = switch_rows([(1, 1001, "Gi1/0/1", "cam"), (2, 1002, "Gi1/0/2", "")], [(HIK, 20, 1)])
    asked = [
        "PING",
        "get",
        f".{DOT1D_BASE_PORT_IFINDEX}.2",
        "getnext",
        f".{DOT1D_BASE_PORT_IFINDEX}.1",  # the next row, not the same one again
        "get",
        ".1.3.6.1.2.1.17.99",
        "getnext",
        ".1.3.6.1.2.1.17.99",  # past the BRIDGE-MIB rows: not the IF-MIB rows after them
        "getnext",
        f".{IF_NAME}.1002",
        "getnext",
        ".1.3.6.1.2.1.31.1.1.1.18.1002",  # the last row
        "set",
        ".1.3.6.1.2.1.17.1.4.1.2.1",
        "integer 5",
    ]
    out = io.StringIO()
    serve(rows, (line + "\n" for line in asked), out)
    assert out.getvalue().splitlines() == [
        "PONG",
        f".{DOT1D_BASE_PORT_IFINDEX}.2",
        "integer",
        "1002",
        f".{DOT1D_BASE_PORT_IFINDEX}.2",
        "integer",
        "1002",
        "NONE",
        "NONE",
        ".1.3.6.1.2.1.31.1.1.1.18.1001",
        "string",
        "cam",
        "NONE",
        "not-writable",
    ]
