"""End to end: `ndaa-scan scan` inside a lab's scanner namespace gives each device the verdict its lab
file expects (`expect` rows), with evidence; the full /24 lab is swept completely."""

from __future__ import annotations

import json

import pytest
from clirun import scan_lab_json as scan_json

pytestmark = pytest.mark.netns


def check_expectations(lab, report: dict, key: str = "mac") -> list[str]:
    """What differs from the lab file's ``expect`` rows, each device found by its ``key`` (``ip`` across
    a router, where no MAC is seen)."""
    found = {d[key]: d for d in report["devices"] if d.get(key)}
    problems = []
    for dev in lab.devices:
        got = found.get(getattr(dev, key))
        if got is None:
            problems.append(f"{dev.name} {dev.ip} {dev.mac}: not found")
            continue
        if dev.expect is None:
            continue
        v = got["verdict"]
        want = dev.expect.status if isinstance(dev.expect.status, list) else [dev.expect.status]
        if v["status"] not in want:
            problems.append(f"{dev.name}: status {v['status']} not in {want}")
        if dev.expect.entity is not None and v.get("covered_entity") != dev.expect.entity:
            problems.append(f"{dev.name}: entity {v.get('covered_entity')} != {dev.expect.entity}")
        if dev.expect.vendor is not None and v.get("vendor") != dev.expect.vendor:
            problems.append(f"{dev.name}: vendor {v.get('vendor')} != {dev.expect.vendor}")
        if dev.expect.brand_mismatch is not None and v.get("brand_mismatch") != dev.expect.brand_mismatch:
            problems.append(
                f"{dev.name}: brand_mismatch {v.get('brand_mismatch')} != {dev.expect.brand_mismatch}"
            )
        if v["status"] != "unknown" and not v["evidence"]:
            problems.append(f"{dev.name}: verdict {v['status']} without evidence")
    return problems


def test_demo_lab_verdicts_match_expectations(lab_factory):
    lab = lab_factory(builtin="demo")
    report = scan_json(lab)
    assert check_expectations(lab, report) == []
    # the protocol evidence is there, not just the OUI
    lobby = next(d for d in report["devices"] if d["mac"] == "58:50:ed:1f:e3:85")
    assert {"arp", "sadp"} <= set(lobby["probes"])
    assert any(e["probe"] == "sadp" for e in lobby["verdict"]["evidence"])


def test_office50_verdicts_match_expectations(lab_factory):
    lab = lab_factory(builtin="office50")
    report = scan_json(lab)
    assert check_expectations(lab, report) == []


def test_routed_lab_verdicts_match_expectations_from_one_hop_away(lab_factory):
    """The shipped routed lab, scanned from the client behind its router: every device identified from
    what crosses a router (no MAC, no multicast), nothing reported that is not there."""
    from clirun import cli

    lab = lab_factory(builtin="routed")
    assert lab.routed and lab.scan_ns.endswith("-client")
    proc = cli("scan", "--netns", lab.scan_ns, "--no-history", "-q", "-f", "json", lab.subnet)
    assert proc.returncode == 1, proc.stderr  # covered equipment found
    report = json.loads(proc.stdout)
    assert check_expectations(lab, report, key="ip") == []
    assert {d["ip"] for d in report["devices"]} == {d.ip for d in lab.devices} | {lab.scanner_ip}  # + router
    assert all(d["mac"] is None for d in report["devices"])
    cited = {e["signal"] for d in report["devices"] for e in d["verdict"]["evidence"]}
    assert "mac" not in cited
    assert report["heard"] == []


def test_full_slash24_is_swept_completely_and_covered_ouis_named(lab_factory):
    lab = lab_factory(builtin="office254")
    report = scan_json(lab, "--probes", "arp", target="10.79.0.0/24")
    assert len(report["devices"]) == len(lab.devices) == 254
    assert check_expectations(lab, report) == []


SERVICE_PROBES = {
    "sadp": {"sadp"},
    "dhip": {"dhip"},
    "wsd": {"wsd"},
    "wsd-peer": {"wsd"},
    "mdns": {"mdns"},
    "ssdp": {"ssdp"},
    "http": {"http"},
    "https": {"tls"},
    "rtsp": {"rtsp"},
    "snmp": {"snmp"},
    "ssh": {"greeting"},
    "telnet": {"greeting"},
    "ftp": {"greeting"},
    "sip": {"sip"},
}


def test_every_simulated_protocol_answers_in_one_round(lab_factory):
    """Each device is reached by every protocol its profile serves, all in one scan (SNMP with the
    repeater's community, which the scanner is given, never guesses)."""
    from scanner.lab.sim.runtime import profiles

    lab = lab_factory(builtin="demo")
    report = scan_json(lab, "--snmp-community", "hytera")
    by_mac = {d["mac"]: d for d in report["devices"]}
    missing = {}
    for dev in lab.devices:
        wanted = set().union(*(SERVICE_PROBES[s] for s in profiles()[dev.profile]["services"]), {"arp"})
        lacking = wanted - set(by_mac[dev.mac]["probes"])
        if lacking:
            missing[dev.name] = sorted(lacking)
    assert missing == {}


def test_a_partial_range_reports_its_targets_and_lists_the_rest_as_heard(lab_factory):
    """The reported bug: `scan 10.77.0.10-12` on the demo lab sent banner probes to five other hosts that
    had answered multicast. Now only the three targets are devices; the others are heard, unprobed."""
    lab = lab_factory(builtin="demo")
    report = scan_json(lab, target="10.77.0.10-12")
    targets = {"10.77.0.10", "10.77.0.11", "10.77.0.12"}
    assert {d["ip"] for d in report["devices"]} == targets
    assert report["heard"], "the demo lab's other multicast speakers should be heard"
    assert not {d["ip"] for d in report["heard"]} & targets
    for d in report["heard"]:
        assert not set(d["probes"]) & {"http", "tls", "rtsp", "onvif", "snmp", "nmap", "arp"}, d
