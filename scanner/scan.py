"""Run a scan: the selected probes over explicit targets, then identification, as one ScanReport.

Every observation is handed to ``sink`` the moment a probe has it, so an interrupted scan loses
nothing that was seen (the history store is such a sink).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from ipaddress import IPv4Address, IPv4Network

from scanner import __version__
from scanner.discovery.base import ProbeContext, ProbeResult, ProbeStatus
from scanner.discovery.options import Handoff, ProbeOptions
from scanner.discovery.registry import ProbeSpec, instantiate
from scanner.observations import Observation, group_by_host
from scanner.results import DeviceReport, ProbeSummary, ScanReport

log = logging.getLogger("scanner.scan")


@dataclass
class ScanConfig:
    targets: list[IPv4Address]
    target_texts: list[str]
    probes: list[ProbeSpec]
    interface: str | None = None
    timeout: float = 3.0  # per discovery probe
    banner_timeout: float = 8.0  # per banner probe, for all hosts
    concurrency: int = 128
    options: ProbeOptions = field(default_factory=ProbeOptions)


@dataclass
class ScanState:
    """What the scan has seen so far; survives cancellation."""

    observations: list[Observation] = field(default_factory=list)
    results: list[ProbeResult] = field(default_factory=list)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))


ProgressFn = Callable[[str, ProbeResult | None], None]


async def run_probes(
    config: ScanConfig,
    state: ScanState,
    sink: Callable[[Observation], None] | None = None,
    progress: ProgressFn | None = None,
) -> None:
    """Discovery round (all ``discover`` probes concurrently), then banner probes on the hosts found."""
    itf = None
    if config.interface:
        from scanner.netif import interface

        itf = interface(config.interface)
    source_ip = itf.ip if itf else None

    def emit(obs: Observation) -> None:
        state.observations.append(obs)
        if sink is not None:
            sink(obs)

    async def run_one(spec: ProbeSpec, ctx: ProbeContext) -> None:
        if progress:
            progress(f"{spec.name}: running", None)
        started = time.monotonic()
        try:
            probe = instantiate(spec)
            result = await asyncio.wait_for(probe.run(ctx), ctx.timeout + 5.0)
        except asyncio.CancelledError:
            raise
        except ImportError as exc:
            result = ProbeResult(spec.name, ProbeStatus.ERROR, error=f"probe unavailable: {exc}")
        except TimeoutError:
            result = ProbeResult(spec.name, ProbeStatus.PARTIAL, error="probe overran its time budget")
        except Exception as exc:  # a broken probe must not end the scan
            log.exception("probe %s failed", spec.name)
            result = ProbeResult(spec.name, ProbeStatus.ERROR, error=f"{type(exc).__name__}: {exc}")
        result.duration = result.duration or (time.monotonic() - started)
        state.results.append(result)
        if progress:
            progress(f"{spec.name}: {result.status}", result)

    def context(timeout: float, live: dict[str, str | None], handoff: Handoff | None = None) -> ProbeContext:
        return ProbeContext(
            targets=config.targets,
            interface=config.interface,
            source_ip=source_ip,
            timeout=timeout,
            concurrency=config.concurrency,
            live_hosts=live,
            emit=emit,
            options=config.options,
            handoff=handoff or Handoff(),
        )

    discover = [p for p in config.probes if p.phase == "discover"]
    banner = [p for p in config.probes if p.phase == "banner"]
    await asyncio.gather(
        *(run_one(p, context(discovery_budget(config.timeout, len(config.targets)), {})) for p in discover)
    )
    if banner:
        swept = itf.network if itf and any(p.name == "arp" for p in discover) else None
        live = live_hosts(state.observations, config.targets, bool(discover), swept)
        handoff = discovery_handoff(state.observations)
        if live:
            budget = banner_budget(config.banner_timeout, len(live), config.concurrency)
            await asyncio.gather(*(run_one(p, context(budget, live, handoff)) for p in banner))


def discovery_handoff(observations: Iterable[Observation]) -> Handoff:
    """What discovery found that the banner phase may use, keyed by the host that said it."""
    xaddrs: dict[str, dict[str, None]] = {}
    for o in observations:
        if o.signal == "wsd.xaddrs" and o.ip:
            xaddrs.setdefault(o.ip, {}).update(dict.fromkeys(o.value.split()))
    return Handoff(onvif_xaddrs={ip: tuple(urls) for ip, urls in xaddrs.items()})


UNICAST_RATE = 5000  # datagrams per second: the discovery probes' default unicast pacing


def discovery_budget(base: float, targets: int) -> float:
    """Seconds a discovery probe may take: ``base``, or long enough to ask every target by unicast at the
    probes' pace plus the replies' wait on big target lists (a /16 takes ~13 s of sending)."""
    return max(base, targets / UNICAST_RATE + 1.5)


def banner_budget(base: float, hosts: int, concurrency: int) -> float:
    """Seconds a banner probe may take for ``hosts`` hosts: ``base`` for a lab-sized network, growing
    with the number of waves of ``concurrency`` hosts (~2 s per wave) on big ones."""
    waves = -(-hosts // max(1, concurrency))
    return max(base, 2.0 * waves)


def live_hosts(
    observations: Iterable[Observation],
    targets: list[IPv4Address],
    discovered: bool,
    swept: IPv4Network | None = None,
) -> dict[str, str | None]:
    """Hosts for the banner phase: every IPv4 address seen by discovery (targets and devices that
    announced themselves), plus every target the ARP sweep could not reach (``swept`` is the on-link
    subnet it covered): a host across a router that answers no discovery protocol may still serve
    HTTP or RTSP. With no discovery probe selected, every target."""
    live: dict[str, str | None] = {}
    for o in observations:
        if o.ip and "." in o.ip:
            live.setdefault(o.ip, o.mac)
    for t in targets:
        if not discovered or swept is None or t not in swept:
            live.setdefault(str(t), None)
    return live


def build_report(
    config: ScanConfig,
    state: ScanState,
    *,
    complete: bool,
    notes: list[str] | None = None,
    scan_id: str | None = None,
) -> ScanReport:
    """Group observations into devices and identify each one."""
    devices = identify_observations(state.observations)
    target_set = {str(t) for t in config.targets}
    for d in devices:
        if d.ip and d.ip not in target_set:
            d.verdict.notes.append(
                "found outside the scan's targets (it answered a broadcast/multicast probe)"
            )
    all_notes = list(notes or [])
    for r in state.results:
        all_notes += [f"{r.probe}: {n}" for n in r.notes]
    return ScanReport(
        scan_id=scan_id,
        tool_version=__version__,
        started_at=state.started_at,
        finished_at=datetime.now(UTC),
        complete=complete,
        targets=config.target_texts,
        interface=config.interface,
        probes=[
            ProbeSummary(
                probe=r.probe,
                status=str(r.status),
                duration=round(r.duration, 3),
                error=r.error,
                notes=r.notes,
            )
            for r in state.results
        ],
        notes=all_notes,
        oui_registry_date=_oui_date(),
        devices=devices,
    )


def identify_observations(observations: list[Observation]) -> list[DeviceReport]:
    from scanner.identify.verdict import identify

    out = []
    for device in group_by_host(observations):
        verdict = identify(device)
        hostnames = sorted(
            {o.value for o in device.observations if o.signal in ("hostname", "mdns.hostname")}
        )
        out.append(
            DeviceReport(
                ip=device.ip,
                mac=device.mac,
                hostnames=hostnames,
                probes=device.probes(),
                verdict=verdict,
                observations=device.observations,
            )
        )
    return out


def _oui_date() -> str | None:
    try:
        from scanner.identify.oui import load_registry

        return load_registry().date
    except Exception:  # the report still says what it can
        return None


def pick_interface(targets: list[IPv4Address], requested: str | None) -> str | None:
    """The interface to scan from: the requested one, else the one whose subnet holds the first on-link target."""
    from scanner.netif import interface, interface_for

    if requested:
        interface(requested)  # TargetError if missing
        return requested
    for t in targets[:1] + targets[-1:]:
        itf = interface_for(t)
        if itf:
            return itf.name
    return None
