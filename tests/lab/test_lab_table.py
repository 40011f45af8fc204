"""The default table on a 60-device lab: one line per device plus a short heading and summary, every
device in it (what an admin reads after `ndaa-scan scan`)."""

from __future__ import annotations

from typing import Any

import pytest
from clirun import cli, lab_scan_args
from labtools import group

pytestmark = pytest.mark.netns

SIXTY = [
    group("hik", 15, "10.99.0.10", "hikvision-ipc", "58:50:ed", "c0:56:e3"),
    group("dh", 15, "10.99.0.30", "dahua-ipc", "08:ed:ed", "3c:ef:8c"),
    group("axis", 15, "10.99.0.50", "axis-ipc", "ac:cc:8e", "00:40:8c"),
    group("bosch", 15, "10.99.0.70", "bosch-ipc", "00:04:63"),
]
STATUS_WORDS = ("COVERED", "LIKELY COVERED", "SUSPECTED", "NOT COVERED", "UNKNOWN")


def test_sixty_devices_sixty_lines_and_a_short_summary(lab_factory: Any) -> None:
    lab = lab_factory(groups=SIXTY)
    proc = cli(*lab_scan_args(lab.scanner_ns, lab.subnet, "--no-history", "-q"))
    assert proc.returncode == 1, proc.stderr  # covered cameras
    lines = proc.stdout.splitlines()
    device_lines = [line for line in lines if line.startswith(STATUS_WORDS)]
    assert len(device_lines) == 60
    assert {line.split()[2 if line.startswith(("LIKELY", "NOT")) else 1] for line in device_lines} == {
        str(d.ip) for d in lab.devices
    }
    assert len(lines) <= 60 + 12, proc.stdout
    assert "60 device(s): 30 covered, 30 not covered" in proc.stdout
    assert "By entity: " in proc.stdout and "Hikvision 15 (15 covered)" in proc.stdout
