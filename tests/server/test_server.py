"""The central server on a real PostgreSQL: tokens, pushes from a real history database, idempotence,
downtime, the inventory per site (no namespaces: reports are built in the test, pushed over loopback)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from clirun import run_cli
from report_fixtures import hikvision_covered, sample_report

from scanner.history.store import HistoryStore
from scanner.results import ScanReport


def store_scan(db: Path, report: ScanReport) -> str:
    """Store ``report`` in the history ``db`` as a finished scan; its id."""
    with HistoryStore(db) as store:
        scan_id = store.start_scan(
            report.targets, report.interface, report.tool_version, ["arp"], started_at=report.started_at
        )
        store.finish_scan(scan_id, report)
    return scan_id


def token(pg_url: str, site: str, *extra: str) -> str:
    proc = run_cli("server", "token", "create", site, *extra, env={"NDAA_SERVER_DB": pg_url})
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.strip()
    assert out.startswith("ndaa_") and len(out) > 40
    return out


def push(db: Path, url: str, site: str, tok: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "push", "--db", str(db), "--server", url, "--site", site, "--backoff", "0.05", *extra,
        env={"NDAA_PUSH_TOKEN": tok},
    )  # fmt: skip


def inventory(url: str, tok: str, *args: str) -> subprocess.CompletedProcess[str]:
    proc = run_cli("inventory", "--server", url, *args, env={"NDAA_SERVER_TOKEN": tok})
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def pg_rows(pg_url: str, sql: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(pg_url) as conn:
        return conn.execute(sql).fetchall()


def test_schema_types_and_version(pg_url: str) -> None:
    from scanner.sites import db

    with db.connect(pg_url) as conn:
        assert db.migrate(conn) == db.SCHEMA_VERSION
        assert db.migrate(conn) == db.SCHEMA_VERSION  # a second start changes nothing
    versions = pg_rows(pg_url, "SELECT version FROM schema_version ORDER BY version")
    assert versions == [(v,) for v in range(1, db.SCHEMA_VERSION + 1)]  # each step applied once
    types = dict(
        pg_rows(
            pg_url,
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'device'",
        )
    )
    assert (types["ip"], types["mac"], types["doc"], types["observations"]) == (
        "inet",
        "macaddr",
        "json",
        "jsonb",
    )
    indexes = {r[0] for r in pg_rows(pg_url, "SELECT indexname FROM pg_indexes WHERE tablename = 'device'")}
    assert {"device_scan_status", "device_identity"} <= indexes


def test_push_is_idempotent_and_inventory_counts(server: Any, tmp_path: Path) -> None:
    tok = token(server.db_url, "hq")
    history = tmp_path / "hq.sqlite3"
    report = sample_report().model_copy(update={"complete": True})
    store_scan(history, report)
    first = push(history, server.url, "hq", tok)
    assert first.returncode == 0, first.stderr
    assert "1 scan(s) stored, 0 already there" in first.stderr
    again = push(history, server.url, "hq", tok)  # acknowledged: nothing to send
    assert again.returncode == 0 and "0 scan(s) stored, 0 already there, 0 pending" in again.stderr
    # the acknowledgement lost (a crash between the server's answer and the local write): sent again,
    # stored once
    Path(str(history) + ".pushed.sqlite3").unlink()
    lost = push(history, server.url, "hq", tok)
    assert lost.returncode == 0 and "0 scan(s) stored, 1 already there" in lost.stderr, lost.stderr
    assert pg_rows(server.db_url, "SELECT count(*) FROM scan") == [(1,)]
    assert pg_rows(server.db_url, "SELECT count(*) FROM device WHERE NOT heard") == [(len(report.devices),)]
    doc = json.loads(inventory(server.url, tok, "-f", "json").stdout)
    assert [s["site"] for s in doc["sites"]] == ["hq"]
    assert doc["sites"][0]["counts"] == report.counts()
    assert len(doc["devices"]) == len(report.devices)
    assert {d["site"] for d in doc["devices"]} == {"hq"}
    assert sorted(d["ip"] for d in doc["devices"]) == sorted(d.ip for d in report.devices)
    assert all("observations" not in d for d in doc["devices"])  # raw observations only when asked
    full = json.loads(inventory(server.url, tok, "-f", "json", "--observations").stdout)
    by_ip = {d.ip: d for d in report.devices}
    for row in full["devices"]:
        local = by_ip[row["ip"]]
        assert row["observations"] == [json.loads(o.model_dump_json()) for o in local.observations]
        assert row["verdict"] == json.loads(local.verdict.model_dump_json())
    assert tok not in (first.stderr + first.stdout)


def test_wrong_site_and_revoked_tokens_are_refused(server: Any, tmp_path: Path) -> None:
    tok_a = token(server.db_url, "site-a")
    token(server.db_url, "site-b")
    history = tmp_path / "b.sqlite3"
    store_scan(history, sample_report())
    wrong = push(history, server.url, "site-b", tok_a)
    assert wrong.returncode == 3, wrong.stderr
    assert "refused" in wrong.stderr and "'site-a', not 'site-b'" in wrong.stderr
    assert tok_a not in wrong.stderr
    assert pg_rows(server.db_url, "SELECT count(*) FROM scan") == [(0,)]
    # the raw API: 403 for the other site, 401 without or with an unknown token
    body = json.dumps({"site": "site-b", "bundle_id": "0" * 64, "report": {"tool_version": "x"}}).encode()
    assert _post(server.url, body, tok_a) == 403
    assert _post(server.url, body, None) == 401
    assert _post(server.url, body, "ndaa_" + "x" * 43) == 401
    # revoked: refused from the next request on
    history_a = tmp_path / "a.sqlite3"
    store_scan(history_a, sample_report())
    revoke = run_cli("server", "token", "revoke", "--site", "site-a", env={"NDAA_SERVER_DB": server.db_url})
    assert revoke.returncode == 0 and "1 token(s) revoked" in revoke.stderr
    refused = push(history_a, server.url, "site-a", tok_a)
    assert refused.returncode == 3 and "unknown or revoked token" in refused.stderr
    # a site token reads only its own site
    tok_b = token(server.db_url, "site-b")
    assert inventory(server.url, tok_b, "--site", "site-a").returncode == 3


def test_push_during_downtime_arrives_later(server: Any, tmp_path: Path) -> None:
    tok = token(server.db_url, "branch")
    history = tmp_path / "h.sqlite3"
    first_id = store_scan(history, sample_report())
    server.stop(kill=True)
    down = push(history, server.url, "branch", tok, "--attempts", "2")
    assert down.returncode == 3
    assert "1 pending" in down.stderr and "retry 1/1" in down.stderr
    later = sample_report().model_copy(
        update={
            "started_at": sample_report().started_at + timedelta(hours=1),
            "devices": [hikvision_covered()],
        }
    )
    second_id = store_scan(history, later)
    server.start()
    up = push(history, server.url, "branch", tok)
    assert up.returncode == 0, up.stderr
    assert "2 scan(s) stored" in up.stderr
    stored = {r[0] for r in pg_rows(server.db_url, "SELECT scan_id FROM scan")}
    assert stored == {first_id, second_id}
    # the inventory is the latest scan: one device, seen first in the earlier scan (same MAC)
    doc = json.loads(inventory(server.url, tok, "-f", "json").stdout)
    assert [d["mac"] for d in doc["devices"]] == [hikvision_covered().mac]
    assert doc["devices"][0]["device_key"] == f"mac:{hikvision_covered().mac}"
    assert doc["devices"][0]["first_seen"].startswith(sample_report().started_at.strftime("%Y-%m-%d"))
    # history and diff of the site against the server: the same as against the local history
    env = {"NDAA_SERVER_TOKEN": tok}
    listed = run_cli("history", "--server", server.url, "--site", "branch", env=env)
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[0] for line in listed.stdout.splitlines()] == [second_id, first_id]
    remote = run_cli("diff", "--server", server.url, "--site", "branch", "--json", env=env)
    local = run_cli("diff", "--db", str(history), "--json")
    assert remote.returncode == local.returncode == 1, remote.stderr
    assert json.loads(remote.stdout) == json.loads(local.stdout)
    other = run_cli("history", "--server", server.url, "--site", "elsewhere", env=env)
    assert other.returncode == 3 and "403" in other.stderr  # a site token reads its own site only


def test_inventory_formats_filters_and_db(server: Any, tmp_path: Path) -> None:
    proc = run_cli("server", "token", "create", "--reader", env={"NDAA_SERVER_DB": server.db_url})
    assert proc.returncode == 0, proc.stderr
    reader = proc.stdout.strip()
    for site in ("north", "south"):
        history = tmp_path / f"{site}.sqlite3"
        store_scan(history, sample_report())
        assert push(history, server.url, site, token(server.db_url, site)).returncode == 0
    covered = json.loads(inventory(server.url, reader, "--status", "covered", "-f", "json").stdout)
    n_covered = sample_report().counts()["covered"]
    assert len(covered["devices"]) == 2 * n_covered
    assert {d["verdict"]["status"] for d in covered["devices"]} == {"covered"}
    rows = list(csv.DictReader(io.StringIO(inventory(server.url, reader, "-f", "csv").stdout)))
    assert {r["site"] for r in rows} == {"north", "south"}
    assert len(rows) == 2 * len(sample_report().devices)
    table = inventory(server.url, reader, "--site", "south").stdout
    assert "== site south" in table and "== site north" not in table
    direct = run_cli("inventory", "--db", server.db_url, "-f", "json")
    assert direct.returncode == 0, direct.stderr
    doc = json.loads(direct.stdout)
    assert [s["site"] for s in doc["sites"]] == ["north", "south"]
    assert len(doc["devices"]) == 2 * len(sample_report().devices)


def test_hostile_text_and_nul_are_stored(server: Any, tmp_path: Path) -> None:
    """A device's NUL (refused by PostgreSQL text and jsonb) must not lose the scan."""
    tok = token(server.db_url, "lab")
    report = sample_report()
    nasty = report.devices[0].model_copy(deep=True)
    nasty.verdict.model = "cam\x00era\\u0000"
    nasty.hostnames = ["a\x00b"]
    history = tmp_path / "h.sqlite3"
    store_scan(history, report.model_copy(update={"devices": [nasty, *report.devices[1:]]}))
    proc = push(history, server.url, "lab", tok)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(inventory(server.url, tok, "-f", "json").stdout)
    models = {d["verdict"]["model"] for d in doc["devices"]}
    assert "cam\ufffdera\\u0000" in models


def test_help_does_not_import_the_server_stack() -> None:
    from paths import REPO

    code = "import sys, scanner.cli; print(sorted(m for m in ('starlette', 'uvicorn', 'psycopg') if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=True,
    ).stdout
    assert out.strip() == "[]"


def _post(url: str, body: bytes, tok: str | None) -> int:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {tok}"} if tok else {})}
    req = urllib.request.Request(url + "/api/v1/bundles", data=body, method="POST", headers=headers)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=30) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.parametrize("bad", [b"not json", b'{"site": "x"}'])
def test_malformed_bundle_is_400(server: Any, bad: bytes) -> None:
    tok = token(server.db_url, "x")
    assert _post(server.url, bad, tok) == 400


def test_scan_push_sends_the_new_scan_and_the_pending_ones(server: Any, tmp_path: Path) -> None:
    """`scan --push` after a real (loopback, so empty) scan: the scan and an earlier pending one arrive."""
    tok = token(server.db_url, "edge")
    history = tmp_path / "h.sqlite3"
    earlier = store_scan(history, sample_report())
    proc = run_cli(
        "scan", "127.0.0.1", "-p", "http", "--db", str(history), "-q", "-f", "json",
        "--push", server.url, "--site", "edge",
        env={"NDAA_PUSH_TOKEN": tok},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    scan_id = json.loads(proc.stdout)["scan_id"]
    assert "2 scan(s) stored" in proc.stderr, proc.stderr
    assert tok not in proc.stderr
    assert {r[0] for r in pg_rows(server.db_url, "SELECT scan_id FROM scan")} == {earlier, scan_id}
    # usage errors come before any packet: no token, no site, no history
    for args, env, needle in (
        (("--site", "edge"), {"NDAA_PUSH_TOKEN": ""}, "NDAA_PUSH_TOKEN"),
        ((), {"NDAA_PUSH_TOKEN": tok}, "--push needs --site"),
        (("--site", "edge", "--no-history"), {"NDAA_PUSH_TOKEN": tok}, "drop --no-history"),
    ):
        bad = run_cli("scan", "127.0.0.1", "-p", "http", "--push", server.url, *args, env=env)
        assert bad.returncode == 2 and needle in bad.stderr, bad.stderr


def test_server_killed_mid_push_loses_and_duplicates_nothing(server: Any, tmp_path: Path) -> None:
    """SIGKILL the server while a push of many scans is under way, start it again: once the push (or the
    next one) is through, every scan is there exactly once, whatever moment the kill hit."""
    import time

    from clirun import scanner_command
    from paths import REPO

    tok = token(server.db_url, "busy")
    history = tmp_path / "h.sqlite3"
    base = sample_report()
    n = 30
    for i in range(n):
        store_scan(history, base.model_copy(update={"started_at": base.started_at + timedelta(minutes=i)}))
    env = {**os.environ, "PYTHONPATH": str(REPO), "NDAA_PUSH_TOKEN": tok}
    args = ("push", "--db", str(history), "--server", server.url, "--site", "busy")
    proc = subprocess.Popen(
        scanner_command(*args, "--attempts", "20", "--backoff", "0.2"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while pg_rows(server.db_url, "SELECT count(*) FROM scan")[0][0] < 1:
        assert time.monotonic() < deadline and proc.poll() is None, "the push never began"
        time.sleep(0.02)
    server.stop(kill=True)
    server.start()
    _out, err = proc.communicate(timeout=240)
    assert "Traceback" not in err, err
    if proc.returncode != 0:  # the retries ran out before the restart: the next push finishes the job
        again = push(history, server.url, "busy", tok)
        assert again.returncode == 0, again.stderr
    rows = pg_rows(server.db_url, "SELECT count(*), count(DISTINCT bundle_id), sum(devices) FROM scan")
    assert rows == [(n, n, n * len(base.devices))]
    assert pg_rows(server.db_url, "SELECT count(*) FROM device") == [(n * len(base.devices),)]
    final = push(history, server.url, "busy", tok)
    assert final.returncode == 0 and "0 scan(s) stored, 0 already there, 0 pending" in final.stderr


def test_air_gapped_export_and_import(server: Any, tmp_path: Path) -> None:
    """export-bundle at the site, server import at the centre: stored once, the same bundle id a push
    would send (so a later push finds it there), and a file that is not a bundle is refused."""
    history = tmp_path / "h.sqlite3"
    scan_id = store_scan(history, sample_report())
    bundle = tmp_path / "scan.bundle.json"
    out = run_cli("export-bundle", "latest", "--db", str(history), "--site", "island", "-o", str(bundle))
    assert out.returncode == 0, out.stderr
    env = {"NDAA_SERVER_DB": server.db_url}
    first = run_cli("server", "import", str(bundle), env=env)
    assert first.returncode == 0 and f"scan {scan_id}: stored" in first.stderr, first.stderr
    again = run_cli("server", "import", str(bundle), env=env)
    assert again.returncode == 0 and "already there" in again.stderr
    assert pg_rows(server.db_url, "SELECT count(*) FROM scan") == [(1,)]
    later = push(history, server.url, "island", token(server.db_url, "island"))
    assert later.returncode == 0 and "0 scan(s) stored, 1 already there" in later.stderr, later.stderr
    junk = tmp_path / "junk.json"
    junk.write_text('{"site": "island"}')
    bad = run_cli("server", "import", str(junk), env=env)
    assert bad.returncode == 2 and "not a scan bundle" in bad.stderr


def test_signed_bundles(server: Any, tmp_path: Path) -> None:
    """A site with a key: its signed pushes are stored, unsigned or wrongly signed ones refused (403),
    and an exported bundle must be signed too; the signature does not change the bundle id."""
    key = tmp_path / "site.key"
    made = run_cli("keygen", str(key))
    assert made.returncode == 0, made.stderr
    assert key.stat().st_mode & 0o777 == 0o600
    assert run_cli("keygen", str(key)).returncode == 2  # a key is never overwritten
    env = {"NDAA_SERVER_DB": server.db_url}
    set_key = run_cli("server", "site-key", "signed", str(key) + ".pub", env=env)
    assert set_key.returncode == 0, set_key.stderr
    tok = token(server.db_url, "signed")
    history = tmp_path / "h.sqlite3"
    store_scan(history, sample_report())
    unsigned = push(history, server.url, "signed", tok)
    assert unsigned.returncode == 3 and "signature missing or invalid" in unsigned.stderr
    other = tmp_path / "other.key"
    assert run_cli("keygen", str(other)).returncode == 0
    forged = push(history, server.url, "signed", tok, "--sign-key", str(other))
    assert forged.returncode == 3 and "signature missing or invalid" in forged.stderr
    assert pg_rows(server.db_url, "SELECT count(*) FROM scan") == [(0,)]
    good = push(history, server.url, "signed", tok, "--sign-key", str(key))
    assert good.returncode == 0 and "1 scan(s) stored" in good.stderr, good.stderr
    assert pg_rows(server.db_url, "SELECT signed FROM scan") == [(True,)]
    # the raw API: a valid signature over other content is refused too
    from scanner.sites.bundle import load_private_key, make_bundle

    report = sample_report()
    bundle = make_bundle("signed", report, load_private_key(str(key)))
    tampered = bundle.model_copy(update={"report": report.model_copy(update={"devices": report.devices[:1]})})
    assert _post(server.url, tampered.model_dump_json().encode(), tok) == 403
    assert bundle.bundle_id == make_bundle("signed", report).bundle_id
    # air-gapped: an unsigned export of a signing site is refused at import
    out = tmp_path / "b.json"
    assert (
        run_cli(
            "export-bundle", "latest", "--db", str(history), "--site", "signed", "-o", str(out)
        ).returncode
        == 0
    )
    refused = run_cli("server", "import", str(out), env=env)
    assert refused.returncode == 2 and "signature missing or invalid" in refused.stderr
    signed_out = tmp_path / "signed.json"
    args = ("--db", str(history), "--site", "signed", "-o", str(signed_out), "--sign-key", str(key))
    assert run_cli("export-bundle", "latest", *args).returncode == 0
    imported = run_cli("server", "import", str(signed_out), env=env)
    assert imported.returncode == 0 and "already there" in imported.stderr, imported.stderr


def self_signed(tmp_path: Path) -> tuple[str, str]:
    """A certificate for 127.0.0.1 (IP SAN) and its key, made with cryptography."""
    import ipaddress
    from datetime import UTC, datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ndaa-test-server")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(cert_path), str(key_path)


def test_tls_push_verifies_the_server(server_factory: Any, tmp_path: Path) -> None:
    """--tls-cert/--tls-key: the agent pushes over HTTPS and checks the certificate (a private CA through
    SSL_CERT_FILE); an unverifiable certificate leaves the scan pending, never sent in the clear."""
    cert, key = self_signed(tmp_path)
    srv = server_factory(tls=(cert, key))
    assert srv.url.startswith("https://")
    tok = token(srv.db_url, "tls")
    history = tmp_path / "h.sqlite3"
    store_scan(history, sample_report())
    untrusted = push(history, srv.url, "tls", tok, "--attempts", "1")
    assert untrusted.returncode == 3 and "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr, untrusted.stderr
    trusted = run_cli(
        "push", "--db", str(history), "--server", srv.url, "--site", "tls",
        env={"NDAA_PUSH_TOKEN": tok, "SSL_CERT_FILE": cert},
    )  # fmt: skip
    assert trusted.returncode == 0 and "1 scan(s) stored" in trusted.stderr, trusted.stderr
