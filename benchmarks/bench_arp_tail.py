"""ARP sweep of office254's /24 in one process: when the last reply came and how long the sweep went on after it.

    sudo .venv/bin/python benchmarks/bench_arp_tail.py [--runs 7] [--tree DIR]

``--tree`` measures another checkout's scanner (e.g. ``git worktree add /tmp/before REV``) in the same lab.

Whole-process figures (bench_arp.py) swing by a second on a loaded machine; the time a sweep spends after
its last reply does not, and it is what the engine's settle adds when every target has answered. Every
sweep must find every device.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def sweeps(runs: int, target: str) -> list[tuple[float, float, int]]:
    """(sweep seconds, seconds to the last reply, replies) per sweep, run inside the scanner namespace."""
    from scanner.discovery import base
    from scanner.discovery.arp import ArpProbe

    stamps: list[float] = []
    add = base.Collector.add

    def stamped(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        stamps.append(time.perf_counter())
        return add(self, *args, **kwargs)

    base.Collector.add = stamped  # type: ignore[method-assign]

    async def one() -> tuple[float, float, int]:
        stamps.clear()
        hosts = list(ipaddress.IPv4Network(target).hosts())
        ctx = base.ProbeContext(targets=hosts, interface="eth0", timeout=3.0)
        t0 = time.perf_counter()
        result = await ArpProbe().run(ctx)
        return time.perf_counter() - t0, (stamps[-1] if stamps else t0) - t0, len(result.observations)

    try:
        return [asyncio.run(one()) for _ in range(runs)]
    finally:
        base.Collector.add = add  # type: ignore[method-assign]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--tree", type=Path, default=ROOT, help="the checkout whose scanner to measure")
    args = ap.parse_args()
    sys.path.insert(0, str(args.tree.resolve()))
    from scanner.lab.manager import lab_down, lab_up
    from scanner.lab.netns import run_in_netns
    from scanner.lab.spec import load_lab

    spec = load_lab("office254")
    lab_up(spec, args.tree / "examples" / "labs" / "office254.toml")
    try:
        rows = run_in_netns(spec.scanner_ns, sweeps, args.runs, "10.79.0.0/24")
    finally:
        lab_down(spec.name)
    total = [r[0] for r in rows]
    tail = [r[0] - r[1] for r in rows]

    def ms(values: list[float]) -> str:
        low, mid, high = (1000 * v for v in (min(values), statistics.median(values), max(values)))
        return f"{mid:.1f} ms (min {low:.1f}, max {high:.1f})"

    replies = sorted({r[2] for r in rows})
    print(f"ARP sweep of 10.79.0.0/24 in one process ({args.tree}), {args.runs} sweeps, median:")
    print(f"  sweep {ms(total)}; after the last reply {ms(tail)}; replies per sweep {replies} of 254")
    return 0


if __name__ == "__main__":
    sys.exit(main())
