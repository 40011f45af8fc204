"""The central server under load: SITES sites × DEVICES devices pushed concurrently, then the inventory.

    sudo .venv/bin/python benchmarks/bench_server.py [--sites 100] [--devices 1000] [--clients 100]

Starts a throwaway PostgreSQL cluster (Debian's binaries, Unix socket only, as the postgres user, in a
temp dir), `ndaa-scan server` on 127.0.0.1 (a child process, as in production), creates one token per
site, builds one bundle per site (realistic devices: verdict, two evidence rows, three observations;
serialised before the clock starts), and POSTs them all at once from CLIENTS threads. Prints ingest
throughput (devices stored per second, wall clock from the first request to the last answer) and the
inventory query times (covered devices of every site; the whole inventory), over the API and straight
from the database. Nothing listens beyond loopback.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scanner.identify.models import Evidence, Status, Verdict  # noqa: E402
from scanner.observations import Observation  # noqa: E402
from scanner.results import DeviceReport, ProbeSummary, ScanReport  # noqa: E402
from scanner.sites.bundle import make_bundle  # noqa: E402

STATUSES = [Status.COVERED, Status.LIKELY, Status.NOT_COVERED, Status.UNKNOWN, Status.UNKNOWN]


def as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def start_cluster() -> tuple[Path, Path, str]:
    bindir = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))[-1]).parent
    top = Path(tempfile.mkdtemp(prefix="ndaa-pg-bench-"))
    if os.geteuid() == 0:
        shutil.chown(top, "postgres", "postgres")
    data = top / "data"
    subprocess.run(as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]),
                   check=True, capture_output=True)  # fmt: skip
    options = f"-k {top} -c listen_addresses='' -c max_connections=200"
    subprocess.run(as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(top / "log"), "-w", "-o",
                                options, "start"]), check=True, capture_output=True)  # fmt: skip
    return bindir, top, f"host={top} user=postgres dbname=postgres"


def device(site: int, i: int, t0: datetime) -> DeviceReport:
    status = STATUSES[i % len(STATUSES)]
    ip, mac = (
        f"10.0.{i // 256}.{i % 256}",
        f"02:{site // 256:02x}:{site % 256:02x}:00:{i // 256:02x}:{i % 256:02x}",
    )
    vendor = {Status.COVERED: "Hikvision", Status.LIKELY: "Dahua"}.get(status)
    evidence = [
        Evidence(probe="sadp", signal="sadp.DeviceDescription", value=f"DS-2CD2143G2-I-{i}", matched="hikvision.toml:sadp-model", vendor=vendor, certainty=0.95),
        Evidence(probe="arp", signal="mac", value=mac, matched="oui:58:50:ed", vendor=vendor, certainty=0.6),
    ]  # fmt: skip
    observations = [
        Observation(signal="mac", value=mac, probe="arp", ip=ip, mac=mac, seen_at=t0),
        Observation(
            signal="sadp.DeviceDescription", value=f"DS-2CD2143G2-I-{i}", probe="sadp", ip=ip, seen_at=t0
        ),
        Observation(signal="http.server", value="App-webs/", probe="http", ip=ip, port=80, seen_at=t0),
    ]
    verdict = Verdict(status=status, confidence=0.9, vendor=vendor, covered_entity=vendor if status == Status.COVERED else None,
                      model=f"DS-2CD2143G2-I-{i}", serial=f"SN{site:04d}{i:06d}", firmware="V5.7.3", evidence=evidence)  # fmt: skip
    return DeviceReport(
        ip=ip, mac=mac, probes=["arp", "sadp", "http"], verdict=verdict, observations=observations
    )


def bundle_body(site: int, devices: int) -> bytes:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    report = ScanReport(
        scan_id=f"20260101-000000-{site:04x}", tool_version="0.1.0", started_at=t0, finished_at=t0,
        targets=["10.0.0.0/22"], interface="eth0", probes=[ProbeSummary(probe="arp", status="success", duration=3.0)],
        devices=[device(site, i, t0) for i in range(devices)],
    )  # fmt: skip
    return make_bundle(f"site-{site:03d}", report).model_dump_json().encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def request(url: str, token: str, body: bytes | None = None) -> tuple[int, bytes]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    req = urllib.request.Request(url, data=body, headers=headers, method="POST" if body else "GET")
    with opener.open(req, timeout=600) as r:
        return int(r.status), r.read()


def load() -> str:
    """The 1-minute load average: the machine is shared, every figure is printed beside it."""
    return f"load {os.getloadavg()[0]:.2f}"


def api_query(base: str, token: str, label: str, query: str, runs: int) -> None:
    """GET the inventory ``runs`` times and print the median wall time (the client's parse included, done as
    ``ndaa-scan inventory --server`` does it)."""
    from scanner.sites.inventory import parse_json

    times, n = [], 0
    for _ in range(runs):
        t = time.perf_counter()
        n = len(parse_json(request(base + "/api/v1/inventory" + query, token)[1])["devices"])
        times.append(time.perf_counter() - t)
    print(f"inventory ({label}) over the API: {n} devices, median {statistics.median(times):.3f} s "
          f"(min {min(times):.3f}, {runs} runs; {load()})")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=100)
    ap.add_argument("--devices", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=100, help="concurrent pushing agents")
    ap.add_argument("--pool", type=int, default=4, help="database connections per server process")
    ap.add_argument("--runs", type=int, default=3, help="inventory query repetitions")
    ap.add_argument("--workers", type=int, default=2, help="server processes")
    args = ap.parse_args()

    from scanner.sites import db

    bindir, top, admin = start_cluster()
    server = None
    try:
        with db.connect(admin) as conn:
            conn.autocommit = True
            conn.execute("CREATE DATABASE bench")
        url = admin.replace("dbname=postgres", "dbname=bench")
        with db.connect(url) as conn:
            db.migrate(conn)
            tokens = [db.create_token(conn, f"site-{s:03d}")[1] for s in range(args.sites)]
        t = time.perf_counter()
        bodies = [bundle_body(s, args.devices) for s in range(args.sites)]
        print(f"built {args.sites} bundles of {args.devices} devices in {time.perf_counter() - t:.1f} s, "
              f"{sum(map(len, bodies)) / 1e6:.0f} MB of JSON")  # fmt: skip
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-m", "scanner", "server", "--listen", f"127.0.0.1:{port}", "--pool", str(args.pool),
             "--workers", str(args.workers)],
            env={**os.environ, "PYTHONPATH": str(ROOT), "NDAA_SERVER_DB": url}, cwd=ROOT,
        )  # fmt: skip
        for _ in range(300):
            try:
                urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                    base + "/healthz", timeout=2
                )
                break
            except OSError:
                time.sleep(0.1)

        def push(s: int) -> int:
            return request(base + "/api/v1/bundles", tokens[s], bodies[s])[0]

        t = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            statuses = list(pool.map(push, range(args.sites)))
        ingest = time.perf_counter() - t
        assert statuses == [201] * args.sites, statuses
        with db.connect(url) as conn:
            stored = conn.execute("SELECT count(*) FROM device").fetchone()[0]  # type: ignore[index]
        assert stored == args.sites * args.devices, stored
        print(f"ingest: {stored} devices from {args.sites} concurrent pushes ({args.clients} clients) in "
              f"{ingest:.1f} s = {stored / ingest:,.0f} devices/s ({load()})")  # fmt: skip
        with ThreadPoolExecutor(args.clients) as pool:
            again = list(pool.map(push, range(args.sites)))
        assert again == [200] * args.sites, "a repeated push must store nothing"

        with db.connect(url) as conn:
            reader = db.create_token(conn, None)[1]
        api_query(base, reader, "covered, all sites, right after the ingest", "?status=covered", args.runs)
        with db.connect(url) as conn:
            conn.autocommit = True
            t = time.perf_counter()
            conn.execute("VACUUM ANALYZE")
            print(
                f"VACUUM ANALYZE (what autovacuum does after a large ingest): {time.perf_counter() - t:.1f} s"
            )
        api_query(base, reader, "covered, all sites", "?status=covered", args.runs)
        with db.connect(url) as conn:
            times, n = [], 0
            for _ in range(args.runs):
                t = time.perf_counter()
                n = len(db.inventory_json(conn, statuses=["covered"]))
                times.append(time.perf_counter() - t)
            print(f"inventory (covered, all sites) query in the database: {n / 1e6:.1f} MB of JSON, median "
                  f"{statistics.median(times):.3f} s (min {min(times):.3f}, {args.runs} runs; {load()})")  # fmt: skip
        api_query(base, reader, "everything, all sites", "", 1)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        subprocess.run(as_postgres([str(bindir / "pg_ctl"), "-D", str(top / "data"), "-m", "fast", "-w", "stop"]),
                       capture_output=True, check=False)  # fmt: skip
        shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    main()
