"""Which targets answer at all, and which camera-relevant TCP ports they have open: a paced raw SYN
sweep plus ICMP echo (as nmap -sS -PE and masscan do), with an unprivileged connect() sweep as fallback.

Across a router ARP cannot tell which addresses are in use, and a banner probe pays its whole connect
timeout on every empty address. This probe asks every target cheaply first, so the banner phase only
visits hosts that answered. Two steps, both paced at ``rate`` packets per second:

1. **Hosts**: an ICMP echo and a SYN to each of ``HOST_PORTS`` for every target, the probes of one
   address a moment apart (``spread``). Any answer — echo reply, SYN-ACK, RST — makes a host live.
   Then a retry round (an echo and ``RETRY_PORTS``) to the silent targets, at once, backwards
   (``retry_order``: what a saturated path dropped at the end of the round goes early), each address
   no sooner than ``ROUND_GAP`` after its first ask (a router gives up resolving an
   absent address after ~3 s; a probe sent earlier joins that resolution) and skipped if it answered
   meanwhile. A router that fails to resolve a live host drops every probe to it at once, and the
   hosts that did answer cannot show that (measured: every probe to the 59 hosts found was answered,
   5 hosts were missed whole), so the retry is not skipped. The live hosts that answered only a
   later try show the path's loss: the silent targets get more tries (up to ``HOST_MAX_TRIES``) until
   a live host would have been missed with less than request_reply's ``MISS_TARGET`` chance, and when
   the budget does not hold them the sweep ends PARTIAL. With ``sample``
   (ProbeOptions.liveness_sample, ``--sample N``), step 1 first asks only
   N addresses of each /24 of the targets (``sample_targets``: gateways and factory addresses first)
   and then the rest of the /24s where one of them answered; the others are not swept, and the notes
   say how many.
2. **Ports**: on live hosts, a SYN to each of the ports (``DEFAULT_PORTS`` or the user's) that has not
   answered yet, asked up to ``PORT_TRIES`` times more (first right after the first host round, before
   the retry round); the port rounds wait on the round trip of these hosts' port answers, which holds
   no router resolution.

Sending costs a few microseconds of Python per packet (``SynFactory`` templates, a millisecond's batch
per token request). Across a Linux router in a namespace lab most of a sweep's time is the kernel's:
each new address makes the router resolve it, and the ARP request reaches every device namespace, in
the sending thread's own system calls (measured on a routed /16: ~19 s of system time for 328,000
packets, ~3 s of Python).

SYN-ACKs are never completed: the kernel, which knows no connection on our source port, answers them
with RST (the source port is reserved by a bound, unconnected TCP socket for the sweep's lifetime).
Every SYN's sequence number is a keyed hash of its destination (see parsers/tcp_syn.py), and only
answers from targets are kept: nothing a device says can add a host or a port that was not asked.
Without raw-socket rights the probe falls back to bounded-concurrency ``connect()`` calls (ECONNREFUSED
also proves a host is there) and says so in its notes.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import logging
import resource
import secrets
import socket
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Address

from scanner.discovery.base import Collector, ProbeContext, ProbeResult, ProbeStatus
from scanner.discovery.options import CONNECT_CONCURRENCY
from scanner.discovery.parsers.tcp_syn import SynFactory, parse_echo_reply, parse_tcp_answer
from scanner.discovery.request_reply import per_try_loss, tries_for_loss

log = logging.getLogger("scanner.discovery.liveness")

DEFAULT_PORTS = (80, 443, 554, 8000, 8080, 8443, 37777, 22, 23)  # web, RTSP, Hikvision/Dahua SDK, SSH, telnet
# Asked of every target in step 1, with the echo (nmap -sn also asks 443 and 80): cameras serve web, and
# a host that does not filter its closed ports answers either with RST. Across a router every probe to
# an absent address is forwarded and every absent address costs a neighbour resolution, so few probes
# per address; RTSP, the SDK ports and the rest are asked of the live hosts in step 2.
HOST_PORTS = (80, 443)
RETRY_PORTS = (80,)  # asked again, with an echo, of the targets silent after the first host round
HOST_TRIES = 2  # every silent target is asked at least this often ...
HOST_MAX_TRIES = 4  # ... and at most this often, while the hosts found show loss (request_reply's rule)
SEND_SLACK = 3.0
PORT_RESERVE = 4.0  # seconds of the budget kept for the port rounds
SPREAD_STEP = 0.1  # seconds (at full rate) between two probes of one address in the first host round
PORT_TRIES = 3
MIN_WAIT = 0.5  # seconds to wait for late answers after a round, at least
RTT_FACTOR = 3.0  # ... and this many times the slowest answer seen so far
MAX_WAIT = 3.0
# seconds from an address's first ask to its retry, at least: a router gives up resolving an absent
# address after ~3 s (Linux: 3 requests 1 s apart, on timers that may fire a little late); a retry sent
# earlier joins the dying resolution and is dropped with it (measured: at exactly 3.0 s, the last
# address of a routed /22 was missed in one run of four)
ROUND_GAP = 3.5
BATCH_SECONDS = 0.001  # a send batch holds about this much sending at the sweep's rate
BATCH_MAX = 32
SOCKET_BUFFER = 32 << 20  # bytes, each way (see _buffers)
CONNECT_TIMEOUT = 1.5  # fallback: above the kernel's first SYN retransmission (1 s)


def sweep_budget(targets: int, ports: int, rate: float) -> float:
    """Seconds the sweep needs for ``targets`` addresses at ``rate``: both host rounds at full size, the
    port rounds, and the waits between rounds (the scan gives the probe this much time)."""
    host_packets = targets * (2 + len(HOST_PORTS) + len(RETRY_PORTS) * (HOST_TRIES - 1))
    waits = (HOST_TRIES + PORT_TRIES) * MAX_WAIT + (HOST_TRIES - 1) * ROUND_GAP
    # SEND_SLACK: on a busy host (or behind a slow router) the sweep sends slower than its rate
    return SEND_SLACK * host_packets / max(rate, 1.0) + waits + ports * 0.01 + 2.0


@dataclass
class _Found:
    """What the sweep learnt, and when each target was first asked (for the round-trip estimate)."""

    live: dict[str, str] = field(default_factory=dict)  # ip -> how we know ("icmp-echo", "tcp-rst" …)
    open: dict[str, set[int]] = field(default_factory=dict)
    answered: dict[str, set[int]] = field(default_factory=dict)  # ip -> ports that said anything
    asked_at: dict[str, float] = field(default_factory=dict)
    slowest: float = 0.0  # the slowest first answer of a host (a router's resolution included)
    last_answer: float = 0.0
    # when each port of a live host was last asked, and the slowest of their answers: the port rounds'
    # wait (a live host is resolved already: its round trip is the path's, without the resolution)
    port_asked: dict[tuple[str, int], float] = field(default_factory=dict)
    port_slowest: float = 0.0


class LivenessProbe:
    name = "liveness"
    description = "which targets answer (ICMP echo, TCP SYN) and which camera ports are open"

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        col = Collector(self.name, ctx)
        targets = [t for t in ctx.targets if isinstance(t, IPv4Address)]
        if not targets:
            return col.result(
                ProbeStatus.SKIPPED, notes=["no targets to sweep (on-link targets are the ARP sweep's)"]
            )
        ports = tuple(ctx.options.ports_for(self.name, DEFAULT_PORTS))
        rate = ctx.options.rate_for(self.name)
        try:
            tcp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
        except PermissionError:
            result = await connect_sweep(col, targets, ports, ctx.timeout)
            if ctx.options.liveness_sample:
                result.notes.append("--sample applies to the raw sweep only: every target was tried")
            return result
        try:
            icmp: socket.socket | None = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        except PermissionError:
            icmp = None
        try:
            sweep = _RawSweep(col, tcp, icmp, targets, rate, ctx.timeout)
            return await sweep.run(ports, ctx.options.liveness_sample)
        finally:
            tcp.close()
            if icmp is not None:
                icmp.close()


class _RawSweep:
    """One raw sweep: its sockets, cookie secret, what it found, and its deadline."""

    def __init__(
        self,
        col: Collector,
        tcp: socket.socket,
        icmp: socket.socket | None,
        targets: list[IPv4Address],
        rate: float,
        budget: float,
    ) -> None:
        self.col, self.tcp, self.icmp, self.rate = col, tcp, icmp, rate
        self.pacer = col.ctx.pacer  # the scan's shared cap (--rate), on top of this sweep's own pace
        self.deadline = time.monotonic() + max(budget, 1.0)
        # the host rounds stop in time for the port rounds of the hosts found (a short, cheap step)
        self.hosts_deadline = self.deadline - min(PORT_RESERVE, budget / 4)
        self.stop_at = self.hosts_deadline
        self.secret = secrets.token_bytes(16)
        self.ident = secrets.randbits(16)
        self.wanted = {str(t): t for t in targets}
        self.packed = {ip: t.packed for ip, t in self.wanted.items()}
        self.factory: SynFactory | None = None  # built once the source port is reserved
        self.found = _Found()
        self.sources = _SourceAddresses()
        self.sent = 0
        self.sport = 0
        self.sample_note = ""
        self.sampled_out = 0  # targets not asked because sampling found their /24 silent
        self.retry_notes: list[str] = []
        self.retried: set[str] = set()  # addresses asked in a retry round
        self.late: set[str] = set()  # live hosts whose first answer came after they were asked again
        self.loss_note = ""
        self.loss_short = ""  # why the loss calls for more tries than the sweep gave (incomplete)
        self.ports: tuple[int, ...] = ()

    async def run(self, ports: tuple[int, ...], sample: int | None = None) -> ProbeResult:
        self.ports = ports
        loop = asyncio.get_running_loop()
        reserve = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # holds our source port for the sweep
        reserve.bind(("0.0.0.0", 0))  # noqa: S104 - reserves an ephemeral port; never listens
        self.sport = reserve.getsockname()[1]
        self.factory = SynFactory(self.secret, self.sport, self.ident)
        readers = [(self.tcp, self._on_tcp), (self.icmp, self._on_icmp)]
        for sock, reader in readers:
            if sock is not None:
                _buffers(sock)
                sock.setblocking(False)
                loop.add_reader(sock.fileno(), reader)
        try:
            if sample:
                finished = await self._sampled_host_rounds(sample)
            else:
                finished = await self._host_rounds(list(self.wanted))
            self.stop_at = self.deadline
            finished = await self._port_rounds(ports) and finished
        finally:
            for sock, _reader in readers:
                if sock is not None:
                    loop.remove_reader(sock.fileno())
            reserve.close()
        return self._result(finished)

    async def _host_rounds(self, addresses: list[str]) -> bool:
        kinds: tuple[int | None, ...] = (None, *HOST_PORTS) if self.icmp is not None else HOST_PORTS
        block = max(1, int(self.rate * SPREAD_STEP / len(kinds)))
        finished = await self._send_round(spread(addresses, kinds, block))
        if not finished:
            return False
        # the live hosts' other ports, while the last answers of the first round come in
        finished = await self._send_round(self._port_jobs())
        # A saturated path (a router's neighbour table, a rate limiter) drops probes of live hosts: ask
        # the silent again (``retry_order``), each no sooner than ROUND_GAP after it was first asked (so
        # a router has given up its first resolution and starts a new one), and as late as possible: an
        # address that answers meanwhile is skipped.
        retry_kinds = (None, *RETRY_PORTS) if self.icmp is not None else RETRY_PORTS
        tries, asked_again = 1, 0
        while True:
            tries += 1
            retry = _Retry(self.found.live, self.retried)
            began, late_before = time.monotonic(), len(self.late)
            order = retry_order(addresses, self.found.asked_at, time.monotonic() - ROUND_GAP)
            finished = await self._send_round(retry.jobs(order, retry_kinds), retry) and finished
            took, asked_again = time.monotonic() - began - retry.waited, max(asked_again, retry.asked)
            await self._settle()
            if not finished or not retry.asked:
                break
            if not await self._another_try(addresses, tries, took, len(self.late) > late_before):
                break
        if asked_again:
            self.retry_notes.append(
                f"asked {asked_again} silent target(s) again"
                + (f" ({tries} tries in all)" if tries > 2 else "")
            )
        return finished

    async def _another_try(self, addresses: list[str], tries: int, took: float, found_new: bool) -> bool:
        """Whether the silent targets get one more try: when the live hosts that answered only a later
        try show a per-try loss that ``tries`` tries leave above MISS_TARGET (the rule of the ARP sweep,
        request_reply.tries_for_loss), and the budget holds another round as long as the last (``took``
        seconds of sending). Without time for it, the sweep ends incomplete (``loss_short``) if the
        last try still found hosts (``found_new``): a path losing hosts then may have lost more; a last
        try that found none is said in the notes only. Waits ROUND_GAP after the last round."""
        live = [ip for ip in addresses if ip in self.found.live]
        later = sum(1 for ip in live if ip in self.late)
        loss = per_try_loss(later / len(live), tries) if live else 0.0
        want = tries_for_loss(loss, HOST_TRIES, HOST_MAX_TRIES)
        if later:
            self.loss_note = (
                f"{later} of {len(live)} live host(s) answered only a later try (per-try loss about "
                f"{loss:.0%}): the silent targets need {want} tries"
            )
        if tries >= want:
            return False
        if time.monotonic() + ROUND_GAP + took * 1.2 + MAX_WAIT > self.stop_at:
            if found_new:
                self.loss_short = (
                    f"time allowed {tries}, and the last still found hosts: a live host may have been missed"
                )
            else:
                self.loss_note += f"; time allowed {tries}, and the last found no new host"
            return False
        await asyncio.sleep(max(0.0, ROUND_GAP - self._quiet()))  # the settle waited the rest
        return True

    async def _sampled_host_rounds(self, sample: int) -> bool:
        """Host rounds on ``sample`` addresses of each /24, then on the rest of the /24s that answered."""
        first, rest = sample_targets(list(self.wanted.values()), sample)
        finished = await self._host_rounds([str(t) for t in first])
        answered = {_slash24(IPv4Address(ip)) for ip in self.found.live}
        unswept = [net for net in rest if net not in answered]
        later = [str(t) for net, hosts in rest.items() if net in answered for t in hosts]
        finished = await self._host_rounds(later) and finished
        nets = len({_slash24(t) for t in first})
        self.sampled_out = sum(len(rest[n]) for n in unswept)
        self.sample_note = (
            f"sampled: {len(unswept)} of {nets} /24(s) had no answer to {sample} probe(s) each and were not "
            f"swept ({self.sampled_out} address(es) never asked; a host there that does "
            "not answer at the sampled addresses is missed)"
        )
        return finished

    def _port_jobs(self, ports: tuple[int, ...] | None = None) -> list[tuple[str, int | None]]:
        """A SYN to each port of the live hosts that has not answered yet."""
        answered = self.found.answered
        return [
            (ip, p) for ip in self.found.live for p in ports or self.ports if p not in answered.get(ip, set())
        ]

    async def _port_rounds(self, ports: tuple[int, ...]) -> bool:
        finished = True
        for _round in range(PORT_TRIES):
            jobs = self._port_jobs(ports)
            if not jobs:
                break
            finished = await self._send_round(jobs) and finished
            await self._settle(ports=True)
        return finished

    def _result(self, finished: bool) -> ProbeResult:
        found, notes = self.found, []
        if self.icmp is None:
            notes.append("no raw ICMP socket: hosts were found by TCP answers only")
        if self.sample_note:
            notes.append(self.sample_note)
        notes += self.retry_notes
        if self.loss_note:
            notes.append(self.loss_note + (f"; {self.loss_short}" if self.loss_short else ""))
        for reason, count in sorted(self.sources.failures.items()):
            notes.append(f"{count} packet(s) could not be sent: {reason}")
        notes.append(
            f"{len(found.live)} of {len(self.wanted)} target(s) answered; "
            f"{sum(len(p) for p in found.open.values())} open port(s) on {len(found.open)} host(s)"
        )
        if not finished:
            unasked = len(self.wanted) - len(found.asked_at) - self.sampled_out
            notes.append(
                f"ran out of time before every target was asked ({unasked} never asked, not probed "
                "further): the sweep is incomplete"
            )
            return self.col.result(ProbeStatus.PARTIAL, notes=notes, sent=self.sent, received=len(found.live))
        if self.loss_short:
            notes.append("ran out of time for the tries the loss calls for: the sweep is incomplete")
            return self.col.result(ProbeStatus.PARTIAL, notes=notes, sent=self.sent, received=len(found.live))
        return self.col.result(notes=notes, sent=self.sent, received=len(found.live))

    def _answered(self, ip: str, how: str, port: int | None = None, is_open: bool = False) -> None:
        found, now = self.found, time.monotonic()
        found.last_answer = now
        if ip not in found.live and ip in found.asked_at:  # the round trip of a host's first answer
            found.slowest = max(found.slowest, now - found.asked_at[ip])
        if ip not in found.live:
            if ip in self.retried:
                self.late.add(ip)
            found.live[ip] = how
            self.col.add("host.alive", how, ip=ip)
        if port is not None:
            asked = found.port_asked.pop((ip, port), None)
            if asked is not None:
                found.port_slowest = max(found.port_slowest, now - asked)
            found.answered.setdefault(ip, set()).add(port)
            if is_open and port not in found.open.setdefault(ip, set()):
                found.open[ip].add(port)
                self.col.add("tcp.open", str(port), ip=ip, port=port)

    def _on_tcp(self) -> None:
        for packet in _drain(self.tcp):
            got = parse_tcp_answer(packet, self.sport, self.secret)
            if got is not None and got.src in self.wanted:
                self._answered(got.src, "tcp-syn-ack" if got.open else "tcp-rst", got.port, got.open)

    def _on_icmp(self) -> None:
        assert self.icmp is not None
        for packet in _drain(self.icmp):
            got = parse_echo_reply(packet, self.ident)
            if got is not None and got.src in self.wanted:
                self._answered(got.src, "icmp-echo")

    async def _send_round(self, jobs: Iterable[tuple[str, int | None]], retry: _Retry | None = None) -> bool:
        """Send each (ip, port) SYN, or (ip, None) echo, paced; False if the deadline cut it short. With
        ``retry``, each job waits until ROUND_GAP after its address was first asked and is dropped if
        the address answered meanwhile."""
        start, sent = time.monotonic(), self.sent
        try:
            return await self._send_paced(jobs, start, retry)
        finally:
            took = time.monotonic() - start
            log.debug(
                "liveness round: %d packets in %.2f s, %d live so far",
                self.sent - sent,
                took,
                len(self.found.live),
            )

    async def _send_paced(
        self, jobs: Iterable[tuple[str, int | None]], start: float, retry: _Retry | None
    ) -> bool:
        """The send loop, a batch of about a millisecond of packets at a time (``batch_size``): one
        token request and one clock reading per batch, packets from ``SynFactory`` templates."""
        size = batch_size(self.rate)
        interval = 1.0 / self.rate if self.rate > 0 else 0.0
        n, unyielded = 0, 0
        it = iter(jobs)
        while chunk := list(itertools.islice(it, size)):
            now = time.monotonic()
            if now >= self.stop_at:
                return False
            if retry is not None:
                due = max(self.found.asked_at.get(ip, now) for ip, _kind in chunk) + ROUND_GAP
                if due > now:
                    await asyncio.sleep(min(due, self.stop_at) - now)
                    retry.waited += time.monotonic() - now
                    now = time.monotonic()
                    if now >= self.stop_at:
                        return False
                chunk = retry.still_silent(chunk)
            batch = self._batch(chunk, now, n)
            if self.pacer is not None and batch:
                await self.pacer.take(len(batch))
            await self._send_batch(batch)
            n += len(batch)
            unyielded += len(batch)
            ahead = start + n * interval - time.monotonic()
            if ahead > 0.002:
                await asyncio.sleep(ahead)
                unyielded = 0
            elif unyielded >= 128:
                await asyncio.sleep(0)  # let answers in
                unyielded = 0
        return True

    def _batch(
        self, chunk: list[tuple[str, int | None]], now: float, n: int
    ) -> list[tuple[socket.socket, bytes, str]]:
        """(socket, packet, address) of each job of ``chunk``: the echo (``port`` None; its sequence
        number counts the round's packets from ``n``) or SYN; jobs without a socket or route skipped."""
        assert self.factory is not None
        factory, asked, packed, for_target = (
            self.factory,
            self.found.asked_at,
            self.packed,
            self.sources.for_target,
        )
        live, port_asked = self.found.live, self.found.port_asked
        batch: list[tuple[socket.socket, bytes, str]] = []
        for ip, port in chunk:
            if ip not in asked:
                asked[ip] = now
            if port is None:
                if self.icmp is not None:
                    batch.append((self.icmp, factory.echo((n + len(batch)) & 0xFFFF), ip))
                continue
            src = for_target(ip)
            if src is not None:
                batch.append((self.tcp, factory.syn(src, packed[ip], port), ip))
                if ip in live:
                    port_asked[ip, port] = now
        return batch

    async def _send_batch(self, batch: list[tuple[socket.socket, bytes, str]]) -> None:
        for sock, packet, ip in batch:
            try:
                sock.sendto(packet, (ip, 0))
            except OSError as exc:
                try:
                    await _send_later(sock, packet, ip, exc)
                except OSError as failed:  # e.g. EHOSTUNREACH for one address: go on with the rest
                    reason = failed.strerror or str(failed)
                    self.sources.failures[reason] = self.sources.failures.get(reason, 0) + 1
                    continue
            self.sent += 1

    def _quiet(self, ports: bool = False) -> float:
        slowest = self.found.port_slowest if ports else self.found.slowest
        return min(MAX_WAIT, max(MIN_WAIT, RTT_FACTOR * slowest))

    async def _settle(self, ports: bool = False) -> None:
        """Wait for late answers: until nothing new came for a while scaled to the slowest answer (of
        the live hosts' ports, with ``ports``: no router resolution in their round trip)."""
        mark = time.monotonic()
        while (wait := self._until_quiet(mark, ports)) > 0:  # noqa: ASYNC110 - the quiet deadline moves as answers arrive
            await asyncio.sleep(min(wait, 0.1))
        log.debug("liveness settled after %.2f s, %d live", time.monotonic() - mark, len(self.found.live))

    def _until_quiet(self, mark: float, ports: bool = False) -> float:
        """Seconds left until the sweep has heard nothing new for a quiet period (or its deadline)."""
        return min(max(self.found.last_answer, mark) + self._quiet(ports), self.stop_at) - time.monotonic()


class _Retry:
    """The retry round's jobs, decided as late as possible: the kinds of each address still silent when
    the round reaches it (``jobs``), checked again after a wait (``still_silent``); ``asked`` counts the
    addresses asked again."""

    def __init__(self, live: dict[str, str], retried: set[str]) -> None:
        self.live, self.retried = live, retried
        self.asked = 0
        self.waited = 0.0  # seconds the round waited for its addresses to be due (not sending)
        self.dropped: set[str] = set()

    def jobs(
        self, addresses: Iterable[str], kinds: tuple[int | None, ...]
    ) -> Iterator[tuple[str, int | None]]:
        for ip in addresses:
            if ip not in self.live:
                self.asked += 1
                for kind in kinds:
                    yield ip, kind

    def still_silent(self, chunk: list[tuple[str, int | None]]) -> list[tuple[str, int | None]]:
        """The jobs of ``chunk`` whose address is still silent, just before they are sent: those count as
        asked again (``retried``: a host that answers after this needed a later try)."""
        kept = [job for job in chunk if job[0] not in self.live]
        if len(kept) < len(chunk):
            answered = {ip for ip, _kind in chunk if ip in self.live} - self.dropped
            self.dropped |= answered
            self.asked -= len(answered)
        self.retried.update(ip for ip, _kind in kept)
        return kept


def retry_order(addresses: list[str], asked_at: dict[str, float], due: float) -> list[str]:
    """The order of a retry round: backwards from the last address asked before ``due`` (ROUND_GAP
    ago: the first that may be asked again at once), then backwards through those asked since. What a
    saturated path (a full neighbour table) dropped at the end of a round is asked again early,
    before the retries fill the path again, and a large sweep waits for no gap; a round shorter than
    ROUND_GAP is asked again backwards from its end, once its last address is due."""
    head = [ip for ip in addresses if asked_at.get(ip, due) <= due]
    tail = [ip for ip in addresses if asked_at.get(ip, due) > due]
    return head[::-1] + tail[::-1]


def batch_size(rate: float) -> int:
    """Packets the sweep sends per batch at ``rate``: about a millisecond of them (at most 32), so a
    batch is never a burst the pace would not allow (the shared Pacer lets a taker run ``SLACK``, 2 ms,
    ahead), and at low rates one packet at a time."""
    return max(1, min(BATCH_MAX, int(rate * BATCH_SECONDS)))


def spread(
    addresses: list[str], kinds: tuple[int | None, ...], block: int
) -> Iterator[tuple[str, int | None]]:
    """Every (address, kind) once, the kinds of one address ``block`` addresses apart: block b gets kind
    k at step b + k. Probes of one address are then sent a moment apart (``SPREAD_STEP``), so one burst
    lost on the path (a full queue, the answers a router releases at once when it has resolved the
    address) does not take them all, yet all arrive while the router still resolves an absent address
    once (Linux: 3 s)."""
    blocks = [addresses[i : i + block] for i in range(0, len(addresses), max(1, block))]
    for step in range(len(blocks) + len(kinds) - 1):
        for k, kind in enumerate(kinds):
            if 0 <= step - k < len(blocks):
                for ip in blocks[step - k]:
                    yield ip, kind


# Asked first in each /24 when sampling: gateways, then cameras' factory addresses (Hikvision x.x.x.64,
# Dahua x.x.x.108), then addresses spread evenly over the /24.
SAMPLE_FIRST = (1, 254, 64, 108, 100, 2)


def _slash24(addr: IPv4Address) -> int:
    return int(addr) >> 8


def sample_targets(
    targets: list[IPv4Address], n: int
) -> tuple[list[IPv4Address], dict[int, list[IPv4Address]]]:
    """Split ``targets`` by /24: up to ``n`` addresses of each /24 to ask first (those of
    ``SAMPLE_FIRST`` that are targets, then an even spread of the others), and, per /24 (keyed by
    address >> 8), the targets not in the sample. Order of the /24s and within them as given."""
    groups: dict[int, list[IPv4Address]] = {}
    for t in targets:
        groups.setdefault(_slash24(t), []).append(t)
    first: list[IPv4Address] = []
    rest: dict[int, list[IPv4Address]] = {}
    for net, hosts in groups.items():
        by_octet = {int(h) & 0xFF: h for h in hosts}
        chosen = [by_octet[o] for o in SAMPLE_FIRST if o in by_octet][: max(0, n)]
        others = [h for h in hosts if h not in chosen]
        want = max(0, n) - len(chosen)
        if want > 0 and others:
            step = len(others) / min(want, len(others))
            chosen += [others[int(i * step)] for i in range(min(want, len(others)))]
        picked = set(chosen)
        first += chosen
        rest[net] = [h for h in hosts if h not in picked]
    return first, rest


def _buffers(sock: socket.socket) -> None:
    """Large socket buffers: answers arrive in bursts, and every SYN a router holds while it resolves an
    absent address stays charged to our send buffer (~3 s): a default buffer stalls the sweep."""
    for opt, force in ((socket.SO_RCVBUF, 33), (socket.SO_SNDBUF, 32)):  # SO_RCVBUFFORCE, SO_SNDBUFFORCE
        for name in (force, opt):  # the forced size needs CAP_NET_ADMIN; else what rmem_max allows
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, name, SOCKET_BUFFER)
                break


def _drain(sock: socket.socket, limit: int = 1024) -> Iterator[bytes]:
    """What a non-blocking socket holds now, at most ``limit`` packets."""
    for _ in range(limit):
        try:
            yield sock.recv(4096)
        except OSError:  # BlockingIOError included: nothing more now
            return


async def _send_later(sock: socket.socket, packet: bytes, ip: str, exc: OSError) -> None:
    """Send ``packet`` whose first ``sendto`` failed with ``exc``: again once the socket's queue has room
    (would block, interrupted, ENOBUFS); any other error is raised."""
    while True:
        if not isinstance(exc, (BlockingIOError, InterruptedError)) and exc.errno != errno.ENOBUFS:
            raise exc
        await asyncio.sleep(0.001)  # the queue is full: let it drain
        try:
            sock.sendto(packet, (ip, 0))
            return
        except OSError as again:
            exc = again


class _SourceAddresses:
    """The local address the kernel would send from to each target (the TCP checksum covers it)."""

    def __init__(self) -> None:
        self.cache: dict[str, bytes | None] = {}
        self.failures: dict[str, int] = {}

    def for_target(self, ip: str) -> bytes | None:
        if ip not in self.cache:
            probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                probe.connect((ip, 9))  # a UDP connect sends nothing; it only asks the routing table
                self.cache[ip] = socket.inet_aton(probe.getsockname()[0])
            except OSError as exc:
                self.cache[ip] = None
                reason = f"no route ({exc.strerror or exc})"
                self.failures[reason] = self.failures.get(reason, 0) + 1
            finally:
                probe.close()
        return self.cache[ip]


async def connect_sweep(
    col: Collector, targets: list[IPv4Address], ports: tuple[int, ...], budget: float
) -> ProbeResult:
    """Without raw sockets: ``connect()`` to each target's host ports, then to every port of live hosts.
    A refused connection proves the host is there as well as an accepted one."""
    deadline = time.monotonic() + max(budget, 1.0)
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = col.ctx.options.concurrency_for(CONNECT_CONCURRENCY)
    sem = asyncio.Semaphore(max(1, min(limit, soft - 64)))
    pacer = col.ctx.pacer
    live: dict[str, str] = {}
    open_ports: dict[str, set[int]] = {}
    attempts = 0
    unfinished = 0

    async def one(ip: str, port: int) -> None:
        nonlocal attempts, unfinished
        async with sem:
            left = deadline - time.monotonic()
            if left <= 0:
                unfinished += 1
                return
            attempts += 1
            if pacer is not None:  # a connect() sends a SYN: it counts against --rate too
                await pacer.take()
            try:
                async with asyncio.timeout(min(CONNECT_TIMEOUT, left)):
                    _reader, writer = await asyncio.open_connection(ip, port)
            except ConnectionRefusedError:
                if ip not in live:
                    live[ip] = "tcp-refused"
                    col.add("host.alive", "tcp-refused", ip=ip)
                return
            except (OSError, TimeoutError):
                return
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            if ip not in live:
                live[ip] = "tcp-connect"
                col.add("host.alive", "tcp-connect", ip=ip)
            if port not in open_ports.setdefault(ip, set()):
                open_ports[ip].add(port)
                col.add("tcp.open", str(port), ip=ip, port=port)

    names = [str(t) for t in targets]
    await asyncio.gather(*(one(ip, p) for ip in names for p in HOST_PORTS))
    await asyncio.gather(*(one(ip, p) for ip in list(live) for p in ports if p not in HOST_PORTS))
    notes = [
        "unprivileged: a connect() sweep instead of raw SYN/ICMP (slower; hosts that drop TCP to "
        f"{', '.join(map(str, HOST_PORTS))} are not seen)",
        f"{len(live)} of {len(names)} target(s) answered; "
        f"{sum(len(p) for p in open_ports.values())} open port(s) on {len(open_ports)} host(s)",
    ]
    if unfinished:
        notes.append(f"ran out of time: {unfinished} connection(s) not tried; the sweep is incomplete")
        return col.result(ProbeStatus.PARTIAL, notes=notes, sent=attempts, received=len(live))
    status = ProbeStatus.SUCCESS if live else ProbeStatus.NO_RESPONSE
    return col.result(status, notes=notes, sent=attempts, received=len(live))
