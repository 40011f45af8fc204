"""Scans over impaired links: time, max RSS and recall of `ndaa-scan scan` per loss and delay setting,
beside arp-scan and nmap -sn -PR (ARP only: how many devices each finds), and the lab switch's forwarding rate.

    sudo .venv/bin/python benchmarks/bench_loss.py [--runs 3] [--lab lossy] [--skip-rate] [--only 600]

Every condition is the same lab (default examples/labs/lossy.toml) with every device link set to the
condition's loss and delay each way (scanner/lab/switch.py: a device link's delay applies once each way, so
300 ms of delay is a 600 ms round trip); recall is the share of the lab's covered devices (``expect`` status
covered/likely) the scan flags with the expected entity, per run and in all. Every tool runs inside the
lab's scanner namespace; each lab gets a name of its own, so two benchmarks never share namespaces. The forwarding rate is UDP datagrams per second through the userspace switch
without impairment, beside the kernel bridge, one sender and one receiver.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scanner.lab import measure  # noqa: E402
from scanner.lab.manager import lab_down, lab_up  # noqa: E402
from scanner.lab.netns import ip, run_in_netns  # noqa: E402
from scanner.lab.spec import LabSpec, load_lab, parse_lab, render_lab  # noqa: E402

FLAGGED = {"covered", "likely"}
CONDITIONS = [  # (label: loss each way / round trip, loss each way, delay each way)
    ("0% / 0 ms RTT", "0%", "0ms"),
    ("5% / 0 ms RTT", "5%", "0ms"),
    ("20% / 0 ms RTT", "20%", "0ms"),
    ("0% / 200 ms RTT", "0%", "100ms"),
    ("0% / 600 ms RTT", "0%", "300ms"),
    ("20% / 600 ms RTT", "20%", "300ms"),
]


def run_measured(cmd: list[str], timeout: float = 300) -> tuple[float, float, str]:
    """Run ``cmd``: (seconds, its own max RSS in MB, stdout)."""
    run = measure.run_measured(cmd, timeout, cwd=ROOT)
    return run.seconds, run.max_rss_mb, run.stdout


def ndaa_cmd(spec: LabSpec, *extra: str) -> list[str]:
    return [sys.executable, "-m", "scanner", "scan", "--netns", spec.scanner_ns, "-i", "eth0"] + [
        "--no-history",
        "-q",
        "-f",
        "json",
        *extra,
        spec.subnet,
    ]


def recall(spec: LabSpec, stdout: str) -> tuple[int, int, list[str]]:
    """(covered devices flagged with their expected entity, covered devices in the lab, the names of those
    missed with what the scan said of them)."""
    try:
        devices = json.loads(stdout)["devices"]
    except (ValueError, KeyError):
        devices = []
    by_mac = {d["mac"]: d for d in devices if d.get("mac")}
    by_ip = {d["ip"]: d for d in devices}
    want = [
        d for d in spec.devices if d.expect and d.expect.entity and d.expect.status in ("covered", "likely")
    ]
    missed = []
    for d in want:
        got = by_mac.get(d.mac) or by_ip.get(d.ip) or {}  # found without its MAC (ARP lost) still counts
        verdict = got.get("verdict", {})
        if verdict.get("status") not in FLAGGED or verdict.get("covered_entity") != (
            d.expect.entity if d.expect else None
        ):
            signals = sorted({e.get("signal", "?") for e in verdict.get("evidence", [])})
            missed.append(f"{d.name} {d.ip}: {verdict.get('status', 'not found')} {signals}")
        elif d.mac not in by_mac:
            print(f"    {d.name} {d.ip}: flagged without its MAC (no ARP reply)", flush=True)
    return len(want) - len(missed), len(want), missed


def arp_tools(spec: LabSpec) -> dict[str, list[str]]:
    ns = ["ip", "netns", "exec", spec.scanner_ns]
    return {
        "arp-scan": ns + ["arp-scan", "-I", "eth0", spec.subnet],
        "nmap -sn -PR": ns + ["nmap", "-n", "-sn", "-PR", spec.subnet],
    }


def found_macs(out: str, spec: LabSpec) -> int:
    """How many of the lab's device MACs appear in a tool's output."""
    text = out.lower()
    return sum(1 for d in spec.devices if d.mac in text)


def bench_conditions(base: LabSpec, lab_file: Path, runs: int, only: str | None = None) -> None:
    print(f"lab {base.name}: {len(base.devices)} devices; {runs} run(s) per condition; medians\n")
    print(
        f"{'loss each way / RTT':22} {'tool':14} {'time s':>7} {'max RSS MB':>10} {'recall (median)':>15} "
        f"{'recall, all runs':>20}"
    )
    for label, loss, delay in CONDITIONS:
        if only and only not in label:
            continue
        spec = base.with_impairment(loss, delay, "0ms")
        name = f"{base.name[:4]}{secrets.token_hex(2)}"  # namespaces of its own
        spec = spec.model_copy(update={"switch": "userspace", "name": name})
        raw = tomllib.loads(lab_file.read_text())
        raw["lab"]["name"] = name  # the simulator finds its namespaces by the file's lab name
        renamed = Path(tempfile.mkdtemp(prefix="ndaa-bench-")) / f"{name}.toml"
        renamed.write_text(render_lab(raw))
        # per-device overrides in the lab file would hide the condition: clear them
        spec.devices = [
            d.model_copy(update={"loss": None, "delay": None, "jitter": None}) for d in spec.devices
        ]
        lab_up(spec, renamed)
        try:
            times, rss, hits = [], [], []
            total = 0
            for _ in range(runs):
                dt, mb, out = run_measured(ndaa_cmd(spec))
                hit, total, missed = recall(spec, out)
                if missed:
                    print(f"    {label}: missed {missed}", flush=True)
                times.append(dt)
                rss.append(mb)
                hits.append(hit)
            print(
                f"{label:22} {'ndaa-scan':14} {statistics.median(times):7.2f} {statistics.median(rss):10.0f} "
                f"{statistics.median(hits):>8.0f}/{total} cov. "
                f"{sum(hits):>6}/{total * runs} = {sum(hits) / max(1, total * runs):5.1%}"
            )
            for name, cmd in arp_tools(spec).items():
                if shutil.which(cmd[4]) is None:
                    continue
                results = [run_measured(cmd) for _ in range(runs)]
                seen = [found_macs(out, spec) for _, _, out in results]
                print(
                    f"{'':22} {name:14} {statistics.median(r[0] for r in results):7.2f} "
                    f"{statistics.median(r[1] for r in results):10.0f} "
                    f"{statistics.median(seen):>5.0f}/{len(spec.devices)} found"
                )
        finally:
            lab_down(spec.name)


def _blast(target: str, seconds: float, box: dict[str, int]) -> None:
    payload = b"x" * 200
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setblocking(False)
        end = time.monotonic() + seconds
        sent = 0
        while time.monotonic() < end:
            for _ in range(64):
                try:
                    s.sendto(payload, (target, 9999))
                    sent += 1
                except BlockingIOError:
                    time.sleep(0)  # a full socket buffer: let the receiver run
        box["sent"] = sent


def _count(ip: str, seconds: float, ready: threading.Event, box: dict[str, int]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        s.bind((ip, 9999))
        s.settimeout(0.5)
        ready.set()
        got = 0
        end = time.monotonic() + seconds + 1.0
        while time.monotonic() < end:
            try:
                s.recv(2048)
                got += 1
            except TimeoutError:
                continue
        box["received"] = got


def forwarding_rate(switch: str, seconds: float = 3.0) -> tuple[float, float]:
    """(datagrams/s received, share of sent received) through a two-device lab on ``switch``."""
    raw: dict[str, Any] = {
        "lab": {
            "name": "fwd" + switch[0],
            "subnet": "10.97.0.0/24",
            "scanner_ip": "10.97.0.2",
            "switch": switch,
        },
        "device": [{"name": "sink", "ip": "10.97.0.10", "mac": "02:00:00:00:97:10"}],
    }
    spec = parse_lab(raw)
    lab_up(spec, Path("/nonexistent"), simulate=False)
    try:
        ready = threading.Event()
        rx: dict[str, int] = {}
        tx: dict[str, int] = {}
        receiver = threading.Thread(
            target=run_in_netns, args=(spec.device_ns(0), _count, "10.97.0.10", seconds, ready, rx)
        )
        receiver.start()
        ready.wait(5)
        # a static neighbour: no ARP inside the timed window
        ip(
            "neigh",
            "replace",
            "10.97.0.10",
            "lladdr",
            "02:00:00:00:97:10",
            "dev",
            "eth0",
            netns=spec.scanner_ns,
        )
        run_in_netns(spec.scanner_ns, _blast, "10.97.0.10", seconds, tx)
        receiver.join()
        return rx["received"] / seconds, rx["received"] / max(1, tx["sent"])
    finally:
        lab_down(spec.name)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--lab", default="lossy")
    ap.add_argument("--skip-rate", action="store_true", help="do not measure the forwarding rate")
    ap.add_argument("--only-rate", action="store_true", help="measure only the forwarding rate")
    ap.add_argument("--only", help="only the conditions whose label holds this text (e.g. 600)")
    args = ap.parse_args()
    if not args.skip_rate:
        for switch in ("kernel", "userspace"):
            rate, share = forwarding_rate(switch)
            print(
                f"forwarding, {switch:9} switch: {rate:9.0f} datagrams/s received ({share:.0%} of those sent)"
            )
        print()
    if args.only_rate:
        return 0
    base = load_lab(args.lab)
    lab_file = ROOT / "examples" / "labs" / f"{args.lab}.toml"
    bench_conditions(base, lab_file if lab_file.exists() else Path(args.lab), args.runs, args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
