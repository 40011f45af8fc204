"""--rate and progress, end to end in a namespace lab.

* ``--rate`` caps every probe together: SADP and DHIP, each pacing itself at 5000 datagrams a second,
  run side by side under ``--rate 200``; every UDP datagram the scanner's eth0 sends is captured with the
  kernel's own timestamp (SO_TIMESTAMPNS, so a slow test thread cannot bunch them) and no second of the
  scan holds more than the cap allows.
* Progress: a scan whose stderr is a pipe prints none of it; on a terminal (a pty) it shows hosts
  done/total, devices found, covered and an ETA; ``--quiet`` on a terminal prints none.
"""

from __future__ import annotations

import json
import os
import pty
import select
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
from labtools import Capture, capturing_in, most_in_window, routed_client
from paths import REPO

pytestmark = pytest.mark.netns

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
DEVICES = [
    {"name": "hik", "ip": "10.99.0.10", "mac": "58:50:ed:1f:e3:85", "profile": "hikvision-ipc"},
    {"name": "dahua", "ip": "10.99.0.11", "mac": "08:ed:ed:44:55:66", "profile": "dahua-ipc"},
    {"name": "axis", "ip": "10.99.0.12", "mac": "ac:cc:8e:27:0a:d8", "profile": "axis-ipc"},
]


def is_probe_packet(frame: bytes) -> bool:
    if frame[12:14] != b"\x08\x00":
        return False
    ip = frame[14:]
    proto, header = ip[9], (ip[0] & 0x0F) * 4
    if proto == 17:
        return True
    if proto == 6:
        flags = ip[header + 13]
        return bool(flags & 0x02) and not flags & 0x10  # SYN, not SYN-ACK
    return proto == 1 and ip[header] == 8  # echo request


def _capture(cap: Capture) -> None:  # runs inside the scanner's namespace
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL)) as s:
        s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        s.bind(("eth0", 0))
        s.settimeout(0.2)
        cap.ready.set()
        while not cap.stop.is_set():
            try:
                data, ancillary, _flags, addr = s.recvmsg(65535, 256)
            except TimeoutError:
                continue
            if addr[2] != PACKET_OUTGOING or not is_probe_packet(data):
                continue
            stamp = next(
                (d for level, kind, d in ancillary if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS),
                None,
            )
            assert stamp is not None, "no kernel timestamp"
            sec, nsec = struct.unpack("qq", stamp[:16])
            cap.frames.append(sec + nsec / 1e9)


def capturing(namespace: str) -> AbstractContextManager[Capture]:
    """The kernel's send time of every probe packet eth0 sent: UDP datagrams, TCP SYNs, ICMP echoes
    (not the kernel's own RSTs and ICMP errors)."""
    return capturing_in(namespace, _capture)


def scan_args(lab: Any, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "scanner",
        "scan",
        "--netns",
        lab.scanner_ns,
        "-i",
        "eth0",
        "--no-history",
        *extra,
    ]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


@pytest.fixture
def routed(lab_factory: Any) -> Iterator[str]:
    """The lab's devices one router hop away: unicast packets to empty addresses leave the scanner too
    (on the segment the kernel would hold them while ARP fails)."""
    devices = [{**d, "ip": d["ip"].replace("10.99.", "10.1."), "routes": ["default"]} for d in DEVICES]
    with routed_client(lab_factory, devices, "10.1.0.0/24", "10.1.0.1") as client:
        yield client


def test_rate_caps_every_probe_together(routed: str) -> None:
    """SADP and DHIP (5000/s each on their own) and the liveness SYN/echo sweep (20000/s on its own),
    side by side under --rate 400: no window of the scan holds more than the cap allows."""
    rate = 400
    args = [sys.executable, "-m", "scanner", "scan", "--netns", routed, "--no-history", "-f", "json"]
    with capturing(routed) as cap:
        proc = subprocess.run(
            [*args, "-p", "sadp,dhip,liveness", "--rate", str(rate), "10.1.0.0/25"],
            capture_output=True,
            text=True,
            timeout=120,
            env=env(),
            check=False,
        )
    assert proc.returncode in (0, 1, 3), proc.stderr
    report = json.loads(proc.stdout)
    assert {"10.1.0.10", "10.1.0.11", "10.1.0.12"} <= {d["ip"] for d in report["devices"]}
    assert report["complete"], report["notes"]  # slower under a low cap, not cut short
    assert any(n.startswith("paced at 400 packets/s at most") for n in report["notes"]), report["notes"]
    # 126 targets: a datagram each from SADP and DHIP, an echo and a SYN per host port from the sweep
    from scanner.discovery.liveness import HOST_PORTS

    assert len(cap.frames) >= 126 * (2 + 1 + len(HOST_PORTS)), len(cap.frames)
    # the pacer's burst and slack (2 and 1 packets at 400/s) and one late packet per sender
    slack = 2 + 1 + 3
    for window in (0.1, 0.5, 2.0):
        assert most_in_window(cap.frames, window) <= rate * window + slack, window
    # and the piped stderr carries no progress line
    assert "hosts done" not in proc.stderr and "\r" not in proc.stderr and "\x1b" not in proc.stderr


def run_on_a_terminal(args: list[str], timeout: float = 90.0) -> tuple[int, str, str]:
    """Run ``args`` with stderr on a pty (stdout a pipe); (exit code, stdout, what the terminal showed)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=follower, env={**env(), "TERM": "xterm"})
    os.close(follower)
    shown = bytearray()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _w, _x = select.select([leader], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        elif proc.poll() is not None:
            break
    out, _ = proc.communicate(timeout=10)
    os.close(leader)
    return proc.returncode, out.decode(), shown.decode("utf-8", "replace")


def test_progress_on_a_terminal_and_never_with_quiet(lab_factory: Any) -> None:
    lab = lab_factory(DEVICES)
    code, out, shown = run_on_a_terminal(
        [*scan_args(lab, "-p", "arp,sadp,dhip,http", "-f", "json"), lab.subnet]
    )
    assert code in (0, 1), shown
    assert json.loads(out)["devices"]  # the report went to stdout, untouched by the progress line
    assert "/253 hosts done" in shown, shown  # the scanner's own address is not a host to do
    assert "done 253/253 hosts done" in shown, shown  # the last line: every host done
    assert " found" in shown and " covered" in shown and "ETA" in shown, shown
    code, out, shown = run_on_a_terminal([*scan_args(lab, "-q", "-p", "arp", "-f", "json"), lab.subnet])
    assert code in (0, 1)
    assert json.loads(out)["devices"]
    assert "hosts done" not in shown and shown.strip() == "", shown
