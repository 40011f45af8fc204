"""SSDP / UPnP discovery: M-SEARCH (multicast and unicast), then each device's description XML.

Measured here (../shared/MEASUREMENTS.md): a hand-written M-SEARCH got 762/762 replies and finished at
~1 s. ``ssdp:all`` and ``upnp:rootdevice`` searches go out in ``ROUNDS`` (unicast repeats only to hosts
that have not answered). Devices delay multicast answers by up to MX seconds, so the probe waits that
long after its last multicast, then ends after ``IDLE`` seconds of silence once every description fetch
is done, or as soon as every host it asked has answered; never past ``ctx.timeout``. A LOCATION is
fetched only when its host is the replying address or a scan target (``fetchable_location``), with
httpx (no proxies from the environment, no redirect to another host, at most ``MAX_DESCRIPTION`` bytes).
The send/receive loop, ``IDLE`` included, is shared with WS-Discovery (``multicast_search``);
``reply_signals`` and ``description_signals`` say what a search reply and a description record.
"""

from __future__ import annotations

import asyncio
import socket
import time
from urllib.parse import urljoin, urlsplit

from scanner.discovery.base import Collector, ProbeContext, ProbeResult, log
from scanner.discovery.http_client import fetch
from scanner.discovery.multicast_search import MulticastSearch, run_search
from scanner.discovery.parsers.ssdp import (
    GROUP,
    PORT,
    SsdpMessage,
    build_msearch,
    fetchable_location,
    parse_response,
)
from scanner.discovery.parsers.upnp import MAX_DESCRIPTION, UpnpDevice, parse_description

SEARCH_TARGETS = ("ssdp:all", "upnp:rootdevice")
MX = 1  # seconds a device may wait before answering a multicast search (UDA 1.1: 1-5)
ROUNDS = (0.0, 0.25)  # seconds after the start at which the searches are (re)sent
MULTICAST_TTL = 2  # UDA 1.1 §1.1.2 default
FETCH_TIMEOUT = 2.0  # seconds per description
MAX_FETCHES = 32  # at once
MAX_REDIRECTS = 2
UPNP_SIGNALS = {
    "manufacturer": "upnp.manufacturer",
    "model_name": "upnp.model_name",
    "model_number": "upnp.model_number",
    "model_description": "upnp.model_description",
    "friendly_name": "upnp.friendly_name",
    "serial": "upnp.serial",
    "device_type": "upnp.device_type",
}
SSDP_SIGNALS = {"server": "ssdp.server", "st": "ssdp.st", "usn": "ssdp.usn", "location": "ssdp.location"}


class SsdpProbe:
    name = "ssdp"
    description = "SSDP M-SEARCH (multicast and unicast) and UPnP device descriptions"

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        return await run_search(Collector(self.name, ctx), _Search)


def reply_signals(reply: SsdpMessage) -> list[tuple[str, str]]:
    """(signal, value) for every ``SSDP_SIGNALS`` header the search reply carries."""
    return [(signal, reply.get(header)) for header, signal in SSDP_SIGNALS.items() if reply.get(header)]


def description_signals(device: UpnpDevice) -> list[tuple[str, str]]:
    """(signal, value) for every ``UPNP_SIGNALS`` field the device description fills."""
    return [(signal, getattr(device, attr)) for attr, signal in UPNP_SIGNALS.items() if getattr(device, attr)]


class _Search(MulticastSearch[SsdpMessage]):
    protocol, request = "SSDP", "M-SEARCH"
    group, port, ttl = GROUP, PORT, MULTICAST_TTL
    rounds, reply_delay = ROUNDS, MX
    drain_on_exit = False  # a reply read after the end would start a description fetch that cannot finish

    def __init__(self, sock: socket.socket, col: Collector, *, multicast: bool, hosts: list[str]) -> None:
        super().__init__(sock, col, multicast=multicast, hosts=hosts)
        self.targets = {str(t) for t in col.ctx.targets}
        self.seen: set[tuple[str, str, str]] = set()  # (ip, signal, value) already emitted
        self.locations: set[str] = set()
        self.fetches: set[asyncio.Task[None]] = set()
        self.fetch_slots = asyncio.Semaphore(max(1, min(col.ctx.concurrency, MAX_FETCHES)))
        self.unfinished = 0

    def multicast_datagrams(self) -> list[bytes]:
        return [build_msearch(st, MX) for st in SEARCH_TARGETS]

    def unicast_datagrams(self, host: str) -> list[bytes]:
        return [build_msearch(st, MX, host) for st in SEARCH_TARGETS]

    def parse(self, data: bytes) -> SsdpMessage | None:
        return parse_response(data)

    def record(self, reply: SsdpMessage, src: str) -> None:
        for signal, value in reply_signals(reply):
            self._add(signal, value, src, PORT)
        url = fetchable_location(reply.get("location"), self.targets | {src})
        if url and url not in self.locations:
            self.locations.add(url)
            task = asyncio.get_running_loop().create_task(self._fetch(url))
            self.fetches.add(task)
            task.add_done_callback(self._fetched)

    def busy(self) -> bool:
        return bool(self.fetches)

    async def close(self) -> None:
        self.unfinished = len(self.fetches)
        for task in list(self.fetches):
            task.cancel()
        await asyncio.gather(*self.fetches, return_exceptions=True)

    def notes(self) -> list[str]:
        return [f"{self.unfinished} description fetches did not finish in time"] if self.unfinished else []

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
        for signal, value in description_signals(device):
            self._add(signal, value, parts.hostname or "", parts.port or 80)

    async def _get(self, url: str) -> bytes | None:
        """The body at ``url`` (redirects followed only on the same host), at most MAX_DESCRIPTION bytes,
        through the banner probes' bounded HTTP client (no compression asked for; any served is inflated
        to at most MAX_DESCRIPTION bytes)."""
        host = urlsplit(url).hostname
        for _hop in range(MAX_REDIRECTS + 1):
            timeout = min(FETCH_TIMEOUT, self.deadline - time.monotonic())
            if timeout <= 0:
                return None
            try:
                async with asyncio.timeout(timeout):
                    resp = await fetch(url, MAX_DESCRIPTION)
            except TimeoutError:
                log.debug("ssdp: fetching %s timed out", url)
                return None
            if resp is None:
                return None
            location = resp.head.get("Location")
            if 300 <= resp.status < 400 and location:
                nxt = fetchable_location(urljoin(url, location), {host or ""})
                if nxt is None:
                    return None
                url = nxt
                continue
            if resp.status != 200 or not resp.complete:
                return None  # an error, or a body cut at MAX_DESCRIPTION (or undecodable)
            return resp.body
        return None
