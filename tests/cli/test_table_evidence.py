"""The default table is one line per device; ``--evidence`` shows everything behind each verdict."""

from __future__ import annotations

import json
from pathlib import Path

from clirun import cli

OBS = [
    {
        "ip": "10.1.0.5",
        "mac": "58:50:ed:1f:e3:85",
        "signal": "mac",
        "value": "58:50:ed:1f:e3:85",
        "probe": "arp",
    },
    {"ip": "10.1.0.5", "signal": "sadp.DeviceDescription", "value": "DS-2CD2385G1-I", "probe": "sadp"},
    {"ip": "10.1.0.5", "signal": "http.server", "value": "App-webs/", "probe": "http", "port": 80},
]


def test_identify_table_compact_by_default_and_full_with_evidence(tmp_path: Path) -> None:
    path = tmp_path / "obs.jsonl"
    path.write_text("".join(json.dumps(o) + "\n" for o in OBS), encoding="utf-8")
    compact = cli("identify", str(path)).stdout
    device_lines = [line for line in compact.splitlines() if "10.1.0.5" in line]
    assert len(device_lines) == 1 and device_lines[0].startswith("COVERED")
    assert "[+]" not in compact
    full = cli("identify", str(path), "--evidence").stdout
    assert '[+] sadp sadp.DeviceDescription = "DS-2CD2385G1-I" -> Hikvision' in full
    assert "[+] http http.server:80" in full
