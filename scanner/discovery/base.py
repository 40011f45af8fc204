"""The one interface every discovery and banner probe implements.

A probe is an object with a ``name``, a one-line ``description`` and an async
``run(ctx) -> ProbeResult``. It reports every observation through ``ctx.emit`` as soon
as it has it (so a scan interrupted midway keeps what it found) and also returns them
in the result. A probe that fails still returns what it saw, with a status saying why.
Probes never raise for network trouble or hostile replies: they log one line and go on.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import Protocol

from scanner.discovery.options import Handoff, ProbeOptions
from scanner.discovery.pacing import Pacer
from scanner.observations import Observation

log = logging.getLogger("scanner.discovery")


class ProbeStatus(enum.StrEnum):
    SUCCESS = "success"  # ran and got at least one answer
    NO_RESPONSE = "no-response"  # ran, nothing answered
    PARTIAL = "partial"  # ran, some parts failed (see error)
    PERMISSION_DENIED = "permission-denied"  # lacked privileges; fell back or skipped
    ERROR = "error"  # could not run
    SKIPPED = "skipped"  # nothing to do (no hosts, not applicable)


@dataclass
class ProbeContext:
    """What a probe may use: explicit targets, the interface to use, limits, and a sink."""

    targets: Sequence[IPv4Address]
    interface: str | None = None  # interface name for L2 / multicast work
    source_ip: IPv4Address | None = None  # the interface's own address (bind discovery sockets to it)
    timeout: float = 2.0  # overall budget for this probe, seconds
    concurrency: int = 256  # bounded concurrency for per-host work
    # the banner phase's hosts, ip -> MAC: live *targets* only (scan.live_hosts), never a host merely heard
    live_hosts: dict[str, str | None] = field(default_factory=dict)
    emit: Callable[[Observation], None] = lambda _obs: None
    options: ProbeOptions = field(default_factory=ProbeOptions)  # the user's probe settings
    handoff: Handoff = field(default_factory=Handoff)  # what the discovery phase found for the banner phase
    pacer: Pacer | None = None  # the scan's shared packet pace (--rate): take a token per packet sent
    host_done: Callable[[str, str], None] | None = None  # (probe, ip): a per-host probe finished a host

    def hosts_to_probe(self) -> list[str]:
        """Hosts for per-host probes: those found alive so far, else every explicit target."""
        if self.live_hosts:
            return list(self.live_hosts)
        return [str(t) for t in self.targets]


@dataclass
class ProbeResult:
    probe: str
    status: ProbeStatus
    observations: list[Observation] = field(default_factory=list)
    error: str | None = None
    notes: list[str] = field(default_factory=list)  # things the report must say (e.g. "unprivileged sweep")
    duration: float = 0.0
    sent: int = 0
    received: int = 0


class Probe(Protocol):
    name: str
    description: str

    async def run(self, ctx: ProbeContext) -> ProbeResult: ...


class Collector:
    """Collects observations for a ProbeResult while forwarding each to ``ctx.emit``."""

    def __init__(self, probe: str, ctx: ProbeContext) -> None:
        self.probe = probe
        self.ctx = ctx
        self.observations: list[Observation] = []
        self.started = time.monotonic()

    def add(
        self,
        signal: str,
        value: object,
        *,
        ip: str | None = None,
        mac: str | None = None,
        port: int | None = None,
    ) -> Observation | None:
        try:
            obs = Observation(signal=signal, value=str(value), probe=self.probe, ip=ip, mac=mac, port=port)
        except ValueError as exc:  # e.g. a malformed MAC in a hostile reply
            log.debug("%s: dropped observation %s=%r: %s", self.probe, signal, value, exc)
            return None
        self.observations.append(obs)
        try:
            self.ctx.emit(obs)
        except Exception:  # a sink failure must not kill the probe
            log.exception("observation sink failed")
        return obs

    def result(
        self,
        status: ProbeStatus | None = None,
        *,
        error: str | None = None,
        notes: list[str] | None = None,
        sent: int = 0,
        received: int = 0,
    ) -> ProbeResult:
        if status is None:
            status = ProbeStatus.SUCCESS if self.observations else ProbeStatus.NO_RESPONSE
        return ProbeResult(
            self.probe,
            status,
            self.observations,
            error,
            notes or [],
            time.monotonic() - self.started,
            sent,
            received,
        )


async def run_bounded(
    items: Sequence[str], worker: Callable[[str], asyncio.Future[None] | object], concurrency: int
) -> None:
    """Run ``await worker(item)`` for every item with at most ``concurrency`` at once; errors are logged."""
    sem = asyncio.Semaphore(max(1, concurrency))

    async def one(item: str) -> None:
        async with sem:
            try:
                await worker(item)  # type: ignore[misc]
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # hostile peers must not crash the scan
                log.debug("worker failed for %s: %r", item, exc)

    await asyncio.gather(*(one(i) for i in items))
