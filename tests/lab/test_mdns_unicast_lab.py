"""Unicast mDNS across a router (RFC 6762 §5.5): from a client one hop behind the lab's router, one-shot
queries to port 5353 of each target bring back the DNS-SD records multicast cannot carry across the
router: Hikvision's ``_CGI._tcp`` instance and Axis's ``_axis-video._tcp`` instance with its MAC TXT entry.
Hosts without an mDNS responder give nothing, and no address that is not there is reported."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from labtools import routed_client

from scanner.discovery.base import ProbeContext, ProbeStatus
from scanner.discovery.mdns_unicast import MdnsUnicastProbe
from scanner.targets import parse_targets

pytestmark = pytest.mark.netns

DEVICES = [
    {
        "name": "hik",
        "ip": "10.98.0.10",
        "mac": "58:50:ed:98:00:10",
        "profile": "hikvision-ipc",
        "routes": ["default"],
    },
    {
        "name": "axis",
        "ip": "10.98.0.11",
        "mac": "ac:cc:8e:98:00:11",
        "profile": "axis-ipc",
        "routes": ["default"],
    },
    {
        "name": "dahua",
        "ip": "10.98.0.12",
        "mac": "08:ed:ed:98:00:12",
        "profile": "dahua-ipc",
        "routes": ["default"],
    },
]


@pytest.fixture
def routed(lab_factory: Any) -> Iterator[str]:
    with routed_client(lab_factory, DEVICES, "10.98.0.0/24", "10.98.0.1") as client:
        yield client


def test_unicast_mdns_across_a_router(routed: str) -> None:
    from scanner.lab.netns import run_in_netns

    def go() -> Any:
        ctx = ProbeContext(targets=parse_targets(["10.98.0.8-15"]), timeout=3.0)
        return asyncio.run(MdnsUnicastProbe().run(ctx))

    result = run_in_netns(routed, go)
    assert result.status == ProbeStatus.SUCCESS, result
    seen: dict[str, set[tuple[str, str]]] = {}
    for o in result.observations:
        seen.setdefault(o.ip or "", set()).add((o.signal, o.value))
    assert set(seen) == {"10.98.0.10", "10.98.0.11"}  # the Dahua profile runs no mDNS responder
    hik, axis = seen["10.98.0.10"], seen["10.98.0.11"]
    assert ("mdns.service", "_CGI._tcp.local.") in hik
    assert any(s == "mdns.instance" and v.startswith("HIKVISION DS-2CD2385G1-I") for s, v in hik)
    assert ("mdns.service", "_axis-video._tcp.local.") in axis
    assert ("mdns.txt", "macaddress=ACCC8E980011") in axis
    assert result.sent >= 8  # every address of the range asked at least once


def test_routed_scan_runs_unicast_mdns_on_live_hosts_only(routed: str) -> None:
    """The whole scan from behind the router: ``mdns-unicast`` runs with the banner probes on the hosts
    the liveness sweep found, and its records reach the report."""
    from clirun import cli

    proc = cli("scan", "--netns", routed, "--no-history", "-q", "-f", "json", "10.98.0.0/26")
    assert proc.returncode in (0, 1), proc.stderr
    import json

    report = json.loads(proc.stdout)
    summary = {p["probe"]: p for p in report["probes"]}
    assert summary["mdns-unicast"]["status"] == "success", summary["mdns-unicast"]
    devices = {d["ip"]: d for d in report["devices"]}
    assert {"10.98.0.10", "10.98.0.11", "10.98.0.12"} <= set(devices)
    hik = {
        (o["signal"], o["value"])
        for o in devices["10.98.0.10"]["observations"]
        if o["probe"] == "mdns-unicast"
    }
    assert ("mdns.service", "_CGI._tcp.local.") in hik
    assert devices["10.98.0.10"]["verdict"]["covered_entity"] == "Hikvision"
