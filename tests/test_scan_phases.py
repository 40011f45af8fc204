"""The scan's phases without a network: the liveness sweep runs first, and unicast discovery and the
banner probes then go only to the off-link targets that answered it (also when the sweep ran out of
time); each probe's budget comes from its phase, at least its ProbeSpec.min_budget."""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import ClassVar

import pytest

from scanner.discovery.base import Collector, ProbeContext, ProbeResult, ProbeStatus
from scanner.discovery.registry import PROBES, ProbeSpec
from scanner.scan import ScanRequest, banner_budget, liveness_budget, probe_budget, run_scan

TARGETS = [IPv4Address("10.7.0.5"), IPv4Address("10.7.1.6"), IPv4Address("10.7.2.7")]  # all off-link
ASKED: dict[str, list[list[str]]] = {}


class FakeSweep:
    """Says 10.7.1.6 answered, with the status the test sets."""

    name = "liveness"
    description = "fake sweep"
    status: ClassVar[ProbeStatus] = ProbeStatus.SUCCESS

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        ASKED.setdefault("sweep", []).append([str(t) for t in ctx.targets])
        col = Collector(self.name, ctx)
        if self.status != ProbeStatus.ERROR:
            col.add("host.alive", "tcp-rst", ip="10.7.1.6")
        return col.result(self.status)


class FakeUnicast:
    name = "sadp"
    description = "records the hosts it would ask"

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        ASKED.setdefault("discover", []).append(ctx.hosts_to_probe())
        return ProbeResult(self.name, ProbeStatus.NO_RESPONSE)


class FakeBanner:
    name = "http"
    description = "records the hosts it would probe"

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        ASKED.setdefault("banner", []).append(ctx.hosts_to_probe())
        return ProbeResult(self.name, ProbeStatus.NO_RESPONSE)


SPECS = (
    ProbeSpec("liveness", __name__, "FakeSweep", "sweep"),
    ProbeSpec("sadp", __name__, "FakeUnicast", "discover"),
    ProbeSpec("http", __name__, "FakeBanner", "banner"),
)


@pytest.mark.parametrize("status", [ProbeStatus.SUCCESS, ProbeStatus.PARTIAL])
def test_only_targets_that_answered_the_sweep_get_unicast_discovery_and_banners(
    status: ProbeStatus, monkeypatch: pytest.MonkeyPatch
) -> None:
    ASKED.clear()
    monkeypatch.setattr(FakeSweep, "status", status)
    report = run_scan(ScanRequest(targets=TARGETS, target_texts=["10.7.0.0/22"], probes=SPECS))
    assert ASKED["sweep"] == [[str(t) for t in TARGETS]]
    assert ASKED["discover"] == [["10.7.1.6"]]
    assert ASKED["banner"] == [["10.7.1.6"]]
    assert report.complete == (status == ProbeStatus.SUCCESS)


def test_a_sweep_that_could_not_run_leaves_every_target_to_the_other_probes(monkeypatch) -> None:
    ASKED.clear()
    monkeypatch.setattr(FakeSweep, "status", ProbeStatus.ERROR)
    run_scan(ScanRequest(targets=TARGETS, target_texts=["10.7.0.0/22"], probes=SPECS))
    assert ASKED["discover"] == [[str(t) for t in TARGETS]]
    assert sorted(ASKED["banner"][0]) == sorted(str(t) for t in TARGETS)


def test_each_probe_budget_comes_from_its_phase_and_its_spec() -> None:
    request = ScanRequest(targets=TARGETS, target_texts=[], probes=())
    assert probe_budget(PROBES["liveness"], request, 65534) == liveness_budget(request, 65534)
    assert liveness_budget(request, 65534) > liveness_budget(request, 254) >= request.timeout
    assert probe_budget(PROBES["http"], request, 4000) == banner_budget(request.banner_timeout, 4000, 128)
    assert probe_budget(PROBES["nmap"], request, 4) == PROBES["nmap"].min_budget >= 60.0
    assert probe_budget(PROBES["sadp"], request, 10) == request.timeout
