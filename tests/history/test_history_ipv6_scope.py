"""A scan with IPv6 targets that did not finish is rebuilt from its stored observations with the same
placement as the live scan: its IPv4 and IPv6 targets are devices, the other hosts heard; the stored
targets are addresses (a host name was recorded as the address scanned), so nothing is resolved again."""

from __future__ import annotations

from pathlib import Path

from scanner.history.store import HistoryStore
from scanner.identify.models import Verdict
from scanner.observations import Observation, group_by_host
from scanner.results import DeviceReport


def identify(observations: list[Observation]) -> list[DeviceReport]:
    return [DeviceReport.of(d, Verdict()) for d in group_by_host(observations)]


def test_a_rebuilt_scan_places_ipv6_targets_as_the_live_scan_did(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "history.sqlite3") as store:
        scan_id = store.start_scan(["10.0.0.5", "2001:db8::/126", "fe80::/64%eth0"], "eth0", "t", ["sadp"])
        for ip in ("10.0.0.5", "2001:db8::2", "fe80::7%eth0", "10.0.0.77", "2001:db8::99", "fe80::7%eth1"):
            store.add_observation(scan_id, Observation(signal="sadp.reply", value="x", probe="sadp", ip=ip))
        store.mark_incomplete(scan_id, "interrupted")
        report = store.load_report(scan_id, identify=identify)
    assert sorted(d.ip or "" for d in report.devices) == ["10.0.0.5", "2001:db8::2", "fe80::7%eth0"]
    assert sorted(d.ip or "" for d in report.heard) == ["10.0.0.77", "2001:db8::99", "fe80::7%eth1"]
