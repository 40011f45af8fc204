"""The multicast-and-unicast search loop that WS-Discovery and SSDP share.

One UDP socket bound to the interface's address (``sockets.open_udp_socket``, send and receive buffers of
``BUFFER`` bytes: unicast to unresolved neighbours stays charged to the send buffer). At each offset of
``rounds`` the requests go to the multicast group and, paced at the ``rate`` option (datagrams a second),
to every host that has not answered yet; a full send buffer ends that round's unicast. Replies are read
as they arrive. Devices delay multicast answers by up to ``reply_delay``, so the search waits that long
(plus ``slack``) after its last multicast, then ends after ``idle`` seconds of silence once the protocol
has nothing in flight, or as soon as every host asked has answered; never past the budget.

A protocol subclasses ``MulticastSearch`` (what to send, what a reply records) and runs it with
``run_search``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import time
from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar

from scanner.discovery.base import Collector, ProbeResult, ProbeStatus, log
from scanner.discovery.sockets import discovery_source, open_udp_socket
from scanner.errors import TargetError

SETTLE = 0.05  # seconds after the last reply before 'everyone answered' ends a search
IDLE = 0.25  # seconds without a reply that end the search once the multicast answers are due
SLACK = 0.1  # seconds allowed for a delayed multicast answer to cross the wire
DEFAULT_RATE = 5000  # unicast datagrams per second (option "rate")
BUFFER = 16 << 20  # socket buffers, bytes (forced past net.core.[rw]mem_max where permitted)
MAX_DATAGRAM = 65535  # bytes read per datagram
READS_PER_WAKEUP = 256

ReplyT = TypeVar("ReplyT")


class MulticastSearch(Generic[ReplyT]):
    """One search over one socket; a subclass names the protocol, what it sends and what a reply records."""

    protocol: ClassVar[str]  # as notes and errors name it, e.g. "SSDP"
    request: ClassVar[str]  # what one request is called in notes, e.g. "M-SEARCH"
    group: ClassVar[str]  # multicast group
    port: ClassVar[int]  # the protocol's UDP port (requests go there)
    ttl: ClassVar[int]  # multicast TTL
    rounds: ClassVar[tuple[float, ...]]  # seconds after the start at which the requests are (re)sent
    reply_delay: ClassVar[float]  # seconds a device may wait before answering a multicast request
    idle: ClassVar[float] = IDLE
    slack: ClassVar[float] = SLACK
    drain_on_exit: ClassVar[bool] = True  # read what already arrived once the search is over

    def __init__(self, sock: socket.socket, col: Collector, *, multicast: bool, hosts: list[str]) -> None:
        self.sock, self.col, self.multicast, self.hosts = sock, col, multicast, hosts
        rate = float(col.ctx.options.udp_rate or DEFAULT_RATE)
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.answered: set[str] = set()  # source addresses that sent a reply
        self.asked: set[str] = set()  # hosts every unicast request went to
        self.sent = self.received = 0
        self.last_reply = 0.0
        self.deadline = 0.0
        self.wake = asyncio.Event()

    # --- what a protocol provides

    def multicast_datagrams(self) -> Sequence[bytes]:
        """The requests for the multicast group."""
        raise NotImplementedError

    def unicast_datagrams(self, host: str) -> Sequence[bytes]:
        """The requests for one host."""
        raise NotImplementedError

    def parse(self, data: bytes) -> ReplyT | None:
        """The reply in one datagram, None if it is not one."""
        raise NotImplementedError

    def record(self, reply: ReplyT, src: str) -> None:
        """Emit what a reply from ``src`` says."""
        raise NotImplementedError

    def busy(self) -> bool:
        """True while protocol work started by replies (e.g. fetches) is still running."""
        return False

    async def close(self) -> None:
        """Release what the protocol's work holds; called once the search is over."""

    def notes(self) -> list[str]:
        """What the result must say about the protocol's own work."""
        return []

    # --- the loop

    async def run(self, budget: float) -> None:
        loop = asyncio.get_running_loop()
        start = time.monotonic()
        self.deadline = start + max(budget, 0.1)
        loop.add_reader(self.sock.fileno(), self._on_readable)
        try:
            last_multicast = start
            for offset in self.rounds:
                if not await self._pause_until(start + offset):
                    return
                if self.multicast:
                    for datagram in self.multicast_datagrams():
                        self._send(datagram, self.group)
                    last_multicast = time.monotonic()
                await self._unicast([h for h in self.hosts if h not in self.answered])
            due = last_multicast + self.reply_delay + self.slack if self.multicast else 0.0
            while True:
                quiet_at = max(due, self.last_reply + self.idle)
                now = time.monotonic()
                if now >= quiet_at and not self.busy():
                    return
                if not await self._sleep(quiet_at if now < quiet_at else self.deadline):
                    return
        finally:
            loop.remove_reader(self.sock.fileno())
            if self.drain_on_exit:
                self._on_readable()

    def _all_answered(self) -> bool:
        return bool(self.hosts) and self.answered.issuperset(self.hosts) and not self.busy()

    def _over(self) -> bool:
        """Past the deadline, or every host asked has answered, the protocol is not busy and the burst of
        replies has settled (a device sends one reply per service type, back to back)."""
        now = time.monotonic()
        return now >= self.deadline or (self._all_answered() and now >= self.last_reply + SETTLE)

    async def _sleep(self, until: float) -> bool:
        """Sleep until ``until`` or the next wake-up (a reply, work done); False once the search is over."""
        if self._over():
            return False
        if self._all_answered():
            until = min(until, self.last_reply + SETTLE)
        self.wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), max(0.0, min(until, self.deadline) - time.monotonic()))
        return not self._over()

    async def _pause_until(self, when: float) -> bool:
        while time.monotonic() < when:
            if not await self._sleep(when):
                return False
        return not self._over()

    async def _unicast(self, hosts: list[str]) -> None:
        """Each request to each host, paced; stops for this round when the send buffer is full."""
        started = time.monotonic()
        for i, host in enumerate(hosts):
            if time.monotonic() >= self.deadline:
                return
            datagrams = self.unicast_datagrams(host)
            if not all(self._send(datagram, host) for datagram in datagrams):
                return  # send buffer full: the rest wait for the next round
            self.asked.add(host)
            ahead = started + (i + 1) * len(datagrams) * self.interval - time.monotonic()
            if ahead > 0.002:
                await asyncio.sleep(ahead)
            elif i % 32 == 31:
                await asyncio.sleep(0)  # let replies in

    def _send(self, datagram: bytes, host: str) -> bool:
        """False only when the send buffer is full (retry later); other errors lose just this datagram."""
        try:
            self.sock.sendto(datagram, (host, self.port))
        except (BlockingIOError, InterruptedError):
            return False
        except OSError as exc:
            if exc.errno == errno.ENOBUFS:
                return False
            log.debug("%s: send to %s failed: %s", self.col.probe, host, exc)
            return True
        self.sent += 1
        return True

    def _on_readable(self) -> None:
        for _ in range(READS_PER_WAKEUP):
            try:
                data, (src, _port) = self.sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. an ICMP error queued on the socket
                log.debug("%s: receive failed: %s", self.col.probe, exc)
                continue
            self.received += 1
            reply = self.parse(data)
            if reply is None:
                continue
            self.answered.add(src)
            self.last_reply = time.monotonic()
            self.wake.set()
            self.record(reply, src)


async def run_search(col: Collector, search: type[MulticastSearch[Any]]) -> ProbeResult:
    """Run one ``search`` from the interface's address (multicast and unicast), else unicast only."""
    ctx = col.ctx
    try:
        source = discovery_source(ctx)
    except TargetError as exc:
        return col.result(ProbeStatus.ERROR, error=str(exc))
    hosts = ctx.hosts_to_probe()
    if source is None and not hosts:
        return col.result(ProbeStatus.SKIPPED, notes=[f"{search.protocol} needs an interface or targets"])
    try:
        sock = open_udp_socket(
            source, ttl=search.ttl, rcvbuf=BUFFER, sndbuf=BUFFER, force_buffers=True, multicast_loop=False
        )
    except OSError as exc:
        return col.result(ProbeStatus.ERROR, error=f"cannot open the {search.protocol} socket: {exc}")
    notes = [] if source else [f"no interface given: unicast {search.request} only, no multicast"]
    session = search(sock, col, multicast=source is not None, hosts=hosts)
    try:
        await session.run(ctx.timeout)
    finally:
        sock.close()
        await session.close()
    unasked = len(set(hosts) - session.asked)
    if unasked:
        notes.append(
            f"{unasked} hosts got no unicast {search.request} (time budget or socket buffer exhausted)"
        )
    return col.result(notes=notes + session.notes(), sent=session.sent, received=session.received)
