"""Token expiry (`server token create SITE --expires 90d`) and retention (`server prune --keep N`) against
the real PostgreSQL of the tests."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from clirun import run_cli
from report_fixtures import sample_report
from test_server import _post, inventory, pg_rows, push, store_scan

from scanner.results import ScanReport


def test_token_expires(server: Any, tmp_path: Path) -> None:
    env = {"NDAA_SERVER_DB": server.db_url}
    made = run_cli("server", "token", "create", "east", "--expires", "90d", env=env)
    assert made.returncode == 0, made.stderr
    tok = made.stdout.strip()
    assert "expires in 90d" in made.stderr
    (expires,) = pg_rows(server.db_url, "SELECT expires_at - created_at FROM token")[0]
    assert expires == timedelta(days=90)
    listed = run_cli("server", "token", "list", env=env)
    assert " expires " in listed.stdout and tok not in listed.stdout
    history = tmp_path / "east.sqlite3"
    store_scan(history, sample_report())
    assert push(history, server.url, "east", tok).returncode == 0
    assert inventory(server.url, tok, "-f", "json").returncode == 0
    pg_rows(server.db_url, "UPDATE token SET expires_at = now() - interval '1 second' RETURNING id")
    assert _post(server.url, b"{}", tok) == 401  # refused before the body is even read
    refused = inventory(server.url, tok, "-f", "json")
    assert refused.returncode != 0 and "401" in refused.stderr
    for bad in ("0d", "soon", "-3d"):
        proc = run_cli("server", "token", "create", "east", "--expires", bad, env=env)
        assert proc.returncode == 2 and "--expires" in proc.stderr, (bad, proc.stderr)


def _scan(day: int, *, complete: bool = True) -> ScanReport:
    report = sample_report()
    return report.model_copy(
        update={
            "scan_id": f"scan-day-{day}",
            "started_at": report.started_at + timedelta(days=day),
            "finished_at": report.started_at + timedelta(days=day, minutes=5),
            "complete": complete,
        }
    )


def _ingest(pg_url: str, site: str, reports: list[ScanReport]) -> None:
    from scanner.sites import db
    from scanner.sites.bundle import make_bundle

    with db.connect(pg_url) as conn:
        db.migrate(conn)
        with conn.transaction():
            site_id = db.ensure_site(conn, site)
        for report in reports:
            assert db.ingest(conn, site_id, make_bundle(site, report))


def _scans(pg_url: str) -> dict[str, list[str]]:
    rows = pg_rows(
        pg_url,
        "SELECT site.name, s.scan_id FROM scan s JOIN site ON site.id = s.site_id ORDER BY site.name, s.started_at",
    )
    out: dict[str, list[str]] = {}
    for site, scan_id in rows:
        out.setdefault(site, []).append(scan_id)
    return out


def test_prune_keeps_the_newest_and_the_inventory_scan(pg_url: str) -> None:
    from scanner.sites import db

    n = len(sample_report().devices)
    # west: four complete scans; east: an older complete scan, then two incomplete ones (the inventory
    # shows east's complete scan, which prune must keep although it is not among the newest)
    _ingest(pg_url, "west", [_scan(d) for d in range(4)])
    _ingest(pg_url, "east", [_scan(0), _scan(1, complete=False), _scan(2, complete=False)])
    with db.connect(pg_url) as conn:
        before = db.inventory(conn)
    proc = run_cli("server", "prune", "--keep", "2", "--db", pg_url)
    assert proc.returncode == 0, proc.stderr
    assert "pruned 2 scan(s)" in proc.stderr and f"their {2 * n} device row(s)" in proc.stderr
    assert _scans(pg_url) == {
        "east": ["scan-day-0", "scan-day-1", "scan-day-2"],
        "west": ["scan-day-2", "scan-day-3"],
    }
    (devices,) = pg_rows(pg_url, "SELECT count(*) FROM device")[0]
    assert devices == 5 * n  # no device row of a deleted scan is left
    with db.connect(pg_url) as conn:
        after = db.inventory(conn)
    assert (
        [s["scan_id"] for s in after["sites"]]
        == [s["scan_id"] for s in before["sites"]]
        == [
            "scan-day-0",
            "scan-day-3",
        ]
    )
    assert len(after["devices"]) == len(before["devices"])
    west = [d["first_seen"] for d in after["devices"] if d["site"] == "west"]
    assert all(
        f.startswith((sample_report().started_at + timedelta(days=2)).strftime("%Y-%m-%d")) for f in west
    )
    again = run_cli("server", "prune", "--keep", "1", "--site", "east", "--db", pg_url)
    assert again.returncode == 0, again.stderr
    assert _scans(pg_url)["east"] == ["scan-day-0", "scan-day-2"]  # the newest, and the inventory's
    assert run_cli("server", "prune", "--keep", "0", "--db", pg_url).returncode == 2
