"""IPv6 on the segment, end to end, on the shipped lab examples/labs/ipv6.toml (a 10.66.0.0/24 segment):
a Hikvision camera left on its factory address 192.168.1.64, an Axis camera with no IPv4 address at all,
a dual-stack Dahua camera and a printer. Every frame the scanner sends is captured on its interface.

- Without ``--ipv6`` the scanner sends no IPv6 packet of its own (the kernel's neighbour discovery and
  MLD aside).
- With ``--ipv6`` and only the IPv4 subnet named, both IPv6-only cameras are found over IPv6, identified
  by their MAC OUI and what they answer on ff02::fb / ff02::c, and reported as heard: nothing is sent to
  their addresses (the kernel's Neighbor Advertisements aside).
- With the link named as well (``fe80::/64%eth0``), they are devices and the banner probes reach their
  web servers over IPv6; the dual-stack camera is one device (IPv4 and IPv6 merged by MAC).
"""

from __future__ import annotations

import ipaddress
import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clirun import scan_lab_json
from test_scope_lab import capturing

pytestmark = pytest.mark.netns

FACTORY_MAC, V6_MAC, DAHUA_MAC, PRINTER_MAC = (
    "58:50:ed:64:01:64",
    "ac:cc:8e:66:00:fa",
    "08:ed:ed:66:00:12",
    "00:1b:a9:66:00:30",
)
BANNER_PROBES = {"http", "tls", "rtsp", "onvif"}
KERNEL_ICMP6 = {133, 134, 135, 136, 137, 143}  # router/neighbour discovery and MLD: the kernel's, not ours


def ipv6_sent(frames: list[bytes]) -> list[tuple[str, str]]:
    """(what, destination) of every IPv6 packet the scanner sent that is not the kernel's ND/MLD."""
    out = []
    for frame in frames:
        if struct.unpack("!H", frame[12:14])[0] != 0x86DD:
            continue
        nh, dst = frame[14 + 6], str(ipaddress.IPv6Address(frame[38:54]))
        if nh == 58 and frame[54] in KERNEL_ICMP6:
            continue
        if nh == 0 and len(frame) > 56 and frame[54] == 58:  # MLD reports ride behind a hop-by-hop header
            icmp = 54 + (frame[55] + 1) * 8
            if len(frame) > icmp and frame[icmp] in KERNEL_ICMP6:
                continue
        what = {58: f"icmp6-{frame[54]}", 17: "udp", 6: "tcp"}.get(nh, f"next-header-{nh}")
        out.append((what, dst))
    return out


def link_local(mac: str) -> str:
    from scanner.lab.sim.device import link_local_of

    return link_local_of(mac)


@pytest.fixture(scope="module")
def ipv6_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The shipped lab under a unique name, up for this module's scans (read-only: each scan only asks)."""
    import secrets
    import tomllib

    from labtools import netns_available, require

    from scanner.datafiles import labs_dir
    from scanner.lab.manager import lab_down, lab_up
    from scanner.lab.spec import parse_lab, render_lab

    require(netns_available())
    raw = tomllib.loads((labs_dir() / "ipv6.toml").read_text())
    raw["lab"]["name"] = "v" + secrets.token_hex(3)
    spec = parse_lab(raw, "ipv6 lab")
    path = tmp_path_factory.mktemp("ipv6-lab") / "ipv6.toml"
    path.write_text(render_lab(raw))
    try:
        status = lab_up(spec, path)
        assert not status.failures, status.failures
        yield spec
    finally:
        lab_down(spec.name)


def scan_captured(lab: Any, *extra: str) -> tuple[dict[str, Any], list[bytes]]:
    with capturing(lab.scanner_ns) as cap:
        report = scan_lab_json(lab, *extra, target=lab.subnet)
    return report, cap.frames


def by_mac(devices: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["mac"]: d for d in devices if d["mac"]}


def test_without_ipv6_the_scanner_sends_no_ipv6(ipv6_lab: Any) -> None:
    report, frames = scan_captured(ipv6_lab)
    assert len(frames) > 50  # the capture saw the scan
    assert ipv6_sent(frames) == []
    assert not any(":" in (d["ip"] or "") for d in report["devices"] + report["heard"])
    assert FACTORY_MAC not in by_mac(report["devices"]) and V6_MAC not in by_mac(report["devices"])


def test_factory_address_camera_is_found_on_ipv6_and_heard_not_probed(ipv6_lab: Any) -> None:
    report, frames = scan_captured(ipv6_lab, "--ipv6")
    heard = by_mac(report["heard"])
    cam = heard[FACTORY_MAC]
    assert cam["ip"] == f"{link_local(FACTORY_MAC)}%eth0"
    verdict = cam["verdict"]
    assert (verdict["status"], verdict["covered_entity"]) == ("covered", "Hikvision")
    cited = {e["signal"] for e in verdict["evidence"]}
    assert "mac" in cited and {"mdns.service", "wsd.scope"} & cited  # OUI, and its own IPv6 answers
    observed = {(o["signal"], o["value"]) for o in cam["observations"]}
    assert ("claimed.ip", "192.168.1.64") in observed  # what its XAddrs say: evidence, never probed
    assert not set(cam["probes"]) & BANNER_PROBES
    axis = heard[V6_MAC]
    assert axis["verdict"]["status"] == "not-covered" and axis["verdict"]["vendor"] == "Axis"
    assert not set(axis["probes"]) & BANNER_PROBES
    # the IPv4 devices are devices, the dual-stack one merged with its IPv6 identity by MAC
    devices = by_mac(report["devices"])
    assert set(devices) == {DAHUA_MAC, PRINTER_MAC}
    dahua = devices[DAHUA_MAC]
    assert dahua["ip"] == "10.66.0.12" and dahua["verdict"]["covered_entity"] == "Dahua"
    assert {o["ip"] for o in dahua["observations"]} >= {"10.66.0.12", f"{link_local(DAHUA_MAC)}%eth0"}
    # over IPv6 the scanner sent only to groups: nothing to a heard camera's address
    sent6 = ipv6_sent(frames)
    assert {"ff02::1", "ff02::c", "ff02::fb"} <= {dst for _, dst in sent6}
    assert [s for s in sent6 if not ipaddress.IPv6Address(s[1]).is_multicast] == []


def test_named_link_makes_ipv6_only_devices_targets_probed_over_ipv6(ipv6_lab: Any) -> None:
    report, frames = scan_captured(ipv6_lab, "--ipv6", "fe80::/64%eth0")
    devices = by_mac(report["devices"])
    assert set(devices) == {FACTORY_MAC, V6_MAC, DAHUA_MAC, PRINTER_MAC}
    assert {d["ip"] for d in report["heard"]} <= {"192.168.1.64"}  # its mDNS A record, as zeroconf heard it
    for mac in (FACTORY_MAC, V6_MAC):
        assert devices[mac]["ip"] == f"{link_local(mac)}%eth0"
        assert "http" in devices[mac]["probes"], devices[mac]["probes"]
    hik = devices[FACTORY_MAC]
    assert (hik["verdict"]["status"], hik["verdict"]["covered_entity"]) == ("covered", "Hikvision")
    assert hik["verdict"]["model"] == "DS-2CD2385G1-I"
    assert any(o["signal"] == "isapi.device_info" for o in hik["observations"])  # over IPv6
    axis = devices[V6_MAC]
    assert axis["verdict"]["status"] == "not-covered" and axis["verdict"]["vendor"] == "Axis"
    # the banner round reached the IPv6-only cameras by unicast over IPv6 (TCP)
    tcp6 = {dst for what, dst in ipv6_sent(frames) if what == "tcp"}
    assert {link_local(FACTORY_MAC), link_local(V6_MAC)} <= tcp6
    # the dual-stack camera is probed once, over IPv4
    assert link_local(DAHUA_MAC) not in tcp6
    # every verdict is what the lab file expects of it
    for d in ipv6_lab.devices:
        verdict, want = devices[d.mac]["verdict"], d.expect
        statuses = [want.status] if isinstance(want.status, str) else want.status
        assert verdict["status"] in statuses, (d.name, verdict["status"])
        assert verdict["covered_entity"] == want.entity, (d.name, verdict["covered_entity"])


def test_capture_of_an_ipv6_scan_finds_the_ipv6_only_cameras_passively(ipv6_lab: Any, tmp_path: Path) -> None:
    """`import pcap` reads IPv6 too: the cameras only IPv6 reaches are named from the capture's
    multicast answers (ff02::fb, ff02::c) and neighbour discovery, with the MAC of their own frames."""
    from clirun import cli
    from labtools import tcpdump_in

    wire = tmp_path / "v6.pcap"
    with tcpdump_in(ipv6_lab.scanner_ns, "eth0", wire) as log:
        scan_lab_json(ipv6_lab, "--ipv6", target=ipv6_lab.subnet)
    assert "packets captured" in log.read_text()
    proc = cli("import", "pcap", str(wire), "-f", "json")
    assert proc.returncode == 1, proc.stderr  # covered equipment in the capture
    report = json.loads(proc.stdout)
    devices = by_mac(report["devices"] + report.get("heard", []))
    cam = devices[FACTORY_MAC]
    assert (cam["verdict"]["status"], cam["verdict"]["covered_entity"]) == ("covered", "Hikvision")
    v6_ips = {o["ip"] for o in cam["observations"] if ":" in (o["ip"] or "")}
    assert v6_ips == {link_local(FACTORY_MAC)}  # a capture has no interface: the address unzoned
    probes = {o["probe"] for o in cam["observations"]}
    assert {"passive-mdns", "passive-wsd"} & probes, probes
    axis = devices[V6_MAC]
    assert axis["verdict"]["vendor"] == "Axis" and axis["verdict"]["status"] == "not-covered"
    assert all(":" in (o["ip"] or ":") for o in axis["observations"])  # it has no IPv4 address at all
