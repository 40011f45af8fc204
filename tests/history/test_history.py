"""Scan history: round trips, references, crash durability, concurrency, schema."""

from __future__ import annotations

import os
import select
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from paths import REPO
from report_fixtures import banner_batch

from scanner.errors import UsageError
from scanner.history.store import SCHEMA_VERSION, HistoryStore, default_db_path
from scanner.identify.models import Evidence, Status, Verdict
from scanner.observations import Observation, group_by_host
from scanner.results import DeviceReport, ProbeSummary, ScanReport

REPO = REPO
T0 = datetime(2026, 11, 16, 2, 30, tzinfo=UTC)


def count(store: HistoryStore, sql: str, *args: object) -> int:
    db = sqlite3.connect(f"file:{store.path}?mode=ro", uri=True)
    try:
        return int(db.execute(sql, args).fetchone()[0])
    finally:
        db.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[HistoryStore]:
    with HistoryStore(tmp_path / "history.sqlite3") as s:
        yield s


def sample_observations() -> list[Observation]:
    fields = [
        dict(signal="mac", value="58:50:ed:1f:e3:85", probe="arp", ip="10.0.0.5", mac="58:50:ed:1f:e3:85"),
        dict(signal="http.server", value="App-webs/", probe="http", ip="10.0.0.5", port=80),
        dict(
            signal="sadp.DeviceDescription",
            value="DS-2CD2143G0-I",
            probe="sadp",
            ip="10.0.0.5",
            mac="58:50:ed:1f:e3:85",
        ),
        dict(signal="mac", value="00:40:8c:11:22:33", probe="arp", ip="10.0.0.6", mac="00:40:8c:11:22:33"),
        dict(signal="http.server", value="Boa/0.94", probe="http", ip="10.0.0.6", port=80),
    ]
    return [Observation(**f, seen_at=T0 + timedelta(milliseconds=250 * i)) for i, f in enumerate(fields)]


def identify(observations: list[Observation]) -> list[DeviceReport]:
    """A stand-in for the identification layer: Hikvision OUI 58:50:ed means covered."""
    out = []
    for dev in group_by_host(observations):
        hik = (dev.mac or "").startswith("58:50:ed")
        verdict = Verdict(
            status=Status.COVERED if hik else Status.UNKNOWN,
            vendor="Hikvision" if hik else None,
            evidence=[
                Evidence(
                    probe="arp", signal="mac", value=dev.mac or "", matched="oui:test", vendor="Hikvision"
                )
            ]
            if hik
            else [],
        )
        out.append(
            DeviceReport(
                ip=dev.ip, mac=dev.mac, probes=dev.probes(), observations=dev.observations, verdict=verdict
            )
        )
    return out


def record_scan(
    store: HistoryStore, started_at: datetime = T0, *, finish: bool = True
) -> tuple[str, ScanReport]:
    scan_id = store.start_scan(
        ["10.0.0.0/24"], "veth0", "0.1.0", ["arp", "http", "sadp"], started_at=started_at
    )
    observations = sample_observations()
    for obs in observations:
        store.add_observation(scan_id, obs)
    summary = ProbeSummary(probe="arp", status="success", duration=1.25, notes=["raw ARP"])
    store.add_probe_summary(scan_id, summary)
    report = ScanReport(
        scan_id=scan_id,
        tool_version="0.1.0",
        started_at=started_at,
        finished_at=started_at + timedelta(seconds=30),
        targets=["10.0.0.0/24"],
        interface="veth0",
        probes=[summary, ProbeSummary(probe="http", status="no-response")],
        notes=["lab run"],
        oui_registry_date="2026-11-01",
        devices=identify(observations),
    )
    if finish:
        store.finish_scan(scan_id, report)
    return scan_id, report


# -- paths and schema ------------------------------------------------------------------------------


def test_default_db_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("NDAA_SCAN_DB", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    assert default_db_path() == tmp_path / ".local/share/ndaa-scanner/history.sqlite3"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")
    assert default_db_path() == tmp_path / ".local/share/ndaa-scanner/history.sqlite3"
    monkeypatch.setenv("XDG_DATA_HOME", "/srv/data")
    assert default_db_path() == Path("/srv/data/ndaa-scanner/history.sqlite3")
    monkeypatch.setenv("NDAA_SCAN_DB", "~/scans.db")
    assert default_db_path() == tmp_path / "scans.db"


def test_new_database_is_private_versioned_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "dir" / "history.sqlite3"
    with HistoryStore(path):
        pass
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert tables == {"scan", "device", "observation", "probe_summary"}
    finally:
        db.close()
    with HistoryStore(path) as again:  # reopening an existing database keeps it
        assert again.list_scans() == []


def test_refuses_files_that_are_not_its_database(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(UsageError, match="not a usable scan history"):
        HistoryStore(garbage)
    other = tmp_path / "other.sqlite3"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(UsageError, match="not an ndaa-scanner history"):
        HistoryStore(other)
    newer = tmp_path / "newer.sqlite3"
    with HistoryStore(newer):
        pass
    db = sqlite3.connect(newer)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(UsageError, match="newer than this ndaa-scanner"):
        HistoryStore(newer)
    with pytest.raises(UsageError, match="newer than this ndaa-scanner"):
        HistoryStore(newer, readonly=True)
    with pytest.raises(UsageError, match="cannot open the scan history"):
        HistoryStore(tmp_path)  # a directory


# -- round trip -------------------------------------------------------------------------------------


def test_finished_scan_round_trips(store: HistoryStore) -> None:
    scan_id, report = record_scan(store)
    loaded = store.load_report(scan_id)
    assert loaded.model_dump() == report.model_dump()
    assert loaded.complete
    stored = count(store, "SELECT count(*) FROM observation WHERE scan_id = ?", scan_id)
    assert stored == len(sample_observations())  # streamed observations were linked, not stored twice


def test_finish_adds_observations_that_were_not_streamed(store: HistoryStore) -> None:
    scan_id = store.start_scan(["10.0.0.0/24"], None, "0.1.0", ["arp"])
    report = ScanReport(tool_version="0.1.0", devices=identify(sample_observations()))
    store.finish_scan(scan_id, report)
    store.finish_scan(scan_id, report)  # finishing again replaces, it does not duplicate
    loaded = store.load_report(scan_id)
    assert [d.model_dump() for d in loaded.devices] == [d.model_dump() for d in report.devices]
    assert count(store, "SELECT count(*) FROM observation") == len(sample_observations())


def test_list_scans_newest_first_with_counts(store: HistoryStore) -> None:
    first, _ = record_scan(store, T0)
    second, _ = record_scan(store, T0 + timedelta(days=7))
    running = store.start_scan(["10.0.1.0/24"], None, "0.1.0", ["arp"], started_at=T0 + timedelta(days=14))
    rows = store.list_scans()
    assert [r.id for r in rows] == [running, second, first]
    assert [r.complete for r in rows] == [False, True, True]
    assert rows[0].state == "unfinished" and rows[0].finished_at is None
    assert rows[1].counts == {"covered": 1, "likely": 0, "suspected": 0, "not-covered": 0, "unknown": 1}
    assert rows[1].observations == 5 and rows[1].targets == ["10.0.0.0/24"]
    assert rows[1].started_at == T0 + timedelta(days=7)
    assert rows[0].counts == dict.fromkeys(rows[1].counts, 0)
    assert [r.id for r in store.list_scans(limit=1)] == [running]
    assert first.startswith("20261116-023000-") and len(first) == len("20261116-023000-ab12")
    assert rows[1].render() == (
        f"{second}  2026-11-23 02:30 UTC  complete    10.0.0.0/24  covered 1, likely 0, "
        "suspected 0, not-covered 0, unknown 1; 5 observations"
    )


def test_resolve_references(store: HistoryStore) -> None:
    older, _ = record_scan(store, T0)
    newer, _ = record_scan(store, T0 + timedelta(days=7))
    assert store.resolve("latest") == newer
    assert store.resolve("latest~0") == newer
    assert store.resolve("latest~1") == older
    assert store.resolve(older) == older
    assert store.resolve(" " + newer[:10] + " ") == newer  # unique prefix
    with pytest.raises(UsageError, match="holds 2 scan"):
        store.resolve("latest~2")
    with pytest.raises(UsageError, match="no scan"):
        store.resolve("latest~" + "9" * 40)
    with pytest.raises(UsageError, match="no scan '1999'"):
        store.resolve("1999")
    with pytest.raises(UsageError, match="empty scan reference"):
        store.resolve("  ")
    with pytest.raises(UsageError, match="ambiguous"):
        store.resolve("2026")
    with pytest.raises(UsageError, match="no scan 'nope'"):
        store.load_report("nope")


def test_resolve_on_an_empty_history(store: HistoryStore) -> None:
    with pytest.raises(UsageError, match="holds 0 scan"):
        store.resolve("latest")


def test_unfinished_scan_is_rebuilt_through_the_callback(store: HistoryStore) -> None:
    scan_id, report = record_scan(store, finish=False)
    seen: list[list[Observation]] = []

    def spy(observations: list[Observation]) -> list[DeviceReport]:
        seen.append(observations)
        return identify(observations)

    loaded = store.load_report(scan_id, identify=spy)
    assert seen == [sample_observations()]
    assert not loaded.complete
    assert [d.model_dump() for d in loaded.devices] == [d.model_dump() for d in report.devices]
    assert loaded.notes == ["scan did not finish: devices rebuilt from 5 stored observations"]
    assert [p.probe for p in loaded.probes] == ["arp"]
    bare = store.load_report(scan_id)
    assert bare.devices == [] and bare.notes == [
        "scan did not finish: 5 observations stored, devices not identified"
    ]


def test_mark_incomplete(store: HistoryStore) -> None:
    scan_id, _ = record_scan(store, finish=False)
    store.mark_incomplete(scan_id, "interrupted (SIGINT)")
    (row,) = store.list_scans()
    assert (row.state, row.reason, row.complete) == ("incomplete", "interrupted (SIGINT)", False)
    assert "  incomplete (interrupted (SIGINT))  10.0.0.0/24  " in row.render()
    assert row.finished_at is not None
    loaded = store.load_report(scan_id, identify=identify)
    assert not loaded.complete and len(loaded.devices) == 2
    assert loaded.notes[0] == "scan incomplete: interrupted (SIGINT)"


def test_a_partial_report_stays_incomplete_and_complete_stays_complete(store: HistoryStore) -> None:
    scan_id, report = record_scan(store, finish=False)
    store.finish_scan(scan_id, report.model_copy(update={"complete": False}))
    assert store.list_scans()[0].state == "incomplete"
    assert not store.load_report(scan_id).complete
    done, _ = record_scan(store, T0 + timedelta(days=1))
    store.mark_incomplete(done, "late signal")
    assert store.resolve("latest") == done and store.list_scans()[0].state == "complete"


def test_unreadable_stored_observation_is_skipped(store: HistoryStore) -> None:
    scan_id, _ = record_scan(store, finish=False)
    db = sqlite3.connect(store.path)
    db.execute("UPDATE observation SET mac = 'zz' WHERE id = (SELECT min(id) FROM observation)")
    db.commit()
    db.close()
    assert (
        len(
            store.load_report(scan_id, identify=lambda obs: [DeviceReport(observations=obs)])
            .devices[0]
            .observations
        )
        == 4
    )


def test_prune_keeps_the_newest(store: HistoryStore) -> None:
    ids = [record_scan(store, T0 + timedelta(days=7 * i))[0] for i in range(4)]
    assert sorted(store.prune(keep=2)) == sorted(ids[:2])
    assert [r.id for r in store.list_scans()] == ids[:1:-1]
    assert count(store, "SELECT count(*) FROM observation") == 2 * len(sample_observations())
    assert count(store, "SELECT count(*) FROM device WHERE scan_id IN (?, ?)", *ids[:2]) == 0
    assert count(store, "SELECT count(*) FROM device") == 4
    with pytest.raises(UsageError):
        store.prune(keep=-1)


# -- durability, speed, concurrency ------------------------------------------------------------------

CHILD = """
import sys
from scanner.history.store import HistoryStore
from scanner.observations import Observation
store = HistoryStore(sys.argv[1])
scan_id = store.start_scan(["10.0.0.0/24"], "veth0", "0.1.0", ["arp"])
print("scan", scan_id, flush=True)
i = 0
while True:
    store.add_observation(scan_id, Observation(signal="http.server", value=f"obs-{i}", probe="http",
                                               ip=f"10.0.{i // 250 % 250}.{i % 250 + 1}"))
    print("committed", i, flush=True)  # only after add_observation returned
    i += 1
"""


def read_lines_until(proc: subprocess.Popen[bytes], want: int, deadline: float) -> list[str]:
    """Lines from the child's stdout until ``want`` of them arrived (bounded by ``deadline``)."""
    assert proc.stdout is not None
    buf, lines = b"", []
    while len(lines) < want:
        left = deadline - time.monotonic()
        assert left > 0, f"child wrote only {len(lines)} lines"
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 65536)
            assert chunk, "child exited early"
            buf += chunk
            *done, buf = buf.split(b"\n")
            lines += [d.decode() for d in done]
    return lines


def test_sigkill_midway_keeps_every_committed_observation(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite3"
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db)],
        stdout=subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        lines = read_lines_until(proc, 301, time.monotonic() + 30)
    finally:
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    complete_lines = (("\n".join(lines) + "\n" + rest.decode()).split("\n"))[:-1]  # drop a torn last line
    scan_id = complete_lines[0].split()[1]
    committed = {int(line.split()[1]) for line in complete_lines[1:] if line.startswith("committed ")}
    assert len(committed) >= 300
    with HistoryStore(db) as store:
        (row,) = store.list_scans()
        assert (row.id, row.complete, row.state) == (scan_id, False, "unfinished")
        report = store.load_report(scan_id, identify=lambda obs: [DeviceReport(observations=obs)])
    stored = {int(o.value.removeprefix("obs-")) for o in report.devices[0].observations}
    assert committed <= stored
    assert len(stored) - len(committed) <= 1  # at most the one committed but not yet reported
    assert not report.complete


def test_ten_thousand_observations_are_all_stored(store: HistoryStore) -> None:
    """Each observation is written as it comes (speed: benchmarks/bench_hot_paths.py)."""
    scan_id = store.start_scan(["10.0.0.0/16"], None, "0.1.0", ["http"])
    batch = banner_batch(10_000)
    for obs in batch:
        store.add_observation(scan_id, obs)
    assert store.list_scans()[0].observations == 10_000


def test_two_scans_write_at_once(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    errors: list[BaseException] = []
    ids: list[str] = []

    def scan(n: int) -> None:
        try:
            with HistoryStore(path) as s:
                scan_id = s.start_scan([f"10.{n}.0.0/24"], None, "0.1.0", ["arp"])
                ids.append(scan_id)
                for i in range(500):
                    s.add_observation(
                        scan_id,
                        Observation(
                            signal="http.server",
                            value=str(i),
                            probe="http",
                            ip=f"10.{n}.{i // 250}.{i % 250 + 1}",
                        ),
                    )
                s.finish_scan(scan_id, ScanReport(tool_version="0.1.0", devices=[]))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=scan, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    with HistoryStore(path) as s:
        rows = s.list_scans()
    assert sorted(r.id for r in rows) == sorted(ids)
    assert [(r.complete, r.observations) for r in rows] == [(True, 500), (True, 500)]


def test_an_unfinished_scan_line_does_not_claim_zero_findings() -> None:
    from datetime import UTC, datetime

    from scanner.history.store import ScanRow

    row = ScanRow(
        "20261122-170000-ab12",
        datetime.now(UTC),
        None,
        "unfinished",
        None,
        ["10.0.0.0/24"],
        "eth0",
        "0.1.0",
        31,
        {"covered": 0, "likely": 0},
    )
    line = row.render()
    assert "covered 0" not in line
    assert "ndaa-scan report 20261122-170000-ab12" in line and "31 observations" in line
