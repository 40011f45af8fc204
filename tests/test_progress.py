"""A scan's progress (scanner.progress): hosts done/total, devices found, covered so far, the ETA; and
run_scan's progress callback and shared pacer, on fake probes (no network)."""

from __future__ import annotations

import asyncio
from ipaddress import IPv4Address

import pytest

from scanner.discovery.base import ProbeContext, ProbeResult, ProbeStatus
from scanner.observations import Observation
from scanner.progress import IDENTIFY_EVERY, ProgressView, ScanProgress, identify_status

TARGETS = [f"10.0.0.{i}" for i in range(1, 11)]  # 10 targets
HIK = "58:50:ed:00:00:01"


def obs(ip: str, signal: str = "sadp.reply", value: str = "x", mac: str | None = None) -> Observation:
    return Observation(signal=signal, value=value, probe="t", ip=ip, mac=mac)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def tracker(clock: Clock, statuses: dict[str, str] | None = None) -> ScanProgress:
    """A tracker whose identification says ``statuses[ip]`` for a host (by its first observation)."""
    known = statuses or {}
    return ScanProgress(TARGETS, clock=clock, identify=lambda seen: known.get(seen[0].ip or ""))


def test_discovery_counts_devices_apart_from_heard_and_bounds_the_eta_by_the_budget() -> None:
    clock = Clock()
    p = tracker(clock)
    p.start_discovery(["arp", "sadp"], budget=20.0)
    p.observe(obs("10.0.0.1"))
    p.observe(obs("10.0.0.1", "mac", HIK, HIK))
    p.observe(obs("10.0.0.2"))
    p.observe(obs("10.9.9.9"))  # answered multicast, not a target
    clock.now += 5.0
    v = p.view()
    assert (v.phase, v.hosts_total, v.hosts_done, v.devices, v.heard) == ("discovery", 10, 0, 2, 1)
    assert v.eta == pytest.approx(15.0) and v.eta_bound
    assert v.running == ("arp", "sadp") and v.elapsed == pytest.approx(5.0)
    p.probe_finished("arp")
    assert p.view().running == ("sadp",)
    clock.now += 30.0
    assert p.view().eta == 0.0  # past the budget: nothing left of it, never negative


def test_discovery_shows_the_share_of_its_planned_packets_sent() -> None:
    sent = [500]  # packets sent before the round (never counted in its share)
    p = ScanProgress(TARGETS, clock=Clock(), identify=lambda seen: None, packets=lambda: sent[0])
    assert p.view().sent_share is None
    p.start_discovery(["liveness", "sadp"], budget=30.0, packets=1000)
    sent[0] += 250
    v = p.view()
    assert v.sent_share == pytest.approx(0.25) and v.packets == 750
    sent[0] += 5000  # retries: more than the first round planned
    assert p.view().sent_share == pytest.approx(0.99)  # never "100 %" before the round has ended
    p.start_banners([], ["http"], budget=8.0)
    assert p.view().sent_share is None


def test_banner_round_counts_hosts_done_and_extrapolates_the_eta() -> None:
    clock = Clock()
    p = tracker(clock)
    p.start_discovery(["arp"], budget=3.0)
    clock.now += 2.0
    p.probe_finished("arp")
    live = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]
    p.start_banners(live, ["http", "rtsp"], budget=60.0)
    v = p.view()
    assert (v.phase, v.hosts_done) == ("banners", 6)  # the 6 silent targets need nothing more
    assert v.eta == pytest.approx(60.0) and v.eta_bound  # nothing done yet: the budget bounds it
    clock.now += 4.0
    p.host_done("http", "10.0.0.1")
    assert p.view().hosts_done == 6  # rtsp still works on it
    p.host_done("rtsp", "10.0.0.1")
    p.host_done("rtsp", "10.0.0.1")  # twice counts once
    p.host_done("http", "10.9.9.9")  # not a banner host: ignored
    v = p.view()
    assert v.hosts_done == 7
    assert v.eta == pytest.approx(12.0) and not v.eta_bound  # 4 s per host, 3 hosts left
    p.probe_finished("http")
    p.probe_finished("rtsp")  # a probe that ended finished every host it had
    assert p.view().hosts_done == 10
    p.finish()
    v = p.view()
    assert (v.phase, v.hosts_done, v.eta, v.running) == ("done", 10, 0.0, ())


def test_no_live_host_or_no_banner_probe_means_all_done_after_discovery() -> None:
    p = tracker(Clock())
    p.start_banners([], ["http"], budget=8.0)
    assert p.view().hosts_done == 10
    q = tracker(Clock())
    q.start_banners(["10.0.0.1"], [], budget=8.0)
    assert q.view().hosts_done == 10


def test_covered_so_far_is_identified_again_only_when_new_and_not_too_often() -> None:
    clock = Clock()
    calls: list[str] = []
    statuses = {"10.0.0.1": "covered", "10.0.0.2": "likely", "10.0.0.3": "not-covered"}

    def identify(seen: list[Observation]) -> str | None:
        calls.append(seen[0].ip or "")
        return statuses.get(seen[0].ip or "")

    p = ScanProgress(TARGETS, clock=clock, identify=identify)
    for ip in statuses:
        p.observe(obs(ip))
    v = p.view()
    assert (v.covered, v.likely) == (1, 1)
    assert sorted(calls) == sorted(statuses)
    p.observe(obs("10.0.0.1", "http.server", "App-webs/"))
    p.view()
    assert len(calls) == 3  # within IDENTIFY_EVERY: not yet
    clock.now += IDENTIFY_EVERY
    p.view()
    assert calls[3:] == ["10.0.0.1"]  # only the host with something new
    clock.now += IDENTIFY_EVERY
    p.view()
    assert len(calls) == 4


def test_a_failing_identification_never_breaks_progress() -> None:
    def broken(seen: list[Observation]) -> str | None:
        raise RuntimeError("boom")

    p = ScanProgress(TARGETS, identify=broken)
    p.observe(obs("10.0.0.1"))
    assert p.view().covered == 0


def test_the_real_identification_names_a_covered_device() -> None:
    seen = [obs("10.0.0.5", "mac", HIK, HIK), obs("10.0.0.5", "http.server", "App-webs/", HIK)]
    assert identify_status(seen) == "covered"
    assert identify_status([obs("10.0.0.6", "http.title", "hello")]) in {"unknown", "not-covered"}


# ---------------------------------------------------------------- run_scan's progress and pacer


class FakeProbe:
    """A discovery probe that takes 10 tokens and finds every target; a banner probe that finishes each
    host (``ctx.host_done``). Records the pacer it was given."""

    pacers: list[object] = []
    concurrency: list[int] = []

    def __init__(self, name: str) -> None:
        self.name = name

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        FakeProbe.pacers.append(ctx.pacer)
        FakeProbe.concurrency.append(ctx.concurrency)
        assert ctx.pacer is not None
        for _ in range(10):
            await ctx.pacer.take()
        for t in ctx.targets:
            if self.name == "sadp":
                mac = f"58:50:ed:00:00:{t.packed[-1]:02x}"
                ctx.emit(Observation(signal="sadp.reply", value="x", probe=self.name, ip=str(t), mac=mac))
        if self.name == "http":
            for ip in ctx.live_hosts:
                await asyncio.sleep(0)
                assert ctx.host_done is not None
                ctx.host_done(self.name, ip)
        return ProbeResult(self.name, ProbeStatus.SUCCESS)


def test_run_scan_reports_progress_and_shares_one_pacer(monkeypatch: pytest.MonkeyPatch) -> None:
    from scanner.discovery.options import ProbeOptions
    from scanner.discovery.registry import PROBES
    from scanner.scan import ScanRequest, run_scan

    FakeProbe.pacers, FakeProbe.concurrency = [], []
    monkeypatch.setattr("scanner.scan.instantiate", lambda spec: FakeProbe(spec.name))
    monkeypatch.setattr("scanner.scan.own_addresses", lambda: frozenset())
    views: list[ProgressView] = []
    request = ScanRequest(
        targets=(IPv4Address("10.0.0.5"), IPv4Address("10.0.0.6")),
        target_texts=("10.0.0.5-6",),
        probes=(PROBES["sadp"], PROBES["dhip"], PROBES["http"]),
        options=ProbeOptions(rate=5000, concurrency=7),
    )
    assert request.concurrency == 7
    report = run_scan(request, None, views.append)
    assert [d.ip for d in report.devices] == ["10.0.0.5", "10.0.0.6"]
    assert len(FakeProbe.pacers) == 3 and len({id(p) for p in FakeProbe.pacers}) == 1  # one pacer
    assert FakeProbe.pacers[0].rate == 5000  # type: ignore[attr-defined]
    assert FakeProbe.concurrency == [7, 7, 7]  # --concurrency reaches every probe's context
    last = views[-1]
    assert (last.phase, last.hosts_total, last.hosts_done, last.devices, last.packets) == (
        "done",
        2,
        2,
        2,
        30,
    )
    assert {v.phase for v in views} <= {"starting", "discovery", "banners", "done"}
    assert "paced at 5000 packets/s at most, every probe together (--rate): 30 sent" in report.notes


def test_run_scan_without_a_progress_callback_tracks_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from scanner.discovery.registry import PROBES
    from scanner.scan import ScanRequest, run_scan

    monkeypatch.setattr("scanner.scan.instantiate", lambda spec: FakeProbe(spec.name))
    monkeypatch.setattr("scanner.scan.own_addresses", lambda: frozenset())
    made: list[object] = []
    monkeypatch.setattr("scanner.scan.ScanProgress", lambda *a, **k: made.append(a))
    request = ScanRequest(
        targets=(IPv4Address("10.0.0.5"),), target_texts=("10.0.0.5",), probes=(PROBES["http"],)
    )
    report = run_scan(request)
    assert made == []
    assert not any("--rate" in n for n in report.notes)  # said only when the user chose a rate


def test_identification_is_done_in_small_batches() -> None:
    """A big network's devices are identified a batch per pass, so the event loop is never held long."""
    from scanner.progress import IDENTIFY_BATCH

    clock = Clock()
    many = [f"10.1.{i // 250}.{i % 250 + 1}" for i in range(IDENTIFY_BATCH + 36)]
    calls: list[str] = []
    p = ScanProgress(many, clock=clock, identify=lambda seen: calls.append(seen[0].ip or "") or "covered")
    for ip in many:
        p.observe(obs(ip))
    assert p.view().covered == IDENTIFY_BATCH
    clock.now += IDENTIFY_EVERY
    assert p.view().covered == len(many)
    assert sorted(calls) == sorted(many)
