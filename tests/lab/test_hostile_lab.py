"""Hostile peers on the segment (examples/labs/hostile.toml): decompression and XML bombs, a tarpit, junk
headers, a flooder of forged SADP/DHIP/WS-Discovery replies, spoofers claiming other and out-of-scope
addresses, lying DHIP lengths and mDNS compression loops, beside ten ordinary devices.

`ndaa-scan scan` of the whole segment, run as its own process in the scanner's namespace, must end within
twice the time of the same scan without the hostile devices (measured just before, in the same test, plus
``SLACK`` seconds), stay under 300 MB of memory, give the ordinary devices the verdicts they get without the
hostiles, and report no device at an address nothing there has.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
import tomllib
import zlib
from typing import Any

import pytest
from paths import REPO

pytestmark = pytest.mark.netns

LAB_FILE = REPO / "examples" / "labs" / "hostile.toml"
MAX_RSS_MB = 300
# Seconds allowed beyond twice the baseline, for a loaded 2-core runner only: the two scans are separate
# processes run one after the other, and on a shared 2-core machine a scan process's start-up alone (imports,
# before any packet) was measured at 0.8 s in one run and 1.7 s in the next; identification varied as much.
# It is not a floor: a baseline of 3 s still allows 7 s, not 10.
SLACK = 1.0
FLAGGED = {"covered", "likely"}


def lab_devices() -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """The lab table, its ordinary devices and its hostile ones (named x*)."""
    raw = tomllib.loads(LAB_FILE.read_text())
    devices = raw["device"]
    return (
        raw["lab"],
        [d for d in devices if not d["name"].startswith("x")],
        [d for d in devices if d["name"].startswith("x")],
    )


def measured_scan(lab: Any, *options: str) -> tuple[dict[str, Any], float, float]:
    """Run `ndaa-scan scan [options]` of the lab's subnet in its scanner namespace: (report, seconds, the
    scanner process's own max RSS in MB)."""
    from scanner.lab.measure import run_measured

    cmd = [sys.executable, "-m", "scanner", "scan", "--netns", lab.scanner_ns, "-i", "eth0", "--no-history"]
    run = run_measured([*cmd, *options, "-q", "-f", "json", lab.subnet], timeout=150, cwd=REPO)
    assert run.returncode in (0, 1, 3), run.stderr[-3000:]  # 3: incomplete with nothing failing
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    return json.loads(run.stdout), run.seconds, run.max_rss_mb


def verdicts(report: dict[str, Any], macs: set[str]) -> dict[str, tuple[str, str | None]]:
    return {
        d["mac"]: (d["verdict"]["status"], d["verdict"].get("covered_entity"))
        for d in report["devices"]
        if d.get("mac") in macs
    }


def test_scan_survives_hostile_peers(lab_factory):
    table, normal, hostile = lab_devices()
    subnet, scanner_ip = table["subnet"], table["scanner_ip"]
    baseline_lab = lab_factory(devices=normal, subnet=subnet, scanner_ip=scanner_ip)
    baseline, base_s, base_rss = measured_scan(baseline_lab)
    hostile_lab = lab_factory(devices=normal + hostile, subnet=subnet, scanner_ip=scanner_ip)
    report, hostile_s, hostile_rss = measured_scan(hostile_lab)
    print(
        f"\nwithout hostiles: {base_s:.1f} s, {base_rss:.0f} MB; with: {hostile_s:.1f} s, {hostile_rss:.0f} MB, "
        f"{len(report['devices'])} devices reported"
    )

    normal_macs = {d["mac"] for d in normal}
    want = verdicts(baseline, normal_macs)
    # the comparison means something only if the baseline found every ordinary device
    assert set(want) == normal_macs, f"baseline scan missed {normal_macs - set(want)}"
    assert sum(1 for s, _ in want.values() if s in FLAGGED) >= 6

    problems = []
    got = verdicts(report, normal_macs)
    for mac, verdict in sorted(want.items()):
        if got.get(mac) != verdict:
            problems.append(f"{mac}: {got.get(mac)} beside hostiles, {verdict} without")
    impossible = {"127.0.0.1", scanner_ip}
    for d in report["devices"]:
        if d["ip"] in impossible or d["ip"].startswith("192.0.2."):
            problems.append(f"a device reported at {d['ip']} ({d.get('mac')})")
    for h in report.get("heard", []):
        ip = h.get("ip") if isinstance(h, dict) else h
        if ip in impossible:
            problems.append(f"heard from {ip}")
    limit = 2 * base_s + SLACK
    print(f"time ratio {hostile_s / base_s:.2f} (limit 2 × {base_s:.2f} s + {SLACK:g} s = {limit:.2f} s)")
    if hostile_s > limit:
        problems.append(
            f"scan took {hostile_s:.1f} s beside hostiles, over {limit:.1f} s (2 × {base_s:.1f} s + {SLACK:g} s)"
        )
    if hostile_rss > MAX_RSS_MB:
        problems.append(f"scanner's max RSS {hostile_rss:.0f} MB, over {MAX_RSS_MB} MB")
    assert problems == []


def test_hostile_payloads_are_what_they_claim():
    """The lab's bombs really are bombs and its DNS loops really loop (so the scan test tests something)."""
    from scanner.lab.sim.device import SimDevice
    from scanner.lab.sim.hostile import billion_laughs, deflate_bomb, looping_dns, lying_dhip

    bomb = deflate_bomb(64, "gzip", b"<root>")
    assert len(bomb) < 256 * 1024 and len(gzip.decompress(bomb)) >= 64 * 1024 * 1024
    deflated = deflate_bomb(16, "deflate")
    assert len(zlib.decompress(deflated)) >= 16 * 1024 * 1024
    laughs = billion_laughs()
    assert len(laughs) < 2048 and laughs.count(b"<!ENTITY") == 10
    packet = looping_dns("10.0.0.1")
    # record 1's name is a pointer to its own offset (12)
    assert packet[12:14] == b"\xc0\x0c"
    dev = SimDevice("x", "10.0.0.1", "02:00:00:00:00:01", "none", "hostile-dhip-liar")
    replies = lying_dhip(dev)
    assert any(int.from_bytes(r[16:20], "little") == 0xFFFFFFFF for r in replies)
    assert any(int.from_bytes(r[16:20], "little") < len(r) - 32 for r in replies)


def _hostile_probe(lab: Any, scanner_ip: str, by_name: dict[str, str]) -> dict[str, Any]:
    """From the scanner's namespace, poke each hostile peer once and note what it sent back."""
    import socket
    import time

    from scanner.discovery.parsers.dhip import build_search
    from scanner.discovery.parsers.sadp import build_inquiry

    def udp() -> socket.socket:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
        s.bind((scanner_ip, 0))
        s.settimeout(0.3)
        return s

    def collect(s: socket.socket, seconds: float) -> list[tuple[bytes, str]]:
        out, end = [], time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                data, addr = s.recvfrom(65535)
            except TimeoutError:
                continue
            out.append((data, addr[0]))
        return out

    def http_get(ip: str, port: int, path: str = "/") -> bytes:
        with socket.create_connection((ip, port), timeout=5) as c:
            c.sendall(f"GET {path} HTTP/1.1\r\nHost: {ip}\r\n\r\n".encode())
            chunks = []
            while chunk := c.recv(65536):
                chunks.append(chunk)
            return b"".join(chunks)

    seen: dict[str, Any] = {}
    seen["gzip"] = http_get(by_name["xgzip"], 80)
    with socket.create_connection((by_name["xtarpit"], 554), timeout=5) as c:
        c.settimeout(6)
        start = time.monotonic()
        seen["tarpit_first"] = c.recv(100)
        seen["tarpit_wait"] = time.monotonic() - start
    with udp() as s:
        search = b'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\nST: upnp:rootdevice\r\n\r\n'
        s.sendto(search, (by_name["xssdp"], 1900))
        replies = collect(s, 1.0)
        location = re.search(rb"LOCATION: http://([\d.]+):(\d+)(\S+)", replies[0][0]) if replies else None
        seen["ssdp_description"] = (
            http_get(location[1].decode(), int(location[2]), location[3].decode()) if location else b""
        )
    with udp() as s:
        s.sendto(build_search(), (by_name["xliar"], 37810))
        seen["dhip"] = [d for d, _ in collect(s, 1.0)]
    with udp() as s:
        s.sendto(build_inquiry("0a1b2c3d-0000-4000-8000-000000000001"), (by_name["xspoof"], 37020))
        seen["spoof"] = collect(s, 1.0)
    with udp() as s:
        s.sendto(
            b"\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x05local\x00\x00\x0c\x00\x01",
            ("224.0.0.251", 5353),
        )
        seen["mdns"] = [d for d, _ in collect(s, 1.0)]
    with udp() as s:
        s.sendto(build_inquiry("0a1b2c3d-0000-4000-8000-000000000002"), (by_name["xflood"], 37020))
        time.sleep(0.5)  # the sender's first bursts
        seen["flood"] = collect(s, 1.0)
    return seen


def test_hostile_peers_answer_as_designed(lab_factory):
    """Each hostile peer, met on the wire: the bombs are served as bombs, the tarpit trickles, the liar lies,
    the spoofer claims other addresses (and forges an outside source), mDNS answers loop, the flood floods."""
    from scanner.lab.netns import run_in_netns

    table, _, hostile = lab_devices()
    lab = lab_factory(devices=hostile, subnet=table["subnet"], scanner_ip=table["scanner_ip"])
    by_name = {d["name"]: d["ip"] for d in hostile}
    seen = run_in_netns(lab.scanner_ns, _hostile_probe, lab, table["scanner_ip"], by_name)

    head, _, body = seen["gzip"].partition(b"\r\n\r\n")
    assert b"Content-Encoding: gzip" in head and len(body) < 256 * 1024
    assert len(zlib.decompressobj(31).decompress(body, 0)) >= 64 * 1024 * 1024
    assert len(seen["tarpit_first"]) == 1 and seen["tarpit_wait"] >= 2.0
    desc_head, _, desc = seen["ssdp_description"].partition(b"\r\n\r\n")
    assert b"Content-Encoding: gzip" in desc_head and len(gzip.decompress(desc)) >= 64 * 1024 * 1024
    assert any(int.from_bytes(d[16:20], "little") == 0xFFFFFFFF for d in seen["dhip"])
    claimed = {m for d, _ in seen["spoof"] for m in re.findall(rb"<IPv4Address>([^<]+)<", d)}
    assert {b"127.0.0.1", table["scanner_ip"].encode(), b"192.0.2.10", b"10.82.0.17"} <= claimed
    assert "192.0.2.10" in {src for _, src in seen["spoof"]}  # the forged IP source reached the scanner
    assert seen["mdns"] and all(d[12:14] == b"\xc0\x0c" for d in seen["mdns"])
    macs = {m for d, _ in seen["flood"] for m in re.findall(rb"<MAC>([^<]+)<", d)}
    print(
        f"\nflood: {len(seen['flood'])} replies read in the 1.5 s after one search, {len(macs)} distinct MACs"
    )
    assert len(seen["flood"]) >= 2000 and len(macs) == len(seen["flood"])
    assert {src for _, src in seen["flood"]} == {by_name["xflood"]}
