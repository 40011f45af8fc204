"""In-process hot paths, timed here rather than in unit tests (a timed unit test fails on a busy CI core
and proves nothing on a fast one):

- fingerprint matching: uncached unique WWW-Authenticate values per second (target >= 50,000/s, one core);
- identify(): microseconds per 20-observation device (target < 400 us);
- every report format: seconds to render 1,000 devices, best of three (target < 1 s);
- the history store: seconds to write 10,000 observations one at a time (target < 1 s).

    python benchmarks/bench_hot_paths.py
Prints one line per measurement with its target and OK/SLOW; exits 1 if any is slow.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def matching_rate() -> float:
    from scanner.identify.fingerprints import load_database

    db = load_database()
    values = [
        f'Digest qop="auth", realm="IP Camera(C{i % 9000 + 1000})", nonce="{i:032x}", stale="FALSE"'
        for i in range(20_000)
    ]
    start = time.perf_counter()
    for v in values:
        db.match("http.www_authenticate", v)
    return len(values) / (time.perf_counter() - start)


def identify_us_per_device() -> float:
    from scanner.identify.verdict import identify
    from scanner.observations import Device, Observation

    def device(i: int) -> Device:
        mac = f"58:50:ed:00:{i >> 8:02x}:{i & 255:02x}"
        rows = [("sadp", f"sadp.Field{k}", f"value {k}") for k in range(12)] + [
            ("sadp", "sadp.DeviceDescription", "DS-2CD2385G1-I"),
            ("sadp", "sadp.DeviceSN", f"DS-2CD2385G1-I20200414AAWRE{i:08d}"),
            ("http", "http.server", "App-webs/"),
            (
                "http",
                "http.www_authenticate",
                f'Digest qop="auth", realm="IP Camera(C2183)", nonce="{i:032x}"',
            ),
            ("mdns", "mdns.service", "_CGI._tcp.local."),
            ("http", "http.status", "401"),
            ("wsd", "onvif.manufacturer", "HIKVISION"),
            ("wsd", "onvif.model", "DS-2CD2385G1-I"),
        ]
        obs = [
            Observation(probe=p, signal=s, value=v, ip=f"10.0.{i >> 8}.{i & 255}", mac=mac)
            for p, s, v in rows
        ]
        return Device(ip=obs[0].ip, mac=mac, observations=obs)

    devices = [device(i) for i in range(2000)]
    identify(devices[0])
    start = time.perf_counter()
    for d in devices:
        identify(d)
    return (time.perf_counter() - start) / len(devices) * 1e6


def report_seconds() -> dict[str, float]:
    from report_fixtures import large_report

    from scanner.report import FORMATS, render

    report = large_report(1000)
    out = {}
    for fmt in FORMATS:
        render(report, fmt)
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            render(report, fmt)
            best = min(best, time.perf_counter() - start)
        out[fmt] = best
    return out


def history_seconds() -> float:
    import tempfile
    from pathlib import Path

    from report_fixtures import banner_batch

    from scanner.history.store import HistoryStore

    with tempfile.TemporaryDirectory() as tmp:
        store = HistoryStore(Path(tmp) / "history.sqlite3")
        scan_id = store.start_scan(["10.0.0.0/16"], None, "0.1.0", ["http"])
        batch = banner_batch(10_000)
        start = time.perf_counter()
        for obs in batch:
            store.add_observation(scan_id, obs)
        return time.perf_counter() - start


def main() -> int:
    slow = 0

    def line(name: str, value: float, unit: str, ok: bool, target: str) -> None:
        nonlocal slow
        slow += not ok
        print(f"{name:<40} {value:>12,.3f} {unit:<12} target {target:<10} {'OK' if ok else 'SLOW'}")

    rate = matching_rate()
    line("fingerprint matching (uncached)", rate, "matches/s", rate >= 50_000, ">= 50,000")
    us = identify_us_per_device()
    line("identify(), 20-observation device", us, "us/device", us < 400, "< 400")
    for fmt, seconds in report_seconds().items():
        line(f"render {fmt}, 1,000 devices", seconds, "s", seconds < 1.0, "< 1 s")
    seconds = history_seconds()
    line("history: 10,000 observations stored", seconds, "s", seconds < 1.0, "< 1 s")
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
