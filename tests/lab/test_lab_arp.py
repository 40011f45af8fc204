"""The lab comes up in namespaces and the ARP sweep finds every device, with its MAC."""

from __future__ import annotations

import asyncio

import pytest

from scanner.discovery.arp import ArpProbe
from scanner.discovery.base import ProbeContext, ProbeStatus
from scanner.lab.netns import list_netns, run_in_netns
from scanner.targets import parse_targets

pytestmark = pytest.mark.netns


def _sweep(targets: list[str]):  # runs inside the scanner namespace
    ctx = ProbeContext(targets=parse_targets(targets), interface="eth0")
    return asyncio.run(ArpProbe().run(ctx))


def test_arp_sweep_finds_every_device_with_its_mac(lab_factory):
    macs = ["58:50:ed:1f:e3:85", "08:ed:ed:44:55:66", "ac:cc:8e:27:0a:d8", "de:ad:be:ef:00:01"]
    lab = lab_factory(
        [{"name": f"d{i}", "ip": f"10.99.0.{10 + i}", "mac": m} for i, m in enumerate(macs)],
        groups=[{"name": "g", "count": 40, "start_ip": "10.99.0.100", "ouis": ["54:d6:0d", "00:15:eb"]}],
    )
    result = run_in_netns(lab.scanner_ns, _sweep, ["10.99.0.0/24"])
    assert result.status == ProbeStatus.SUCCESS
    found = {o.ip: o.mac for o in result.observations if o.signal == "mac"}
    expected = {d.ip: d.mac for d in lab.devices}
    assert found == expected
    assert all(o.probe == "arp" for o in result.observations)


def test_arp_sweep_skips_off_link_targets(lab_factory):
    lab = lab_factory([{"name": "d", "ip": "10.99.0.10", "mac": "58:50:ed:00:00:01"}])
    result = run_in_netns(lab.scanner_ns, _sweep, ["10.98.0.0/28"])
    assert result.status == ProbeStatus.SKIPPED
    assert result.observations == []


def test_lab_down_removes_only_its_namespaces(lab_factory):
    from scanner.lab.manager import lab_down

    lab = lab_factory([{"name": "d", "ip": "10.99.0.10", "mac": "58:50:ed:00:00:01"}])
    other = lab_factory([{"name": "d", "ip": "10.99.0.10", "mac": "58:50:ed:00:00:01"}])
    assert len(list_netns(lab.prefix)) == 3
    lab_down(lab.name)
    assert list_netns(lab.prefix) == []
    assert len(list_netns(other.prefix)) == 3


def test_unprivileged_fallback_finds_hosts_through_the_neighbour_table(lab_factory):
    from scanner.discovery.neighbour import NOTE, neighbour_sweep
    from scanner.netif import interface

    macs = ["58:50:ed:1f:e3:85", "08:ed:ed:44:55:66", "ac:cc:8e:27:0a:d8"]
    lab = lab_factory([{"name": f"d{i}", "ip": f"10.99.0.{10 + i}", "mac": m} for i, m in enumerate(macs)])

    def sweep():
        targets = parse_targets(["10.99.0.1-20"])
        ctx = ProbeContext(targets=targets, interface="eth0")
        return asyncio.run(neighbour_sweep(ctx, targets, interface("eth0")))

    result = run_in_netns(lab.scanner_ns, sweep)
    assert {(o.ip, o.mac) for o in result.observations} == {(d.ip, d.mac) for d in lab.devices}
    assert result.notes == [NOTE]
    assert all(o.probe == "neighbour" for o in result.observations)


def test_arp_reply_parser_rejects_garbage():
    from scanner.discovery.parsers.arp import build_request, parse_reply

    assert parse_reply(b"") is None
    assert parse_reply(b"\xff" * 41) is None
    req = build_request(b"\x02" * 6, bytes([10, 0, 0, 2]), bytes([10, 0, 0, 9]))
    assert len(req) == 60
    assert parse_reply(req) is None  # a request (op 1) is not a reply
    reply = bytearray(req)
    reply[20:22] = b"\x00\x02"
    assert parse_reply(bytes(reply)).sender_ip == "10.0.0.2"


def test_scapy_fallback_sweep_finds_the_same_devices(lab_factory):
    pytest.importorskip("scapy", reason="scapy is an optional extra")
    from scanner.discovery.arp_scapy import NOTE, scapy_sweep

    macs = ["58:50:ed:1f:e3:85", "08:ed:ed:44:55:66", "ac:cc:8e:27:0a:d8"]
    lab = lab_factory([{"name": f"d{i}", "ip": f"10.99.0.{10 + i}", "mac": m} for i, m in enumerate(macs)])

    def sweep():
        targets = parse_targets(["10.99.0.8-14"])
        return asyncio.run(scapy_sweep(ProbeContext(targets=targets, interface="eth0"), targets, "eth0", 0.5))

    result = run_in_netns(lab.scanner_ns, sweep)
    assert {(o.ip, o.mac) for o in result.observations} == {(d.ip, d.mac) for d in lab.devices}
    assert result.notes == [NOTE]


def test_interface_facts_follow_the_threads_namespace(lab_factory):
    """After setns, the interface's MAC and address are the namespace's own (sysfs would show the root's)."""
    from scanner.lab.manager import SCANNER_MAC
    from scanner.netif import interface, interfaces

    lab = lab_factory([{"name": "d", "ip": "10.99.0.10", "mac": "58:50:ed:00:00:01"}])
    itf = run_in_netns(lab.scanner_ns, interface, "eth0")
    assert itf.mac == SCANNER_MAC
    assert str(itf.ip) == lab.scanner_ip
    assert [i.name for i in run_in_netns(lab.scanner_ns, interfaces)] == ["eth0"]


def test_back_to_back_scans_keep_finding_protocol_responders(lab_factory):
    """Regression: ARP frames once carried the wrong sender MAC after setns, so devices cached it and
    dropped the next round's replies."""
    from scanner.discovery.registry import select
    from scanner.scan import ScanRequest, ScanState, run_probes

    lab = lab_factory(
        [{"name": "cam", "ip": "10.99.0.10", "mac": "58:50:ed:00:00:01", "profile": "hikvision-nvr"}]
    )

    def one_round():
        config = ScanRequest(
            targets=parse_targets(["10.99.0.0/28"]),
            target_texts=["10.99.0.0/28"],
            probes=select("arp,sadp"),
            interface="eth0",
            timeout=2.0,
        )
        state = ScanState()
        asyncio.run(run_probes(config, state))
        return {o.probe for o in state.observations}

    for _ in range(3):
        assert run_in_netns(lab.scanner_ns, one_round) == {"arp", "sadp"}


def test_a_sweep_out_of_time_says_partial(lab_factory):
    """At 100 frames/s a /24 cannot be asked and retried in 0.8 s: the result says so instead of claiming
    a complete sweep. Every device asked in time is found."""
    from scanner.discovery.options import ProbeOptions

    lab = lab_factory(
        [{"name": f"d{i}", "ip": f"10.99.0.{10 + i}", "mac": f"02:00:00:00:01:{i:02x}"} for i in range(3)]
    )

    def slow() -> object:
        ctx = ProbeContext(
            targets=parse_targets(["10.99.0.0/24"]),
            interface="eth0",
            timeout=0.8,
            options=ProbeOptions(rate=100),
        )
        return asyncio.run(ArpProbe().run(ctx))

    result = run_in_netns(lab.scanner_ns, slow)
    assert result.status == ProbeStatus.PARTIAL
    assert any(n.startswith("ran out of time: ") and "never asked" in n for n in result.notes), result.notes
    assert {o.ip for o in result.observations} == {d.ip for d in lab.devices}  # .10-.12 were asked first
    assert result.sent < 254
