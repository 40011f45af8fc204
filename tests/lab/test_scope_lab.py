"""Scope, end to end: scanning a few look-alike (not covered) cameras on a segment full of covered gear
sends nothing to any other address, reports only the targets as devices, lists the covered devices that
answered multicast discovery apart ("heard"), and exits 0 — every frame the scanner sends is captured on
its own interface (AF_PACKET, inside its namespace) and checked."""

from __future__ import annotations

import ipaddress
import json
import socket
import struct
import subprocess
import sys
from contextlib import AbstractContextManager
from typing import Any

import pytest
from labtools import Capture, capturing_in
from paths import REPO

pytestmark = pytest.mark.netns

SUBNET = "10.99.0.0/24"
LOOK_ALIKES = [  # the targets: cameras and a DVR of makers that are not covered
    {"name": "axis", "ip": "10.99.0.10", "mac": "ac:cc:8e:27:0a:d8", "profile": "axis-ipc"},
    {"name": "hanwha", "ip": "10.99.0.11", "mac": "00:09:18:00:00:11", "profile": "hanwha-ipc"},
    {"name": "uniview", "ip": "10.99.0.12", "mac": "48:ea:63:00:00:12", "profile": "uniview-ipc"},
    {"name": "xiongmai", "ip": "10.99.0.13", "mac": "00:12:41:00:00:13", "profile": "xiongmai-dvr"},
]
COVERED = [  # same segment, never named: they may be heard, never probed
    {"name": "hik", "ip": "10.99.0.20", "mac": "58:50:ed:1f:e3:85", "profile": "hikvision-ipc"},
    {"name": "nvr", "ip": "10.99.0.21", "mac": "c0:56:e3:12:34:56", "profile": "hikvision-nvr"},
    {"name": "hiwatch", "ip": "10.99.0.22", "mac": "bc:ad:28:11:22:33", "profile": "hiwatch-ipc"},
    {"name": "lts", "ip": "10.99.0.23", "mac": "58:50:ed:00:00:23", "profile": "lts-ipc"},
    {"name": "ezviz", "ip": "10.99.0.24", "mac": "54:d6:0d:10:20:30", "profile": "ezviz-cam"},
    {"name": "dahua", "ip": "10.99.0.25", "mac": "08:ed:ed:44:55:66", "profile": "dahua-ipc"},
    {"name": "intelbras", "ip": "10.99.0.26", "mac": "9c:14:63:2d:7f:10", "profile": "intelbras-ipc"},
    {"name": "amcrest", "ip": "10.99.0.27", "mac": "9c:8e:cd:0a:0b:0c", "profile": "amcrest-ipc"},
    {"name": "huawei", "ip": "10.99.0.28", "mac": "00:e0:fc:11:22:33", "profile": "huawei-cpe"},
    {"name": "zte", "ip": "10.99.0.29", "mac": "00:15:eb:44:55:66", "profile": "zte-router"},
    {"name": "hytera", "ip": "10.99.0.30", "mac": "64:69:bc:10:20:30", "profile": "hytera-repeater"},
    {"name": "peer", "ip": "10.99.0.31", "mac": "44:19:b6:00:00:31", "profile": "onvif-peer-hikvision"},
]
TARGETS = "10.99.0.10-13"
TARGET_IPS = {d["ip"] for d in LOOK_ALIKES}

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
BROADCAST = ipaddress.IPv4Network(SUBNET).broadcast_address


def _capture_in_namespace(cap: Capture) -> None:
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL)) as s:
        s.bind(("eth0", 0))
        s.settimeout(0.2)
        cap.ready.set()
        while not cap.stop.is_set():
            try:
                data, addr = s.recvfrom(65535)
            except TimeoutError:
                continue
            if addr[2] == PACKET_OUTGOING:
                cap.frames.append(data)


def capturing(namespace: str) -> AbstractContextManager[Capture]:
    """Every frame the scanner's eth0 sent while the scan ran, in order."""
    return capturing_in(namespace, _capture_in_namespace)


def destination(frame: bytes) -> tuple[str, str] | None:
    """(kind, address) of a frame that asks something of a unicast address; None for multicast and
    broadcast discovery, and for the kernel's answers (ARP replies, ICMP errors about late replies)."""
    ethertype = struct.unpack("!H", frame[12:14])[0]
    if ethertype == 0x0806:  # ARP: requests only (a reply answers a device's own who-has)
        op = struct.unpack("!H", frame[20:22])[0]
        return ("arp-request", socket.inet_ntoa(frame[38:42])) if op == 1 else None
    if ethertype == 0x86DD:
        dst6 = ipaddress.IPv6Address(frame[38:54])
        return None if dst6.is_multicast else ("ipv6", str(dst6))
    if ethertype != 0x0800:
        return ("ethertype", hex(ethertype))
    ip = frame[14:]
    proto, dst = ip[9], ipaddress.IPv4Address(ip[16:20])
    if dst.is_multicast or dst in (BROADCAST, ipaddress.IPv4Address("255.255.255.255")):
        return None
    if proto == 1 and ip[(ip[0] & 0x0F) * 4] == 3:  # ICMP destination unreachable: a late reply's answer
        return None
    kind = {6: "tcp", 17: "udp", 1: "icmp"}.get(proto, f"ip-proto-{proto}")
    if proto == 6:
        flags = ip[(ip[0] & 0x0F) * 4 + 13]
        kind = "tcp-syn" if flags & 0x02 and not flags & 0x10 else "tcp"
    return kind, str(dst)


def scan(lab: Any, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "scanner", "scan", "--netns", lab.scanner_ns, "-i", "eth0", "--no-history"]
    cmd += ["-q", "-f", "json", *extra, TARGETS]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False, cwd=REPO)


def scan_and_capture(lab: Any, *extra: str) -> tuple[dict[str, Any], int, list[tuple[str, str]]]:
    """One scan of the look-alikes with every frame captured: (report, exit code, frames to non-targets)."""
    with capturing(lab.scanner_ns) as cap:
        proc = scan(lab, *extra)
    assert "Traceback" not in proc.stderr, proc.stderr
    report = json.loads(proc.stdout)
    sent = [d for d in map(destination, cap.frames) if d is not None]
    assert len(cap.frames) > 100 and {a for _, a in sent} >= TARGET_IPS  # the capture saw the scan
    strays = sorted({(kind, addr) for kind, addr in sent if addr not in TARGET_IPS})
    assert proc.returncode == 0 or strays, (proc.returncode, proc.stderr, report["notes"])
    return report, proc.returncode, strays


def check_report(report: dict[str, Any]) -> None:
    assert {d["ip"] for d in report["devices"]} <= TARGET_IPS
    assert {d["mac"] for d in report["devices"]} == {d["mac"] for d in LOOK_ALIKES}
    assert all(d["verdict"]["status"] == "not-covered" for d in report["devices"]), report["devices"]
    heard = {d["ip"]: d for d in report["heard"]}
    # the SADP/DHIP/WS-Discovery speakers answered multicast: heard, from their own replies only
    assert {"10.99.0.20", "10.99.0.25", "10.99.0.26"} <= set(heard)
    assert not set(heard) & TARGET_IPS
    banner_probes = {"http", "tls", "rtsp", "onvif", "snmp", "nmap"}
    assert all(not set(d["probes"]) & banner_probes for d in report["heard"]), report["heard"]
    assert heard["10.99.0.20"]["verdict"]["status"] == "covered"


# every active probe: banners, ONVIF, SNMP (a community is given, so it runs) and nmap
ACTIVE = ("--snmp-community", "public", "--with-nmap")


def test_banner_onvif_snmp_and_nmap_probe_only_targets(lab_factory: Any) -> None:
    """What the orchestration guarantees, probe by probe: nothing to non-targets."""
    lab = lab_factory(LOOK_ALIKES + COVERED, subnet=SUBNET, scanner_ip="10.99.0.2")
    probes = "arp,wsd,mdns,sadp,dhip,http,tls,rtsp,onvif,snmp,nmap"
    report, code, strays = scan_and_capture(lab, "-p", probes, *ACTIVE)
    assert strays == [], f"frames to non-targets: {strays}"
    check_report(report)
    assert code == 0


def test_scanning_look_alikes_touches_only_them(lab_factory: Any) -> None:
    lab = lab_factory(LOOK_ALIKES + COVERED, subnet=SUBNET, scanner_ip="10.99.0.2")
    report, code, strays = scan_and_capture(lab, *ACTIVE)
    check_report(report)
    assert strays == [], f"frames to non-targets: {strays}"
    assert code == 0


def test_fail_on_heard_lets_heard_covered_gear_fail_the_scan(lab_factory: Any) -> None:
    lab = lab_factory(LOOK_ALIKES[:1] + COVERED[:1], subnet=SUBNET, scanner_ip="10.99.0.2")
    plain = scan(lab, "-p", "arp,sadp")
    assert plain.returncode == 0, plain.stderr
    assert [d["ip"] for d in json.loads(plain.stdout)["heard"]] == ["10.99.0.20"]
    strict = scan(lab, "-p", "arp,sadp", "--fail-on-heard")
    assert strict.returncode == 1, strict.stderr
