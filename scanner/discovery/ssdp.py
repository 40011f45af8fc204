"""SSDP / UPnP discovery: M-SEARCH (multicast and unicast), then each device's description XML.

Measured here (../shared/MEASUREMENTS.md): a hand-written M-SEARCH got 762/762 replies and finished at
~1 s. ``ssdp:all`` and ``upnp:rootdevice`` searches go out in ``ROUNDS`` (unicast repeats only to hosts
that have not answered). Devices delay multicast answers by up to MX seconds, so the probe waits that
long after its last multicast, then ends after ``IDLE`` seconds of silence once every description fetch
is done, or as soon as every host it asked has answered; never past ``ctx.timeout``. A LOCATION is
fetched only when its host is the replying address or a scan target (``fetchable_location``), with
httpx (no proxies from the environment, no redirect to another host, at most ``MAX_DESCRIPTION`` bytes).
"""

from __future__ import annotations

import asyncio
import errno
import socket
import time
from typing import Any
from urllib.parse import urljoin, urlsplit

from scanner.discovery.base import Collector, ProbeContext, ProbeResult, ProbeStatus, log
from scanner.discovery.parsers.ssdp import GROUP, PORT, build_msearch, fetchable_location, parse_response
from scanner.discovery.parsers.upnp import MAX_DESCRIPTION, parse_description
from scanner.discovery.wsd import discovery_source, open_udp_socket
from scanner.errors import TargetError

SEARCH_TARGETS = ("ssdp:all", "upnp:rootdevice")
MX = 1  # seconds a device may wait before answering a multicast search (UDA 1.1: 1-5)
ROUNDS = (0.0, 0.25)  # seconds after the start at which the searches are (re)sent
IDLE = 0.25
SLACK = 0.1
DEFAULT_RATE = 5000  # unicast datagrams per second
MULTICAST_TTL = 2  # UDA 1.1 §1.1.2 default
FETCH_TIMEOUT = 2.0  # seconds per description
MAX_FETCHES = 32  # at once
MAX_REDIRECTS = 2
UPNP_SIGNALS = {"manufacturer": "upnp.manufacturer", "model_name": "upnp.model_name",
                "model_number": "upnp.model_number", "model_description": "upnp.model_description",
                "friendly_name": "upnp.friendly_name", "serial": "upnp.serial",
                "device_type": "upnp.device_type"}
SSDP_SIGNALS = {"server": "ssdp.server", "st": "ssdp.st", "usn": "ssdp.usn", "location": "ssdp.location"}


class SsdpProbe:
    name = "ssdp"
    description = "SSDP M-SEARCH (multicast and unicast) and UPnP device descriptions"

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        col = Collector(self.name, ctx)
        try:
            source = discovery_source(ctx)
        except TargetError as exc:
            return col.result(ProbeStatus.ERROR, error=str(exc))
        hosts = ctx.hosts_to_probe()
        if source is None and not hosts:
            return col.result(ProbeStatus.SKIPPED, notes=["SSDP needs an interface or targets"])
        try:
            sock = open_udp_socket(source, MULTICAST_TTL)
        except OSError as exc:
            return col.result(ProbeStatus.ERROR, error=f"cannot open an SSDP socket: {exc}")
        notes = [] if source else ["no interface given: unicast M-SEARCH only, no multicast"]
        session = _Session(sock, col, multicast=source is not None, hosts=hosts,
                           targets={str(t) for t in ctx.targets},
                           rate=float(ctx.options.get("rate", DEFAULT_RATE)),
                           fetch_slots=min(ctx.concurrency, MAX_FETCHES))
        try:
            await session.run(ctx.timeout)
        finally:
            sock.close()
            await session.close()
        unasked = len(set(hosts) - session.asked)
        if unasked:
            notes.append(f"{unasked} hosts got no unicast M-SEARCH (time budget or socket buffer exhausted)")
        if session.unfinished:
            notes.append(f"{session.unfinished} description fetches did not finish in time")
        return col.result(notes=notes, sent=session.sent, received=session.received)


class _Session:
    def __init__(self, sock: socket.socket, col: Collector, *, multicast: bool, hosts: list[str],
                 targets: set[str], rate: float, fetch_slots: int) -> None:
        self.sock, self.col, self.multicast, self.hosts, self.targets = sock, col, multicast, hosts, targets
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.answered: set[str] = set()
        self.asked: set[str] = set()
        self.seen: set[tuple[str, str, str]] = set()  # (ip, signal, value) already emitted
        self.locations: set[str] = set()
        self.fetches: set[asyncio.Task[None]] = set()
        self.fetch_slots = asyncio.Semaphore(max(1, fetch_slots))
        self.client: Any = None
        self.sent = self.received = self.unfinished = 0
        self.last_reply = 0.0
        self.deadline = 0.0
        self.wake = asyncio.Event()

    async def run(self, budget: float) -> None:
        loop = asyncio.get_running_loop()
        start = time.monotonic()
        self.deadline = start + max(budget, 0.1)
        loop.add_reader(self.sock.fileno(), self._on_readable)
        try:
            last_multicast = start
            for offset in ROUNDS:
                if not await self._pause_until(start + offset):
                    return
                if self.multicast:
                    for st in SEARCH_TARGETS:
                        self._send(build_msearch(st, MX), GROUP)
                    last_multicast = time.monotonic()
                await self._unicast([h for h in self.hosts if h not in self.answered])
            due = last_multicast + MX + SLACK if self.multicast else 0.0
            while True:
                quiet_at = max(due, self.last_reply + IDLE)
                now = time.monotonic()
                if now >= quiet_at and not self.fetches:
                    return
                if not await self._sleep(quiet_at if now < quiet_at else self.deadline):
                    return
        finally:
            loop.remove_reader(self.sock.fileno())

    async def close(self) -> None:
        self.unfinished = len(self.fetches)
        for task in list(self.fetches):
            task.cancel()
        await asyncio.gather(*self.fetches, return_exceptions=True)
        if self.client is not None:
            await self.client.aclose()

    def _over(self) -> bool:
        """Past the deadline, or every host asked has answered and every fetch is done."""
        return time.monotonic() >= self.deadline or (
            bool(self.hosts) and self.answered.issuperset(self.hosts) and not self.fetches)

    async def _sleep(self, until: float) -> bool:
        """Sleep until ``until``, a reply or a finished fetch; False once the probe is over."""
        if self._over():
            return False
        self.wake.clear()
        try:
            await asyncio.wait_for(self.wake.wait(), max(0.0, min(until, self.deadline) - time.monotonic()))
        except TimeoutError:
            pass
        return not self._over()

    async def _pause_until(self, when: float) -> bool:
        while time.monotonic() < when:
            if not await self._sleep(when):
                return False
        return not self._over()

    async def _unicast(self, hosts: list[str]) -> None:
        started = time.monotonic()
        for i, host in enumerate(hosts):
            if time.monotonic() >= self.deadline:
                return
            if not all(self._send(build_msearch(st, MX, host), host) for st in SEARCH_TARGETS):
                return  # send buffer full: the rest wait for the next round
            self.asked.add(host)
            ahead = started + (i + 1) * len(SEARCH_TARGETS) * self.interval - time.monotonic()
            if ahead > 0.002:
                await asyncio.sleep(ahead)
            elif i % 32 == 31:
                await asyncio.sleep(0)

    def _send(self, datagram: bytes, host: str) -> bool:
        try:
            self.sock.sendto(datagram, (host, PORT))
        except (BlockingIOError, InterruptedError):
            return False
        except OSError as exc:
            if exc.errno == errno.ENOBUFS:
                return False
            log.debug("ssdp: send to %s failed: %s", host, exc)
            return True
        self.sent += 1
        return True

    def _on_readable(self) -> None:
        for _ in range(256):
            try:
                data, (src, _port) = self.sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.debug("ssdp: receive failed: %s", exc)
                continue
            self.received += 1
            reply = parse_response(data)
            if reply is None:
                continue
            self.answered.add(src)
            self.last_reply = time.monotonic()
            self.wake.set()
            for header, signal in SSDP_SIGNALS.items():
                if reply.get(header):
                    self._add(signal, reply.get(header), src, PORT)
            url = fetchable_location(reply.get("location"), self.targets | {src})
            if url and url not in self.locations:
                self.locations.add(url)
                task = asyncio.get_running_loop().create_task(self._fetch(url))
                self.fetches.add(task)
                task.add_done_callback(self._fetched)

    def _add(self, signal: str, value: str, ip: str, port: int | None) -> None:
        if (ip, signal, value) not in self.seen:
            self.seen.add((ip, signal, value))
            self.col.add(signal, value, ip=ip, port=port)

    def _fetched(self, task: asyncio.Task[None]) -> None:
        self.fetches.discard(task)
        self.wake.set()

    async def _fetch(self, url: str) -> None:
        async with self.fetch_slots:
            body = await self._get(url)
        device = parse_description(body) if body else None
        if device is None:
            return
        parts = urlsplit(url)
        for attr, signal in UPNP_SIGNALS.items():
            value = getattr(device, attr)
            if value:
                self._add(signal, value, parts.hostname or "", parts.port or 80)

    async def _get(self, url: str) -> bytes | None:
        """The body at ``url`` (redirects followed only on the same host), at most MAX_DESCRIPTION bytes."""
        import httpx

        if self.client is None:
            self.client = httpx.AsyncClient(trust_env=False, follow_redirects=False)
        host = urlsplit(url).hostname
        for _hop in range(MAX_REDIRECTS + 1):
            timeout = min(FETCH_TIMEOUT, self.deadline - time.monotonic())
            if timeout <= 0:
                return None
            try:
                async with self.client.stream("GET", url, timeout=timeout) as resp:
                    if resp.is_redirect:
                        nxt = fetchable_location(urljoin(url, resp.headers.get("location", "")), {host or ""})
                        if nxt is None:
                            return None
                        url = nxt
                        continue
                    if resp.status_code != 200:
                        return None
                    return await _read_capped(resp, MAX_DESCRIPTION)
            except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as exc:
                log.debug("ssdp: fetching %s failed: %r", url, exc)
                return None
        return None


async def _read_capped(resp: Any, cap: int) -> bytes | None:
    """The response body, or None when it is longer than ``cap`` bytes."""
    body = bytearray()
    async for chunk in resp.aiter_bytes():
        body += chunk
        if len(body) > cap:
            return None
    return bytes(body)
