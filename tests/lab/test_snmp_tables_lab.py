"""`ndaa-scan collect snmp` against Debian's real snmpd in lab namespaces.

- A router: snmpd in the lab's scanner namespace (a router with a client one hop away, scanner/lab/
  routed.py) serves that namespace's real kernel ARP table; the collector runs in the client namespace,
  across the router, and names the covered devices on the router's segment by MAC (v2c and v3).
- A switch: snmpd in a lab device's namespace with the switch's BRIDGE/Q-BRIDGE/IF-MIB/LLDP rows from a
  pass_persist program: hundreds of MACs over three VLANs, covered vendors' real OUIs among them, an
  uplink of 300 MACs and an LLDP bridge neighbour.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from typing import Any

import pytest
from clirun import run_cli
from labtools import require_binary

from scanner.lab.manager import SCANNER_MAC
from scanner.lab.netns import run_in_netns
from scanner.lab.routed import ROUTER_LINK_IP, add_routed_client, remove_routed_client

pytestmark = pytest.mark.netns

BEHIND_ROUTER = {  # name: (ip, mac, profile); OUIs: Hikvision 58:50:ED, Dahua 08:ED:ED, Hytera 64:69:BC, Axis AC:CC:8E
    "hik": ("10.1.0.10", "58:50:ed:1f:e3:85", "hikvision-ipc"),
    "dahua": ("10.1.0.11", "08:ed:ed:44:55:66", "host"),
    "hytera": ("10.1.0.12", "64:69:bc:10:20:30", "host"),
    "axis": ("10.1.0.13", "ac:cc:8e:27:0a:d8", "host"),
}
COMMUNITY = "lab-ro-community"
V3_ENV = {
    "NDAA_SNMP_USER": "auditor",
    "NDAA_SNMP_AUTH_KEY": "lab-auth-key-1",
    "NDAA_SNMP_PRIV_KEY": "lab-priv-key-1",
    "NDAA_SNMP_AUTH_PROTOCOL": "sha",
    "NDAA_SNMP_PRIV_PROTOCOL": "aes",
}


@pytest.fixture
def routed(lab_factory: Any) -> Any:
    require_binary("snmpd")
    devices = [
        {"name": n, "ip": ip, "mac": mac, "profile": prof, "routes": ["default"]}
        for n, (ip, mac, prof) in BEHIND_ROUTER.items()
    ]
    lab = lab_factory(devices, subnet="10.1.0.0/24", scanner_ip="10.1.0.1")
    client = add_routed_client(lab)
    try:
        _fill_arp_table(lab.scanner_ns, {ip: mac for ip, mac, _ in BEHIND_ROUTER.values()})
        yield lab, client
    finally:
        remove_routed_client(lab)


def _fill_arp_table(router: str, expected: dict[str, str], timeout: float = 20.0) -> None:
    """The router resolves every device (a datagram to each makes the kernel ARP for it)."""

    def poke() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for ip in expected:
                s.sendto(b"x", (ip, 9))

    deadline = time.monotonic() + timeout
    while True:
        run_in_netns(router, poke)
        out = subprocess.run(
            ["ip", "-n", router, "-j", "neigh", "show"], capture_output=True, text=True, timeout=30
        ).stdout
        have = {n["dst"]: n.get("lladdr") for n in json.loads(out or "[]")}
        if all(have.get(ip) == mac for ip, mac in expected.items()):
            return
        if time.monotonic() > deadline:
            pytest.fail(f"the router's ARP table never held every device: {have}")
        time.sleep(0.3)


def _udp_listeners(netns: str) -> set[str]:
    out = subprocess.run(
        ["ip", "netns", "exec", netns, "ss", "-Hulnp"], capture_output=True, text=True, timeout=30
    ).stdout
    return {line.split()[3] for line in out.splitlines() if "snmpd" in line}


def _collect(netns: str, agent: str, *args: str, env: dict[str, str] | None = None) -> Any:
    base = {"NDAA_SNMP_COMMUNITY": "", "NDAA_SNMP_USER": ""}
    proc = run_cli(
        "collect", "snmp", agent, "--netns", netns, "--no-history", "-q", "-f", "json", *args,
        env={**base, **(env or {})},
    )  # fmt: skip
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def _by_mac(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["mac"]: d for d in report["devices"] if d["mac"]}


def _assert_router_devices(report: dict[str, Any]) -> None:
    devices = _by_mac(report)
    for name, (ip, mac, _) in BEHIND_ROUTER.items():
        assert mac in devices, (name, sorted(devices))
        d = devices[mac]
        assert d["ip"] == ip
        arp = [o["value"] for o in d["observations"] if o["signal"] == "snmp.arp"]
        assert arp and arp[0].startswith(f"{ip} in the ARP table of edge-router ({ROUTER_LINK_IP}) eth0"), arp
    verdict = {n: devices[mac]["verdict"] for n, (_, mac, _) in BEHIND_ROUTER.items()}
    assert (verdict["hik"]["status"], verdict["hik"]["covered_entity"]) == ("likely", "Hikvision")
    assert (verdict["dahua"]["status"], verdict["dahua"]["covered_entity"]) == ("likely", "Dahua")
    assert (verdict["hytera"]["status"], verdict["hytera"]["covered_entity"]) == ("likely", "Hytera")
    assert verdict["axis"]["status"] == "not-covered"


def test_router_arp_table_across_the_router_names_covered_devices_by_mac(routed: Any) -> None:
    from scanner.lab.snmpd import Snmpd

    lab, client = routed
    with Snmpd(lab.scanner_ns, ROUTER_LINK_IP, community=COMMUNITY, sys_name="edge-router"):
        assert _udp_listeners(lab.scanner_ns) == {f"{ROUTER_LINK_IP}:161"}  # only the address it was given
        proc = _collect(client, ROUTER_LINK_IP, "-c", COMMUNITY)
        wrong = _collect(client, ROUTER_LINK_IP, "-c", "not-the-community", "--timeout", "0.5")
    assert proc.returncode == 1, proc.stderr  # covered equipment found
    report = json.loads(proc.stdout)
    assert report["complete"] is True and report["probes"][0]["status"] == "success"
    _assert_router_devices(report)
    assert COMMUNITY not in proc.stdout + proc.stderr
    assert wrong.returncode == 3 and json.loads(wrong.stdout)["devices"] == []


def test_router_arp_table_over_snmpv3(routed: Any) -> None:
    from scanner.lab.snmpd import Snmpd, V3Account

    lab, client = routed
    account = V3Account("auditor", V3_ENV["NDAA_SNMP_AUTH_KEY"], V3_ENV["NDAA_SNMP_PRIV_KEY"])
    with Snmpd(lab.scanner_ns, ROUTER_LINK_IP, v3=account, sys_name="edge-router"):  # no community at all
        proc = _collect(client, ROUTER_LINK_IP, env=V3_ENV)
        bad = _collect(
            client, ROUTER_LINK_IP, "--timeout", "0.5", env={**V3_ENV, "NDAA_SNMP_PRIV_KEY": "wrong-key-1"}
        )
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert "SNMPv3 user auditor (authPriv)" in report["notes"][0]
    _assert_router_devices(report)
    for secret in (V3_ENV["NDAA_SNMP_AUTH_KEY"], V3_ENV["NDAA_SNMP_PRIV_KEY"]):
        assert secret not in proc.stdout + proc.stderr + bad.stdout + bad.stderr
    assert bad.returncode == 3 and json.loads(bad.stdout)["devices"] == []


# ------------------------------------------------------------------ the switch

ACCESS = {  # bridge port: (MAC, VLANs, ifAlias); real OUIs of covered and other makers
    3: ("58:50:ed:1f:e3:85", (20,), "Lobby camera"),  # Hikvision
    4: ("44:19:b6:00:00:04", (20,), "Car park camera"),  # Hikvision
    5: ("08:ed:ed:44:55:66", (20,), "NVR"),  # Dahua
    6: ("3c:ef:8c:00:00:06", (20,), "Door station"),  # Dahua
    7: ("00:e0:fc:00:00:07", (10, 30), "Wi-Fi AP (trunk)"),  # Huawei, in two VLANs
    8: ("64:69:bc:00:00:08", (30,), "Radio repeater"),  # Hytera
    9: ("ac:cc:8e:27:0a:d8", (20,), "Entrance camera"),  # Axis
}
CORE = "00:1b:54:00:00:23"  # the core switch, an LLDP bridge neighbour on port 23
UPLINK_COUNT = 300


def _switch_rows() -> tuple[dict[str, list[Any]], set[str]]:
    from scanner.lab.snmp_switch import switch_rows

    ports = [(p, 10100 + p, f"Gi1/0/{p}", ACCESS[p][2] if p in ACCESS else "") for p in range(1, 25)]
    fdb = [(mac, vlan, p) for p, (mac, vlans, _) in ACCESS.items() for vlan in vlans]
    fdb.append((CORE, 10, 23))
    uplink = [
        (f"02:00:5e:00:{i // 256:02x}:{i % 256:02x}", (10, 20, 30)[i % 3], 24) for i in range(UPLINK_COUNT)
    ]
    uplink.append(("58:50:ed:99:99:99", 20, 24))  # a Hikvision camera on another switch, behind the uplink
    fdb += uplink
    lldp = [
        {"port": 23, "chassis_mac": CORE, "port_id": "Te1/0/1", "sys_name": "core-1", "sys_desc": "core", "bridge": True},
        {"port": 3, "chassis_mac": ACCESS[3][0], "port_id": "eth0", "sys_name": "DS-2CD2143G2-I",
         "sys_desc": "Hikvision IP camera", "bridge": False},
    ]  # fmt: skip
    rows = switch_rows(ports, fdb, lldp, own_mac="00:0f:e2:00:00:01")
    return rows, {mac for mac, _, _ in fdb}


def signal_of(device: dict[str, Any], name: str) -> list[str]:
    return sorted(o["value"] for o in device["observations"] if o["signal"] == name)


def test_switch_tables_list_every_mac_with_port_and_vlan_and_mark_the_uplink(
    lab_factory: Any, tmp_path
) -> None:
    from scanner.lab.snmpd import Snmpd

    require_binary("snmpd")
    cam = {"name": "cam", "ip": "10.99.0.10", "mac": ACCESS[3][0], "profile": "host"}
    lab = lab_factory([{"name": "sw", "ip": "10.99.0.3", "mac": "00:0f:e2:00:00:01", "profile": "host"}, cam])
    _fill_arp_table(lab.device_ns(0), {cam["ip"]: cam["mac"]})  # the switch's management stack knows it
    rows, macs = _switch_rows()
    csv_path = tmp_path / "r.csv"
    with Snmpd(lab.device_ns(0), "10.99.0.3", community=COMMUNITY, sys_name="sw-access-1", switch_rows=rows):
        started = time.monotonic()
        proc = _collect(lab.scanner_ns, "10.99.0.3", "-c", COMMUNITY, "-o", f"csv={csv_path}")
        seconds = time.monotonic() - started
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["complete"] is True, report["notes"]
    devices = _by_mac(report)
    # every MAC of every VLAN is a device; the switch's own (status self) is not. The switch's management
    # namespace also has a real ARP table: the collector's own address (answered to) is in it.
    assert set(devices) == macs | {SCANNER_MAC}
    assert signal_of(devices[SCANNER_MAC], "snmp.arp")[0].startswith(
        "10.99.0.2 in the ARP table of sw-access-1"
    )

    def signal(mac: str, name: str) -> list[str]:
        return signal_of(devices[mac], name)

    where = "sw-access-1 (10.99.0.3)"
    assert signal(ACCESS[3][0], "snmp.fdb") == [f'{where} port 3 Gi1/0/3 "Lobby camera" VLAN 20']
    assert (
        f'location: {where} port 3 Gi1/0/3 "Lobby camera" VLAN 20'
        in devices[ACCESS[3][0]]["verdict"]["notes"]
    )
    assert signal(ACCESS[3][0], "lldp.sys_name") == ["DS-2CD2143G2-I"]
    assert signal(ACCESS[7][0], "snmp.fdb") == [
        f'{where} port 7 Gi1/0/7 "Wi-Fi AP (trunk)" VLAN 10',
        f'{where} port 7 Gi1/0/7 "Wi-Fi AP (trunk)" VLAN 30',
    ]
    expected = {"hik": (3, 4), "dahua": (5, 6), "huawei": (7,), "hytera": (8,)}
    entity = {"hik": "Hikvision", "dahua": "Dahua", "huawei": "Huawei", "hytera": "Hytera"}
    for who, ports in expected.items():
        for p in ports:
            v = devices[ACCESS[p][0]]["verdict"]
            assert (v["status"], v["covered_entity"]) == ("likely", entity[who]), (p, v)
    assert devices[ACCESS[9][0]]["verdict"]["status"] == "not-covered"
    # the uplink: 300+ MACs on port 24, and port 23 by its LLDP bridge neighbour; neither is a location
    far = "58:50:ed:99:99:99"
    assert signal(far, "snmp.fdb") == []
    assert signal(far, "snmp.fdb.uplink") == [
        f"{where} port 24 Gi1/0/24 VLAN 20 (uplink: {UPLINK_COUNT + 1} MACs behind it)"
    ]
    assert not any(n.startswith("location:") for n in devices[far]["verdict"]["notes"])
    assert devices[far]["verdict"]["covered_entity"] == "Hikvision"
    assert signal(CORE, "snmp.fdb") == [] and "LLDP neighbour core-1" in signal(CORE, "snmp.fdb.uplink")[0]
    assert "location: sw-access-1 (10.99.0.3) port 3" in csv_path.read_text()
    assert seconds < 60, f"{seconds:.1f} s for {len(macs)} MACs"


def test_collect_keeps_history_like_a_scan(lab_factory: Any, tmp_path) -> None:
    from scanner.history.store import HistoryStore
    from scanner.lab.snmpd import Snmpd

    require_binary("snmpd")
    lab = lab_factory([{"name": "sw", "ip": "10.99.0.3", "mac": "00:0f:e2:00:00:01", "profile": "host"}])
    rows, macs = _switch_rows()
    db = tmp_path / "h.sqlite3"
    with Snmpd(lab.device_ns(0), "10.99.0.3", community=COMMUNITY, sys_name="sw-access-1", switch_rows=rows):
        proc = run_cli(
            "collect", "snmp", "10.99.0.3", "-c", COMMUNITY, "--netns", lab.scanner_ns, "--db", str(db),
            "-q", "-f", "jsonl",
        )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    store = HistoryStore(db)
    try:
        [scan] = store.list_scans()
        stored = store.load_report(scan.id)
    finally:
        store.close()
    assert {d.mac for d in stored.devices if d.mac} == macs | {SCANNER_MAC}
    hik = next(d for d in stored.devices if d.mac == ACCESS[3][0])
    assert any(n.startswith("location: sw-access-1 (10.99.0.3) port 3") for n in hik.verdict.notes)
    assert any(o.signal == "snmp.fdb" for o in hik.observations)
