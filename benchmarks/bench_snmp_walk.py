"""SNMP table walks: pysnmp (what `ndaa-scan collect snmp` uses) beside the project's own BER codec
(scanner/discovery/parsers/snmp.py, a GETBULK loop written here), against Debian's real snmpd.

    sudo .venv/bin/python benchmarks/bench_snmp_walk.py [--runs 3] [--macs 2000]

snmpd runs in a namespace of its own (nd-bsnmp-…, loopback only; removed at the end) and serves two
tables: its own mib-2 subtree (1.3.6.1.2.1, native code) and a switch's dot1qTpFdbTable with --macs
MACs (the lab's pass_persist program, scanner/lab/snmp_switch.py). Both clients walk the same subtree
with GETBULK, 25 repetitions, SNMPv2c. Printed per client: rows, wall seconds (median of --runs) and
client CPU microseconds per row (time.process_time: what the library itself costs, the agent's time
excluded). Nothing leaves the namespace.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scanner.collect.snmp_walk import Agent, SnmpAuth, WalkLimits  # noqa: E402
from scanner.discovery.parsers import snmp as ber  # noqa: E402
from scanner.lab.netns import run_in_netns  # noqa: E402
from scanner.lab.snmp_switch import switch_rows  # noqa: E402
from scanner.lab.snmpd import Snmpd  # noqa: E402

COMMUNITY = "bench"
GET_BULK = 0xA5
PORT = 1161
MIB2 = (1, 3, 6, 1, 2, 1)
DOT1Q_FDB = (1, 3, 6, 1, 2, 1, 17, 7, 1, 2, 2, 1)


def ber_walk(root: tuple[int, ...], reps: int = 25) -> int:
    """GETBULK walk of ``root`` with the own codec; the number of rows."""
    prefix = ".".join(map(str, root)) + "."
    last, rows, rid = ".".join(map(str, root)), 0, 1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2.0)
        s.connect(("127.0.0.1", PORT))
        while True:
            rid += 1
            binds = (ber.VarBind(last, ber.NULL, None),)
            s.send(ber.encode_message(ber.Message(1, COMMUNITY.encode(), GET_BULK, rid, 0, reps, binds)))
            msg = ber.parse_message(s.recv(65535))
            if msg is None or msg.request_id != rid or not msg.varbinds:
                return rows
            for b in msg.varbinds:
                if not b.oid.startswith(prefix) or b.tag in ber.EXCEPTIONS:
                    return rows
                rows += 1
                last = b.oid


def pysnmp_walk(root: tuple[int, ...]) -> int:
    async def go() -> int:
        from pysnmp.hlapi.v3arch.asyncio import SnmpEngine, UdpTransportTarget

        engine = SnmpEngine()
        try:
            transport = await UdpTransportTarget.create(("127.0.0.1", PORT), timeout=2.0, retries=0)
            rows: list[object] = []
            await Agent(engine, SnmpAuth(community=COMMUNITY), transport, WalkLimits()).walk(root, rows)  # type: ignore[arg-type]
            return len(rows)
        finally:
            engine.close_dispatcher()

    return asyncio.run(go())


def measure(ns: str, fn, root: tuple[int, ...], runs: int) -> tuple[int, float, float]:  # type: ignore[no-untyped-def]
    def once() -> tuple[int, float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        n = fn(root)
        return n, time.perf_counter() - wall, time.process_time() - cpu

    results = [run_in_netns(ns, once) for _ in range(runs)]
    rows = results[0][0]
    return rows, statistics.median(r[1] for r in results), statistics.median(r[2] for r in results)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--macs", type=int, default=2000)
    args = ap.parse_args()
    ns = f"nd-bsnmp-{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        ports = [(p, p, f"Gi1/0/{p}", "") for p in range(1, 49)]
        fdb = [
            (f"02:00:00:00:{i // 256:02x}:{i % 256:02x}", 10 + i % 4, 1 + i % 48) for i in range(args.macs)
        ]
        with Snmpd(ns, "127.0.0.1", port=PORT, community=COMMUNITY, switch_rows=switch_rows(ports, fdb)):
            print(f"{'table':<22} {'client':<8} {'rows':>6} {'wall s':>8} {'CPU us/row':>11}")
            for label, root in (("mib-2 (snmpd native)", MIB2), ("dot1qTpFdbTable", DOT1Q_FDB)):
                for name, fn in (("pysnmp", pysnmp_walk), ("own BER", ber_walk)):
                    rows, wall, cpu = measure(ns, fn, root, args.runs)
                    print(f"{label:<22} {name:<8} {rows:>6} {wall:>8.3f} {cpu / max(rows, 1) * 1e6:>11.1f}")
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
