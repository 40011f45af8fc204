"""Done-when of issue 14, end to end: two lab sites with the same address plan (the same IPs on different
devices), each scanned for real into its own history, pushed to the PostgreSQL-backed server; the
inventory keeps them apart and equals the local scans; a wrong-site token is refused; scans made while the
server is unreachable or down arrive after it is back; a repeated push stores nothing twice.

The server listens on 127.0.0.1 in the root namespace; the scans run in each lab's scanner namespace
(`scan --netns`) and `push` runs in the root namespace, over loopback."""

from __future__ import annotations

import json
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from clirun import lab_scan_args, run_cli, scan_lab_json

pytestmark = pytest.mark.netns

SUBNET, SCANNER_IP = "10.77.0.0/24", "10.77.0.2"


def demo_devices() -> dict[str, dict[str, Any]]:
    from scanner.datafiles import labs_dir

    raw = tomllib.loads((labs_dir() / "demo.toml").read_text(encoding="utf-8"))
    return {d["name"]: {k: v for k, v in d.items() if k != "expect"} for d in raw["device"]}


def site_devices() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Site A: a Hikvision camera, a Dahua camera, a laptop. Site B: other devices at the same three IPs."""
    demo = demo_devices()
    a = [demo["lobby-cam"], demo["dock-cam"], demo["laptop"]]
    b = [
        {**demo["front-axis"], "ip": a[0]["ip"]},
        {**demo["wan-cpe"], "ip": a[1]["ip"]},
        {**demo["laptop"], "name": "laptop-b", "mac": "de:ad:be:ef:00:02"},
    ]
    return a, b


def token(db_url: str, site: str) -> str:
    proc = run_cli("server", "token", "create", site, env={"NDAA_SERVER_DB": db_url})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def push(db: Path, url: str, site: str, tok: str) -> Any:
    proc = run_cli(
        "push", "--db", str(db), "--server", url, "--site", site, "--attempts", "2", "--backoff", "0.05",
        env={"NDAA_PUSH_TOKEN": tok},
    )  # fmt: skip
    assert "Traceback" not in proc.stderr, proc.stderr
    assert tok not in proc.stderr + proc.stdout
    return proc


def test_two_sites_same_address_plan(lab_factory: Any, server: Any, tmp_path: Path) -> None:
    devices_a, devices_b = site_devices()
    tok_a, tok_b = token(server.db_url, "site-a"), token(server.db_url, "site-b")
    hist_a, hist_b = tmp_path / "a.sqlite3", tmp_path / "b.sqlite3"

    lab_a = lab_factory(devices_a, subnet=SUBNET, scanner_ip=SCANNER_IP)
    report_a = scan_lab_json(lab_a, db=hist_a)
    assert {d["mac"] for d in report_a["devices"]} == {d["mac"] for d in devices_a}

    # site B scans with --push from inside its lab namespace, where no server listens: the scan's own
    # result and exit code stand, the scan stays pending in its history
    lab_b = lab_factory(devices_b, subnet=SUBNET, scanner_ip=SCANNER_IP)
    scan_b = run_cli(
        *lab_scan_args(lab_b.scanner_ns, SUBNET, "--db", str(hist_b), "-q", "-f", "json"),
        "--push", server.url, "--site", "site-b",
        env={"NDAA_PUSH_TOKEN": tok_b},
    )  # fmt: skip
    assert scan_b.returncode in (0, 1), scan_b.stderr
    report_b = json.loads(scan_b.stdout)
    assert {d["mac"] for d in report_b["devices"]} == {d["mac"] for d in devices_b}
    assert "1 pending" in scan_b.stderr, scan_b.stderr

    # the wrong site's token is refused and stores nothing
    wrong = push(hist_b, server.url, "site-b", tok_a)
    assert wrong.returncode == 3 and "pushes for site 'site-a', not 'site-b'" in wrong.stderr

    # the server down: site A's push stays pending; after the restart both sites' scans arrive
    server.stop(kill=True)
    down = push(hist_a, server.url, "site-a", tok_a)
    assert down.returncode == 3 and "1 pending" in down.stderr
    server.start()
    for hist, site, tok in ((hist_a, "site-a", tok_a), (hist_b, "site-b", tok_b)):
        up = push(hist, server.url, site, tok)
        assert up.returncode == 0 and "1 scan(s) stored" in up.stderr, up.stderr

    # a repeated push (acknowledgements lost) stores nothing twice
    Path(str(hist_a) + ".pushed.sqlite3").unlink()
    again = push(hist_a, server.url, "site-a", tok_a)
    assert again.returncode == 0 and "0 scan(s) stored, 1 already there" in again.stderr

    proc = run_cli("inventory", "--db", server.db_url, "-f", "json")
    assert proc.returncode == 0, proc.stderr
    inventory = json.loads(proc.stdout)
    assert [s["site"] for s in inventory["sites"]] == ["site-a", "site-b"]
    for site, report in (("site-a", report_a), ("site-b", report_b)):
        rows = [d for d in inventory["devices"] if d["site"] == site]
        assert sorted((d["ip"], d["mac"]) for d in rows) == sorted(
            (d["ip"], d["mac"]) for d in report["devices"]
        )
        entry = next(s for s in inventory["sites"] if s["site"] == site)
        assert entry["scan_id"] == report["scan_id"]
        local = Counter(d["verdict"]["status"] for d in report["devices"])
        assert entry["counts"] == {k: local.get(k, 0) for k in entry["counts"]}
        assert sum(entry["counts"].values()) == len(report["devices"])
        assert all(d["device_key"] == f"mac:{d['mac']}" for d in rows)
    # the same address at both sites is two devices
    same_ip = [d for d in inventory["devices"] if d["ip"] == devices_a[0]["ip"]]
    assert sorted((d["site"], d["mac"]) for d in same_ip) == [
        ("site-a", devices_a[0]["mac"]),
        ("site-b", devices_b[0]["mac"]),
    ]
    assert sorted(r[0] for r in server_rows(server.db_url, "SELECT count(*) FROM scan GROUP BY site_id")) == [
        1,
        1,
    ]

    # the server's answer: a site's token sees its own site only; covered devices of site A
    covered = cli_inventory(server.url, tok_a, "--status", "covered", "-f", "json")
    assert {d["site"] for d in covered["devices"]} == {"site-a"}
    assert sorted(d["mac"] for d in covered["devices"]) == sorted(
        d["mac"] for d in report_a["devices"] if d["verdict"]["status"] == "covered"
    )


def cli_inventory(url: str, tok: str, *args: str) -> dict[str, Any]:
    proc = run_cli("inventory", "--server", url, *args, env={"NDAA_SERVER_TOKEN": tok})
    assert proc.returncode == 0, proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


def server_rows(db_url: str, sql: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(db_url) as conn:
        return conn.execute(sql).fetchall()
