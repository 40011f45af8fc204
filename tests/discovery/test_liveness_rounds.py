"""The liveness sweep's host rounds without a network: the retry round (each silent address no sooner
than ROUND_GAP after its first ask, skipped once it answered) and the loss rule that gives the silent
targets more tries or ends the sweep incomplete. Sockets are fakes that record what would be sent."""

from __future__ import annotations

import asyncio
import socket
import time
from ipaddress import IPv4Address

import pytest

from scanner.discovery import liveness
from scanner.discovery.base import Collector, ProbeContext, ProbeStatus
from scanner.discovery.liveness import _RawSweep, _Retry, batch_size, retry_order, spread
from scanner.discovery.parsers.tcp_syn import SynFactory
from scanner.discovery.request_reply import per_try_loss, tries_for_loss

ME = socket.inet_aton("10.254.254.2")


class FakeSocket:
    """Records (monotonic time, destination, packet) of every sendto."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, str, bytes]] = []

    def sendto(self, packet: bytes, address: tuple[str, int]) -> int:
        self.sent.append((time.monotonic(), address[0], packet))
        return len(packet)


def make_sweep(
    n: int, rate: float = 10_000.0, budget: float = 30.0
) -> tuple[_RawSweep, FakeSocket, list[str]]:
    targets = [IPv4Address("10.1.0.0") + i for i in range(1, n + 1)]
    col = Collector("liveness", ProbeContext(targets=targets, timeout=budget))
    tcp, icmp = FakeSocket(), FakeSocket()
    sweep = _RawSweep(col, tcp, icmp, targets, rate, budget)  # type: ignore[arg-type]
    sweep.factory = SynFactory(sweep.secret, 40000, sweep.ident)
    sweep.sources.for_target = lambda ip: ME  # type: ignore[method-assign]
    sweep.sent_tcp, sweep.sent_icmp = tcp, icmp  # type: ignore[attr-defined]
    return sweep, tcp, [str(t) for t in targets]


def test_batches_are_about_a_millisecond_of_sending() -> None:
    assert batch_size(200.0) == 1  # a low --rate sends one packet at a time
    assert batch_size(20_000.0) == 20
    assert batch_size(1e6) == liveness.BATCH_MAX


def test_retry_goes_backwards_from_the_first_address_due_then_through_the_last_asked() -> None:
    addrs = [f"10.1.0.{i}" for i in range(1, 7)]
    asked = {ip: float(i) for i, ip in enumerate(addrs)}  # asked at 0 .. 5 s
    # a long round: the addresses asked before the due mark go first, backwards, then the rest
    assert retry_order(addrs, asked, 2.5) == [
        "10.1.0.3",
        "10.1.0.2",
        "10.1.0.1",
        "10.1.0.6",
        "10.1.0.5",
        "10.1.0.4",
    ]
    # a round shorter than the gap: backwards from its end (what a full table dropped last goes first)
    assert retry_order(addrs, asked, -1.0) == addrs[::-1]
    assert sorted(retry_order(addrs, asked, 10.0)) == sorted(addrs)


def test_loss_rule_matches_the_arp_sweeps() -> None:
    # with two tries, a share f of late answers means a per-try loss f / (1 - f)
    assert per_try_loss(0.25, 2) == pytest.approx(1 / 3, abs=1e-6)
    assert per_try_loss(0.0, 2) == 0.0
    assert tries_for_loss(0.0, 2, 4) == 2
    assert tries_for_loss(0.03, 2, 4) == 2  # 0.03 ** 2 < MISS_TARGET
    assert tries_for_loss(0.1, 2, 4) == 3
    assert tries_for_loss(1 / 3, 2, 4) == 4  # five wanted, capped


def test_retry_asks_only_the_still_silent_and_waits_its_gap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(liveness, "ROUND_GAP", 0.4)

    async def scenario() -> tuple[_RawSweep, FakeSocket, list[str], _Retry]:
        sweep, tcp, addrs = make_sweep(6)
        assert await sweep._send_round(spread(addrs, (None, 80, 443), 2))
        sweep._answered(addrs[0], "icmp-echo")  # answered the first round
        sweep._answered(addrs[1], "tcp-rst", 80)
        # a late answer of the first round, arriving while the retry waits for its gap
        asyncio.get_running_loop().call_later(0.1, sweep._answered, addrs[2], "icmp-echo")
        retry = _Retry(sweep.found.live, sweep.retried)
        assert await sweep._send_round(retry.jobs(addrs, (None, 80)), retry)
        return sweep, tcp, addrs, retry

    sweep, tcp, addrs, retry = asyncio.run(scenario())
    icmp: FakeSocket = sweep.sent_icmp  # type: ignore[attr-defined]
    first = sweep.found.asked_at
    retried = [(t, ip) for t, ip, _p in tcp.sent + icmp.sent if t >= min(first.values()) + 0.4]
    assert {ip for _t, ip in retried} == set(addrs[3:])  # the three still silent, each with echo + SYN
    assert len(retried) == 6
    assert all(t >= first[ip] + 0.4 for t, ip in retried)
    assert retry.asked == 3 and sweep.retried >= set(addrs[3:])


def live_sweep(late: int, budget: float = 30.0) -> tuple[_RawSweep, list[str]]:
    sweep, _tcp, addrs = make_sweep(64, budget=budget)
    for ip in addrs[:late]:
        sweep.retried.add(ip)  # asked again before it answered
    for ip in addrs:
        sweep._answered(ip, "icmp-echo")
    return sweep, addrs


def test_no_loss_no_third_try(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(liveness, "ROUND_GAP", 0.0)
    sweep, addrs = live_sweep(0)
    assert not asyncio.run(sweep._another_try(addrs, 2, 0.1, True))
    assert sweep.loss_note == "" and sweep.loss_short == ""
    assert sweep._result(True).status == ProbeStatus.SUCCESS


def test_little_loss_is_covered_by_two_tries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(liveness, "ROUND_GAP", 0.0)
    sweep, addrs = live_sweep(2)
    assert not asyncio.run(sweep._another_try(addrs, 2, 0.1, True))
    assert "2 of 64 live host(s) answered only a later try" in sweep.loss_note
    assert sweep._result(True).status == ProbeStatus.SUCCESS


def test_heavy_loss_asks_again_while_time_allows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(liveness, "ROUND_GAP", 0.0)
    sweep, addrs = live_sweep(16)
    assert asyncio.run(sweep._another_try(addrs, 2, 0.1, True))
    assert "need 4 tries" in sweep.loss_note and sweep.loss_short == ""


def test_heavy_loss_without_time_ends_the_sweep_incomplete(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(liveness, "ROUND_GAP", 0.0)
    sweep, addrs = live_sweep(16)
    sweep.stop_at = time.monotonic() + 1.0  # a round as long as the last (5 s) does not fit
    assert not asyncio.run(sweep._another_try(addrs, 2, 5.0, True))
    result = sweep._result(True)
    assert result.status == ProbeStatus.PARTIAL
    assert any("a live host may have been missed" in n for n in result.notes)
    assert any("the sweep is incomplete" in n for n in result.notes)


def test_without_time_a_last_try_that_found_nothing_new_is_only_noted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # e.g. a full neighbour table dropped the end of the first round, and the retry found those hosts:
    # the late share looks like heavy loss, but the latest try found nobody new
    monkeypatch.setattr(liveness, "ROUND_GAP", 0.0)
    sweep, addrs = live_sweep(16)
    sweep.stop_at = time.monotonic() + 1.0
    assert not asyncio.run(sweep._another_try(addrs, 3, 5.0, False))
    result = sweep._result(True)
    assert result.status == ProbeStatus.SUCCESS
    assert any("the last found no new host" in n for n in result.notes)
