"""The greeting probe inside a lab: telecom gear and a DVR that show nothing but SSH, telnet and FTP
greetings (MACs of no covered maker, no web page, no discovery protocol) are found and identified by those
banners alone, only the named targets are contacted, and greetings that never end cost one window."""

from __future__ import annotations

import json
import socket
import struct
import time
from typing import Any

import pytest
from clirun import cli, lab_scan_args
from labtools import routed_client, run_probe
from test_scope_lab import capturing

from scanner.discovery.base import ProbeStatus
from scanner.discovery.greeting import GreetingProbe
from scanner.discovery.http_client import CONNECT_TIMEOUT, WINDOW
from scanner.lab.sim.runtime import profiles

pytestmark = pytest.mark.netns

SUBNET = "10.99.0.0/24"
# locally administered MACs: no OUI names a maker, so a verdict can rest only on what the device says
TELECOM = [
    {"name": "vrp", "ip": "10.99.0.10", "mac": "02:00:00:00:00:10", "profile": "huawei-vrp-router"},
    {"name": "ont", "ip": "10.99.0.11", "mac": "02:00:00:00:00:11", "profile": "zte-ont"},
    {"name": "dvr", "ip": "10.99.0.12", "mac": "02:00:00:00:00:12", "profile": "hikvision-dvr-telnet"},
]
HOSTILE = [
    {"name": "xflood", "ip": "10.99.0.20", "mac": "02:00:00:00:00:20", "profile": "hostile-greeting"},
    {"name": "xjunk", "ip": "10.99.0.21", "mac": "02:00:00:00:00:21", "profile": "hostile-greeting-junk"},
]
BYSTANDER = {"name": "other", "ip": "10.99.0.30", "mac": "02:00:00:00:00:30", "profile": "huawei-vrp-router"}
TARGETS = {d["ip"] for d in TELECOM}


def banner(profile: str, service: str, key: str) -> str:
    return str(profiles()[profile][service][key]).strip()


EXPECTED = {
    ("10.99.0.10", "ssh.banner", "SSH-2.0-HUAWEI-1.5", 22),
    ("10.99.0.10", "telnet.banner", banner("huawei-vrp-router", "telnet", "banner"), 23),
    ("10.99.0.10", "ftp.banner", banner("huawei-vrp-router", "ftp", "greeting"), 21),
    ("10.99.0.11", "telnet.banner", "F668\r\n\rLogin:", 23),
    ("10.99.0.12", "telnet.banner", "192.0.0.64 login:", 23),
}
ENTITIES = {"10.99.0.10": "Huawei", "10.99.0.11": "ZTE", "10.99.0.12": "Hikvision"}


def test_probe_reads_every_greeting_exactly(lab_factory: Any) -> None:
    lab = lab_factory(TELECOM, subnet=SUBNET)
    result = run_probe(lab, GreetingProbe(), sorted(TARGETS), timeout=8.0)
    assert result.status == ProbeStatus.SUCCESS, (result.error, result.notes)
    assert {(o.ip, o.signal, o.value, o.port) for o in result.observations} == EXPECTED
    assert (result.sent, result.received) == (3, 3)
    # every device answered at its login prompt (the ONT only after our refusals): no window waited out
    # whole (tests/discovery/test_greeting.py proves it with a 30 s window; here, a loose bound)
    assert result.duration < 2 * WINDOW, result.duration


def test_hostile_greetings_end_within_one_window(lab_factory: Any) -> None:
    lab = lab_factory(HOSTILE, subnet=SUBNET)
    start = time.monotonic()
    result = run_probe(lab, GreetingProbe(), [d["ip"] for d in HOSTILE], timeout=15.0)
    took = time.monotonic() - start
    assert took < WINDOW + CONNECT_TIMEOUT, took  # one window per port, the ports of a host at once
    assert result.status in (ProbeStatus.SUCCESS, ProbeStatus.NO_RESPONSE), (result.error, result.notes)
    found = {(o.ip, o.signal): o.value for o in result.observations}
    # endless pre-banner lines, IAC floods and garbage give nothing; the endless multi-line 220 reply and the
    # dripped prompt give their first, bounded part
    assert set(found) == {("10.99.0.20", "ftp.banner"), ("10.99.0.21", "telnet.banner")}, found
    assert (
        found["10.99.0.20", "ftp.banner"].startswith("220-") and len(found["10.99.0.20", "ftp.banner"]) < 8192
    )
    assert "F668" in found["10.99.0.21", "telnet.banner"]


# ---------------------------------------------------------------- end to end, every frame captured


def unicast_tcp(frames: list[bytes]) -> list[tuple[str, int]]:
    """(destination address, destination port) of every IPv4 TCP frame sent."""
    out = []
    for frame in frames:
        if struct.unpack("!H", frame[12:14])[0] != 0x0800:
            continue
        ip = frame[14:]
        if ip[9] == 6:
            tcp = ip[(ip[0] & 0x0F) * 4 :]
            out.append((socket.inet_ntoa(ip[16:20]), struct.unpack("!H", tcp[2:4])[0]))
    return out


def arp_requests(frames: list[bytes]) -> set[str]:
    return {
        socket.inet_ntoa(f[38:42])
        for f in frames
        if struct.unpack("!H", f[12:14])[0] == 0x0806 and struct.unpack("!H", f[20:22])[0] == 1
    }


def test_scan_identifies_telecom_gear_by_greetings_and_contacts_only_the_targets(lab_factory: Any) -> None:
    lab = lab_factory([*TELECOM, BYSTANDER], subnet=SUBNET)
    with capturing(lab.scanner_ns) as cap:
        proc = cli(*lab_scan_args(lab.scanner_ns, "10.99.0.10-12", "--no-history", "-q", "-f", "json"))
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-2000:])  # covered gear found
    report = json.loads(proc.stdout)
    devices = {d["ip"]: d for d in report["devices"]}
    assert set(devices) == TARGETS
    for ip, entity in ENTITIES.items():
        verdict = devices[ip]["verdict"]
        assert verdict["status"] in ("covered", "likely"), (ip, verdict)
        assert verdict["covered_entity"] == entity, (ip, verdict)
        assert {e["probe"] for e in verdict["evidence"] if e["supports"]} == {"greeting"}, verdict["evidence"]
    tcp = unicast_tcp(cap.frames)
    assert {ip for ip, _ in tcp} == TARGETS, sorted(set(tcp))  # the bystander never got a segment
    assert {(ip, port) for ip, port in tcp if port in (21, 22, 23)} == {
        (ip, p) for ip in TARGETS for p in (21, 22, 23)
    }
    assert arp_requests(cap.frames) <= TARGETS


def test_routed_scan_reaches_gear_with_only_ssh_and_telnet(lab_factory: Any) -> None:
    """Across a router: the liveness sweep's echo and SYNs to 80/443 (answered by RST) find gear that
    serves only SSH, telnet and FTP, and the greeting probe identifies it (nothing added to the sweep)."""
    from clirun import cli

    devices = [{**d, "ip": d["ip"].replace("10.99.0.", "10.97.0."), "routes": ["default"]} for d in TELECOM]
    with routed_client(lab_factory, devices, "10.97.0.0/24", "10.97.0.1") as client:
        proc = cli("scan", "--netns", client, "--no-history", "-q", "-f", "json", "10.97.0.0/27")
    assert proc.returncode == 1, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    summary = {p["probe"]: p for p in report["probes"]}
    assert summary["greeting"]["status"] == "success", summary["greeting"]
    devices_found = {d["ip"]: d["verdict"] for d in report["devices"]}
    for ip, entity in ENTITIES.items():
        verdict = devices_found[ip.replace("10.99.0.", "10.97.0.")]
        assert verdict["status"] in ("covered", "likely") and verdict["covered_entity"] == entity, verdict
