"""Hosts heard outside the targets survive the history: stored apart, reported again apart, not counted;
and a version 1 history (before heard hosts were stored) is migrated by a scan, read as is by the rest."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from clirun import run_cli
from report_fixtures import heard_report

from scanner.history.store import MIGRATIONS, SCHEMA_VERSION, HistoryStore


def _store(db: Path) -> str:
    report = heard_report()
    with HistoryStore(db) as store:
        scan_id = store.start_scan(
            report.targets, report.interface, "t", ["sadp"], started_at=report.started_at
        )
        store.finish_scan(scan_id, report)
    return scan_id


def test_heard_hosts_round_trip_apart_from_the_devices(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite3"
    scan_id = _store(db)
    original = heard_report()
    with HistoryStore(db, readonly=True) as store:
        back = store.load_report(scan_id)
        (row,) = store.list_scans()
    assert [d.ip for d in back.devices] == [d.ip for d in original.devices]
    assert back.heard == original.heard  # verdicts and observations, hostile strings included
    assert row.counts["not-covered"] == 1 and row.counts["covered"] == 0  # heard hosts are not counted


def test_report_again_keeps_the_heard_section_and_exit_code(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite3"
    _store(db)
    proc = run_cli("report", "--db", str(db), "-f", "csv")
    assert proc.returncode == 0, proc.stderr  # a clean target; the heard Hikvision does not fail it
    assert proc.stdout.count(",heard\r\n") == 2 and proc.stdout.count(",target\r\n") == 1
    asked = run_cli("report", "--db", str(db), "-f", "junit", "--fail-on-heard")
    assert asked.returncode == 1, asked.stderr  # --fail-on-heard: the heard Hikvision and Huawei fail
    assert 'failures="2"' in asked.stdout.splitlines()[1]


def _v1_database(path: Path) -> None:
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0])
    db.execute("PRAGMA user_version = 1")
    db.execute(
        "INSERT INTO scan (id, started_at, state, targets, tool_version, probes, devices_stored)"
        " VALUES ('20240101-000000-aaaa', '2024-01-01T00:00:00+00:00', 'complete', '[\"10.0.0.0/24\"]', 't', '[]', 1)"
    )
    db.execute(
        "INSERT INTO device (scan_id, ip, mac, status, hostnames, probes, verdict)"
        " VALUES ('20240101-000000-aaaa', '10.0.0.5', '00:40:8c:00:00:05', 'unknown', '[]', '[]', '{}')"
    )
    db.commit()
    db.close()


def test_a_version_1_history_is_read_as_is_and_migrated_by_a_writer(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite3"
    _v1_database(db)
    before = db.read_bytes()
    with HistoryStore(db, readonly=True) as store:
        report = store.load_report(store.resolve("latest"))
        assert [d.ip for d in report.devices] == ["10.0.0.5"] and report.heard == []
        assert store.list_scans()[0].counts["unknown"] == 1
    assert db.read_bytes() == before  # reading did not migrate it
    with HistoryStore(db) as store:
        assert store.load_report(store.resolve("latest")).devices[0].ip == "10.0.0.5"
    raw = sqlite3.connect(db)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    assert "heard" in {r[1] for r in raw.execute("PRAGMA table_info(device)")}
    raw.close()
