"""The liveness sweep in a lab: live hosts and their open ports found, empty addresses silent, and the
same answer from the unprivileged connect() fallback."""

from __future__ import annotations

import asyncio

from labtools import run_probe

from scanner.discovery.base import Collector, ProbeContext, ProbeStatus
from scanner.discovery.liveness import DEFAULT_PORTS, LivenessProbe, connect_sweep
from scanner.targets import parse_targets

LAB = [
    {"name": "hik", "ip": "10.99.0.10", "mac": "58:50:ed:1f:e3:85", "profile": "hikvision-ipc"},
    {"name": "dahua", "ip": "10.99.0.11", "mac": "08:ed:ed:44:55:66", "profile": "dahua-ipc"},
    {"name": "axis", "ip": "10.99.0.12", "mac": "ac:cc:8e:27:0a:d8", "profile": "axis-ipc"},
    {"name": "ezviz", "ip": "10.99.0.13", "mac": "bc:ad:28:00:00:13", "profile": "ezviz-cam"},
]
TARGETS = ["10.99.0.10-20"]  # 4 devices and 7 empty addresses


def open_ports(observations: list) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for o in observations:
        if o.signal == "tcp.open":
            out.setdefault(o.ip, set()).add(o.port)
    return out


def alive(observations: list) -> set[str]:
    return {o.ip for o in observations if o.signal == "host.alive"}


def test_raw_sweep_finds_live_hosts_and_open_ports(lab_factory) -> None:
    lab = lab_factory(LAB)
    result = run_probe(lab, LivenessProbe(), TARGETS, timeout=10.0)
    assert result.status == ProbeStatus.SUCCESS, result
    assert alive(result.observations) == {"10.99.0.10", "10.99.0.11", "10.99.0.12", "10.99.0.13"}
    ports = open_ports(result.observations)
    assert {80, 443, 554} <= ports["10.99.0.10"]
    assert {80, 554} <= ports["10.99.0.11"]
    assert {80, 443, 554} <= ports["10.99.0.12"]
    assert "10.99.0.13" not in ports  # SADP only: alive (echo, RST) with no TCP service
    assert all(p in DEFAULT_PORTS for ps in ports.values() for p in ps)
    assert not any(o.mac for o in result.observations)  # an IP-layer answer says nothing of a MAC


def test_connect_fallback_agrees_with_the_raw_sweep(lab_factory) -> None:
    from scanner.lab.netns import run_in_netns

    lab = lab_factory(LAB)

    def go():
        ctx = ProbeContext(targets=parse_targets(TARGETS), interface="eth0", timeout=10.0)
        col = Collector("liveness", ctx)
        return asyncio.run(connect_sweep(col, list(ctx.targets), DEFAULT_PORTS, ctx.timeout))

    result = run_in_netns(lab.scanner_ns, go)
    assert any("unprivileged" in n for n in result.notes)
    # ezviz has no TCP service, but its kernel refuses the connection: the host is seen all the same
    assert alive(result.observations) == {"10.99.0.10", "10.99.0.11", "10.99.0.12", "10.99.0.13"}
    assert {80, 443, 554} <= open_ports(result.observations)["10.99.0.10"]
