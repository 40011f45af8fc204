"""The discovery engine (scanner.discovery.request_reply) on fake channels: no root, no network.

A ``FakeNet`` plays the hosts: each answers a request ``b"ask <ip>"`` with ``b"reply <ip>"`` after a
round trip, losing a share of requests and replies (seeded, so every run is the same). The tests check
pacing, retries of silent targets, the quiet period, deadlines, reply budgets, the source scope and
loss/latency behaviour.
"""

from __future__ import annotations

import asyncio
import errno
import random
import time
from collections import deque
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.discovery.base import Collector, ProbeContext, ProbeStatus
from scanner.discovery.request_reply import Exchange, Limits, Reply, Scope, Timing


class FakeChannel:
    """An in-memory channel: records every send, delivers injected datagrams to the watcher."""

    def __init__(self, net: FakeNet | None = None) -> None:
        self.net = net
        self.queue: deque[tuple[bytes, str, int]] = deque()
        self.callback: Callable[[], None] | None = None
        self.sends: list[tuple[float, str, bytes]] = []
        self.full_until = 0.0  # sends raise BlockingIOError until then
        self.fail: dict[str, int] = {}  # dest -> errno

    def send(self, datagram: bytes, dest: str) -> None:
        if time.monotonic() < self.full_until:
            raise BlockingIOError
        if dest in self.fail:
            raise OSError(self.fail[dest], "Network is unreachable")
        self.sends.append((time.monotonic(), dest, datagram))
        if self.net is not None:
            self.net.request(self, datagram, dest)

    def receive(self) -> tuple[bytes, str, int] | None:
        return self.queue.popleft() if self.queue else None

    def watch(self, callback: Callable[[], None]) -> None:
        self.callback = callback

    def unwatch(self) -> None:
        self.callback = None

    def inject(self, data: bytes, src: str, port: int = 9) -> None:
        self.queue.append((data, src, port))
        if self.callback is not None:
            self.callback()

    def asked(self, dest: str) -> int:
        return sum(1 for _t, d, _ in self.sends if d == dest)


class FakeNet:
    """Live hosts answering after ``rtt`` seconds, losing ``loss_out`` of requests and ``loss_back`` of replies."""

    def __init__(self, live: set[str], rtt: float = 0.002, loss_out: float = 0.0, loss_back: float = 0.0):
        self.live, self.rtt, self.loss_out, self.loss_back = live, rtt, loss_out, loss_back
        self.rng = random.Random(7)

    def request(self, channel: FakeChannel, datagram: bytes, dest: str) -> None:
        if dest not in self.live or self.rng.random() < self.loss_out:
            return
        if self.rng.random() < self.loss_back:
            return
        loop = asyncio.get_running_loop()
        loop.call_later(self.rtt, channel.inject, b"reply " + dest.encode(), dest)


async def drain(ch: FakeChannel) -> None:
    """Deliver every queued datagram while the exchange listens, however slow the machine is."""
    while ch.queue:
        callback = ch.callback
        assert callback is not None, "the exchange stopped listening before the queue was read"
        callback()
        await asyncio.sleep(0)


PATIENT = Timing(rate=100_000, quiet=2.0)  # for floods the test delivers at the machine's own speed


def handle(data: bytes, src: str, _port: int) -> Reply | None:
    if not data.startswith(b"reply "):
        return None
    return Reply(src, data.decode(), [("arp.reply", "yes")])


def ask(target: str) -> list[bytes]:
    return [b"ask " + target.encode()]


def hosts(n: int, start: int = 1) -> list[str]:
    return [f"10.0.{i // 250}.{i % 250 + 1}" for i in range(start - 1, start - 1 + n)]


def exchange(
    targets: list[str],
    channel: FakeChannel,
    *,
    timing: Timing | None = None,
    scope: Scope | None = None,
    limits: Limits | None = None,
    group: list[tuple[str, bytes]] | None = None,
    timeout: float = 3.0,
) -> Exchange:
    col = Collector("fake", ProbeContext(targets=[], timeout=timeout))
    return Exchange(
        col,
        handle=handle,
        timing=timing or Timing(rate=100_000),
        scope=scope or Scope(anywhere=True),
        targets=targets,
        unicast=ask,
        group=group or [],
        unicast_channel=channel,
        group_channel=channel if group else None,
        limits=limits,
    )


def fed(
    col: Collector, decode: Callable[[bytes, str, int], Reply | None], limits: Limits | None = None
) -> Exchange:
    """An exchange without channels, fed datagrams from anywhere through ``take()``."""
    return Exchange(col, handle=decode, timing=Timing(), scope=Scope(anywhere=True), limits=limits)


def run(ex: Exchange, budget: float) -> float:
    t0 = time.monotonic()
    asyncio.run(ex.run(budget))
    return time.monotonic() - t0


def found(ex: Exchange) -> set[str]:
    return {o.ip for o in ex.col.observations if o.ip}


# ---------------------------------------------------------------- pacing, retries, ending


def test_sends_are_paced_at_the_rate():
    targets = hosts(100)
    ch = FakeChannel()
    ex = exchange(targets, ch, timing=Timing(rate=1000, min_tries=1, first_wait=0.1, min_wait=0.1))
    run(ex, 2.0)
    first = [t for t, _d, _ in ch.sends[:100]]
    assert first[-1] - first[0] >= 0.09  # 100 datagrams at 1000/s take ~0.1 s, never a burst
    assert [d for _t, d, _ in ch.sends[:100]] == targets


def test_silent_targets_are_retried_and_answered_ones_are_not():
    live = set(hosts(10))
    targets = hosts(30)
    ch = FakeChannel(FakeNet(live))
    ex = exchange(targets, ch)
    run(ex, 3.0)
    assert found(ex) == live
    assert all(ch.asked(t) == 1 for t in live)
    assert all(ch.asked(t) == 2 for t in set(targets) - live)  # arp-scan's 2 tries on a clean link
    result = ex.result()
    assert result.status == ProbeStatus.SUCCESS and result.sent == 10 + 20 * 2


def test_a_retry_waits_for_the_first_request_to_be_answered():
    ch = FakeChannel(FakeNet(set()))
    ex = exchange(["10.0.0.1"], ch, timing=Timing(rate=100_000, first_wait=0.3, min_wait=0.3))
    run(ex, 3.0)
    (t1, _, _), (t2, _, _) = ch.sends
    assert 0.28 <= t2 - t1 < 0.5


def test_retries_back_off_like_arp_scan_until_a_round_trip_is_known():
    ch = FakeChannel(FakeNet(set()))
    timing = Timing(rate=100_000, first_wait=0.2, min_wait=0.1, min_tries=3)
    run(exchange(["10.0.0.1"], ch, timing=timing), 3.0)
    times = [t for t, _, _ in ch.sends]
    assert len(times) == 3
    assert 0.18 <= times[1] - times[0] < 0.28  # first_wait
    assert 0.28 <= times[2] - times[1] < 0.4  # x 1.5


def test_every_target_answering_ends_the_exchange_at_once():
    targets = hosts(50)
    ch = FakeChannel(FakeNet(set(targets)))
    ex = exchange(targets, ch)
    elapsed = run(ex, 5.0)
    assert found(ex) == set(targets)
    assert elapsed < 0.3  # no quiet period to wait out: nobody is left to ask
    assert ex.ended_early


def test_quiet_period_after_the_last_new_reply():
    """Group-only (no targets): the exchange ends ``quiet`` seconds after the last new reply."""
    ch = FakeChannel()
    timing = Timing(rate=100_000, quiet=0.2, end_when_all_answered=False)
    ex = exchange([], ch, timing=timing, group=[("239.255.255.250", b"search")])

    async def go() -> float:
        task = asyncio.create_task(ex.run(5.0))
        for i in range(5):  # a new device every 0.1 s for 0.5 s
            await asyncio.sleep(0.1)
            ch.inject(b"reply dev%d" % i, f"10.0.0.{i + 1}")
        last = time.monotonic()
        await task
        return time.monotonic() - last

    after_last = asyncio.run(go())
    assert 0.18 <= after_last < 0.35
    assert len(found(ex)) == 5


def test_duplicates_do_not_extend_the_quiet_period():
    ch = FakeChannel()
    ex = exchange(
        [], ch, timing=Timing(quiet=0.2, end_when_all_answered=False), group=[("239.255.255.250", b"search")]
    )

    async def go() -> None:
        task = asyncio.create_task(ex.run(3.0))
        while not task.done():
            ch.inject(b"reply same", "10.0.0.1")  # the same reply over and over
            await asyncio.sleep(0.02)
        await task

    t0 = time.monotonic()
    asyncio.run(go())
    assert time.monotonic() - t0 < 0.6


def test_the_deadline_holds_and_an_unfinished_sweep_says_partial():
    targets = hosts(2000)
    ch = FakeChannel(FakeNet(set()))
    ex = exchange(targets, ch, timing=Timing(rate=2000))
    elapsed = run(ex, 0.4)
    assert elapsed < 0.6
    result = ex.result()
    assert result.status == ProbeStatus.PARTIAL
    assert any("ran out of time" in n and "never asked" in n for n in result.notes), result.notes


def test_a_full_send_queue_ends_the_round_and_the_next_round_goes_on():
    targets = hosts(20)
    ch = FakeChannel(FakeNet(set(targets)))
    ch.full_until = time.monotonic() + 0.15
    ex = exchange(targets, ch, timing=Timing(rate=100_000, first_wait=0.25))
    ch.full_until = 0.0

    async def go() -> None:
        ch.full_until = time.monotonic() + 0.15
        await ex.run(3.0)

    asyncio.run(go())
    assert found(ex) == set(targets)
    assert ex.busy_rounds >= 1
    assert any("send queue was full" in n for n in ex.result().notes)


def test_send_failures_are_reported_and_not_retried():
    ch = FakeChannel(FakeNet({"10.0.0.2"}))
    ch.fail["10.0.0.1"] = errno.ENETUNREACH
    ex = exchange(["10.0.0.1", "10.0.0.2"], ch)
    run(ex, 2.0)
    result = ex.result()
    assert result.status == ProbeStatus.PARTIAL
    assert "10.0.0.1: Network is unreachable" in (result.error or "")
    assert found(ex) == {"10.0.0.2"}


# ---------------------------------------------------------------- loss and latency


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_twenty_percent_loss_each_way_still_finds_99_percent(seed):
    live = set(hosts(200))
    net = FakeNet(live, loss_out=0.2, loss_back=0.2)
    net.rng = random.Random(seed)
    ch = FakeChannel(net)
    ex = exchange(hosts(254), ch, timing=Timing(rate=20_000))
    run(ex, 3.0)
    assert len(found(ex) & live) >= 0.99 * len(live), len(found(ex) & live)
    assert ex.tries_wanted() > 2  # the loss the replies showed bought more tries
    assert 0.2 < ex.loss() < 0.55


def test_600_ms_round_trip_is_waited_for():
    live = set(hosts(50))
    ch = FakeChannel(FakeNet(live, rtt=0.6))
    ex = exchange(hosts(254), ch, timing=Timing(rate=20_000, first_wait=Timing.first_wait_for(3.0)))
    elapsed = run(ex, 3.0)
    assert found(ex) == live
    assert ex.result().status == ProbeStatus.SUCCESS
    assert 0.55 < sorted(ex.rtt)[len(ex.rtt) // 2] < 0.7
    assert ex.loss() == 0.0  # late replies to both tries are not mistaken for loss
    assert elapsed < 3.0


def test_first_wait_follows_the_budget():
    assert Timing.first_wait_for(3.0) == 0.5  # arp-scan's 500 ms at the default budget
    assert Timing.first_wait_for(0.6) == 0.25
    assert Timing.first_wait_for(30.0) == 1.0


# ---------------------------------------------------------------- trust and budgets


def test_replies_from_loopback_our_own_addresses_and_outside_are_dropped():
    import ipaddress

    ch = FakeChannel()
    scope = Scope(networks=[ipaddress.IPv4Network("10.0.0.0/24")], hosts={"10.9.9.9"}, own={"10.0.0.2"})
    ex = exchange([], ch, scope=scope, group=[("239.255.255.250", b"search")])

    async def go() -> None:
        task = asyncio.create_task(ex.run(0.5))
        await asyncio.sleep(0.01)
        for src in ("127.0.0.1", "10.0.0.2", "192.0.0.64", "10.0.0.7", "10.9.9.9"):
            ch.inject(b"reply x", src)
        await task

    asyncio.run(go())
    assert found(ex) == {"10.0.0.7", "10.9.9.9"}
    notes = " | ".join(ex.result().notes)
    assert "dropped 1 replies from loopback" in notes
    assert "dropped 1 replies from this scanner's own addresses" in notes
    assert "outside the scanned segments (192.0.0.64" in notes


def test_our_own_looped_back_request_is_not_a_reply_nor_counted():
    ch = FakeChannel()
    ex = exchange(
        [], ch, group=[("239.255.255.250", b"search")], scope=Scope(own={"10.0.0.2"}, anywhere=True)
    )

    async def go() -> None:
        task = asyncio.create_task(ex.run(0.3))
        await asyncio.sleep(0.01)
        ch.inject(b"search", "10.0.0.2")
        await task

    asyncio.run(go())
    assert ex.result().notes == []


def test_a_flood_from_one_host_is_bounded_and_noted():
    ch = FakeChannel()
    limits = Limits(keys_per_source=4)
    # listening stays open 2 s after the last new reply: a loaded runner may take over Timing.quiet (0.25 s)
    # to hand the exchange all 10,000 datagrams, and the exchange must still be listening when they come
    ex = exchange([], ch, limits=limits, group=[("239.255.255.250", b"search")], timing=PATIENT)

    async def go() -> None:
        task = asyncio.create_task(ex.run(5.0))
        await asyncio.sleep(0.01)
        for i in range(10_000):  # 10,000 unique forged replies from one source
            ch.queue.append((b"reply forged-%d" % i, "10.0.0.66", 9))
        await drain(ch)
        await task

    asyncio.run(go())
    assert len(ex.col.observations) == 1  # one host; its 4 keys carry the same single field
    assert ex.sources["10.0.0.66"].keys == {f"reply forged-{i}" for i in range(4)}
    notes = ex.result().notes
    assert any(n.startswith("flood: ") and "from 1 host ignored" in n for n in notes), notes
    assert "flood: 9,996 replies from 1 host ignored" in notes


def test_ten_thousand_forged_sources_do_not_make_ten_thousand_devices():
    ch = FakeChannel()
    ex = exchange([], ch, limits=Limits(sources=256), group=[("239.255.255.250", b"search")], timing=PATIENT)

    async def go() -> None:
        task = asyncio.create_task(ex.run(5.0))
        await asyncio.sleep(0.01)
        for i in range(10_000):
            ch.queue.append((b"reply x", f"10.{i // 65536}.{(i // 256) % 256}.{i % 256}", 9))
        await drain(ch)
        await task

    asyncio.run(go())
    assert len(found(ex)) == 256
    assert len(ex.sources) == 256  # memory bounded: no state for the rest
    assert any("past 256 sources" in n for n in ex.result().notes)


def test_datagrams_past_a_sources_budget_are_not_even_parsed():
    parsed = 0

    def counting(data: bytes, src: str, port: int) -> Reply | None:
        nonlocal parsed
        parsed += 1
        return handle(data, src, port)

    col = Collector("fake", ProbeContext(targets=[]))
    ex = fed(col, counting, Limits(datagrams_per_source=50))
    for _ in range(5000):
        ex.take(b"reply same", "10.0.0.5", 9)
    assert parsed == 50
    assert ex.sources["10.0.0.5"].ignored == 4950


def test_observations_per_source_are_capped():
    col = Collector("fake", ProbeContext(targets=[]))

    def many(data: bytes, src: str, _port: int) -> Reply | None:
        return Reply(src, data.decode(), [(f"sadp.F{i}", data.decode()) for i in range(100)])

    ex = fed(col, many, Limits(observations_per_source=150))
    for i in range(10):
        ex.take(b"k%d" % i, "10.0.0.5", 9)
    assert len(col.observations) == 150


def test_a_parser_that_raises_does_not_end_the_probe():
    def broken(data: bytes, src: str, _port: int) -> Reply | None:
        raise RecursionError

    col = Collector("fake", ProbeContext(targets=[]))
    ex = fed(col, broken)
    ex.take(b"x", "10.0.0.5", 9)
    assert ex.not_replies == 1


# ---------------------------------------------------------------- with the real protocol decoders


def _sadp_exchange(limits: Limits) -> Exchange:
    import ipaddress

    from scanner.discovery.sadp import sadp_reply

    col = Collector("sadp", ProbeContext(targets=[]))
    scope = Scope(networks=[ipaddress.IPv4Network("10.99.0.0/24")], own={"10.99.0.2"})
    return Exchange(col, handle=sadp_reply, timing=Timing(), scope=scope, limits=limits)


def _forged(i: int) -> bytes:
    mac = f"58-50-ed-{i >> 16 & 255:02x}-{i >> 8 & 255:02x}-{i & 255:02x}"
    return (
        f"<ProbeMatch><DeviceDescription>DS-{i}</DeviceDescription><MAC>{mac}</MAC>"
        f"<IPv4Address>10.99.0.{i % 250 + 3}</IPv4Address></ProbeMatch>"
    ).encode()


def test_ten_thousand_forged_sadp_replies_from_one_host_make_one_device():
    from scanner.discovery.sadp import LIMITS

    ex = _sadp_exchange(LIMITS)
    for i in range(10_000):
        ex.take(_forged(i), "10.99.0.66", 37020)
    assert {o.ip for o in ex.col.observations} == {"10.99.0.66"}
    assert len({o.value for o in ex.col.observations if o.signal == "claimed.mac"}) == LIMITS.keys_per_source
    assert "flood: 9,996 replies from 1 host ignored" in ex.notes()


def test_forged_sadp_replies_from_outside_the_segment_make_no_device():
    from scanner.discovery.sadp import LIMITS

    ex = _sadp_exchange(LIMITS)
    for i in range(10_000):
        ex.take(_forged(i), f"172.16.{i >> 8 & 255}.{i & 255}", 37020)
    assert ex.col.observations == []
    assert ex.sources == {}  # nothing kept per forged source
    assert any(n.startswith("dropped 10,000 replies from outside the scanned segments") for n in ex.notes())


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=70_000), max_size=4))
def test_any_datagram_to_every_decoder_is_bounded(datagrams):
    from scanner.discovery.dhip import dhip_reply
    from scanner.discovery.sadp import sadp_reply
    from scanner.discovery.wsd import wsd_reply

    for decode in (sadp_reply, dhip_reply, wsd_reply):
        col = Collector("x", ProbeContext(targets=[]))
        ex = fed(col, decode, Limits())
        for data in datagrams:
            ex.take(data, "10.0.0.9", 1)
        assert len(col.observations) <= Limits().observations_per_source
        assert all(o.ip == "10.0.0.9" and o.mac is None for o in col.observations)


def test_claims_and_mismatch():
    from scanner.discovery.udp_search import claims

    assert claims("10.0.0.9", "10.0.0.5", "AC-CC-8E-27-0A-D8") == [
        ("claimed.ip", "10.0.0.5"),
        ("claimed.mismatch", "claims 10.0.0.5, sent from 10.0.0.9"),
        ("claimed.mac", "ac:cc:8e:27:0a:d8"),
    ]
    assert claims("10.0.0.5", "10.0.0.5", "") == [("claimed.ip", "10.0.0.5")]
    for junk_ip in ("0.0.0.0", "255.255.255.255", "239.255.255.250", "not an ip", ""):
        assert claims("10.0.0.9", junk_ip, "ff:ff:ff:ff:ff:ff") == []
