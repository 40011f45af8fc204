"""ARP sweep of a full /24 lab: ndaa-scan vs arp-scan vs nmap, whole process, same lab, one run.

    sudo .venv/bin/python benchmarks/bench_arp.py [--runs 7]

Every tool runs inside the lab's scanner namespace through `ip netns exec` (the same start-up cost for
each) and must find every device on every run, or the run is reported as a failure.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scanner.lab.manager import lab_down, lab_up  # noqa: E402
from scanner.lab.spec import load_lab  # noqa: E402

MAC_RE = re.compile(r"(?:[0-9a-f]{2}:){5}[0-9a-f]{2}", re.I)


def timed(cmd: list[str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    return time.perf_counter() - t0, proc.stdout + proc.stderr


def count_ndaa(out: str) -> int:
    try:
        return len(json.loads(out)["devices"])
    except (ValueError, KeyError):
        return -1


def count_macs(out: str, exclude: str) -> int:
    return len({m.lower() for m in MAC_RE.findall(out)} - {exclude})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--lab", default="office254")
    ap.add_argument(
        "--target", default="10.79.0.0/24", help="what every tool sweeps (default: office254's devices)"
    )
    args = ap.parse_args()
    spec = load_lab(args.lab)
    n = sum(1 for d in spec.devices if ipaddress.IPv4Address(d.ip) in ipaddress.IPv4Network(args.target))
    ns = ["ip", "netns", "exec", spec.scanner_ns]
    ndaa = str(Path(sys.executable).with_name("ndaa-scan"))
    from scanner.lab.manager import SCANNER_MAC

    tools = {
        "ndaa-scan": (
            ns
            + [
                ndaa,
                "scan",
                "--probes",
                "arp",
                "--no-history",
                "-q",
                "-f",
                "json",
                "-i",
                "eth0",
                args.target,
            ],
            count_ndaa,
        ),
        "arp-scan": (ns + ["arp-scan", "-I", "eth0", args.target], lambda o: count_macs(o, SCANNER_MAC)),
        "nmap -sn -PR": (
            ns + ["nmap", "-n", "-sn", "-PR", args.target],
            lambda o: count_macs(o, SCANNER_MAC),
        ),
    }
    lab_up(spec, ROOT / "examples" / "labs" / f"{args.lab}.toml")
    results: dict[str, list[float]] = {}
    misses: dict[str, int] = {}
    try:
        for name, (cmd, counter) in tools.items():
            if shutil.which(cmd[len(ns)]) is None and not Path(cmd[len(ns)]).exists():
                print(f"{name}: not installed (sh scripts/bootstrap.sh --bench)")
                continue
            times = []
            for _ in range(args.runs):
                dt, out = timed(cmd)
                found = counter(out)
                if found != n:
                    misses[name] = misses.get(name, 0) + 1
                    print(f"{name}: found {found} of {n} in one run")
                times.append(dt)
            results[name] = times
    finally:
        lab_down(spec.name)
    help_times = [timed([ndaa, "--help"])[0] for _ in range(args.runs)]
    print(f"\nARP sweep of {args.target}, {n} live devices, {args.runs} runs each (median, whole process):")
    base = statistics.median(results["ndaa-scan"]) if "ndaa-scan" in results else None
    for name, times in results.items():
        med = statistics.median(times)
        ratio = f"  ndaa-scan/{name} = {base / med:.2f}" if base and name != "ndaa-scan" else ""
        print(
            f"  {name:14} {med:6.3f} s  (min {min(times):.3f}, max {max(times):.3f}; "
            f"runs missing devices: {misses.get(name, 0)}){ratio}"
        )
    print(f"  ndaa-scan --help  {statistics.median(help_times):6.3f} s median")
    return 0


if __name__ == "__main__":
    sys.exit(main())
