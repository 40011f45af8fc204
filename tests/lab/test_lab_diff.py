"""End to end: two real lab scans into one history, and `ndaa-scan diff` between them.

Lab B is lab A with one device added, one removed and one re-flashed (same MAC and IP, another
firmware profile). The diff must name exactly those three devices, and a scan diffed against itself
nothing at all.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from clirun import cli, scan_lab_json

pytestmark = pytest.mark.netns

SUBNET, SCANNER_IP = "10.77.0.0/24", "10.77.0.2"
KEPT = ("dock-cam", "front-axis", "laptop")
REFLASHED = "lobby-cam"  # hikvision-ipc in lab A ...
REFLASHED_PROFILE = "hiwatch-ipc"  # ... a HiWatch-labelled Hikvision firmware in lab B
REMOVED = "wan-cpe"
ADDED = "dsl-modem"
COMPARED = ("status", "covered_entity", "vendor", "brand", "model", "firmware")  # what diff compares


def demo_devices() -> dict[str, dict[str, Any]]:
    """The built-in demo lab's device rows by name (real MACs, addresses and profiles)."""
    from scanner.datafiles import labs_dir

    raw = tomllib.loads((labs_dir() / "demo.toml").read_text(encoding="utf-8"))
    return {d["name"]: d for d in raw["device"]}


def scan_into(lab: Any, db: Path) -> dict[str, Any]:
    report = scan_lab_json(lab, db=db)
    assert report["complete"] is True
    assert [p for p in report["probes"] if p["error"]] == []  # every probe ran: the diff compares full scans
    assert {d["mac"] for d in report["devices"]} == {d.mac for d in lab.devices}
    return report


def verdict_fields(report: dict[str, Any], mac: str) -> dict[str, str | None]:
    verdict = next(d["verdict"] for d in report["devices"] if d["mac"] == mac)
    return {f: None if verdict[f] is None else str(verdict[f]) for f in COMPARED}


def test_diff_names_exactly_the_added_removed_and_reflashed_device(lab_factory: Any, tmp_path: Path) -> None:
    from scanner.lab.manager import lab_down
    from scanner.lab.sim.runtime import profiles

    demo = demo_devices()
    lab_a = lab_factory([demo[n] for n in (REFLASHED, *KEPT, REMOVED)], subnet=SUBNET, scanner_ip=SCANNER_IP)
    db = tmp_path / "history.sqlite3"
    before = scan_into(lab_a, db)
    lab_down(lab_a.name)

    reflashed = {**demo[REFLASHED], "profile": REFLASHED_PROFILE}
    reflashed.pop("expect", None)
    lab_b = lab_factory(
        [reflashed, *(demo[n] for n in KEPT), demo[ADDED]], subnet=SUBNET, scanner_ip=SCANNER_IP
    )
    after = scan_into(lab_b, db)

    proc = cli("diff", "--db", str(db), "--json")
    assert proc.returncode == 1, proc.stderr
    diff = json.loads(proc.stdout)
    assert (diff["old_scan"], diff["new_scan"]) == (before["scan_id"], after["scan_id"])
    assert [d["mac"] for d in diff["appeared"]] == [demo[ADDED]["mac"]]
    assert [d["mac"] for d in diff["disappeared"]] == [demo[REMOVED]["mac"]]
    assert [(c["mac"], c["ip"], c["before_ip"]) for c in diff["changed"]] == [
        (demo[REFLASHED]["mac"], demo[REFLASHED]["ip"], demo[REFLASHED]["ip"])
    ]

    mac = demo[REFLASHED]["mac"]
    old, new = verdict_fields(before, mac), verdict_fields(after, mac)
    changes = {c["field"]: (c["before"], c["after"]) for c in diff["changed"][0]["changes"]}
    assert changes == {f: (old[f], new[f]) for f in COMPARED if old[f] != new[f]}
    # the re-flash shows as the model and firmware each profile's SADP answer carries
    sadp_a, sadp_b = profiles()[demo[REFLASHED]["profile"]]["sadp"], profiles()[REFLASHED_PROFILE]["sadp"]
    assert changes["model"] == (sadp_a["DeviceDescription"], sadp_b["DeviceDescription"])
    assert changes["firmware"] == (sadp_a["SoftwareVersion"], sadp_b["SoftwareVersion"])


def test_diff_of_a_scan_with_itself_is_empty(lab_factory: Any, tmp_path: Path) -> None:
    demo = demo_devices()
    lab = lab_factory([demo[n] for n in (REFLASHED, *KEPT)], subnet=SUBNET, scanner_ip=SCANNER_IP)
    db = tmp_path / "history.sqlite3"
    report = scan_into(lab, db)

    proc = cli("diff", "latest", "latest", "--db", str(db), "--json")
    assert proc.returncode == 0, proc.stderr
    diff = json.loads(proc.stdout)
    assert diff["old_scan"] == diff["new_scan"] == report["scan_id"]
    assert (diff["appeared"], diff["disappeared"], diff["changed"]) == ([], [], [])
    text = cli("diff", report["scan_id"], "latest", "--db", str(db))
    assert text.returncode == 0
    assert text.stdout.strip() == f"scan {report['scan_id']} -> {report['scan_id']}: no changes"
