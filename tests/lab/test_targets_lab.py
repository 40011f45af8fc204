"""Target lists and host names, end to end: a scan given ``-iL FILE`` (a host name among its entries) and
``--exclude-file`` sends frames to the listed targets only (the named host included, the excluded and
the unlisted never), and reports the named host with its name — every frame the scanner sends is
captured on its own interface (AF_PACKET, inside its namespace).

Names resolve from a hosts file of the test's own: the scan runs in a private mount namespace
(``unshare -m``) where that file, an nsswitch.conf saying ``hosts: files`` and a resolv.conf naming
nothing reachable are bind-mounted over the system's. The host's /etc is never changed, and no DNS query
can be made, let alone leave the machine (the capture also checks that no frame goes to port 53)."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from labtools import require
from paths import REPO
from test_scope_lab import capturing, destination

pytestmark = pytest.mark.netns

SUBNET = "10.99.0.0/24"
DEVICES = [  # cameras of makers that are not covered: a clean scan exits 0
    {"name": "axis", "ip": "10.99.0.10", "mac": "ac:cc:8e:27:0a:d8", "profile": "axis-ipc"},
    {"name": "hanwha", "ip": "10.99.0.11", "mac": "00:09:18:00:00:11", "profile": "hanwha-ipc"},
    {"name": "uniview", "ip": "10.99.0.12", "mac": "48:ea:63:00:00:12", "profile": "uniview-ipc"},
    {"name": "xiongmai", "ip": "10.99.0.13", "mac": "00:12:41:00:00:13", "profile": "xiongmai-dvr"},
]
HOSTS = "10.99.0.10 cam-a.lab.test\n10.99.0.12 cam-c.lab.test\n"
TARGETS_FILE = "# building A cameras\ncam-a.lab.test\n10.99.0.11, 10.99.0.12   # cam-c is excluded below\n"
EXCLUDE_FILE = "# under maintenance\ncam-c.lab.test\n"
SCANNED = {"10.99.0.10", "10.99.0.11"}  # 10.99.0.12 excluded (by name), 10.99.0.13 never listed


def isolated_resolver(tmp_path: Path, hosts: str) -> list[str]:
    """The argv prefix that runs a command with ``hosts`` as its only source of names."""
    require(None if shutil.which("unshare") else "unshare (util-linux) is not installed")
    files = {"hosts": hosts, "nsswitch.conf": "hosts: files\n", "resolv.conf": "nameserver 127.0.0.1\n"}
    mounts = []
    for name, text in files.items():
        (tmp_path / name).write_text(text)
        mounts.append(f"mount --bind {tmp_path / name} /etc/{name}")
    script = " && ".join(mounts) + ' && exec "$@"'
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"]


def scan(lab: Any, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [*isolated_resolver(tmp_path, HOSTS), sys.executable, "-m", "scanner", "scan"]
    cmd += ["--netns", lab.scanner_ns, "-i", "eth0", "--no-history", "-q", "-f", "json", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False, cwd=REPO)


def dns_frames(frames: list[bytes]) -> int:
    """Frames to UDP or TCP port 53 (IPv4)."""
    count = 0
    for f in frames:
        if struct.unpack("!H", f[12:14])[0] == 0x0800 and f[23] in (6, 17):
            ihl = (f[14] & 0x0F) * 4
            count += struct.unpack("!H", f[14 + ihl + 2 : 14 + ihl + 4])[0] == 53
    return count


def test_target_file_exclude_file_and_a_host_name_are_honoured_on_the_wire(
    lab_factory: Any, tmp_path: Path
) -> None:
    lab = lab_factory(DEVICES, subnet=SUBNET, scanner_ip="10.99.0.2")
    (tmp_path / "targets.txt").write_text(TARGETS_FILE)
    (tmp_path / "exclude.txt").write_text(EXCLUDE_FILE)
    args = ["-iL", str(tmp_path / "targets.txt"), "--exclude-file", str(tmp_path / "exclude.txt")]
    with capturing(lab.scanner_ns) as cap:
        proc = scan(lab, tmp_path, *args)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    report = json.loads(proc.stdout)

    sent = [d for d in map(destination, cap.frames) if d is not None]
    to = {addr for _, addr in sent}
    assert to >= SCANNED, f"the capture saw no frame to a target: {sorted(to)}"  # cam-a.lab.test was scanned
    assert to <= SCANNED, f"frames to addresses not targeted: {sorted(to - SCANNED)}"
    assert {kind for kind, addr in sent if addr == "10.99.0.10"} >= {"arp-request", "tcp-syn"}
    assert dns_frames(cap.frames) == 0

    assert report["targets"] == ["10.99.0.10", "10.99.0.11", "10.99.0.12"]
    devices = {d["ip"]: d for d in report["devices"]}
    assert set(devices) == SCANNED, report["devices"]
    assert devices["10.99.0.10"]["hostname"] == "cam-a.lab.test"
    assert devices["10.99.0.11"]["hostname"] is None
    assert devices["10.99.0.10"]["mac"] == "ac:cc:8e:27:0a:d8"
    notes = " | ".join(report["notes"])
    assert "cam-a.lab.test resolved to 10.99.0.10" in notes
    assert "excluded from the targets: 10.99.0.12" in notes


def test_stdin_list_and_a_name_that_does_not_resolve(lab_factory: Any, tmp_path: Path) -> None:
    """The system resolver, really asked (files only): an unknown name stops the scan before any frame."""
    lab = lab_factory(DEVICES[:1], subnet=SUBNET, scanner_ip="10.99.0.2")
    cmd = [*isolated_resolver(tmp_path, HOSTS), sys.executable, "-m", "scanner", "scan", "--netns"]
    cmd += [lab.scanner_ns, "-i", "eth0", "--no-history", "-q", "-f", "json", "-iL", "-"]
    with capturing(lab.scanner_ns) as cap:
        proc = subprocess.run(
            cmd,
            input="cam-a.lab.test\ncam-z.lab.test\n",
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert lines[0].startswith("ndaa-scan: error: <stdin>:2: cam-z.lab.test: the name does not resolve")
    assert proc.stdout == ""
    # nothing from the scanner: no IPv4 or ARP frame at all (the kernel's own IPv6 multicast on link-up,
    # MLD reports and router solicitations, is not the scanner's)
    assert [f for f in cap.frames if f[12:14] in (b"\x08\x00", b"\x08\x06")] == []
    assert [d for d in map(destination, cap.frames) if d is not None] == []


def test_ipv6_targets_are_in_scope_and_the_ipv4_probes_skip_them(lab_factory: Any, tmp_path: Path) -> None:
    """Only IPv6 targets: the scan runs (from the zone's interface), says what its IPv6 targets are, and no
    IPv4 probe sends anything to any unicast address (the IPv4 hosts that answer multicast are heard)."""
    lab = lab_factory(DEVICES[:2], subnet=SUBNET, scanner_ip="10.99.0.2")
    with capturing(lab.scanner_ns) as cap:
        proc = scan(lab, tmp_path, "fe80::/64%eth0", "2001:db8::5")
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    report = json.loads(proc.stdout)
    assert report["interface"] == "eth0" and report["targets"] == ["fe80::/64%eth0", "2001:db8::5"]
    assert any(
        n.startswith("IPv6 targets (IPv4-only probes skip them): 2001:db8::5, fe80::/64%eth0")
        for n in report["notes"]
    )
    assert len(cap.frames) > 5  # the multicast discovery ran
    ipv4_unicast = [d for d in map(destination, cap.frames) if d is not None and ":" not in d[1]]
    assert ipv4_unicast == []
    assert all(":" in d["ip"] for d in report["devices"]), report["devices"]  # IPv6 devices only, if any
    assert {d["ip"] for d in report["heard"]} <= {x["ip"] for x in DEVICES[:2]}
