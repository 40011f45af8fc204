"""A routed /16 with 64 live camera-shaped hosts scattered across it: the liveness sweep (and, when the
scan uses it, the whole scan) beside `nmap -sn -T4`, whole process, from one hop behind a router.

    sudo .venv/bin/python benchmarks/bench_routed.py [--runs 3] [--keep-kernel-limits]

The lab's scanner namespace is the router (scanner/lab/routed.py); every tool runs in the client
namespace behind it through `ip netns exec`. The router is a Linux namespace, and the kernel's
neighbour table is global to the host with a default hard limit of 1,024 entries (gc_thresh3): a /16
sweep needs the router to resolve 65,534 addresses, each holding an entry ~3 s. Unless
--keep-kernel-limits is given, the benchmark raises the host's limits for its run (no packet is sent by
this; the old values are restored at the end), modelling a router sized for the network it routes.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scanner.lab.manager import lab_down, lab_up  # noqa: E402
from scanner.lab.routed import add_routed_client, remove_routed_client  # noqa: E402
from scanner.lab.spec import parse_lab, render_lab  # noqa: E402

SUBNET = "10.1.0.0/16"
PROFILES = ["hikvision-ipc", "dahua-ipc", "axis-ipc", "hikvision-nvr", "hanwha-ipc", "uniview-ipc"]
NEIGH = Path("/proc/sys/net/ipv4/neigh/default")
RAISED = {"gc_thresh1": 32768, "gc_thresh2": 65536, "gc_thresh3": 131072}
UP_RE = re.compile(r"Host is up|Nmap scan report for (\S+)")

PROBE = """
import asyncio, json, resource, sys, time
from scanner.discovery.base import ProbeContext
from scanner.discovery.liveness import LivenessProbe, sweep_budget
from scanner.targets import parse_targets
targets = parse_targets([sys.argv[1]], 1 << 17)
ctx = ProbeContext(targets=targets, timeout=sweep_budget(len(targets), 9, 20000.0))
r = asyncio.run(LivenessProbe().run(ctx))
alive = sorted({o.ip for o in r.observations if o.signal == "host.alive"})
print(json.dumps({"alive": alive, "status": str(r.status), "sent": r.sent, "notes": r.notes,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def lab_devices(count: int, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    addrs = sorted(rng.sample(range(2, 65534), count))  # 10.1.0.1 is the router
    return [
        {
            "name": f"cam{i}",
            "ip": f"10.1.{a >> 8}.{a & 255}",
            "mac": f"58:50:ed:10:{i >> 8:02x}:{i & 255:02x}",
            "profile": PROFILES[i % len(PROFILES)],
            "routes": ["default"],
        }
        for i, a in enumerate(addrs)
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--hosts", type=int, default=64)
    ap.add_argument("--keep-kernel-limits", action="store_true")
    ap.add_argument("--nmap-timeout", type=float, default=600.0, help="seconds before nmap is given up")
    args = ap.parse_args()
    devices = lab_devices(args.hosts, 889)
    live = {str(d["ip"]) for d in devices}
    raw = {"lab": {"name": "routed16", "subnet": SUBNET, "scanner_ip": "10.1.0.1"}, "device": devices}
    spec = parse_lab(raw, "bench_routed")
    saved = {k: (NEIGH / k).read_text().strip() for k in RAISED}
    if not args.keep_kernel_limits:
        print(f"raising the host's neighbour-table limits for this run: {RAISED} (was {saved})")
        for k, v in RAISED.items():
            (NEIGH / k).write_text(str(v))
    lab_file = Path(tempfile.mkdtemp(prefix="bench-routed-")) / "routed16.toml"
    lab_file.write_text(render_lab(raw))
    lab_up(spec, lab_file)
    try:
        client = add_routed_client(spec)
        ns = ["ip", "netns", "exec", client]
        rows = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            out = subprocess.run(
                [*ns, sys.executable, "-c", PROBE, SUBNET],
                capture_output=True,
                text=True,
                timeout=600,
                cwd=ROOT,
                check=False,
            )
            dt = time.perf_counter() - t0
            try:
                got = json.loads(out.stdout.strip().splitlines()[-1])
            except (ValueError, IndexError):
                print(out.stdout[-2000:], out.stderr[-2000:])
                return 1
            found = len(live & set(got["alive"]))
            rows.append(("ndaa-scan liveness", dt, found, got["rss_mb"]))
            print(
                f"ndaa-scan liveness: {dt:6.2f} s  {found}/{len(live)} live hosts  "
                f"{got['sent']} packets  max RSS {got['rss_mb']:.0f} MB  {got['status']}"
            )
        if shutil.which("nmap"):
            for _ in range(args.runs):
                t0 = time.perf_counter()
                try:
                    out = subprocess.run(
                        [*ns, "nmap", "-n", "-sn", "-T4", SUBNET],
                        capture_output=True,
                        text=True,
                        timeout=args.nmap_timeout,
                        check=False,
                    )
                except subprocess.TimeoutExpired:
                    print(f"nmap -sn -T4:       did not finish in {args.nmap_timeout:.0f} s")
                    continue
                dt = time.perf_counter() - t0
                up = {m for m in re.findall(r"Nmap scan report for (\S+)", out.stdout)}
                found = len(live & up)
                rows.append(("nmap -sn -T4", dt, found, 0.0))
                print(f"nmap -sn -T4:       {dt:6.2f} s  {found}/{len(live)} live hosts")
        else:
            print("nmap: not installed (sh scripts/bootstrap.sh --bench)")
        ours = statistics.median(r[1] for r in rows if r[0].startswith("ndaa"))
        theirs = [r[1] for r in rows if r[0].startswith("nmap")]
        if theirs:
            print(
                f"median: ndaa-scan liveness {ours:.2f} s, nmap {statistics.median(theirs):.2f} s, "
                f"ratio {ours / statistics.median(theirs):.2f}"
            )
    finally:
        remove_routed_client(spec)
        lab_down(spec.name)
        if not args.keep_kernel_limits:
            for k, v in saved.items():
                (NEIGH / k).write_text(v)
    return 0


if __name__ == "__main__":
    sys.exit(main())
