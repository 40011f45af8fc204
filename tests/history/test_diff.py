"""Scan-to-scan diffs: appeared, disappeared, changed; nothing else."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from scanner.history.diff import FieldChange, diff_reports
from scanner.identify.models import Evidence, Status, Verdict
from scanner.observations import Observation
from scanner.results import DeviceReport, ScanReport

WEEK1 = datetime(2026, 11, 16, 2, 30, tzinfo=UTC)
WEEK2 = WEEK1 + timedelta(days=7)


def banner_device(ip: str, mac: str, server: str, verdict: Verdict, when: datetime) -> DeviceReport:
    """A device seen by ARP and an HTTP banner, with the verdict that banner led to."""
    observations = [
        Observation(signal="mac", value=mac, probe="arp", ip=ip, mac=mac, seen_at=when),
        Observation(
            signal="http.server",
            value=server,
            probe="http",
            ip=ip,
            port=80,
            seen_at=when + timedelta(seconds=2),
        ),
    ]
    evidence = [
        Evidence(
            probe="http",
            signal="http.server",
            value=server,
            matched="http_servers.toml:test",
            vendor=verdict.vendor,
            certainty=0.9,
        )
    ]
    return DeviceReport(
        ip=ip,
        mac=mac,
        probes=["arp", "http"],
        observations=observations,
        verdict=verdict.model_copy(update={"evidence": evidence}),
    )


def axis_camera(when: datetime) -> DeviceReport:
    return banner_device(
        "10.0.0.10",
        "00:40:8c:11:22:33",
        "Boa/0.94",
        Verdict(status=Status.NOT_COVERED, confidence=0.9, vendor="Axis", model="M3045", firmware="6.50"),
        when,
    )


def reports() -> tuple[ScanReport, ScanReport]:
    unchanged_old = axis_camera(WEEK1)
    unchanged_new = axis_camera(WEEK2)  # same device, a week later: only timestamps differ
    unchanged_new.mac = "00-40-8C-11-22-33"  # and the MAC spelled another way
    removed = banner_device(
        "10.0.0.11", "b4:a3:82:00:00:01", "lighttpd", Verdict(status=Status.UNKNOWN), WEEK1
    )
    reflashed_old = banner_device(
        "10.0.0.12",
        "e0:50:8b:aa:bb:cc",
        "Webs",
        Verdict(
            status=Status.LIKELY,
            confidence=0.6,
            vendor="Dahua",
            covered_entity="Dahua Technology Company",
            device_type="camera",
            model="IPC-HFW1230S",
            firmware="V2.622.0000000.31.R",
        ),
        WEEK1,
    )
    reflashed_new = banner_device(
        "10.0.0.12",
        "e0:50:8b:aa:bb:cc",
        "Lorex-Webs/1.0",
        Verdict(
            status=Status.SUSPECTED,
            confidence=0.5,
            vendor="Lorex",
            brand="Lorex",
            device_type="camera",
            model="IPC-HFW1230S",
            firmware="V2.800.0000000.5.R",
        ),
        WEEK2,
    )
    added = banner_device(
        "10.0.0.13",
        "58:50:ed:1f:e3:85",
        "App-webs/",
        Verdict(
            status=Status.COVERED,
            confidence=0.95,
            vendor="Hikvision",
            covered_entity="Hangzhou Hikvision Digital Technology Company",
            model="DS-2CD2143G0-I",
        ),
        WEEK2,
    )
    old = ScanReport(
        scan_id="20261116-023000-aaaa",
        tool_version="t",
        started_at=WEEK1,
        devices=[unchanged_old, removed, reflashed_old],
    )
    new = ScanReport(
        scan_id="20261123-023000-bbbb",
        tool_version="t",
        started_at=WEEK2,
        devices=[added, reflashed_new, unchanged_new],
    )
    return old, new


def test_exactly_one_appeared_one_disappeared_one_changed() -> None:
    old, new = reports()
    diff = diff_reports(old, new)
    assert [d.mac for d in diff.appeared] == ["58:50:ed:1f:e3:85"]
    assert [d.mac for d in diff.disappeared] == ["b4:a3:82:00:00:01"]
    (change,) = diff.changed
    assert change.after.mac == "e0:50:8b:aa:bb:cc"
    assert change.changes == (
        FieldChange("status", "likely", "suspected"),
        FieldChange("covered_entity", "Dahua Technology Company", None),
        FieldChange("vendor", "Dahua", "Lorex"),
        FieldChange("brand", None, "Lorex"),
        FieldChange("firmware", "V2.622.0000000.31.R", "V2.800.0000000.5.R"),
    )
    assert not diff.is_empty


def test_same_report_has_no_changes() -> None:
    old, new = reports()
    for report in (old, new):
        diff = diff_reports(report, report)
        assert diff.is_empty
        assert diff.render_text().endswith(": no changes")


def test_text_rendering() -> None:
    lines = diff_reports(*reports()).render_text().splitlines()
    assert (
        lines[0] == "scan 20261116-023000-aaaa -> 20261123-023000-bbbb: 1 appeared, 1 disappeared, 1 changed"
    )
    assert lines[1].startswith("+ 10.0.0.13") and "covered Hangzhou Hikvision" in lines[1]
    assert lines[2].startswith("- 10.0.0.11") and lines[2].endswith("unknown")
    assert lines[3].startswith("~ 10.0.0.12")
    assert "status: likely -> suspected; covered_entity: Dahua Technology Company -> -;" in lines[3]
    assert len(lines) == 4


def test_json_rendering() -> None:
    data = json.loads(diff_reports(*reports()).to_json())
    assert data["old_scan"] == "20261116-023000-aaaa" and data["new_scan"] == "20261123-023000-bbbb"
    assert [d["ip"] for d in data["appeared"]] == ["10.0.0.13"]
    assert data["appeared"][0]["status"] == "covered"
    assert [d["ip"] for d in data["disappeared"]] == ["10.0.0.11"]
    (changed,) = data["changed"]
    assert changed["mac"] == "e0:50:8b:aa:bb:cc"
    assert {"field": "vendor", "before": "Dahua", "after": "Lorex"} in changed["changes"]
    assert len(changed["changes"]) == 5


def test_ip_only_device_matches_by_ip() -> None:
    old_dev = DeviceReport(ip="10.0.0.20", verdict=Verdict(status=Status.UNKNOWN))
    new_dev = DeviceReport(ip="10.0.0.20", mac="02:00:00:00:00:20", verdict=Verdict(status=Status.UNKNOWN))
    diff = diff_reports(
        ScanReport(tool_version="t", devices=[old_dev]), ScanReport(tool_version="t", devices=[new_dev])
    )
    assert diff.is_empty


def test_a_reused_ip_with_another_mac_is_another_device() -> None:
    old_dev = DeviceReport(ip="10.0.0.20", mac="02:00:00:00:00:20")
    new_dev = DeviceReport(ip="10.0.0.20", mac="02:00:00:00:00:21")
    diff = diff_reports(
        ScanReport(tool_version="t", devices=[old_dev]), ScanReport(tool_version="t", devices=[new_dev])
    )
    assert (diff.appeared, diff.disappeared, diff.changed) == ((new_dev,), (old_dev,), ())


def test_a_device_that_moved_ip_is_not_a_change() -> None:
    old_dev = DeviceReport(ip="10.0.0.20", mac="02:00:00:00:00:20", verdict=Verdict(vendor="Axis"))
    new_dev = DeviceReport(ip="10.0.0.31", mac="02:00:00:00:00:20", verdict=Verdict(vendor="Axis"))
    diff = diff_reports(
        ScanReport(tool_version="t", devices=[old_dev]), ScanReport(tool_version="t", devices=[new_dev])
    )
    assert diff.is_empty
