"""Scans beside hostile peers: time, max RSS and recall of `ndaa-scan scan` on the hostile lab's ten ordinary
devices alone and with its ten hostile ones (examples/labs/hostile.toml), beside arp-scan and nmap -sn -PR.

    sudo .venv/bin/python benchmarks/bench_hostile.py [--runs 3]

Recall: the ordinary devices whose verdict matches their ``expect`` (status and entity or vendor). Also
printed: how many devices the scan reports that the lab does not have (forged by the flooder and spoofers)
and whether any sits at an impossible address (loopback, 192.0.2.0/24, the scanner's own). arp-scan and
nmap only sweep ARP, which the hostile peers do not attack: their rows show the sweep is unaffected.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import statistics
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_loss import arp_tools, found_macs, ndaa_cmd, run_measured  # noqa: E402

from scanner.lab.manager import lab_down, lab_up  # noqa: E402
from scanner.lab.spec import LabSpec, parse_lab, render_lab  # noqa: E402

LAB_FILE = ROOT / "examples" / "labs" / "hostile.toml"


def matches(spec: LabSpec, verdict: dict[str, Any] | None, mac: str) -> bool:
    dev = next(d for d in spec.devices if d.mac == mac)
    if verdict is None or dev.expect is None:
        return False
    want = dev.expect.status if isinstance(dev.expect.status, list) else [dev.expect.status]
    if verdict.get("status") not in want:
        return False
    if dev.expect.entity is not None and verdict.get("covered_entity") != dev.expect.entity:
        return False
    return dev.expect.vendor is None or verdict.get("vendor") == dev.expect.vendor


def evaluate(spec: LabSpec, normal: set[str], out: str) -> tuple[int, int, int]:
    """(ordinary devices right, devices reported the lab does not have, devices at impossible addresses)."""
    try:
        devices = json.loads(out)["devices"]
    except (ValueError, KeyError):
        return 0, 0, 0
    by_mac = {d.get("mac"): d["verdict"] for d in devices}
    right = sum(1 for mac in normal if matches(spec, by_mac.get(mac), mac))
    real = {d.mac for d in spec.devices}
    extra = sum(1 for d in devices if d.get("mac") not in real)
    impossible = sum(
        1 for d in devices if d["ip"] in ("127.0.0.1", spec.scanner_ip) or d["ip"].startswith("192.0.2.")
    )
    return right, extra, impossible


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    raw = tomllib.loads(LAB_FILE.read_text())
    normal_rows = [d for d in raw["device"] if not d["name"].startswith("x")]
    normal = {d["mac"] for d in normal_rows}
    conditions = {
        "normal": {**raw, "device": normal_rows},
        "hostile": raw,
    }
    print(f"{len(normal)} ordinary devices; {args.runs} run(s) per condition; medians\n")
    print(
        f"{'condition':10} {'tool':14} {'time s':>7} {'max RSS MB':>10} {'recall':>10} {'forged':>7} {'impossible':>10}"
    )
    medians: dict[str, float] = {}
    for label, lab_raw in conditions.items():
        name = label[:4] + secrets.token_hex(2)  # namespaces of its own: benchmarks never share a lab
        lab_raw = {**lab_raw, "lab": {**lab_raw["lab"], "name": name}}
        spec = parse_lab(lab_raw, label)
        lab_file = Path(tempfile.mkdtemp(prefix="ndaa-bench-")) / f"{name}.toml"
        lab_file.write_text(render_lab(lab_raw))  # the simulator serves the devices of this file
        lab_up(spec, lab_file)
        try:
            rows = [run_measured(ndaa_cmd(spec)) for _ in range(args.runs)]
            scores = [evaluate(spec, normal, out) for _, _, out in rows]
            medians[label] = statistics.median(r[0] for r in rows)
            print(
                f"{label:10} {'ndaa-scan':14} {statistics.median(r[0] for r in rows):7.2f} "
                f"{statistics.median(r[1] for r in rows):10.0f} "
                f"{statistics.median(s[0] for s in scores):>6.0f}/{len(normal)} "
                f"{statistics.median(s[1] for s in scores):7.0f} {statistics.median(s[2] for s in scores):10.0f}"
            )
            for name, cmd in arp_tools(spec).items():
                if shutil.which(cmd[4]) is None:
                    continue
                results = [run_measured(cmd) for _ in range(args.runs)]
                seen = [found_macs(out, spec) for _, _, out in results]
                print(
                    f"{'':10} {name:14} {statistics.median(r[0] for r in results):7.2f} "
                    f"{statistics.median(r[1] for r in results):10.0f} "
                    f"{statistics.median(seen):>4.0f}/{len(spec.devices)} found"
                )
        finally:
            lab_down(spec.name)
    ratio = medians["hostile"] / medians["normal"]
    print(f"\nndaa-scan time beside the hostile peers / without them: {ratio:.2f} (target: at most 2)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
