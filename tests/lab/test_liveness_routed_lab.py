"""Across a router: the liveness sweep finds the live hosts of a sparse /22 and their camera ports,
and nothing at the empty addresses (the router, not ARP, is between scanner and devices).

A /22 because the router is a Linux namespace at the kernel's neighbour-table limit (gc_thresh3 =
1,024 entries, shared by every namespace of the host): each address the router must resolve holds an
entry for ~3 s, so a larger sweep at full rate overflows the router's table, as it would a real router
of that size (benchmarks/bench_routed.py measures a /16 with the limit raised)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from labtools import routed_client

from scanner.discovery.base import ProbeContext, ProbeStatus
from scanner.discovery.liveness import LivenessProbe
from scanner.targets import parse_targets

LIVE = {  # scattered over 10.1.0.0/22
    "10.1.0.10": "hikvision-ipc",
    "10.1.1.77": "dahua-ipc",
    "10.1.2.200": "axis-ipc",
    "10.1.3.5": "hikvision-nvr",
    "10.1.3.254": "ezviz-cam",
}


@pytest.fixture
def routed(lab_factory) -> Iterator[str]:
    devices = [
        {
            "name": f"d{i}",
            "ip": addr,
            "mac": f"58:50:ed:00:00:{i:02x}",
            "profile": profile,
            "routes": ["default"],
        }
        for i, (addr, profile) in enumerate(LIVE.items())
    ]
    with routed_client(lab_factory, devices, "10.1.0.0/22", "10.1.0.1") as client:
        yield client


def test_sweep_across_a_router_finds_every_live_host_and_no_other(routed: str) -> None:
    from scanner.lab.netns import run_in_netns

    def go():
        ctx = ProbeContext(targets=parse_targets(["10.1.0.0/22"]), timeout=30.0)
        started = time.monotonic()
        result = asyncio.run(LivenessProbe().run(ctx))
        return result, time.monotonic() - started

    result, seconds = run_in_netns(routed, go)
    assert result.status == ProbeStatus.SUCCESS, result
    alive = {o.ip for o in result.observations if o.signal == "host.alive"}
    # the router itself (10.1.0.1) is a target too and answers: it is a live host on that network
    assert alive == set(LIVE) | {"10.1.0.1"}
    ports = {(o.ip, o.port) for o in result.observations if o.signal == "tcp.open"}
    assert {("10.1.0.10", 80), ("10.1.0.10", 554), ("10.1.1.77", 80), ("10.1.2.200", 443)} <= ports
    assert not any(ip == "10.1.3.254" for ip, _ in ports)
    assert seconds < 25, f"{seconds:.1f} s for 1,022 addresses"


def test_scan_across_a_router_probes_only_live_hosts_and_identifies_them(routed: str) -> None:
    """The whole scan from behind the router: the liveness sweep picks the live hosts, banners and unicast
    discovery identify them, and no empty address of the /22 becomes a device."""
    import json
    import subprocess
    import sys

    from paths import REPO

    cmd = [sys.executable, "-m", "scanner", "scan", "--netns", routed, "--no-history", "-q", "-f", "json"]
    run = subprocess.run([*cmd, "10.1.0.0/22"], capture_output=True, text=True, timeout=180, cwd=REPO)
    assert run.returncode == 1, run.stderr[-2000:]  # covered equipment found
    report = json.loads(run.stdout)
    liveness = next(p for p in report["probes"] if p["probe"] == "liveness")
    assert liveness["status"] == "success", liveness
    verdicts = {
        d["ip"]: (d["verdict"]["status"], d["verdict"].get("covered_entity")) for d in report["devices"]
    }
    assert set(verdicts) <= set(LIVE) | {"10.1.0.1"}, verdicts  # nothing at an empty address
    assert verdicts["10.1.0.10"][1] == "Hikvision" and verdicts["10.1.0.10"][0] in ("covered", "likely")
    assert verdicts["10.1.1.77"][1] == "Dahua" and verdicts["10.1.1.77"][0] in ("covered", "likely")
    assert verdicts["10.1.2.200"][0] in ("not-covered", "unknown"), verdicts["10.1.2.200"]
