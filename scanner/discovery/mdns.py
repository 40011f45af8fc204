"""mDNS / DNS-SD discovery with python-zeroconf's async API (docs/PROTOCOLS.md#mdns).

Measured on a namespace lab: zeroconf's async browser resolved 508/508 instances at 254
devices. Zeroconf is bound to the scan interface's address only (IPv4). It browses
``_services._dns-sd._udp.local.`` to enumerate service types, the camera-relevant ``BROWSE_TYPES`` at
once, and then every enumerated type; each instance is resolved (SRV, TXT, A; usually straight from the
cache, as responders send them as additional records) with bounded concurrency. The probe ends once
``IDLE`` seconds pass with no new type or instance after ``MIN_WAIT``; never past ``ctx.timeout``.
``record_instance`` turns one resolved instance into observations.

With ``--ipv6`` and an interface, a one-shot query also goes to ff02::fb on the link
(``mdns_unicast.ask_link6``): each responder answers by unicast from its link-local address, which is
the address its observations are about (a device with no IPv4 on this subnet is still heard).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from ipaddress import IPv4Address, IPv4Network
from typing import TYPE_CHECKING, Any

from scanner.discovery.base import Collector, ProbeContext, ProbeResult, ProbeStatus, log
from scanner.discovery.parsers.dnssd import BROWSE_TYPES, ENUMERATION_TYPE
from scanner.discovery.sockets import discovery_source, ipv6_link
from scanner.discovery.udp_search import merge_results
from scanner.errors import TargetError
from scanner.netif import interface

if TYPE_CHECKING:
    from zeroconf.asyncio import AsyncZeroconf

MIN_WAIT = 1.5  # seconds: zeroconf's browser queries at ~0.1 s and again at ~1.1 s; answers come 20-120 ms
# later (RFC 6762 §5.2, §6), so a first exchange lost on a busy host is still caught. The other probes take ~1.4 s anyway.
IDLE = 0.3  # seconds without a new type or instance that end the probe
RESOLVE_TIMEOUT = 1.0  # seconds per instance when the records are not cached yet
MAX_TYPES = 64
MAX_INSTANCES = 2048
MAX_TXT = 32  # TXT entries kept per instance
MAX_CONCURRENT_RESOLVES = 32
_SERVICE_TYPE = re.compile(r"^_[A-Za-z0-9][A-Za-z0-9-]{0,62}\._(?:tcp|udp)\.local\.$")


class MdnsProbe:
    name = "mdns"
    description = "mDNS / DNS-SD: enumerate service types, browse camera types, resolve instances"

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        try:
            link = ipv6_link(ctx)
        except TargetError as exc:
            return merge_results(
                await self._run4(ctx), Collector(self.name, ctx).result(ProbeStatus.ERROR, error=str(exc))
            )
        if link is None:
            return await self._run4(ctx)
        from scanner.discovery.mdns_unicast import ask_link6

        v4, v6 = await asyncio.gather(self._run4(ctx), ask_link6(Collector(self.name, ctx), link))
        return merge_results(v4, v6)

    async def _run4(self, ctx: ProbeContext) -> ProbeResult:
        col = Collector(self.name, ctx)
        try:
            source = discovery_source(ctx)
            network = interface(ctx.interface).network if ctx.interface else None
        except TargetError as exc:
            return col.result(ProbeStatus.ERROR, error=str(exc))
        if source is None:
            return col.result(ProbeStatus.SKIPPED, notes=["mDNS is link-local: it needs an interface"])
        try:
            azc = _zeroconf(str(source))
        except OSError as exc:
            return col.result(ProbeStatus.ERROR, error=f"cannot open mDNS sockets on {source}: {exc}")
        session = _Session(azc.zeroconf, col, min(ctx.concurrency, MAX_CONCURRENT_RESOLVES), network)
        try:
            await session.run(ctx.timeout)
        finally:
            await session.close()
            await azc.async_close()
        notes = [f"stopped at the limit of {MAX_INSTANCES} instances"] if session.capped else []
        if session.unfinished:
            notes.append(f"{session.unfinished} instances did not resolve in time")
        return col.result(notes=notes, received=len(session.instances))


def _zeroconf(source: str) -> AsyncZeroconf:
    """python-zeroconf on ``source`` only, IPv4 (imported here: off the CLI's start-up path)."""
    from zeroconf import IPVersion
    from zeroconf.asyncio import AsyncZeroconf

    return AsyncZeroconf(interfaces=[source], ip_version=IPVersion.V4Only)


class _Session:
    def __init__(self, zc: Any, col: Collector, concurrency: int, network: IPv4Network | None = None) -> None:
        self.zc, self.col, self.network = zc, col, network
        self.types: set[str] = set()
        self.instances: set[tuple[str, str]] = set()
        self.browsers: list[Any] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.slots = asyncio.Semaphore(max(1, concurrency))
        self.last_event = time.monotonic()
        self.deadline = self.last_event
        self.capped = False
        self.unfinished = 0
        self.changed = asyncio.Event()

    async def run(self, budget: float) -> None:
        start = time.monotonic()
        self.deadline = start + max(budget, 0.1)
        self._browse([ENUMERATION_TYPE, *BROWSE_TYPES])
        self.types.update(t.lower() for t in BROWSE_TYPES)
        while True:
            now = time.monotonic()
            quiet_at = max(start + MIN_WAIT, self.last_event + IDLE)
            if now >= self.deadline or (now >= quiet_at and not self.tasks):
                return
            self.changed.clear()
            wait = (self.deadline if now >= quiet_at else min(quiet_at, self.deadline)) - now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), wait)

    async def close(self) -> None:
        self.unfinished = len(self.tasks)
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for browser in self.browsers:
            await browser.async_cancel()

    def _browse(self, types: list[str]) -> None:
        from zeroconf.asyncio import AsyncServiceBrowser

        self.browsers.append(AsyncServiceBrowser(self.zc, types, handlers=[self._on_change]))

    def _on_change(self, zeroconf: Any, service_type: str, name: str, state_change: Any) -> None:
        from zeroconf import BadTypeInNameException, ServiceStateChange

        if state_change is ServiceStateChange.Removed:
            return
        if service_type == ENUMERATION_TYPE:
            if _SERVICE_TYPE.match(name) and name.lower() not in self.types and len(self.types) < MAX_TYPES:
                self.types.add(name.lower())
                self._touch()
                try:
                    self._browse([name])
                except BadTypeInNameException as exc:  # zeroconf's stricter rules (e.g. no '--')
                    log.debug("mdns: not browsing %r: %s", name, exc)
            return
        key = (service_type.lower(), name.lower())
        if key in self.instances:
            return
        if len(self.instances) >= MAX_INSTANCES:
            self.capped = True
            return
        self.instances.add(key)
        self._touch()
        task = asyncio.get_running_loop().create_task(self._resolve(service_type, name))
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _touch(self) -> None:
        self.last_event = time.monotonic()
        self.changed.set()

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        self.changed.set()

    async def _resolve(self, type_: str, name: str) -> None:
        from zeroconf.asyncio import AsyncServiceInfo

        async with self.slots:
            timeout = min(RESOLVE_TIMEOUT, self.deadline - time.monotonic())
            try:
                info = AsyncServiceInfo(type_, name)
                if timeout <= 0 or not await info.async_request(self.zc, int(timeout * 1000)):
                    log.debug("mdns: %s did not resolve", name)
                    return
            except Exception as exc:  # noqa: BLE001 - whatever a hostile peer's records make zeroconf raise
                log.debug("mdns: resolving %r failed: %r", name, exc)
                return
        record_instance(self.col, info, self.network)


def record_instance(col: Collector, info: Any, network: IPv4Network | None = None) -> None:
    """Add what one resolved instance (a zeroconf ``ServiceInfo``) says: service type, instance label, SRV
    target and TXT entries, at the address the other probes reach (``pick_address``; none without IPv4)."""
    from zeroconf import IPVersion

    ip = pick_address(info.parsed_addresses(IPVersion.V4Only), network)
    if ip is None:
        log.debug("mdns: %s has no IPv4 address", info.name)
        return
    port = info.port
    add = col.add
    add("mdns.service", info.type, ip=ip, port=port)
    add("mdns.instance", instance_label(info.name, info.type), ip=ip, port=port)
    if info.server:
        add("mdns.hostname", info.server, ip=ip, port=port)
    for entry in txt_entries(info.properties):
        add("mdns.txt", entry, ip=ip, port=port)


def pick_address(addresses: list[str], network: IPv4Network | None = None) -> str | None:
    """The address the other probes reach: one on the scan interface's subnet, else the first that is not
    link-local or loopback (devices also announce 169.254/16), else the first."""
    parsed = []
    for text in addresses:
        try:
            parsed.append(IPv4Address(text))
        except ValueError:
            continue
    on_link = [a for a in parsed if network is not None and a in network]
    routable = [a for a in parsed if not (a.is_link_local or a.is_loopback or a.is_unspecified)]
    for choice in (on_link, routable, parsed):
        if choice:
            return str(choice[0])
    return None


def txt_entries(properties: dict[bytes, bytes | None] | None) -> list[str]:
    """TXT pairs as ``key=value`` (``key`` alone for a boolean attribute), from the first ``MAX_TXT``."""
    out = []
    for key, value in list((properties or {}).items())[:MAX_TXT]:
        k = key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)
        if not k:
            continue  # the empty TXT record (RFC 6763 §6.1) or a malformed entry
        if value is None:
            out.append(k)
        else:
            out.append(f"{k}={value.decode('utf-8', 'replace') if isinstance(value, bytes) else value}")
    return out


def instance_label(name: str, type_: str) -> str:
    """'AXIS M1014 - ACCC8E270AD8._axis-video._tcp.local.' -> 'AXIS M1014 - ACCC8E270AD8'."""
    suffix = "." + type_
    return name[: -len(suffix)] if name.lower().endswith(suffix.lower()) else name
