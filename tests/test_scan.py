"""The scan's scope and orchestration without a network: which hosts the banner phase probes, how hosts
are placed in the report (devices, heard, dropped), the one grouping rule, exclusions, and run_scan's
partial report when stopped."""

from __future__ import annotations

import asyncio
import signal
from ipaddress import IPv4Address, IPv4Network

import pytest

from scanner.discovery.base import ProbeResult, ProbeStatus
from scanner.errors import TargetError
from scanner.identify.models import Verdict
from scanner.observations import Observation, group_by_host
from scanner.results import HEARD_NOTE, DeviceReport, build_report
from scanner.scan import (
    INTERRUPTED,
    PROBE_FAILED,
    ScanRequest,
    banner_budget,
    discovery_budget,
    discovery_handoff,
    live_hosts,
    run_scan,
)
from scanner.targets import Scope, parse_targets

TARGETS = [IPv4Address("10.0.0.5"), IPv4Address("10.0.0.6"), IPv4Address("10.0.9.7")]
HIK = "58:50:ed:00:00:01"


def obs(signal: str, value: str, ip: str | None, mac: str | None = None, probe: str = "sadp") -> Observation:
    return Observation(signal=signal, value=value, probe=probe, ip=ip, mac=mac)


def test_banner_hosts_are_targets_only_never_hosts_that_answered_multicast():
    seen = [
        obs("mac", HIK, "10.0.0.5", HIK, probe="arp"),
        obs("sadp.reply", "x", "192.0.0.64"),  # a factory-address camera answering SADP multicast
        obs("wsd.xaddrs", "http://10.0.0.77/onvif/device_service", "10.0.0.77", probe="wsd"),  # not a target
    ]
    live = live_hosts(seen, TARGETS, discovered=True, swept=IPv4Network("10.0.0.0/24"))
    # 10.0.0.6 was swept by ARP and did not answer: skipped; 10.0.9.7 is across a router: probed;
    # 192.0.0.64 and 10.0.0.77 answered discovery but are not targets: never probed
    assert live == {"10.0.0.5": HIK, "10.0.9.7": None}


def test_a_claimed_mac_is_never_the_probed_hosts_mac():
    seen = [obs("claimed.mac", "c0:56:e3:00:00:09", "10.0.0.6", "c0:56:e3:00:00:09")]
    assert live_hosts(seen, TARGETS, discovered=True, swept=IPv4Network("10.0.0.0/24")) == {
        "10.0.0.6": None,
        "10.0.9.7": None,
    }


def test_without_an_arp_sweep_every_target_is_probed():
    assert set(live_hosts([], TARGETS, discovered=True, swept=None)) == {str(t) for t in TARGETS}
    assert set(live_hosts([], TARGETS, discovered=False)) == {str(t) for t in TARGETS}


def test_the_onvif_handoff_holds_probed_hosts_only():
    seen = [
        obs("wsd.xaddrs", "http://10.0.0.5/onvif/device_service", "10.0.0.5", probe="wsd"),
        obs("wsd.xaddrs", "http://10.0.0.77/onvif/device_service", "10.0.0.77", probe="wsd"),
    ]
    assert dict(discovery_handoff(seen, ["10.0.0.5"]).onvif_xaddrs) == {
        "10.0.0.5": ("http://10.0.0.5/onvif/device_service",)
    }


def test_banner_budget_grows_with_the_number_of_hosts():
    assert banner_budget(8.0, 50, 128) == 8.0
    assert banner_budget(8.0, 4000, 128) == 96.0  # 32 waves of ~3 s


def test_discovery_budget_leaves_time_to_ask_every_target():
    assert discovery_budget(3.0, 254) == 3.0
    assert discovery_budget(3.0, 65536) > 65536 / 5000


# ---------------------------------------------------------------- exclusions


def test_exclude_takes_the_target_syntax_and_subtracts():
    got = parse_targets(["10.0.0.0/29"], exclude=["10.0.0.2-3", "10.0.0.6,10.0.0.200"])
    assert [str(a) for a in got] == ["10.0.0.1", "10.0.0.4", "10.0.0.5"]
    # an exclusion may be far larger than --max-hosts: it is never enumerated
    assert [str(a) for a in parse_targets(["10.1.2.3", "192.168.0.1"], 10, exclude=["10.0.0.0/8"])] == [
        "192.168.0.1"
    ]


@pytest.mark.parametrize(
    ("exclude", "needle"), [(["10.0.0.0/24"], "removes every target"), (["banana"], "not a target")]
)
def test_exclude_errors_are_usage_errors(exclude: list[str], needle: str):
    with pytest.raises(TargetError, match=needle):
        parse_targets(["10.0.0.1-5"], exclude=exclude)


# ---------------------------------------------------------------- placement


def report_of(observations: list[Observation], scope: Scope):
    devices = [DeviceReport.of(d, Verdict()) for d in group_by_host(observations)]
    return build_report(devices, scope=scope)


def test_only_targets_are_devices_others_are_heard_the_scanner_is_neither():
    scope = Scope(targets=frozenset(TARGETS), own=frozenset({IPv4Address("10.0.0.2")}))
    report = report_of(
        [
            obs("mac", HIK, "10.0.0.5", HIK, probe="arp"),
            obs("sadp.reply", "x", "10.0.0.5"),
            obs("sadp.reply", "x", "10.0.0.77"),  # answered multicast, not a target
            obs("ssdp.server", "me", "10.0.0.2", probe="ssdp"),  # the scanner's own echo
            obs("mdns.hostname", "lo", "127.0.0.1", probe="mdns"),
        ],
        scope,
    )
    assert [d.ip for d in report.devices] == ["10.0.0.5"]
    assert [d.ip for d in report.heard] == ["10.0.0.77"]
    assert HEARD_NOTE in report.heard[0].verdict.notes
    assert any("2 host(s) at the scanner's own or a loopback address" in n for n in report.notes)


def test_a_device_is_reported_by_its_target_address():
    scope = Scope(targets=frozenset({IPv4Address("10.0.0.6")}))
    # the same MAC answered first from a non-target address, then from the target
    report = report_of([obs("sadp.reply", "x", "10.0.0.99", HIK), obs("mac", HIK, "10.0.0.6", HIK)], scope)
    assert [(d.ip, d.mac) for d in report.devices] == [("10.0.0.6", HIK)] and report.heard == []


def test_without_a_scope_every_host_is_a_device():
    report = report_of([obs("sadp.reply", "x", "10.0.0.77"), obs("sadp.reply", "x", "127.0.0.1")], None)  # type: ignore[arg-type]
    assert len(report.devices) == 2 and report.heard == []


# ---------------------------------------------------------------- grouping


def test_claimed_addresses_never_merge_hosts():
    """A reply claiming another host's MAC (or carrying it as its own mac field) stays its sender's."""
    other = "c0:56:e3:12:34:56"
    devices = group_by_host(
        [
            obs("mac", HIK, "10.0.0.5", HIK, probe="arp"),
            obs("mac", other, "10.0.0.6", other, probe="arp"),
            obs("claimed.mac", HIK, "10.0.0.6", HIK),  # 10.0.0.6's payload claims 10.0.0.5's MAC
            obs("claimed.ip", "10.0.0.5", "10.0.0.6"),
            obs("claimed.mismatch", "10.0.0.5", "10.0.0.6"),
        ]
    )
    by_ip = {d.ip: d for d in devices}
    assert set(by_ip) == {"10.0.0.5", "10.0.0.6"}
    assert by_ip["10.0.0.5"].mac == HIK and len(by_ip["10.0.0.5"].observations) == 1
    assert by_ip["10.0.0.6"].mac == other and len(by_ip["10.0.0.6"].observations) == 4


def test_live_grouping_keeps_every_observation_repeats_included():
    same = [obs("http.server", "App-webs/", "10.0.0.5", HIK, probe="http") for _ in range(3)]
    (device,) = group_by_host(same)
    assert len(device.observations) == 3


def test_ip_only_observations_join_the_mac_seen_later():
    (device,) = group_by_host([obs("http.server", "App-webs/", "10.0.0.5"), obs("mac", HIK, "10.0.0.5", HIK)])
    assert (device.ip, device.mac, len(device.observations)) == ("10.0.0.5", HIK, 2)


# ---------------------------------------------------------------- run_scan


class RecordingSink:
    def __init__(self) -> None:
        self.seen: list[Observation] = []
        self.finished: list[tuple[object, str | None]] = []

    def start(self, request: ScanRequest) -> str | None:
        return "scan-1"

    def add(self, o: Observation) -> None:
        self.seen.append(o)

    def finish(self, report: object, stop: str | None) -> None:
        self.finished.append((report, stop))


class FakeProbe:
    """A discovery probe that emits one observation per target, then waits (or fails)."""

    name = "sadp"

    def __init__(self, mode: str) -> None:
        self.mode = mode

    async def run(self, ctx):
        for t in ctx.targets:
            ctx.emit(obs("sadp.reply", "x", str(t), HIK))
        if self.mode == "interrupt":  # Ctrl-C: asyncio.run's handler cancels the scan, which must stop
            signal.raise_signal(signal.SIGINT)
            await asyncio.sleep(30)
        if self.mode == "fail":
            return ProbeResult("sadp", ProbeStatus.ERROR, error="socket: network is unreachable")
        await asyncio.sleep(0)
        return ProbeResult("sadp", ProbeStatus.SUCCESS)


@pytest.mark.parametrize(
    ("mode", "stop", "complete"),
    [("ok", None, True), ("fail", PROBE_FAILED, False), ("interrupt", INTERRUPTED, False)],
)
def test_run_scan_reports_what_it_saw_and_why_it_stopped(monkeypatch, mode, stop, complete):
    from scanner.discovery.registry import PROBES

    monkeypatch.setattr("scanner.scan.instantiate", lambda spec: FakeProbe(mode))
    monkeypatch.setattr("scanner.scan.own_addresses", lambda: frozenset())
    sink = RecordingSink()
    request = ScanRequest(
        targets=(IPv4Address("10.0.0.5"),), target_texts=("10.0.0.5",), probes=(PROBES["sadp"],)
    )
    report = run_scan(request, sink)
    assert [(o.ip, o.signal) for o in sink.seen] == [("10.0.0.5", "sadp.reply")]
    assert sink.finished == [(report, stop)]
    assert report.complete is complete and report.scan_id == "scan-1"
    assert [d.ip for d in report.devices] == ["10.0.0.5"]
    assert any("interrupted" in n for n in report.notes) is (mode == "interrupt")
    assert any("network is unreachable" in n for n in report.notes) is (mode == "fail")


def test_a_second_ctrl_c_while_the_report_is_written_does_not_stop_it(monkeypatch, capsys):
    from scanner.discovery.registry import PROBES

    class ImpatientSink(RecordingSink):
        def finish(self, report: object, stop: str | None) -> None:
            signal.raise_signal(signal.SIGINT)  # the user presses Ctrl-C again while the report is written
            signal.raise_signal(signal.SIGTERM)  # and a service manager sends SIGTERM
            super().finish(report, stop)

    monkeypatch.setattr("scanner.scan.instantiate", lambda spec: FakeProbe("interrupt"))
    monkeypatch.setattr("scanner.scan.own_addresses", lambda: frozenset())
    sink = ImpatientSink()
    request = ScanRequest(
        targets=(IPv4Address("10.0.0.5"),), target_texts=("10.0.0.5",), probes=(PROBES["sadp"],)
    )
    report = run_scan(request, sink)
    assert sink.finished == [(report, INTERRUPTED)] and [d.ip for d in report.devices] == ["10.0.0.5"]
    assert capsys.readouterr().err.count("writing the report of what was seen") == 2
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers restored
