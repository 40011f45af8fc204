"""What the per-host TCP banner probes (http, tls, rtsp, onvif) share.

``probe_each_host`` runs a probe's per-host work with bounded concurrency (fewer hosts at once when the
open-file limit could not hold their sockets) under the probe's total budget, and turns the outcome into
the ProbeResult (PARTIAL, with a note, when the budget cut hosts short). Each host's answers go through
a ``HostRecorder``, once per (signal, value, port). Also here: the TCP connect check of candidate ports,
the user's port lists (``ctx.options.ports``), and the TLS client context that reads any certificate.
"""

from __future__ import annotations

import asyncio
import resource
import ssl
from collections.abc import Awaitable, Callable
from functools import cache

from scanner.discovery.base import Collector, ProbeContext, ProbeResult, ProbeStatus, run_bounded


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


HostWork = Callable[[HostRecorder], Awaitable[bool]]  # one host's probing; True if the host answered


async def probe_each_host(
    col: Collector, hosts: list[str], probe_host: HostWork, sockets_per_host: int
) -> ProbeResult:
    """``probe_host`` for every host, with the host's recorder; a host answered when it returned True.

    At most ``ctx.concurrency`` hosts at once (fewer if ``sockets_per_host`` each would pass the open-file
    limit), within ``ctx.timeout`` in all; PARTIAL, with a note, when that budget cut hosts short.
    """
    ctx = col.ctx
    answered: set[str] = set()

    async def one(ip: str) -> None:
        if await probe_host(HostRecorder(col, ip, ctx.live_hosts.get(ip))):
            answered.add(ip)

    unfinished = await run_with_deadline(hosts, one, host_concurrency(ctx, sockets_per_host), ctx.timeout)
    notes = []
    if unfinished:
        notes.append(
            f"stopped at the {ctx.timeout:g} s budget with {len(unfinished)} of {len(hosts)} hosts unfinished"
        )
    return col.result(
        ProbeStatus.PARTIAL if unfinished else None, notes=notes, sent=len(hosts), received=len(answered)
    )


async def open_ports(ip: str, ports: list[int], timeout: float) -> list[int]:
    """The ``ports`` that accept a TCP connection within ``timeout``, in the given order."""

    async def check(port: int) -> bool:
        try:
            async with asyncio.timeout(timeout):
                _reader, writer = await asyncio.open_connection(ip, port)
        except (OSError, TimeoutError):
            return False
        writer.transport.abort()
        return True

    flags = await asyncio.gather(*(check(p) for p in ports))
    return [p for p, ok in zip(ports, flags, strict=True) if ok]


async def run_with_deadline(
    hosts: list[str], worker: Callable[[str], Awaitable[None]], concurrency: int, budget: float
) -> list[str]:
    """``run_bounded`` under a total deadline; the hosts the deadline cut short (empty if none)."""
    done: set[str] = set()

    async def tracked(ip: str) -> None:
        try:
            await worker(ip)
        except Exception:
            done.add(ip)  # gave up on this host (its own time limit, a hostile reply): finished
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
    return max(1, min(ctx.concurrency, (soft - 64) // sockets_per_host))


def ports_option(ctx: ProbeContext, probe: str, default: tuple[int, ...]) -> list[int]:
    """The ports the user gave ``probe`` (``ctx.options.ports``), else ``default``."""
    return list(ctx.options.ports_for(probe, default))


def host_timeout(ctx: ProbeContext) -> float:
    """Seconds one host may take: the user's ``host_timeout``, else the probe's whole budget."""
    return float(ctx.options.host_timeout or ctx.timeout)


@cache
def insecure_context() -> ssl.SSLContext:
    """A TLS client context that accepts any certificate and old protocol versions (banner grabbing only)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:  # old cameras speak TLS 1.0 with weak keys; reading their certificate is all we do
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        context.set_ciphers("ALL:@SECLEVEL=0")
    except (ssl.SSLError, ValueError):
        pass
    return context
