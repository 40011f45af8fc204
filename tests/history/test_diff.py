"""Scan-to-scan diffs: appeared, disappeared, changed; nothing else."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from clirun import run_cli

from scanner.history.diff import FieldChange, _Scope, diff_reports
from scanner.history.store import HistoryStore
from scanner.identify.models import Evidence, Status, Verdict
from scanner.observations import Observation
from scanner.results import DeviceReport, ProbeSummary, ScanReport

WEEK1 = datetime(2026, 11, 16, 2, 30, tzinfo=UTC)
WEEK2 = WEEK1 + timedelta(days=7)


def _verdict(status: Status, confidence: float, vendor: str, **more: Any) -> Verdict:
    return Verdict(status=status, confidence=confidence, vendor=vendor, **more)


def banner_device(ip: str, mac: str, server: str, verdict: Verdict, when: datetime) -> DeviceReport:
    """A device seen by ARP and an HTTP banner, with the verdict that banner led to."""
    banner_at = when + timedelta(seconds=2)
    observations = [
        Observation(signal="mac", value=mac, probe="arp", ip=ip, mac=mac, seen_at=when),
        Observation(signal="http.server", value=server, probe="http", ip=ip, port=80, seen_at=banner_at),
    ]
    matched, vendor = "http_servers.toml:test", verdict.vendor
    ev = Evidence(
        probe="http", signal="http.server", value=server, matched=matched, vendor=vendor, certainty=0.9
    )
    verdict = verdict.model_copy(update={"evidence": [ev]})
    return DeviceReport(ip=ip, mac=mac, probes=["arp", "http"], observations=observations, verdict=verdict)


def axis_camera(when: datetime) -> DeviceReport:
    axis = Verdict(status=Status.NOT_COVERED, confidence=0.9, vendor="Axis", model="M3045", firmware="6.50")
    return banner_device("10.0.0.10", "00:40:8c:11:22:33", "Boa/0.94", axis, when)


def reports() -> tuple[ScanReport, ScanReport]:
    unchanged_old = axis_camera(WEEK1)
    unchanged_new = axis_camera(WEEK2)  # same device, a week later: only timestamps differ
    unchanged_new.mac = "00-40-8C-11-22-33"  # and the MAC spelled another way
    removed = banner_device(
        "10.0.0.11", "b4:a3:82:00:00:01", "lighttpd", Verdict(status=Status.UNKNOWN), WEEK1
    )
    # the same camera reflashed: Dahua firmware, then a Lorex label on a newer one
    camera = {"device_type": "camera", "model": "IPC-HFW1230S"}
    dahua_fw, lorex_fw = {"firmware": "V2.622.0000000.31.R"}, {"firmware": "V2.800.0000000.5.R"}
    dahua_entity = "Dahua Technology Company"
    dahua = _verdict(Status.LIKELY, 0.6, "Dahua", covered_entity=dahua_entity, **camera, **dahua_fw)
    lorex = _verdict(Status.SUSPECTED, 0.5, "Lorex", brand="Lorex", **camera, **lorex_fw)
    reflashed_old = banner_device("10.0.0.12", "e0:50:8b:aa:bb:cc", "Webs", dahua, WEEK1)
    reflashed_new = banner_device("10.0.0.12", "e0:50:8b:aa:bb:cc", "Lorex-Webs/1.0", lorex, WEEK2)
    entity = "Hangzhou Hikvision Digital Technology Company"
    hik = _verdict(Status.COVERED, 0.95, "Hikvision", covered_entity=entity, model="DS-2CD2143G0-I")
    added = banner_device("10.0.0.13", "58:50:ed:1f:e3:85", "App-webs/", hik, WEEK2)
    old_devices, new_devices = [unchanged_old, removed, reflashed_old], [added, reflashed_new, unchanged_new]
    old = ScanReport(scan_id="20261116-023000-aaaa", tool_version="t", started_at=WEEK1, devices=old_devices)
    new = ScanReport(scan_id="20261123-023000-bbbb", tool_version="t", started_at=WEEK2, devices=new_devices)
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


# -- scope: compare only what both scans covered ----------------------------------------------------


def _probes(*names: str, failed: tuple[str, ...] = ()) -> list[ProbeSummary]:
    return [ProbeSummary(probe=n, status="success", duration=1.0) for n in names] + [
        ProbeSummary(probe=n, status="error", duration=0.0, error="no privileges") for n in failed
    ]


def _sadp_evidence(model: str) -> Evidence:
    """A SADP reply naming ``model``, as the fingerprints count it."""
    matched = "fingerprints/sadp.toml:sadp-reply"
    return Evidence(
        probe="sadp",
        signal="sadp.DeviceDescription",
        value=model,
        matched=matched,
        vendor="Hikvision",
        certainty=0.95,
    )


def _sadp_device(ip: str, mac: str, when: datetime, *, with_sadp: bool) -> DeviceReport:
    """A Hikvision camera: covered by its SADP reply when SADP ran, only likely (OUI) when it did not."""
    evidence = [
        Evidence(
            probe="arp", signal="mac", value=mac, matched="oui:58:50:ED", vendor="Hikvision", certainty=0.6
        )
    ]
    observations = [Observation(signal="mac", value=mac, probe="arp", ip=ip, mac=mac, seen_at=when)]
    if with_sadp:
        evidence.append(_sadp_evidence("DS-2CD2143G0-I"))
        observations.append(
            Observation(
                signal="sadp.DeviceDescription",
                value="DS-2CD2143G0-I",
                probe="sadp",
                ip=ip,
                mac=mac,
                seen_at=when,
            )
        )
    verdict = Verdict(
        status=Status.COVERED if with_sadp else Status.LIKELY,
        confidence=0.95 if with_sadp else 0.6,
        vendor="Hikvision",
        covered_entity="Hikvision",
        model="DS-2CD2143G0-I" if with_sadp else None,
        evidence=evidence,
    )
    return DeviceReport(
        ip=ip,
        mac=mac,
        probes=["arp", "sadp"] if with_sadp else ["arp"],
        observations=observations,
        verdict=verdict,
    )


def scoped_reports() -> tuple[ScanReport, ScanReport]:
    """Old: 10.0.0.0/24 with arp, http and sadp. New: 10.0.0.0/25 plus 10.0.1.0/24, without sadp."""
    gone = banner_device("10.0.0.11", "b4:a3:82:00:00:01", "lighttpd", Verdict(status=Status.UNKNOWN), WEEK1)
    outside_new = banner_device(
        "10.0.0.200", "00:40:8c:00:00:c8", "Boa/0.94", Verdict(status=Status.UNKNOWN), WEEK1
    )
    sadp_only = DeviceReport(
        ip="10.0.0.50",
        mac="58:50:ed:00:00:50",
        probes=["sadp"],
        verdict=Verdict(
            status=Status.COVERED,
            vendor="Hikvision",
            covered_entity="Hikvision",
            evidence=[_sadp_evidence("DS-7608NI-K2")],
        ),
    )
    reflashed_old, reflashed_new = (
        banner_device("10.0.0.12", "00:40:8c:aa:bb:cc", "Boa/0.94", axis, when)
        for axis, when in (
            (Verdict(status=Status.NOT_COVERED, vendor="Axis", firmware="6.50"), WEEK1),
            (Verdict(status=Status.NOT_COVERED, vendor="Axis", firmware="7.10"), WEEK2),
        )
    )
    old = ScanReport(
        scan_id="old",
        tool_version="t",
        started_at=WEEK1,
        targets=["10.0.0.0/24"],
        probes=_probes("arp", "http", "sadp"),
        devices=[
            gone,
            outside_new,
            sadp_only,
            reflashed_old,
            _sadp_device("10.0.0.13", "58:50:ed:1f:e3:85", WEEK1, with_sadp=True),
        ],
    )
    new_net = banner_device(
        "10.0.1.5", "00:40:8c:01:01:05", "Boa/0.94", Verdict(status=Status.UNKNOWN), WEEK2
    )
    appeared = banner_device(
        "10.0.0.14", "00:40:8c:00:00:0e", "Boa/0.94", Verdict(status=Status.UNKNOWN), WEEK2
    )
    new = ScanReport(
        scan_id="new",
        tool_version="t",
        started_at=WEEK2,
        complete=False,
        targets=["10.0.0.0/25", "10.0.1.0/24"],
        probes=_probes("arp", "http", failed=("sadp",)),
        devices=[
            new_net,
            appeared,
            reflashed_new,
            _sadp_device("10.0.0.13", "58:50:ed:1f:e3:85", WEEK2, with_sadp=False),
        ],
    )
    return old, new


def test_hosts_outside_the_other_scans_targets_are_not_scanned_not_gone() -> None:
    diff = diff_reports(*scoped_reports())
    assert [d.ip for d in diff.disappeared] == ["10.0.0.11"]
    assert [d.ip for d in diff.appeared] == ["10.0.0.14"]
    unseen = {(o.device.ip, o.side): o.reason for o in diff.not_scanned}
    assert unseen == {
        ("10.0.0.50", "old"): "found only by sadp, which the new scan did not run",
        ("10.0.0.200", "old"): "outside the new scan's targets",
        ("10.0.1.5", "new"): "outside the old scan's targets",
    }


def test_a_verdict_change_from_a_one_sided_probe_is_not_comparable() -> None:
    diff = diff_reports(*scoped_reports())
    assert [(c.after.ip, [f.field for f in c.changes]) for c in diff.changed] == [("10.0.0.12", ["firmware"])]
    (hik,) = diff.not_comparable
    assert hik.after.ip == "10.0.0.13" and "sadp" in (hik.reason or "")
    assert FieldChange("status", "covered", "likely") in hik.changes
    assert diff.common_probes == ("arp", "http")


def test_warnings_name_incomplete_scans_and_differing_probes_and_targets() -> None:
    diff = diff_reports(*scoped_reports())
    text = "\n".join(diff.warnings)
    assert "the new scan new is incomplete" in text
    assert "only the old scan ran sadp" in text
    assert "targets differ (old: 10.0.0.0/24; new: 10.0.0.0/25 10.0.1.0/24)" in text
    lines = diff.render_text().splitlines()
    assert (
        lines[0]
        == "scan old -> new: 1 appeared, 1 disappeared, 1 changed (3 not scanned by both, 1 not comparable)"
    )
    assert [line for line in lines if line.startswith("warning: ")] == [
        f"warning: {w}" for w in diff.warnings
    ]
    assert any(line.startswith("? 10.0.0.200") and "only in the old scan" in line for line in lines)
    assert any(line.startswith("! 10.0.0.13") and "not comparable" in line for line in lines)


def test_same_scope_gives_no_warning() -> None:
    old, new = reports()
    old.targets = new.targets = ["10.0.0.0/24"]
    old.probes = new.probes = _probes("arp", "http")
    diff = diff_reports(old, new)
    assert diff.warnings == () and diff.not_scanned == () and diff.not_comparable == ()


def test_scope_parsing() -> None:
    scope = _Scope(["10.0.1.5-40", "192.168.0.1", "10.2.0.0/16,10.3.0.1-10.3.0.9"])
    assert scope.known
    assert all(
        scope.covers(ip) for ip in ("10.0.1.5", "10.0.1.40", "192.168.0.1", "10.2.255.255", "10.3.0.9")
    )
    assert not any(scope.covers(ip) for ip in ("10.0.1.41", "192.168.0.2", "10.3.0.10"))
    assert _Scope([]).covers("1.2.3.4")  # an offline import: no targets recorded
    assert _Scope(["eth0"]).covers("1.2.3.4") and not _Scope(["eth0"]).known


def store_scans(db: Path, *reports: ScanReport) -> None:
    """Each report as a finished scan of the history at ``db``, in order."""
    with HistoryStore(db) as store:
        for report in reports:
            probes = [p.probe for p in report.probes]
            scan_id = store.start_scan(report.targets, None, "t", probes, started_at=report.started_at)
            store.finish_scan(scan_id, report)


def test_stored_scans_of_different_scope_through_the_command(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite3"
    old, new = scoped_reports()
    store_scans(db, old, new)
    proc = run_cli("diff", "--db", str(db), "--json")
    assert proc.returncode == 1, proc.stderr  # one appeared, one disappeared, one firmware change
    data = json.loads(proc.stdout)
    assert [d["ip"] for d in data["disappeared"]] == ["10.0.0.11"]
    assert {(d["ip"], d["in"]) for d in data["not_scanned"]} == {
        ("10.0.0.50", "old"),
        ("10.0.0.200", "old"),
        ("10.0.1.5", "new"),
    }
    assert [c["ip"] for c in data["not_comparable"]] == ["10.0.0.13"]
    assert any("probe sets differ" in w for w in data["warnings"])
    text = run_cli("diff", "--db", str(db))
    assert "warning: probe sets differ" in text.stdout and "Traceback" not in text.stderr


def test_only_out_of_scope_differences_exit_0(tmp_path: Path) -> None:
    """A narrower rescan that finds the same devices where it looked: no change, exit 0, with a warning."""
    old, _ = scoped_reports()
    narrower = old.model_copy(
        update={
            "scan_id": None,
            "targets": ["10.0.0.0/25"],
            "devices": [d for d in old.devices if d.ip != "10.0.0.200"],
        }
    )
    db = tmp_path / "history.sqlite3"
    store_scans(db, old, narrower.model_copy(update={"started_at": WEEK2}))
    proc = run_cli("diff", "--db", str(db))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no changes (1 not scanned by both)" in proc.stdout.splitlines()[0]
    assert "warning: targets differ" in proc.stdout
