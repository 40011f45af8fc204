"""--sample across a router: the liveness sweep asks a few addresses of each /24 first and sweeps only
the /24s where one answered. The trade-off is real and reported: a host in a /24 whose sampled
addresses are all silent is missed, and the report says how many /24s went unswept."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from labtools import routed_client

from scanner.discovery.base import ProbeContext, ProbeStatus
from scanner.discovery.liveness import HOST_PORTS, LivenessProbe
from scanner.discovery.options import ProbeOptions
from scanner.targets import parse_targets

DEVICES = {  # over 10.1.0.0/22, behind the router 10.1.0.1
    "10.1.1.1": "hikvision-ipc",  # a sampled address (the /24's gateway address) ...
    "10.1.1.77": "dahua-ipc",  # ... so the rest of 10.1.1.0/24 is swept and this one found
    "10.1.2.200": "axis-ipc",  # 10.1.2.0/24: nothing at its sampled addresses, never swept
}


@pytest.fixture
def routed(lab_factory) -> Iterator[str]:
    devices = [
        {"name": f"d{i}", "ip": ip, "mac": f"58:50:ed:00:01:{i:02x}", "profile": p, "routes": ["default"]}
        for i, (ip, p) in enumerate(DEVICES.items())
    ]
    with routed_client(lab_factory, devices, "10.1.0.0/22", "10.1.0.1") as client:
        yield client


def test_sampled_sweep_finds_hosts_only_in_answering_slash24s_and_says_what_it_skipped(routed: str) -> None:
    from scanner.lab.netns import run_in_netns

    def go():
        ctx = ProbeContext(
            targets=parse_targets(["10.1.0.0/22"]), timeout=30.0, options=ProbeOptions(liveness_sample=2)
        )
        return asyncio.run(LivenessProbe().run(ctx))

    result = run_in_netns(routed, go)
    assert result.status == ProbeStatus.SUCCESS, result
    alive = {o.ip for o in result.observations if o.signal == "host.alive"}
    # 10.1.0.0/24 answered at the router, 10.1.1.0/24 at .1; 10.1.2.0/24 and 10.1.3.0/24 did not
    assert alive == {"10.1.0.1", "10.1.1.1", "10.1.1.77"}
    note = next(n for n in result.notes if n.startswith("sampled:"))
    assert note.startswith("sampled: 2 of 4 /24(s) had no answer to 2 probe(s) each"), note
    assert "507 address(es) never asked" in note  # 10.1.2.0/24 (256) and 10.1.3.0/24 (255) less 2 each
    # fewer packets than one full first round over the /22: the unswept /24s got only their samples
    assert result.sent < 1022 * (1 + len(HOST_PORTS)), result.sent


def test_scan_with_sample_reports_the_trade_off(routed: str) -> None:
    import json
    import subprocess
    import sys

    from paths import REPO

    cmd = [sys.executable, "-m", "scanner", "scan", "--netns", routed, "--no-history", "-q", "-f", "json"]
    run = subprocess.run(
        [*cmd, "--sample", "2", "10.1.0.0/22"], capture_output=True, text=True, timeout=180, cwd=REPO
    )
    assert run.returncode == 1, run.stderr[-2000:]  # the Hikvision and Dahua cameras are covered
    report = json.loads(run.stdout)
    assert {d["ip"] for d in report["devices"]} <= {"10.1.0.1", "10.1.1.1", "10.1.1.77"}
    assert {"10.1.1.1", "10.1.1.77"} <= {d["ip"] for d in report["devices"]}
    assert any(n.startswith("liveness: sampled: 2 of 4 /24(s)") for n in report["notes"]), report["notes"]
