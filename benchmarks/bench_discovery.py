"""One concurrent discovery round (arp, wsd, mdns, ssdp, sadp, dhip) on the 50-device lab.

    sudo .venv/bin/python benchmarks/bench_discovery.py [--runs 5] [--nmap]

Prints, per protocol, how many of the lab's responders answered and the round's wall time; with
--nmap also nmap's broadcast-wsdd-discover and broadcast-upnp-info on the same lab.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scanner.discovery.registry import select  # noqa: E402
from scanner.lab.manager import lab_down, lab_up  # noqa: E402
from scanner.lab.netns import run_in_netns  # noqa: E402
from scanner.lab.sim.runtime import profiles  # noqa: E402
from scanner.lab.spec import load_lab  # noqa: E402
from scanner.scan import ScanRequest, ScanState, run_probes  # noqa: E402
from scanner.targets import parse_targets  # noqa: E402

PROTOCOLS = ["arp", "wsd", "mdns", "ssdp", "sadp", "dhip"]
SERVICE_OF = {
    "wsd": ("wsd", "wsd-peer"),
    "mdns": ("mdns",),
    "ssdp": ("ssdp",),
    "sadp": ("sadp",),
    "dhip": ("dhip",),
}


def expected(spec) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {"arp": {d.ip for d in spec.devices}}
    for proto, services in SERVICE_OF.items():
        out[proto] = {
            d.ip
            for d in spec.devices
            if any(s in profiles()[d.profile].get("services", []) for s in services)
        }
    return out


def one_round(spec) -> tuple[float, dict[str, set[str]], dict[str, float]]:
    config = ScanRequest(
        targets=parse_targets([spec.subnet]),
        target_texts=[spec.subnet],
        probes=select(",".join(PROTOCOLS)),
        interface="eth0",
        timeout=3.0,
    )
    state = ScanState()
    t0 = time.perf_counter()
    asyncio.run(run_probes(config, state))
    wall = time.perf_counter() - t0
    found: dict[str, set[str]] = {p: set() for p in PROTOCOLS}
    for o in state.observations:
        if o.ip:
            found.setdefault(o.probe, set()).add(o.ip)
    return wall, found, {r.probe: r.duration for r in state.results}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--lab", default="office50")
    ap.add_argument("--nmap", action="store_true", help="also time nmap's broadcast scripts")
    args = ap.parse_args()
    spec = load_lab(args.lab)
    want = expected(spec)
    lab_up(spec, ROOT / "examples" / "labs" / f"{args.lab}.toml")
    walls: list[float] = []
    durations: dict[str, list[float]] = {p: [] for p in PROTOCOLS}
    worst: dict[str, int] = {p: len(want[p]) for p in PROTOCOLS}
    try:
        time.sleep(1.0)  # let the simulator's mDNS announcements settle
        for _ in range(args.runs):
            wall, found, dur = run_in_netns(spec.scanner_ns, one_round, spec)
            walls.append(wall)
            for p in PROTOCOLS:
                worst[p] = min(worst[p], len(found.get(p, set()) & want[p]))
                durations[p].append(dur.get(p, float("nan")))
        nmap_lines = []
        if args.nmap and shutil.which("nmap"):
            for script in ("broadcast-wsdd-discover", "broadcast-upnp-info"):
                t0 = time.perf_counter()
                proc = subprocess.run(
                    ["ip", "netns", "exec", spec.scanner_ns, "nmap", "-e", "eth0", "--script", script],
                    capture_output=True,
                    text=True,
                    timeout=120,
                    check=False,
                )
                dt = time.perf_counter() - t0
                hits = sum(1 for d in spec.devices if d.ip in proc.stdout)
                nmap_lines.append(f"  nmap {script:24} {dt:6.2f} s, {hits} lab devices named")
    finally:
        lab_down(spec.name)
    print(f"Discovery round on lab {args.lab} ({len(spec.devices)} devices), {args.runs} runs:")
    print(f"  wall time: median {statistics.median(walls):.2f} s, max {max(walls):.2f} s")
    for p in PROTOCOLS:
        print(
            f"  {p:5} responders found (worst run) {worst[p]:3} of {len(want[p]):3};"
            f" probe time median {statistics.median(durations[p]):.2f} s"
        )
    for line in nmap_lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
