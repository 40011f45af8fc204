"""Paced requests and bounded reply collection over datagram channels: the one send/receive engine that
ARP (raw frames), SADP, DHIP, WS-Discovery, SSDP and SNMP share.

An ``Exchange`` sends in rounds: first at the protocol's scheduled offsets (``Timing.rounds``), then as
needed. Each round may send the protocol's group datagrams (multicast and broadcast) and, paced at
``Timing.rate`` datagrams a second, the unicast requests to every target that has not answered yet.
Past the schedule, a target is asked again only once its previous request had ``retry_wait`` seconds
to be answered: ``Timing.first_wait`` (x ``Timing.backoff`` per earlier try) until replies show the
round trip, then 1.5 x the median round trip seen (never under ``Timing.min_wait``). Every target is
asked at least ``Timing.min_tries`` times (arp-scan(1) defaults: --retry 2, --timeout 500 ms,
--backoff 1.5); more tries follow while the replies show loss: the share of requests
to answering targets that got no reply estimates the loss ``L`` of one try, and a silent target is
asked until ``L ** tries`` drops under ``MISS_TARGET`` (at most ``Timing.max_tries``). After the last
round the exchange waits for the multicast answers that are due (``Timing.reply_delay``), the retry
wait of the last request and ``Timing.quiet`` seconds without anything new, then ends; it ends early
once every target answered (``Timing.end_when_all_answered``), and never later than its budget. A
silent target asked fewer than ``min_tries`` times (ARP: fewer than the loss-adapted count,
``Timing.loss_settles``) then makes the result PARTIAL.

Replies are bounded before they cost anything: a datagram from loopback, one of our own addresses or
outside the ``Scope`` (the scanned targets and the interface's subnet) is dropped and counted; each
source gets ``Limits.datagrams_per_source`` datagrams, ``Limits.keys_per_source`` distinct replies and
``Limits.observations_per_source`` observations; the probe keeps at most ``Limits.sources`` sources and
``Limits.observations`` observations. What was ignored is said in the result's notes.

The protocol provides what to send and ``handle(data, source, port) -> Reply | None``; the sockets are
``Channel`` objects, so the engine's logic runs in unit tests on fake channels without root or network.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import math
import socket
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from scanner.discovery.base import Collector, ProbeResult, ProbeStatus

log = logging.getLogger("scanner.discovery")

MISS_TARGET = 0.005  # keep asking a silent target until a live one would have answered with this miss chance


def per_try_loss(share_late: float, tries: int) -> float:
    """The loss ``L`` of one try that makes ``share_late`` of the answering targets need more than their
    first try, every target asked at most ``tries`` times: ``(L - L**k) / (1 - L**k)`` solved for ``L``
    (a target that needed more than ``k`` tries is still silent, so it is missing from the count)."""
    if tries < 2 or share_late <= 0.0:
        return 0.0
    if share_late >= (tries - 1) / tries:
        return 1.0
    low, high = 0.0, 1.0
    for _ in range(40):
        mid = (low + high) / 2
        if (mid - mid**tries) / (1 - mid**tries) < share_late:
            low = mid
        else:
            high = mid
    return low


def tries_for_loss(loss: float, min_tries: int, max_tries: int) -> int:
    """How often a silent target is asked on a path that loses ``loss`` of the tries: until a live one
    would have answered but for ``MISS_TARGET``, within ``min_tries``..``max_tries``."""
    if loss <= 0.0:
        return min_tries
    if loss >= 1.0:
        return max_tries
    return max(min_tries, min(max_tries, math.ceil(math.log(MISS_TARGET) / math.log(loss))))


MAX_DATAGRAM = 65536  # bytes read per datagram
READS_PER_WAKEUP = 256
READ_SLICE = 0.02  # seconds of parsing per wake-up at most, so a flood cannot starve the timers
RTT_SAMPLES = 1024
SENT_KEPT = 64  # our own datagrams remembered to recognise them when multicast loops them back
SHOWN = 5  # example addresses named in a note


class Channel(Protocol):
    """One socket (or a fake of one) the exchange sends on and reads from."""

    def send(self, datagram: bytes, dest: str) -> None:
        """Send without waiting; BlockingIOError (or ENOBUFS) when the send queue is full, OSError else."""

    def receive(self) -> tuple[bytes, str, int] | None:
        """(data, source address, source port) of one waiting datagram, None when none is waiting."""

    def watch(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` whenever datagrams are waiting."""

    def unwatch(self) -> None: ...


class SocketChannel:
    """What every channel on a real non-blocking socket shares: the event loop watches its descriptor."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._watched = False

    def watch(self, callback: Callable[[], None]) -> None:
        asyncio.get_running_loop().add_reader(self.sock.fileno(), callback)
        self._watched = True

    def unwatch(self) -> None:
        if self._watched:
            asyncio.get_running_loop().remove_reader(self.sock.fileno())
            self._watched = False


class UdpChannel(SocketChannel):
    """A non-blocking UDP socket; datagrams go to ``port`` on each destination."""

    def __init__(self, sock: socket.socket, port: int) -> None:
        super().__init__(sock)
        self.port = port

    def send(self, datagram: bytes, dest: str) -> None:
        self.sock.sendto(datagram, (dest, self.port))

    def receive(self) -> tuple[bytes, str, int] | None:
        try:
            data, (src, sport, *_rest) = self.sock.recvfrom(MAX_DATAGRAM)
        except (BlockingIOError, InterruptedError):
            return None
        return data, src, sport


@dataclass(frozen=True, slots=True)
class Timing:
    """When an exchange sends and how long it waits (seconds; ``rate`` in datagrams a second)."""

    rounds: tuple[float, ...] = (0.0,)  # offsets of the scheduled rounds (group datagrams go out in each)
    rate: float = 5000.0  # unicast pacing
    first_wait: float = 0.5  # a target's time to answer before it is asked again, until replies show the RTT
    backoff: float = (
        1.5  # ... multiplied by this for each earlier try (arp-scan: --timeout 500, --backoff 1.5)
    )
    min_wait: float = 0.25  # never re-ask sooner than this
    min_tries: int = 2  # every silent target is asked this often (time permitting)
    max_tries: int = 8  # ... and at most this often, however lossy the link looks
    quiet: float = 0.25  # nothing new for this long ends the wait after the last round
    reply_delay: float = 0.0  # devices may delay their answer to a multicast request this long
    settle: float = 0.05  # once every target answered, the burst of replies gets this long to end
    end_when_all_answered: bool = True
    busy_wait: float = 0.0  # how long a full send queue is waited for before the round's unicast ends
    drain_on_exit: bool = True  # read what already arrived once the exchange is over
    # a silent target counts as settled only once asked as often as the observed loss calls for (ARP:
    # every live host answers, so silence after too few tries on a lossy link is "ran out of time"); off,
    # ``min_tries`` settles it (discovery protocols most targets never answer)
    loss_settles: bool = False

    @staticmethod
    def first_wait_for(budget: float, low: float = 0.25, high: float = 1.0) -> float:
        """A sixth of the probe's budget (arp-scan's 500 ms at the default 3 s), within [low, high]."""
        return min(high, max(low, budget / 6))


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what one probe takes from the network (a flood costs at most this much)."""

    datagrams_per_source: int = 512  # read and parsed; the rest are counted only
    keys_per_source: int = 32  # distinct replies (devices, services) one source may claim
    observations_per_source: int = 1024
    sources: int = 4096  # distinct replying sources kept per probe
    observations: int = 50_000  # per probe


class Reply(NamedTuple):
    """What one datagram says, as the protocol decoded it."""

    responder: str  # the host it is about: the UDP source (for ARP the sender of the frame)
    key: str  # de-duplication key within that host (the same key twice is recorded once)
    fields: Sequence[tuple[str, str]]  # (signal, value), recorded in order
    port: int | None = None
    mac: str | None = None  # only from the link layer (ARP), never from a payload
    then: Callable[[], None] | None = None  # follow-up work, run only when the reply is recorded


@dataclass
class Scope:
    """Which sources a reply may come from: the ``hosts`` asked (the scanned targets) and the ``networks``
    (the interface's subnet); never one of ``own`` addresses, nor loopback unless it was asked."""

    networks: list[ipaddress.IPv4Network] = field(default_factory=list)
    hosts: set[str] = field(default_factory=set)
    own: set[str] = field(default_factory=set)
    anywhere: bool = False  # no bound on the source (tests of the engine alone)
    # IPv6 (only with --ipv6): link-local sources on this interface (``fe80::1%eth0``) and the prefixes
    link6: str | None = None
    networks6: list[ipaddress.IPv6Network] = field(default_factory=list)

    def reject(self, src: str) -> str | None:
        """Why a datagram from ``src`` is not a reply to take: "loopback", "own address", "outside"; None."""
        if src in self.own:
            return "own address"
        if src in self.hosts:  # a target the user named (even 127.0.0.1) may answer
            return None
        if ":" in src:
            return self._reject6(src)
        try:
            addr = ipaddress.IPv4Address(src)
        except ValueError:
            return None if self.anywhere else "outside"
        if addr.is_loopback:
            return "loopback"
        if self.anywhere or any(addr in n for n in self.networks):
            return None
        return "outside"

    def _reject6(self, src: str) -> str | None:
        bare, _, zone = src.partition("%")
        try:
            addr = ipaddress.IPv6Address(bare)
        except ValueError:
            return None if self.anywhere else "outside"
        if bare in self.own:
            return "own address"
        if addr.is_loopback:
            return "loopback"
        if self.anywhere:
            return None
        if addr.is_link_local and self.link6 is not None and zone == self.link6:
            return None
        if any(addr in n for n in self.networks6):
            return None
        return "outside"


@dataclass
class _Source:
    datagrams: int = 0
    ignored: int = 0
    observations: int = 0
    keys: set[str] = field(default_factory=set)
    fields: set[tuple[str, str, str]] = field(default_factory=set)


SENT, BUSY, FAILED = "sent", "busy", "failed"


class Exchange:
    """One run of requests and replies; see the module docstring."""

    def __init__(
        self,
        col: Collector,
        *,
        handle: Callable[[bytes, str, int], Reply | None],
        timing: Timing,
        scope: Scope,
        targets: Sequence[str] = (),
        unicast: Callable[[str], Sequence[bytes]] | None = None,
        group: Sequence[tuple[str, bytes]] = (),
        unicast_channel: Channel | None = None,
        group_channel: Channel | None = None,
        listeners: Sequence[Channel] = (),
        limits: Limits | None = None,
        busy: Callable[[], bool] = lambda: False,
    ) -> None:
        self.col, self.handle, self.timing, self.scope = col, handle, timing, scope
        self.limits = limits or Limits()
        self.targets = list(dict.fromkeys(targets)) if unicast_channel is not None else []
        self.target_set = set(self.targets)
        self.unicast, self.group = unicast, list(group)
        self.unicast_channel, self.group_channel = unicast_channel, group_channel
        channels = [c for c in (group_channel, unicast_channel, *listeners) if c is not None]
        self.channels = list({id(c): c for c in channels}.values())
        self.busy = busy
        self.interval = 1.0 / timing.rate if timing.rate > 0 else 0.0
        self.pacer = col.ctx.pacer  # the scan's shared cap (--rate), on top of this exchange's own pace
        # per target
        self.tries: dict[str, int] = {}
        self.first_sent: dict[str, float] = {}
        self.last_sent: dict[str, float] = {}
        self.sent_to: dict[str, int] = {}
        self.replies_from: dict[str, int] = {}
        self.answered: dict[str, float] = {}
        self.sends_at_answer: dict[str, int] = {}
        self.failures: dict[str, str] = {}
        # per source
        self.sources: dict[str, _Source] = {}
        self.over_sources = 0
        self.dropped: dict[str, int] = {}
        self.outside: list[str] = []
        # totals
        self.sent = self.datagrams = self.replies = self.not_replies = self.observations = 0
        self.busy_rounds = self.rounds_done = 0
        self.rtt: list[float] = []
        self.own_datagrams: list[bytes] = []
        self.last_group = self.last_unicast = 0.0
        self.last_new = 0.0
        self.start = self.deadline = 0.0
        self.ended_early = False
        self.wake = asyncio.Event()

    # ------------------------------------------------------------------ timing

    def retry_wait(self, tries: int = 1) -> float:
        """Seconds the ``tries``-th request to a target gets to be answered before it is asked again:
        ``first_wait`` times ``backoff`` per earlier try (arp-scan's rule) until a reply shows the round
        trip, then 1.5 x the median round trip seen."""
        t = self.timing
        if not self.rtt:
            return max(t.first_wait * t.backoff ** max(0, tries - 1), t.min_wait)
        return max(t.min_wait, 1.5 * statistics.median(self.rtt) + 0.05)

    def loss(self) -> float:
        """Estimated chance that one unicast request gets no reply (0.0 without evidence).

        Among the targets that answered, the share ``f`` whose first request went unanswered, with every
        target asked at most ``k`` times, is ``(L - L**k) / (1 - L**k)`` for a per-request loss ``L``
        (a target that needed more than ``k`` tries is still silent, so it is missing from the count);
        solved for ``L``. A target whose every request was answered (late replies to early requests)
        counts as answered on its first try.
        """
        k = max(self.tries.values(), default=0)
        if k < 2 or not self.answered:
            return 0.0
        later = 0
        for t in self.answered:
            first_answered = self.sends_at_answer.get(t, 1) - (self.replies_from.get(t, 1) - 1)
            later += first_answered > 1
        return per_try_loss(later / len(self.answered), k)

    def tries_wanted(self) -> int:
        """How often a silent target is asked: ``min_tries``, more while the replies show loss."""
        t = self.timing
        return tries_for_loss(self.loss(), t.min_tries, t.max_tries)

    def silent(self) -> list[str]:
        return [t for t in self.targets if t not in self.answered and t not in self.failures]

    def _over(self) -> bool:
        now = time.monotonic()
        if now >= self.deadline:
            return True
        if (
            self.timing.end_when_all_answered
            and self.targets
            and self.rounds_done
            and not self.silent()
            and now >= self.last_new + self.timing.settle
            and not self.busy()
        ):
            self.ended_early = True
            return True
        return False

    async def _sleep(self, until: float) -> bool:
        """Sleep until ``until`` or a wake-up (something new); False once the exchange is over."""
        if self._over():
            return False
        if self.timing.end_when_all_answered and self.targets and self.rounds_done and not self.silent():
            until = min(until, self.last_new + self.timing.settle)
        self.wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), max(0.0, min(until, self.deadline) - time.monotonic()))
        return not self._over()

    async def _pause_until(self, when: float) -> bool:
        while time.monotonic() < when:
            if not await self._sleep(when):
                return False
        return not self._over()

    # ------------------------------------------------------------------ the run

    async def run(self, budget: float) -> None:
        self.start = time.monotonic()
        self.deadline = self.start + max(budget, 0.1)
        self.last_new = self.start
        for ch in self.channels:
            ch.watch(lambda ch=ch: self._on_readable(ch))  # type: ignore[misc]
        try:
            await self._rounds()
            await self._final_wait()
        finally:
            for ch in self.channels:
                with contextlib.suppress(Exception):
                    ch.unwatch()
            if self.timing.drain_on_exit:
                for ch in self.channels:
                    self._on_readable(ch)

    async def _rounds(self) -> None:
        scheduled = self.timing.rounds or (0.0,)
        rnd = 0
        while True:
            silent = self.silent()
            if rnd >= len(scheduled):
                if not silent:
                    return
                # wait for the last round's answers before judging the loss they show
                at = min(
                    self.last_sent.get(t, self.start) + self.retry_wait(self.tries.get(t, 1)) for t in silent
                )
                if not await self._pause_until(at):
                    return
                silent = self.silent()
                if not silent or rnd >= self.tries_wanted():
                    return
            elif not await self._pause_until(self.start + scheduled[rnd]):
                return
            if self.group_channel is not None and self.group:
                self._send_group()
            if silent and self.unicast is not None:
                # the protocol's own schedule sets the spacing of its rounds; later rounds wait per target
                await self._send_unicast(silent, gate=rnd >= len(scheduled))
            rnd += 1
            self.rounds_done = rnd

    def _send_group(self) -> None:
        now = time.monotonic()
        for dest, datagram in self.group:
            if dest in self.failures:
                continue
            assert self.group_channel is not None
            if self._try_send(self.group_channel, datagram, dest) == SENT:
                self.last_group = now
                if self.pacer is not None:
                    self.pacer.charge()

    async def _send_unicast(self, silent: list[str], *, gate: bool) -> None:
        """Each silent target's requests, paced; with ``gate``, each no sooner than ``retry_wait`` after
        its last."""
        assert self.unicast is not None and self.unicast_channel is not None
        channel = self.unicast_channel
        paced_from, paced = time.monotonic(), 0
        for i, target in enumerate(silent):
            if target in self.answered:
                continue
            due = (
                self.last_sent[target] + self.retry_wait(self.tries.get(target, 1))
                if gate and target in self.last_sent
                else 0.0
            )
            if due > time.monotonic():
                if not await self._pause_until(due):
                    return
                paced_from, paced = time.monotonic(), 0
                if target in self.answered:
                    continue
            if time.monotonic() >= self.deadline:
                return
            datagrams = self.unicast(target)
            n = 0
            for datagram in datagrams:
                outcome = await self._send_waiting(channel, datagram, target)
                if outcome == BUSY:
                    self.busy_rounds += 1
                    return  # the send queue stays full (e.g. ARP pending for silent addresses): next round
                if outcome == FAILED:
                    break
                n += 1
            if n:
                now = time.monotonic()
                self.tries[target] = self.tries.get(target, 0) + 1
                self.first_sent.setdefault(target, now)
                self.last_sent[target] = self.last_unicast = now
                self.sent_to[target] = self.sent_to.get(target, 0) + n
            paced += max(n, 1)
            ahead = paced_from + paced * self.interval - time.monotonic()
            if ahead > 0.002:
                await asyncio.sleep(ahead)
            elif i % 64 == 63:
                await asyncio.sleep(0)  # let replies in

    async def _send_waiting(self, channel: Channel, datagram: bytes, dest: str) -> str:
        """One datagram; a full send queue is waited for up to ``Timing.busy_wait`` seconds."""
        if self.pacer is not None:
            await self.pacer.take()
        give_up = time.monotonic() + self.timing.busy_wait
        while True:
            outcome = self._try_send(channel, datagram, dest)
            if outcome != BUSY or time.monotonic() >= min(give_up, self.deadline):
                return outcome
            await asyncio.sleep(0.001)

    def _try_send(self, channel: Channel, datagram: bytes, dest: str) -> str:
        try:
            channel.send(datagram, dest)
        except (BlockingIOError, InterruptedError):
            return BUSY
        except OSError as exc:
            if exc.errno == errno.ENOBUFS:
                return BUSY
            self.failures[dest] = exc.strerror or str(exc)
            return FAILED
        self.sent += 1
        if len(self.own_datagrams) < SENT_KEPT and datagram not in self.own_datagrams:
            self.own_datagrams.append(datagram)
        return SENT

    async def _final_wait(self) -> None:
        t = self.timing
        while True:
            # the devices' own delay, plus the path's: the fastest round trip seen (the median would count
            # the devices' answering time twice)
            due = self.last_group + t.reply_delay + min(self.rtt, default=0.0) if self.last_group else 0.0
            tries = max(self.tries.values(), default=1)
            retried = self.last_unicast + self.retry_wait(tries) if self.last_unicast else 0.0
            quiet_at = max(due, retried, self.last_new + t.quiet)
            now = time.monotonic()
            if now >= quiet_at and not self.busy():
                return
            if not await self._sleep(quiet_at if now < quiet_at else self.deadline):
                return

    # ------------------------------------------------------------------ replies

    def _on_readable(self, channel: Channel) -> None:
        until = time.monotonic() + READ_SLICE
        for _ in range(READS_PER_WAKEUP):
            if time.monotonic() > until:
                return  # the rest stays queued; the loop calls again
            try:
                got = channel.receive()
            except OSError as exc:  # e.g. an ICMP error queued on the socket
                log.debug("%s: receive failed: %s", self.col.probe, exc)
                continue
            if got is None:
                return
            self.take(*got)

    def take(self, data: bytes, src: str, sport: int) -> None:
        """One datagram from ``src``:``sport``: bounded, decoded, recorded."""
        self.datagrams += 1
        if data in self.own_datagrams:
            return  # our own request, looped back to a listener
        why = self.scope.reject(src)
        if why is not None:
            self.dropped[why] = self.dropped.get(why, 0) + 1
            if why == "outside" and len(self.outside) < SHOWN and src not in self.outside:
                self.outside.append(src)
            return
        per = self.sources.get(src)
        if per is None:
            if len(self.sources) >= self.limits.sources:
                self.over_sources += 1
                return
            per = self.sources[src] = _Source()
        per.datagrams += 1
        if per.datagrams > self.limits.datagrams_per_source:
            per.ignored += 1
            return
        try:
            reply = self.handle(data, src, sport)
        except Exception as exc:  # a parser bug must not end the probe
            log.debug("%s: reply from %s not decoded: %r", self.col.probe, src, exc)
            reply = None
        if reply is None:
            self.not_replies += 1
            return
        self.replies += 1
        now = time.monotonic()
        who = reply.responder
        if who in self.target_set:
            self.replies_from[who] = self.replies_from.get(who, 0) + 1
            if who not in self.answered:
                self.answered[who] = now
                self.sends_at_answer[who] = self.tries.get(who, 0)
                self.last_new = now
                self.wake.set()
                # unicast only: a device may delay its answer to a multicast request on purpose
                asked = self.first_sent.get(who, math.inf)
                if asked < now and len(self.rtt) < RTT_SAMPLES:
                    self.rtt.append(now - asked)
        if reply.key in per.keys:
            return
        if len(per.keys) >= self.limits.keys_per_source:
            per.ignored += 1
            return
        per.keys.add(reply.key)
        self.last_new = now
        self.wake.set()
        for signal, value in reply.fields:
            if per.observations >= self.limits.observations_per_source:
                per.ignored += 1
                break
            if self.observations >= self.limits.observations:
                self.over_sources += 1
                break
            fkey = (signal, value, str(reply.port))
            if fkey in per.fields:
                continue
            per.fields.add(fkey)
            if self.col.add(signal, value, ip=who, mac=reply.mac, port=reply.port) is not None:
                per.observations += 1
                self.observations += 1
        if reply.then is not None:
            reply.then()

    # ------------------------------------------------------------------ the result

    def unsettled(self) -> list[str]:
        """Targets neither answered (nor failed) nor asked as often as wanted: ``min_tries``, or, with
        ``Timing.loss_settles``, as often as the observed loss calls for (``tries_wanted``). The exchange
        asks them while time permits, so any left ran out of time."""
        want = self.tries_wanted() if self.timing.loss_settles else self.timing.min_tries
        return [t for t in self.silent() if self.tries.get(t, 0) < want]

    def notes(self) -> list[str]:
        out = []
        if self.not_replies:
            out.append(f"ignored {self.not_replies:,} datagrams that were not replies")
        for why, label in (
            ("loopback", "from loopback"),
            ("own address", "from this scanner's own addresses"),
            ("outside", "from outside the scanned segments"),
        ):
            n = self.dropped.get(why, 0)
            if n:
                shown = (
                    f" ({', '.join(self.outside)}{', …' if why == 'outside' else ''})"
                    if why == "outside"
                    else ""
                )
                out.append(f"dropped {n:,} replies {label}{shown}: not reported as devices")
        flooders = [s for s in self.sources.values() if s.ignored]
        if flooders:
            n = sum(s.ignored for s in flooders)
            out.append(
                f"flood: {n:,} replies from {len(flooders):,} host{'s' * (len(flooders) != 1)} ignored"
            )
        if self.over_sources:
            out.append(
                f"flood: {self.over_sources:,} replies ignored past {self.limits.sources:,} sources"
                f" or {self.limits.observations:,} observations"
            )
        if self.busy_rounds:
            out.append(
                f"the unicast send queue was full in {self.busy_rounds} round(s): some targets were asked fewer times"
            )
        unsettled = self.unsettled()
        if unsettled:
            never = sum(1 for t in unsettled if not self.tries.get(t))
            out.append(
                f"ran out of time: {len(unsettled):,} of {len(self.targets):,} targets were not asked and"
                f" retried ({never:,} never asked); the time budget is --timeout"
            )
        return out

    def describe_failures(self) -> str | None:
        """'send failed to 10.9.0.1: Network is unreachable; …; and 40 more destinations' (None if none)."""
        if not self.failures:
            return None
        parts = [f"{dest}: {why}" for dest, why in list(self.failures.items())[:SHOWN]]
        if len(self.failures) > SHOWN:
            parts.append(f"and {len(self.failures) - SHOWN} more destinations")
        return "send failed to " + "; ".join(parts)

    def result(self, extra_notes: Iterable[str] = ()) -> ProbeResult:
        notes = [*self.notes(), *extra_notes]
        error = self.describe_failures()
        if self.failures and not self.sent:
            return self.col.result(ProbeStatus.ERROR, error=error, notes=notes)
        partial = bool(self.failures) or bool(self.unsettled())
        return self.col.result(
            ProbeStatus.PARTIAL if partial else None,
            error=error,
            notes=notes,
            sent=self.sent,
            received=self.replies,
        )


def record(col: Collector, reply: Reply) -> None:
    """Add one decoded reply's observations, as an exchange records them (without its bounds): for
    offline conversions (tests, corpora) of a protocol's datagrams."""
    for signal, value in reply.fields:
        col.add(signal, value, ip=reply.responder, mac=reply.mac, port=reply.port)
