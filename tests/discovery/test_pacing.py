"""The scan's one packet pace (scanner.discovery.pacing.Pacer) and the probes that draw from it.

The bucket's arithmetic is checked on a virtual clock (no sleeping). The engines are checked on fake
channels: every datagram they send takes a token first, and two exchanges sharing one slow pacer never
send more together than the pacer lets go. Those checks hold however loaded the machine is: a slow event
loop only sends later, never more (each sender has at most one token it has not used yet).
"""

from __future__ import annotations

import asyncio
import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from labtools import most_in_window

from scanner.discovery.base import Collector, ProbeContext
from scanner.discovery.options import (
    CONNECT_CONCURRENCY,
    DEFAULT_CONCURRENCY,
    DEFAULT_RATE,
    DEVICE_RATE,
    SWEEP_RATE,
    ProbeOptions,
)
from scanner.discovery.pacing import Pacer
from scanner.discovery.request_reply import Exchange, Scope, Timing
from tests.discovery.test_udp_engine import FakeChannel, FakeNet, ask, handle, hosts

# ---------------------------------------------------------------- the bucket on a virtual clock


@settings(max_examples=60, deadline=None)
@given(
    rate=st.sampled_from([10.0, 100.0, 1000.0, 20_000.0]),
    takers=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
)
def test_no_window_lets_more_go_than_rate_times_its_length_plus_the_burst(
    rate: float, takers: int, seed: int
) -> None:
    """Several greedy takers (each sends, then asks again at once or after a random pause): the send
    times the bucket hands out never hold more than burst + slack + rate * T in any T seconds."""
    rng = random.Random(seed)
    pacer = Pacer(rate, clock=lambda: 0.0)
    ready = [rng.random() * 0.01 for _ in range(takers)]  # when each taker asks next
    sends: list[float] = []
    for _ in range(int(rate * 2) + 50):
        i = min(range(takers), key=ready.__getitem__)
        now = ready[i]
        sent_at = now + pacer.reserve(1, now)
        sends.append(sent_at)
        ready[i] = sent_at + (rng.random() * 3 / rate if rng.random() < 0.3 else 0.0)
    for window in (1 / rate, 10 / rate, 0.1, 1.0):
        assert most_in_window(sends, window) <= pacer.burst + pacer.slack + rate * window + 1e-9


def test_greedy_takers_get_the_rate_not_more_and_not_much_less() -> None:
    """Three takers asking as fast as they may: 3000 packets at 1000/s take just under 3 s of virtual time."""
    pacer = Pacer(1000.0)
    ready = [0.0, 0.0, 0.0]
    last = 0.0
    for n in range(3000):
        i = n % 3
        last = ready[i] = ready[i] + pacer.reserve(1, ready[i])
    assert 3000 / 1000 - (pacer.burst + pacer.slack) / 1000 <= last <= 3.0 + 0.01
    assert pacer.taken == 3000


def test_idle_time_banks_only_the_burst() -> None:
    pacer = Pacer(1000.0)
    pacer.reserve(1, 0.0)
    free = 0
    while pacer.reserve(1, 100.0) == 0.0:  # 100 s idle: still only burst + slack at once
        free += 1
    assert free <= pacer.burst + pacer.slack + 1


def test_take_sleeps_what_reserve_says() -> None:
    """``take`` on a virtual clock: 500 packets at 100/s need about 5 s of (virtual) sleep, slept in steps
    of at least the slack, never in thousands of tiny sleeps."""
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(100.0, clock=lambda: now[0], sleep=sleep)

    async def main() -> None:
        for _ in range(500):
            await pacer.take()

    asyncio.run(main())
    assert 500 / 100 - 0.05 <= now[0] <= 500 / 100 + 0.01
    assert len(slept) <= 500 and min(slept) >= 1 / 100 - 1e-9


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive rate"):
        Pacer(0.0)


# ---------------------------------------------------------------- the options' model


def test_rate_model_defaults_and_the_cap() -> None:
    default = ProbeOptions()
    assert default.rate_cap == DEFAULT_RATE
    assert default.rate_for("arp") == default.rate_for("liveness") == SWEEP_RATE
    assert {default.rate_for(p) for p in ("sadp", "dhip", "wsd", "ssdp", "snmp")} == {DEVICE_RATE}
    slow = ProbeOptions(rate=300)
    assert slow.rate_cap == 300
    assert {slow.rate_for(p) for p in ("arp", "liveness", "sadp", "snmp")} == {300}
    fast = ProbeOptions(rate=100_000)
    assert fast.rate_for("arp") == fast.rate_for("liveness") == 100_000  # sweeps follow the user
    assert fast.rate_for("sadp") == DEVICE_RATE  # devices' parsers keep their safer pace


def test_concurrency_model() -> None:
    assert ProbeOptions().host_concurrency == DEFAULT_CONCURRENCY
    assert ProbeOptions().concurrency_for(CONNECT_CONCURRENCY) == CONNECT_CONCURRENCY
    assert ProbeOptions(concurrency=8).host_concurrency == 8
    assert ProbeOptions(concurrency=8).concurrency_for(CONNECT_CONCURRENCY) == 8


# ---------------------------------------------------------------- the engines draw from it


class CountingPacer(Pacer):
    """A pacer that remembers when each packet was let go (the reservation time plus its wait)."""

    def __init__(self, rate: float) -> None:
        super().__init__(rate)
        self.released: list[float] = []

    def reserve(self, n: int = 1, now: float | None = None) -> float:
        now = self.clock() if now is None else now
        delay = super().reserve(n, now)
        self.released += [now + delay] * n
        return delay


def paced_exchange(
    targets: list[str], channel: FakeChannel, pacer: Pacer, group: list[tuple[str, bytes]] | None = None
) -> Exchange:
    col = Collector("fake", ProbeContext(targets=[], timeout=3.0, pacer=pacer))
    return Exchange(
        col,
        handle=handle,
        timing=Timing(rate=100_000, min_tries=2, first_wait=0.1),  # its own pace: far above the cap
        scope=Scope(anywhere=True),
        targets=targets,
        unicast=ask,
        group=group or [],
        unicast_channel=channel,
        group_channel=channel if group else None,
    )


def test_every_datagram_of_an_exchange_takes_a_token() -> None:
    """Unicast requests wait for their token; group datagrams are counted (later takers wait for them)."""
    pacer = CountingPacer(1_000_000.0)
    ch = FakeChannel(FakeNet(set(hosts(10))))
    ex = paced_exchange(hosts(50), ch, pacer, group=[("239.255.255.250", b"ask all")])
    asyncio.run(ex.run(2.0))
    assert len(ch.sends) == ex.sent > 50
    assert pacer.taken == len(ch.sends)


def test_two_exchanges_sharing_a_pacer_stay_under_its_rate() -> None:
    """Two probes side by side, each pacing itself at 100,000/s, under one 400/s cap: together they never
    send more than the cap allows in any window (plus one packet per sender, sent late by a slow loop)."""
    rate = 400.0
    pacer = CountingPacer(rate)
    a, b = FakeChannel(FakeNet(set(hosts(5)))), FakeChannel(FakeNet(set(hosts(5, 300))))
    ex_a = paced_exchange(hosts(250), a, pacer)
    ex_b = paced_exchange(hosts(250, 300), b, pacer)

    async def both() -> None:
        await asyncio.gather(ex_a.run(1.5), ex_b.run(1.5))

    started = time.monotonic()
    asyncio.run(both())
    elapsed = time.monotonic() - started
    sends = [t for t, _d, _p in a.sends + b.sends]
    assert len(sends) >= 50, "too few sends to say anything"
    assert pacer.taken == len(sends)
    # every send went at or after the moment its token was due
    assert all(s >= r - 0.002 for s, r in zip(sorted(sends), sorted(pacer.released), strict=True))
    for window in (0.05, 0.25, 1.0):
        allowed = pacer.burst + pacer.slack + 2 + rate * window
        assert most_in_window(sends, window) <= allowed, window
    assert len(sends) <= pacer.burst + pacer.slack + rate * elapsed + 2


def test_connect_sweep_holds_concurrency_and_takes_a_token_per_connect(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The unprivileged liveness sweep: --concurrency bounds the connect() calls in flight, and each
    connect() (a SYN) takes a token. ``open_connection`` is a fake: nothing is sent."""
    from ipaddress import IPv4Address

    from scanner.discovery import liveness

    in_flight = peak = calls = 0

    async def fake_open_connection(ip: str, port: int) -> tuple[object, object]:
        nonlocal in_flight, peak, calls
        calls += 1
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            await asyncio.sleep(0.005)
        finally:
            in_flight -= 1
        raise ConnectionRefusedError  # every target "there", every port closed

    monkeypatch.setattr(liveness.asyncio, "open_connection", fake_open_connection)
    pacer = Pacer(1_000_000.0)
    ctx = ProbeContext(targets=[], timeout=30.0, pacer=pacer, options=ProbeOptions(concurrency=3))
    targets = [IPv4Address("127.0.0.1") + i for i in range(20)]  # loopback, should the fake ever fail
    result = asyncio.run(liveness.connect_sweep(Collector("liveness", ctx), targets, (80,), 30.0))
    assert calls == 20 * len(liveness.HOST_PORTS)
    assert peak == 3
    assert pacer.taken == calls
    assert result.received == 20


def test_banner_hosts_take_a_token_per_socket_they_may_open() -> None:
    """A banner probe's connection starts count against --rate too: a host that may open 3 sockets takes
    3 tokens before it starts (the work itself is a fake: nothing is sent)."""
    from scanner.discovery.banner_base import HostRecorder, probe_each_host

    pacer = Pacer(1_000_000.0)
    finished: list[tuple[str, str]] = []
    ctx = ProbeContext(
        targets=[], timeout=10.0, pacer=pacer, host_done=lambda probe, ip: finished.append((probe, ip))
    )

    async def work(rec: HostRecorder) -> bool:
        return True

    hosts_ = [f"127.0.0.{i}" for i in range(1, 11)]
    result = asyncio.run(probe_each_host(Collector("http", ctx), hosts_, work, 3, 5.0))
    assert result.received == 10
    assert pacer.taken == 30
    assert sorted(finished) == sorted(("http", h) for h in hosts_)  # the progress hears of every host


def test_nmap_gets_the_users_rate_as_its_max_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    """nmap is a process of its own: it cannot share the bucket, so a --rate the user gave caps it alone."""
    from ipaddress import IPv4Address

    from scanner.discovery import nmap_source

    seen: list[list[str]] = []

    async def fake_run_nmap(
        program: str, arguments: list[str], budget: float
    ) -> tuple[bytes | None, str, bool]:
        seen.append(arguments)
        return None, "not run in this test", True

    class FakeScanner:
        def __init__(self, search: tuple[str, ...]) -> None: ...

        def nmap_version(self) -> tuple[int, int]:
            return (7, 93)

    monkeypatch.setattr(nmap_source, "run_nmap", fake_run_nmap)
    monkeypatch.setattr(nmap_source.shutil, "which", lambda name: "/usr/bin/nmap")
    monkeypatch.setattr("nmap.PortScanner", FakeScanner)
    target = IPv4Address("127.0.0.2")
    for options, expected in ((ProbeOptions(rate=300), ["--max-rate", "300"]), (ProbeOptions(), None)):
        ctx = ProbeContext(targets=[target], live_hosts={"127.0.0.2": None}, timeout=5.0, options=options)
        asyncio.run(nmap_source.NmapSource().run(ctx))
        args = seen.pop()
        if expected is None:
            assert "--max-rate" not in args
        else:
            i = args.index("--max-rate")
            assert args[i : i + 2] == expected


def test_the_fetch_ceilings_are_the_models() -> None:
    """SSDP description fetches and mDNS resolves keep the model's lower ceiling (their modules name it
    on their own: this keeps them equal)."""
    from scanner.discovery import mdns, ssdp
    from scanner.discovery.options import FETCH_CONCURRENCY

    assert ssdp.MAX_FETCHES == mdns.MAX_CONCURRENT_RESOLVES == FETCH_CONCURRENCY


def test_the_unprivileged_arp_sweep_takes_a_token_per_poke() -> None:
    """Each UDP poke makes the kernel send an ARP request: the neighbour sweep paces them under --rate.
    Loopback addresses only: the pokes never leave this machine."""
    from ipaddress import IPv4Address, IPv4Network

    from scanner.discovery.neighbour import neighbour_sweep
    from scanner.netif import Interface

    pacer = Pacer(1_000_000.0)
    lo = Interface("lo", 1, "00:00:00:00:00:00", IPv4Address("127.0.0.1"), IPv4Network("127.0.0.0/8"))
    targets = [IPv4Address("127.0.0.2") + i for i in range(12)]
    result = asyncio.run(neighbour_sweep(ProbeContext(targets=targets, pacer=pacer), targets, lo))
    assert result.sent == 12
    assert pacer.taken == 12
