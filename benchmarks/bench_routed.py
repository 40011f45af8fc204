"""A routed /16 with 64 live camera-shaped hosts scattered across it: the whole scan (`ndaa-scan scan`,
whole process) beside `nmap -sn -T4`, from one hop behind a router. Target: all 64 found and identified
in at most 60 s, max RSS under 300 MB.

    sudo .venv/bin/python benchmarks/bench_routed.py [--runs 3] [--liveness-only] [--no-nmap]
        [--keep-kernel-limits] [--sample N]

The lab's scanner namespace is the router (scanner/lab/routed.py); every tool runs in the client
namespace behind it. The router is a Linux namespace configured as Linux routes by default: it resolves
each absent address with 3 ARP requests 1 s apart (mcast_solicit 3, retrans_time 1 s), then drops the
packets queued for it and sends ICMP host-unreachable, rate-limited per destination (icmp_ratelimit
1 s, as real routers rate-limit theirs), so the scanner cannot count on hearing about absent hosts.
The neighbour-table limits (gc_thresh1-3) are global to the host, with a hard limit of 1,024 entries
by default; a /16 sweep keeps a few thousand entries in resolution at once. Unless
--keep-kernel-limits is given, the benchmark raises the host's limits for its run (no packet is sent
by this; the old values are restored at the end): a router sized for the network it routes.
"""

from __future__ import annotations

import argparse
import json
import os
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
from scanner.lab.routed import add_routed_client, remove_routed_client, router_settings, set_router_solicit  # noqa: E402
from scanner.lab.spec import parse_lab, render_lab  # noqa: E402

SUBNET = "10.1.0.0/16"
PROFILES = {  # profile -> the maker the scan must name
    "hikvision-ipc": "hikvision",
    "dahua-ipc": "dahua",
    "axis-ipc": "axis",
    "hikvision-nvr": "hikvision",
    "hanwha-ipc": "hanwha",
    "uniview-ipc": "uniview",
}
NEIGH = Path("/proc/sys/net/ipv4/neigh/default")
RAISED = {"gc_thresh1": 32768, "gc_thresh2": 65536, "gc_thresh3": 131072}

LIVENESS = """
import asyncio, json, resource, sys, time
from scanner.discovery.base import ProbeContext
from scanner.discovery.liveness import LivenessProbe, sweep_budget
from scanner.targets import parse_targets
targets = parse_targets([sys.argv[1]], 1 << 17)
ctx = ProbeContext(targets=targets, timeout=sweep_budget(len(targets), 9, 20000.0))
r = asyncio.run(LivenessProbe().run(ctx))
alive = sorted({o.ip for o in r.observations if o.signal == "host.alive"})
print(json.dumps({"alive": alive, "status": str(r.status), "sent": r.sent, "notes": r.notes}))
"""


def lab_devices(count: int, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    addrs = sorted(rng.sample(range(2, 65534), count))  # 10.1.0.1 is the router
    names = list(PROFILES)
    return [
        {
            "name": f"cam{i}",
            "ip": f"10.1.{a >> 8}.{a & 255}",
            "mac": f"58:50:ed:10:{i >> 8:02x}:{i & 255:02x}",
            "profile": names[i % len(names)],
            "routes": ["default"],
        }
        for i, a in enumerate(addrs)
    ]


def timed(cmd: list[str], timeout: float) -> tuple[float, float, str, int]:
    """Run ``cmd``: (seconds, max RSS in MB of the process, stdout, exit code), whole process."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, cwd=ROOT)
        deadline = t0 + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)
        dt = time.perf_counter() - t0
        out.seek(0)
        return dt, usage.ru_maxrss / 1024, out.read().decode(errors="replace"), proc.returncode


def load() -> str:
    """The host's 1-minute load average (other work on the machine slows the lab's kernel too)."""
    return Path("/proc/loadavg").read_text().split()[0]


def check_scan(stdout: str, expected: dict[str, str]) -> tuple[int, int, int, str]:
    """(found, identified, extra devices, per-probe seconds) from a JSON report."""
    report = json.loads(stdout)
    devices = {d["ip"]: d for d in report["devices"]}
    found = sum(1 for ip in expected if ip in devices)
    identified = sum(
        1
        for ip, maker in expected.items()
        if ip in devices and maker in str(devices[ip]["verdict"].get("vendor") or "").lower()
    )
    extra = len(set(devices) - set(expected) - {"10.1.0.1"})
    stages = " ".join(f"{p['probe']}={p['duration']:.1f}s/{p['status']}" for p in report["probes"])
    notes = [n for n in report.get("notes", []) if n.startswith(("liveness", "sampled", "incomplete"))]
    return found, identified, extra, stages + ("\n    " + "\n    ".join(notes) if notes else "")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--hosts", type=int, default=64)
    ap.add_argument("--liveness-only", action="store_true", help="time the liveness probe alone")
    ap.add_argument("--no-nmap", action="store_true")
    ap.add_argument("--sample", type=int, default=0, help="also run the scan with --sample N")
    ap.add_argument("--keep-kernel-limits", action="store_true")
    ap.add_argument(
        "--router-solicit",
        type=int,
        default=0,
        help="ARP requests the router sends per address (default: Linux's 3); 1 divides the lab's "
        "broadcast load, which on one host is paid by every device namespace on the same 2 cores",
    )
    ap.add_argument("--nmap-timeout", type=float, default=600.0, help="seconds before nmap is given up")
    args = ap.parse_args()
    devices = lab_devices(args.hosts, 889)
    expected = {str(d["ip"]): PROFILES[str(d["profile"])] for d in devices}
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
    rows: list[tuple[str, float, int, float]] = []
    try:
        client = add_routed_client(spec)
        if args.router_solicit:
            set_router_solicit(spec, args.router_solicit)
        print(
            f"lab: {SUBNET} behind a router namespace, {len(devices)} live hosts; router: {router_settings(spec)}"
        )
        ns = ["ip", "netns", "exec", client]
        scan = [sys.executable, "-m", "scanner", "scan", "--no-history", "-q", "-f", "json", SUBNET]
        variants = [("ndaa-scan scan", scan)]
        if args.sample:
            variants.append((f"ndaa-scan scan --sample {args.sample}", [*scan, "--sample", str(args.sample)]))
        if args.liveness_only:
            variants = [("ndaa-scan liveness", [sys.executable, "-c", LIVENESS, SUBNET])]
        for label, cmd in variants:
            for _ in range(args.runs):
                dt, rss, stdout, code = timed([*ns, *cmd], 600)
                if args.liveness_only:
                    got = json.loads(stdout.strip().splitlines()[-1])
                    found = len(set(expected) & set(got["alive"]))
                    print(
                        f"{label}: {dt:6.2f} s  {found}/{len(expected)} live  {got['sent']} packets  "
                        f"max RSS {rss:.0f} MB  {got['status']}\n    " + "\n    ".join(got["notes"])
                    )
                    rows.append((label, dt, found, rss))
                    continue
                try:
                    found, identified, extra, stages = check_scan(stdout, expected)
                except (ValueError, KeyError) as exc:
                    print(f"{label}: exit {code}, no report ({exc}): {stdout[-1000:]}")
                    return 1
                rows.append((label, dt, identified, rss))
                print(
                    f"{label}: {dt:6.2f} s  {found}/{len(expected)} found  {identified}/{len(expected)} "
                    f"identified  {extra} extra  max RSS {rss:.0f} MB  exit {code}  load {load()}\n    {stages}"
                )
        if args.no_nmap:
            pass
        elif shutil.which("nmap"):
            for _ in range(args.runs):
                dt, rss, stdout, _code = timed([*ns, "nmap", "-n", "-sn", "-T4", SUBNET], args.nmap_timeout)
                up = set(re.findall(r"Nmap scan report for (\S+)", stdout))
                found = len(set(expected) & up)
                label = "nmap -sn -T4" if dt < args.nmap_timeout else "nmap -sn -T4 (killed)"
                rows.append((label, dt, found, rss))
                print(
                    f"{label}: {dt:6.2f} s  {found}/{len(expected)} live hosts  max RSS {rss:.0f} MB  "
                    f"load {load()}"
                    + ("  (did not finish: hosts reported until then)" if "killed" in label else "")
                )
        else:
            print("nmap: not installed (sh scripts/bootstrap.sh --bench)")
        print("medians:")
        for label in dict.fromkeys(r[0] for r in rows):
            mine = [r for r in rows if r[0] == label]
            print(
                f"  {label:34s} {statistics.median(r[1] for r in mine):6.2f} s  "
                f"{min(r[2] for r in mine)}/{len(expected)} (worst run)  "
                f"max RSS {max(r[3] for r in mine):.0f} MB  ({len(mine)} runs)"
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
