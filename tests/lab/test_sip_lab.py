"""The SIP probe inside a lab: ONTs that answer only SIP OPTIONS (MACs of no covered maker) are identified
by their agent names alone; a bystander SIP agent that is not a target gets nothing."""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

import pytest
from clirun import cli, lab_scan_args
from labtools import run_probe
from test_scope_lab import capturing

from scanner.discovery.base import ProbeStatus
from scanner.discovery.sip import SipProbe

pytestmark = pytest.mark.netns

SUBNET = "10.99.0.0/24"
AGENTS = [
    {"name": "hwont", "ip": "10.99.0.10", "mac": "02:00:00:00:01:10", "profile": "huawei-ont-sip"},
    {"name": "zteont", "ip": "10.99.0.11", "mac": "02:00:00:00:01:11", "profile": "zte-ont-sip"},
]
BYSTANDER = {"name": "other", "ip": "10.99.0.30", "mac": "02:00:00:00:01:30", "profile": "huawei-ont-sip"}
EXPECTED = {
    ("10.99.0.10", "HUAWEI-EchoLife HG8121H/V3R018C00S110"),
    ("10.99.0.11", "F660/V2.22.21P1T14S"),
}


def test_probe_reads_each_agent(lab_factory: Any) -> None:
    lab = lab_factory(AGENTS, subnet=SUBNET)
    result = run_probe(lab, SipProbe(), ["10.99.0.10", "10.99.0.11"], timeout=3.0)
    assert result.status == ProbeStatus.SUCCESS, (result.error, result.notes)
    assert {(o.ip, o.value) for o in result.observations if o.signal == "sip.user_agent"} == EXPECTED
    assert all(o.port == 5060 for o in result.observations)
    assert (result.sent, result.received) == (2, 2)  # every agent answered its first request: none re-asked


def sip_destinations(frames: list[bytes]) -> set[str]:
    """Addresses of every UDP datagram to port 5060 sent."""
    out = set()
    for f in frames:
        if struct.unpack("!H", f[12:14])[0] != 0x0800 or f[23] != 17:
            continue
        ip = f[14:]
        udp = ip[(ip[0] & 0x0F) * 4 :]
        if struct.unpack("!H", udp[2:4])[0] == 5060:
            out.add(socket.inet_ntoa(ip[16:20]))
    return out


def test_scan_identifies_onts_by_sip_alone_and_asks_only_targets(lab_factory: Any) -> None:
    lab = lab_factory([*AGENTS, BYSTANDER], subnet=SUBNET)
    with capturing(lab.scanner_ns) as cap:
        proc = cli(*lab_scan_args(lab.scanner_ns, "10.99.0.10-11", "--no-history", "-q", "-f", "json"))
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-2000:])
    report = json.loads(proc.stdout)
    verdicts = {d["ip"]: d["verdict"] for d in report["devices"]}
    assert set(verdicts) == {"10.99.0.10", "10.99.0.11"}
    for ip, entity in (("10.99.0.10", "Huawei"), ("10.99.0.11", "ZTE")):
        v = verdicts[ip]
        assert v["status"] in ("covered", "likely") and v["covered_entity"] == entity, v
        assert {e["probe"] for e in v["evidence"] if e["supports"]} == {"sip"}, v["evidence"]
    assert sip_destinations(cap.frames) == {"10.99.0.10", "10.99.0.11"}
