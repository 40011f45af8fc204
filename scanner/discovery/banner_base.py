"""What the per-host TCP banner probes (http, tls, rtsp, onvif) share: ``BannerProbe``.

A banner probe states only what is its own: its name, description, the port option it reads
(``ctx.options.ports``) and its default ports, how many sockets one host may hold, and
``probe_host(run, rec)``, its work on one host. ``BannerProbe.run`` does the rest: the hosts to probe
(none: SKIPPED), the ports, a per-host time limit (``ctx.options.host_timeout``, else the probe's budget),
at most ``ctx.concurrency`` hosts at once (fewer when the open-file limit could not hold their sockets,
a retry's beside each first connection),
the whole-probe budget (``ctx.timeout``), and the ProbeResult: PARTIAL, with a note saying how many hosts
were not finished, when a host ran out of its time or the budget ended first. Each host's answers go
through a ``HostRecorder``, once per (signal, value, port). The HTTP client the probes share is
``http_client``.
"""

from __future__ import annotations

import asyncio
import resource
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import ClassVar

from scanner.discovery.base import Collector, ProbeContext, ProbeResult, ProbeStatus, run_bounded
from scanner.discovery.http_client import RETRIES


class HostRecorder:
    """Adds one host's observations to a Collector, once per (signal, value, port)."""

    def __init__(self, col: Collector, ip: str, mac: str | None) -> None:
        self.col, self.ip, self.mac = col, ip, mac
        self.seen: set[tuple[str, str, int | None]] = set()

    def add(self, signal: str, value: str, port: int | None) -> None:
        value = value.strip()
        if value and (signal, value, port) not in self.seen:
            self.seen.add((signal, value, port))
            self.col.add(signal, value, ip=self.ip, mac=self.mac, port=port)


@dataclass
class BannerRun:
    """One run of a banner probe: its context, the ports to try, seconds per host, and tallies a probe
    keeps for its notes (e.g. hosts that refused a request)."""

    ctx: ProbeContext
    ports: list[int]
    host_budget: float
    tallies: Counter[str] = field(default_factory=Counter)

    @property
    def targets(self) -> frozenset[str]:
        """The addresses the user named (``ctx.targets``), as text."""
        return frozenset(str(t) for t in self.ctx.targets)


class BannerProbe(ABC):
    """A per-host TCP banner probe: subclasses set the class attributes and write ``probe_host``."""

    name: ClassVar[str]
    description: ClassVar[str]
    port_option: ClassVar[str]  # key of ``ctx.options.ports`` ("http", "rtsp", ...)
    default_ports: ClassVar[tuple[int, ...]]
    sockets_per_port: ClassVar[int] = 1  # sockets one port of one host may hold at once

    @abstractmethod
    async def probe_host(self, run: BannerRun, rec: HostRecorder) -> bool:
        """Probe one host (``rec.ip``) on ``run.ports``, recording through ``rec``; True if it answered."""

    def unavailable(self) -> str | None:
        """Why this probe cannot run here (a missing package), or None."""
        return None

    def notes(self, run: BannerRun) -> list[str]:
        """Notes of this probe's own for the result (from ``run.tallies``)."""
        return []

    def sockets_per_host(self, run: BannerRun) -> int:
        return max(1, self.sockets_per_port * len(run.ports))

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        col = Collector(self.name, ctx)
        hosts = ctx.hosts_to_probe()
        if not hosts:
            return col.result(ProbeStatus.SKIPPED, notes=["no hosts to probe"])
        if (problem := self.unavailable()) is not None:
            return col.result(ProbeStatus.ERROR, error=problem)
        run = BannerRun(ctx, ports_option(ctx, self.port_option, self.default_ports), host_timeout(ctx))

        async def one(rec: HostRecorder) -> bool:
            return await self.probe_host(run, rec)

        # a request's retry opens its connection beside the first (http_client.with_one_retry): count both
        sockets = self.sockets_per_host(run) * (1 + RETRIES)
        result = await probe_each_host(col, hosts, one, sockets, run.host_budget)
        result.notes += self.notes(run)
        return result


HostWork = Callable[[HostRecorder], Awaitable[bool]]  # one host's probing; True if the host answered


async def probe_each_host(
    col: Collector, hosts: list[str], probe_host: HostWork, sockets_per_host: int, per_host: float
) -> ProbeResult:
    """``probe_host`` for every host, with the host's recorder; a host answered when it returned True.

    Each host within ``per_host`` seconds, at most ``ctx.concurrency`` hosts at once (fewer if
    ``sockets_per_host`` each would pass the open-file limit), within ``ctx.timeout`` in all; PARTIAL,
    with a note, when some hosts were not finished in their time or the probe's.
    """
    ctx = col.ctx
    answered: set[str] = set()
    timed_out: set[str] = set()

    async def one(ip: str) -> None:
        if ctx.pacer is not None:  # a SYN per socket the host may open: the scan's --rate covers them
            await ctx.pacer.take(sockets_per_host)
        try:
            async with asyncio.timeout(per_host):
                if await probe_host(HostRecorder(col, ip, ctx.live_hosts.get(ip))):
                    answered.add(ip)
        except TimeoutError:
            timed_out.add(ip)
        finally:
            if ctx.host_done is not None:  # the scan's progress counts finished hosts
                ctx.host_done(col.probe, ip)

    cut = await run_with_deadline(hosts, one, host_concurrency(ctx, sockets_per_host), ctx.timeout)
    unfinished = timed_out | set(cut)
    notes = []
    if unfinished:
        notes.append(
            f"{len(unfinished)} of {len(hosts)} hosts not finished: out of time "
            f"({per_host:g} s per host, {ctx.timeout:g} s in all)"
        )
    return col.result(
        ProbeStatus.PARTIAL if unfinished else None, notes=notes, sent=len(hosts), received=len(answered)
    )


async def run_with_deadline(
    hosts: list[str], worker: Callable[[str], Awaitable[None]], concurrency: int, budget: float
) -> list[str]:
    """``run_bounded`` under a total deadline; the hosts the deadline cut short (empty if none)."""
    done: set[str] = set()

    async def tracked(ip: str) -> None:
        try:
            await worker(ip)
        except Exception:
            done.add(ip)  # gave up on this host (a hostile reply): finished
            raise
        done.add(ip)

    try:
        async with asyncio.timeout(budget):
            await run_bounded(hosts, tracked, concurrency)
    except TimeoutError:
        pass
    return [h for h in hosts if h not in done]


def host_concurrency(ctx: ProbeContext, sockets_per_host: int) -> int:
    """``ctx.concurrency`` hosts at once, fewer if the open-file limit could not hold their sockets."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(1, min(ctx.concurrency, (soft - 64) // max(1, sockets_per_host)))


def ports_option(ctx: ProbeContext, probe: str, default: tuple[int, ...]) -> list[int]:
    """The ports the user gave ``probe`` (``ctx.options.ports``), else ``default``."""
    return list(ctx.options.ports_for(probe, default))


def host_timeout(ctx: ProbeContext) -> float:
    """Seconds one host may take: the user's ``host_timeout`` (at most the probe's budget), else the
    probe's whole budget ``ctx.timeout``."""
    return min(float(ctx.options.host_timeout or ctx.timeout), ctx.timeout)
