"""SSDP / UPnP discovery: M-SEARCH (multicast and unicast), then each device's description XML.

Measured on a namespace lab (docs/PERFORMANCE.md): a hand-written M-SEARCH got 762/762 replies and finished at ~1 s.
``ssdp:all`` and ``upnp:rootdevice`` searches go out in ``ROUNDS`` (unicast repeats only to hosts that
have not answered). Devices delay multicast answers by up to MX seconds, so the probe waits that long
after its last multicast, then ends after a quiet period once every description fetch is done, or as
soon as every host it asked has answered; never past ``ctx.timeout``. A reply is about its UDP source:
the LOCATION host is recorded as ``claimed.ip`` (with ``claimed.mismatch`` when it is another address),
and a LOCATION is fetched only when its host is the replying address itself (``fetchable_location``),
and that address is one of the scan's targets (a host merely heard is never probed), with the banner
probes' HTTP client (``http_client``: no proxies, no redirect to another host, at most
``MAX_DESCRIPTION`` bytes, compressed or not). Requests and replies go through ``udp_search`` (shared with WS-Discovery, SADP, DHIP, SNMP);
``reply_signals`` and ``description_signals`` say what a search reply and a description record.
With ``--ipv6`` and an interface the searches also go to ff02::c (UDA 2.0 §1.1.2, the link-local SSDP
group); IPv6 replies record their headers only: their descriptions are not fetched (the HTTP banner
probe reaches a named IPv6 target's web server).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from urllib.parse import urljoin, urlsplit

from scanner.discovery.base import Collector, ProbeContext, ProbeResult, ProbeStatus, log
from scanner.discovery.http_client import fetch
from scanner.discovery.parsers.ssdp import (
    GROUP,
    PORT,
    SsdpMessage,
    build_msearch,
    fetchable_location,
    parse_response,
)
from scanner.discovery.parsers.upnp import MAX_DESCRIPTION, UpnpDevice, parse_description
from scanner.discovery.request_reply import Exchange, Reply, Timing
from scanner.discovery.sockets import ipv6_link
from scanner.discovery.udp_search import claims, crowd_search, merge_results, run_udp, run_udp6
from scanner.errors import TargetError

SEARCH_TARGETS = ("ssdp:all", "upnp:rootdevice")
MX = 1  # seconds a device may wait before answering a multicast search (UDA 1.1: 1-5)
ROUNDS = (0.0, 0.25)  # seconds after the start at which the searches are (re)sent
MULTICAST_TTL = 2  # UDA 1.1 §1.1.2 default
SLACK = 0.1  # seconds allowed for a delayed multicast answer to cross the wire
GROUP6 = "ff02::c"  # UDA 2.0 §1.1.2: SSDP's link-local IPv6 multicast address
HOST6 = "[FF02::C]"  # ... as the HOST header writes it
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


# a reply read after the end would start a description fetch that cannot finish: no drain on exit
TIMING = Timing(rounds=ROUNDS, reply_delay=MX + SLACK, quiet=0.25, drain_on_exit=False)
SSDP = dataclasses.replace(
    crowd_search("SSDP", "M-SEARCH", PORT, GROUP, TIMING, MULTICAST_TTL), group6=GROUP6
)


class SsdpProbe:
    name = "ssdp"
    description = "SSDP M-SEARCH (multicast and unicast) and UPnP device descriptions"

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        search = _Search(Collector(self.name, ctx))
        try:
            v4 = run_udp(
                search.col,
                SSDP,
                group_payloads=[build_msearch(st, MX) for st in SEARCH_TARGETS],
                unicast=lambda host: [build_msearch(st, MX, host) for st in SEARCH_TARGETS],
                handle=search.handle,
                busy=search.busy,
                started=search.attach,
            )
            result6: ProbeResult | None = None
            try:
                link = ipv6_link(ctx)
            except TargetError as exc:
                link, result6 = None, Collector(self.name, ctx).result(ProbeStatus.ERROR, error=str(exc))
            if link is None:
                result, _ = await v4
            else:
                v6 = run_udp6(
                    Collector(self.name, ctx),
                    SSDP,
                    link,
                    group_payloads=[build_msearch(st, MX, HOST6) for st in SEARCH_TARGETS],
                    handle=ssdp_reply6,
                )
                (result, _), result6 = await asyncio.gather(v4, v6)
        finally:
            await search.close()
        result.notes += search.notes()
        return merge_results(result, result6)


def reply_signals(reply: SsdpMessage) -> list[tuple[str, str]]:
    """(signal, value) for every ``SSDP_SIGNALS`` header the search reply carries."""
    return [(signal, reply.get(header)) for header, signal in SSDP_SIGNALS.items() if reply.get(header)]


def description_signals(device: UpnpDevice) -> list[tuple[str, str]]:
    """(signal, value) for every ``UPNP_SIGNALS`` field the device description fills."""
    return [(signal, getattr(device, attr)) for attr, signal in UPNP_SIGNALS.items() if getattr(device, attr)]


def ssdp_reply(reply: SsdpMessage, src: str) -> Reply:
    """A search reply's observations about its UDP source ``src``: its headers, and the LOCATION host as a
    claim (``claimed.ip``, ``claimed.mismatch`` when it is another address)."""
    fields = reply_signals(reply) + claims(src, _location_host(reply.get("location")), "")
    key = f"{reply.get('st')} {reply.get('usn')} {reply.get('location')}"
    return Reply(src, key, fields, port=PORT)


def ssdp_reply6(data: bytes, src: str, _port: int = PORT) -> Reply | None:
    """An IPv6 search reply's headers about ``src`` (its LOCATION is not fetched)."""
    reply = parse_response(data)
    return None if reply is None else ssdp_reply(reply, src)


class _Search:
    """The protocol's state over one exchange: replies decoded, descriptions fetched from the replying host."""

    def __init__(self, col: Collector) -> None:
        self.col = col
        self.exchange: Exchange | None = None
        self.seen: set[tuple[str, str, str]] = set()  # (ip, signal, value) already emitted
        self.locations: set[str] = set()
        self.named = {str(t) for t in col.ctx.targets}
        self.fetches: set[asyncio.Task[None]] = set()
        self.fetch_slots = asyncio.Semaphore(max(1, min(col.ctx.concurrency, MAX_FETCHES)))
        self.unfinished = 0

    def attach(self, exchange: Exchange) -> None:
        self.exchange = exchange

    @property
    def deadline(self) -> float:
        return self.exchange.deadline if self.exchange is not None else time.monotonic()

    @property
    def wake(self) -> asyncio.Event:
        assert self.exchange is not None
        return self.exchange.wake

    def handle(self, data: bytes, src: str, _port: int) -> Reply | None:
        """A search reply's headers and what its LOCATION claims about ``src``; the description at that
        LOCATION is fetched only when its host is ``src`` itself (a claimed address is never probed)."""
        reply = parse_response(data)
        if reply is None:
            return None
        return ssdp_reply(reply, src)._replace(then=lambda: self._describe(reply, src))

    def _describe(self, reply: SsdpMessage, src: str) -> None:
        if src not in self.named:  # heard, not named: its description is never fetched
            return
        url = fetchable_location(reply.get("location"), {src})
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


def _location_host(location: str) -> str:
    """The host of a LOCATION URL ("" when there is none)."""
    try:
        return urlsplit(location).hostname or ""
    except ValueError:
        return ""
