"""JSON Lines reading (scanner/ingest/jsonl.py): lines validated by pydantic (``ObservationLine`` through a
TypeAdapter's ``validate_json``) into Observations, against the floor of ``json.loads`` alone.

    python benchmarks/bench_jsonl_validation.py [LINES]   (default 200,000)
Prints seconds (best of three) and lines per second; the file is realistic: 2,000 hosts, IP and MAC,
common signals, ports, timestamps, numbers as values and 1 % malformed lines. When the reader moved from
a hand-written validator to pydantic (2026-12), 200,000 lines took 1.97-2.28 s by hand, 1.91-2.24 s with
pydantic (addresses checked by the reader's cache) and 2.90 s with pydantic's IPvAnyAddress.
"""

from __future__ import annotations

import io
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

SIGNALS = ["http.server", "http.title", "mac", "sadp.DeviceDescription", "upnp.manufacturer", "http.status"]


def generate(lines: int) -> bytes:
    out = []
    for i in range(lines):
        host = i % 2000
        ip, mac = (
            f"10.{host // 256}.{host % 256}.{i % 7 + 1}",
            f"58:50:ed:00:{host // 256:02x}:{host % 256:02x}",
        )
        signal = SIGNALS[i % len(SIGNALS)]
        record: dict[str, object] = {"ip": ip, "mac": mac, "signal": signal, "probe": "http", "port": 80}
        record["value"] = (
            mac if signal == "mac" else (401 if signal == "http.status" else f"App-webs/{i % 50}")
        )
        record["seen_at"] = f"2026-01-31T12:{i // 60 % 60:02d}:{i % 60:02d}Z"
        if i % 100 == 99:
            record["port"] = 70000  # malformed: reported and skipped
        out.append(json.dumps(record))
    return ("\n".join(out) + "\n").encode()


def best_of_three(read: Callable[[bytes], int], data: bytes) -> tuple[float, int]:
    best, count = float("inf"), 0
    for _ in range(3):
        start = time.perf_counter()
        count = read(data)
        best = min(best, time.perf_counter() - start)
    return best, count


def main() -> None:
    from scanner.ingest.jsonl import read_jsonl

    lines = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    data = generate(lines)
    print(f"{lines} lines, {len(data) / 1e6:.1f} MB")
    readers: dict[str, Callable[[bytes], int]] = {
        "json.loads only (floor)": lambda d: sum(1 for line in io.BytesIO(d) if json.loads(line)),
        "read_jsonl (pydantic)": lambda d: sum(1 for _ in read_jsonl(io.BytesIO(d), lambda n, m: None)),
    }
    for name, read in readers.items():
        seconds, count = best_of_three(read, data)
        print(f"{name:<24} {seconds:6.2f} s  {lines / seconds:9,.0f} lines/s  ({count} read)")


if __name__ == "__main__":
    main()
