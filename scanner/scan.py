"""Run a scan: ``run_scan(request, sink, progress) -> ScanReport``.

The request names everything the scan may do (targets, probes, limits); ``run_scan`` runs the
discovery round, then the banner probes on live *targets* only, identifies every host, places each one
(a target is a device; a host that answered multicast/broadcast discovery but is not a target is
``heard``; the scanner itself is neither), applies waivers and hands the report to the sink. Every
observation reaches ``sink.add`` the moment a probe has it, so an interrupted scan loses nothing seen.
Ctrl-C or SIGTERM stops the probes and still returns (and hands the sink) a partial report; a second
Ctrl-C while that report is written does not stop the writing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from ipaddress import IPv4Address, IPv4Network
from typing import TYPE_CHECKING, Any, Protocol

from scanner.discovery.base import ProbeContext, ProbeResult, ProbeStatus
from scanner.discovery.options import Handoff, ProbeOptions
from scanner.discovery.registry import PROBES, ProbeSpec, instantiate, select
from scanner.observations import Observation, ip_sort_key
from scanner.results import DeviceReport, ProbeSummary, ScanReport, build_report
from scanner.targets import Scope

if TYPE_CHECKING:
    from scanner.history.store import HistoryStore
    from scanner.policy.waivers import Waiver

log = logging.getLogger("scanner.scan")

# Why a scan did not complete (ScanSink.finish's ``stop``, the history's "incomplete" reason).
INTERRUPTED = "interrupted"  # Ctrl-C or SIGTERM
PROBE_FAILED = "probe failed"  # a probe could not run (see its error)
FAILED = "failed"  # the scan itself broke off (see the report's notes)
OUT_OF_TIME = "out of time"  # a probe ran out of time before it finished every target (see its notes)

INTERRUPTED_NOTE = "the scan was interrupted: this report holds what was seen until then"
NO_INTERFACE_NOTE = (
    "no local interface is on the targets' subnet: ARP and multicast discovery were skipped, "
    "only unicast probes ran"
)


@dataclass(frozen=True, slots=True)
class ScanRequest:
    """Everything one scan may do. Targets are explicit and already less any exclusions."""

    targets: Sequence[IPv4Address]
    target_texts: Sequence[str]
    probes: Sequence[ProbeSpec]
    interface: str | None = None
    timeout: float = 3.0  # per discovery probe
    banner_timeout: float = 8.0  # per banner probe, for all hosts
    concurrency: int = 128
    options: ProbeOptions = field(default_factory=ProbeOptions)
    exclude_texts: Sequence[str] = ()
    waivers: Sequence[Waiver] = ()
    notes: Sequence[str] = ()  # said in the report as given (e.g. "demo lab …")


class ScanSink(Protocol):
    """Where a scan's results go: each observation as seen, then the finished report."""

    def start(self, request: ScanRequest) -> str | None:
        """Called before any packet is sent; returns the scan's id, if the sink gives one."""

    def add(self, obs: Observation) -> None: ...

    def finish(self, report: ScanReport, stop: str | None) -> None:
        """The final (or partial) report; ``stop`` says why the scan did not complete (None: it did)."""


class HistorySink:
    """Streams a scan into the history database; closes the store when the scan finishes."""

    def __init__(self, store: HistoryStore) -> None:
        self.store = store
        self.scan_id: str | None = None

    def start(self, request: ScanRequest) -> str | None:
        from scanner import __version__

        self.scan_id = self.store.start_scan(
            list(request.target_texts), request.interface, __version__, [p.name for p in request.probes]
        )
        return self.scan_id

    def add(self, obs: Observation) -> None:
        if self.scan_id is not None:
            self.store.add_observation(self.scan_id, obs)

    def finish(self, report: ScanReport, stop: str | None) -> None:
        try:
            if self.scan_id is not None:
                self.store.finish_scan(self.scan_id, report)
                if stop:
                    self.store.mark_incomplete(self.scan_id, stop)
        finally:
            self.store.close()


@dataclass
class ScanState:
    """What the scan has seen so far; survives cancellation."""

    observations: list[Observation] = field(default_factory=list)
    results: list[ProbeResult] = field(default_factory=list)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    probed: list[str] = field(default_factory=list)  # the banner phase's hosts


ProgressFn = Callable[[str, ProbeResult | None], None]


def select_probes(names: str | None, *, snmp_community: str | None, with_nmap: bool) -> tuple[ProbeSpec, ...]:
    """The probes to run: ``names`` (a comma list; None: the defaults), plus snmp when a community is given
    and no list is, plus nmap with ``with_nmap``. UsageError for unknown names."""
    chosen = select(names)
    if snmp_community and names is None and PROBES["snmp"] not in chosen:
        chosen.append(PROBES["snmp"])
    if with_nmap and PROBES["nmap"] not in chosen:
        chosen.append(PROBES["nmap"])
    return tuple(chosen)


def run_scan(
    request: ScanRequest, sink: ScanSink | None = None, progress: ProgressFn | None = None
) -> ScanReport:
    """Run ``request``; the report (partial when stopped) goes to ``sink.finish`` and is returned."""
    scan_id = sink.start(request) if sink is not None else None
    state = ScanState()
    notes = list(request.notes)
    stop: str | None = None
    try:
        if run_stoppable(run_probes(request, state, sink.add if sink is not None else None, progress)):
            stop = INTERRUPTED
    except KeyboardInterrupt:  # a Ctrl-C before the loop's own handler was in place
        stop = INTERRUPTED
    except Exception as exc:  # the scan broke off: say so, keep what was seen
        log.debug("scan failed", exc_info=True)
        stop = FAILED
        notes.append(f"the scan failed: {type(exc).__name__}: {exc}")
    if stop == INTERRUPTED:
        notes.append(INTERRUPTED_NOTE)
    with _keep_writing():
        failed = [r for r in state.results if r.status == ProbeStatus.ERROR]
        if failed:
            stop = stop or PROBE_FAILED
            notes.append("incomplete: probe(s) failed: " + "; ".join(f"{r.probe}: {r.error}" for r in failed))
        short = [r for r in state.results if r.status == ProbeStatus.PARTIAL]
        if short:
            stop = stop or OUT_OF_TIME
            notes.append(
                "incomplete: ran out of time before every target was finished: "
                + ", ".join(r.probe for r in short)
                + " (see their notes; a larger --timeout gives them longer)"
            )
        report = finish_report(request, state, notes=notes, complete=stop is None, scan_id=scan_id)
        if sink is not None:
            sink.finish(report, stop)
    return report


def finish_report(
    request: ScanRequest, state: ScanState, *, notes: list[str], complete: bool, scan_id: str | None
) -> ScanReport:
    """Identify, place (devices, heard), waive: the scan's report."""
    scope = scope_of(request)
    all_notes = list(notes)
    if request.exclude_texts:
        all_notes.append(f"excluded from the targets: {', '.join(request.exclude_texts)}")
    skipped = [str(t) for t in request.targets if not scope.probeable(t)]
    if skipped:
        all_notes.append(f"not probed (the scanner's own or a loopback address): {', '.join(skipped[:8])}")
    if request.interface is None:
        all_notes.append(NO_INTERFACE_NOTE)
    for r in state.results:
        all_notes += [f"{r.probe}: {n}" for n in r.notes]
    report = build_report(
        identify_observations(state.observations),
        started_at=state.started_at,
        complete=complete,
        probes=[
            ProbeSummary(
                probe=r.probe, status=r.status, duration=round(r.duration, 3), error=r.error, notes=r.notes
            )
            for r in state.results
        ],
        notes=all_notes,
        targets=list(request.target_texts),
        interface=request.interface,
        scan_id=scan_id,
        scope=scope,
    )
    if request.waivers:
        from scanner.policy.waivers import apply_waivers

        waivers = list(request.waivers)
        heard = apply_waivers(report.model_copy(update={"devices": report.heard}), waivers).devices
        report = apply_waivers(report, waivers).model_copy(update={"heard": heard})
    return report


def scope_of(request: ScanRequest) -> Scope:
    return Scope(targets=frozenset(request.targets), own=own_addresses())


def own_addresses() -> frozenset[IPv4Address]:
    """This namespace's own IPv4 addresses (never a target of the active probes, never a device)."""
    from scanner.netif import interfaces

    try:
        return frozenset(i.ip for i in interfaces())
    except OSError:
        return frozenset()


async def run_probes(
    request: ScanRequest,
    state: ScanState,
    sink: Callable[[Observation], None] | None = None,
    progress: ProgressFn | None = None,
) -> None:
    """Discovery round (all ``discover`` probes concurrently), then banner probes on the live targets."""
    itf = None
    if request.interface:
        from scanner.netif import interface

        itf = interface(request.interface)
    source_ip = itf.ip if itf else None
    scope = scope_of(request)
    targets = [t for t in request.targets if scope.probeable(t)]

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

    def context(
        hosts: Sequence[IPv4Address],
        timeout: float,
        live: dict[str, str | None],
        handoff: Handoff | None = None,
    ) -> ProbeContext:
        return ProbeContext(
            targets=hosts,
            interface=request.interface,
            source_ip=source_ip,
            timeout=timeout,
            concurrency=request.concurrency,
            live_hosts=live,
            emit=emit,
            options=request.options,
            handoff=handoff or Handoff(),
        )

    sweep = [p for p in request.probes if p.phase == "sweep"]
    discover = [p for p in request.probes if p.phase == "discover"]
    banner = [p for p in request.probes if p.phase == "banner"]
    swept = itf.network if itf and any(p.name == "arp" for p in discover) else None
    # The liveness sweep asks what ARP cannot: the targets off the ARP-swept subnet. It runs first, so
    # that unicast discovery and banners go only to the off-link targets that answered it.
    off_link = [t for t in targets if swept is None or t not in swept]
    await asyncio.gather(
        *(run_one(p, context(off_link, probe_budget(p, request, len(off_link)), {})) for p in sweep)
    )
    off_link_swept = any(r.probe in {p.name for p in sweep} and r.status in SWEPT for r in state.results)
    asked = targets
    if off_link_swept:
        answered = live_hosts(state.observations, off_link, True, None, off_link_swept=True)
        asked = [t for t in targets if (swept is not None and t in swept) or str(t) in answered]
    await asyncio.gather(
        *(run_one(p, context(asked, probe_budget(p, request, len(asked)), {})) for p in discover)
    )
    if banner:
        live = live_hosts(
            state.observations, targets, bool(discover or sweep), swept, off_link_swept=off_link_swept
        )
        state.probed = list(live)
        if not live:
            why = "no target answered discovery" if targets else "no target to probe"
            state.results += [ProbeResult(p.name, ProbeStatus.SKIPPED, notes=[why]) for p in banner]
            return
        hosts = [IPv4Address(ip) for ip in live]
        handoff = discovery_handoff(state.observations, live)
        await asyncio.gather(
            *(run_one(p, context(hosts, probe_budget(p, request, len(live)), live, handoff)) for p in banner)
        )


def probe_budget(spec: ProbeSpec, request: ScanRequest, hosts: int) -> float:
    """Seconds ``spec`` may take for ``hosts`` hosts: its phase's budget, at least its own ``min_budget``."""
    if spec.phase == "sweep":
        seconds = liveness_budget(request, hosts)
    elif spec.phase == "banner":
        seconds = banner_budget(request.banner_timeout, hosts, request.concurrency)
    else:
        seconds = discovery_budget(request.timeout, hosts)
    return max(seconds, spec.min_budget)


def discovery_handoff(observations: Iterable[Observation], hosts: Iterable[str]) -> Handoff:
    """What discovery found that the banner phase may use, for ``hosts`` only, keyed by the host that
    said it."""
    wanted = set(hosts)
    xaddrs: dict[str, dict[str, None]] = {}
    for o in observations:
        if o.signal == "wsd.xaddrs" and o.ip in wanted:
            xaddrs.setdefault(o.ip, {}).update(dict.fromkeys(o.value.split()))
    return Handoff(onvif_xaddrs={ip: tuple(urls) for ip, urls in xaddrs.items()})


UNICAST_RATE = 5000  # datagrams per second: the discovery probes' default unicast pacing
# A liveness sweep with one of these statuses asked the off-link targets: only those that answered go
# on to unicast discovery and the banner phase. A partial sweep (out of time) makes the scan
# incomplete, and the targets it did not ask are not probed either (banners on every address of a
# /16 would take hours). Otherwise (it could not run) every off-link target still is.
SWEPT = (ProbeStatus.SUCCESS, ProbeStatus.NO_RESPONSE, ProbeStatus.PARTIAL)


def liveness_budget(request: ScanRequest, targets: int) -> float:
    """Seconds the liveness sweep may take for ``targets`` off-link addresses at its rate."""
    from scanner.discovery.liveness import DEFAULT_PORTS, DEFAULT_RATE, sweep_budget

    ports = request.options.ports_for("liveness", DEFAULT_PORTS)
    return max(request.timeout, sweep_budget(targets, len(ports), request.options.udp_rate or DEFAULT_RATE))


def discovery_budget(base: float, targets: int) -> float:
    """Seconds a discovery probe may take: ``base``, or long enough to ask every target by unicast at the
    probes' pace plus the replies' wait on big target lists (a /16 takes ~13 s of sending)."""
    return max(base, targets / UNICAST_RATE + 1.5)


def banner_budget(base: float, hosts: int, concurrency: int) -> float:
    """Seconds a banner probe may take for ``hosts`` hosts: ``base`` for a lab-sized network, growing
    with the number of waves of ``concurrency`` hosts on big ones: ~3 s per wave, as a silent port
    costs a 2.5 s connect (long enough to survive one lost SYN)."""
    waves = -(-hosts // max(1, concurrency))
    return max(base, 3.0 * waves)


def live_hosts(
    observations: Iterable[Observation],
    targets: Sequence[IPv4Address],
    discovered: bool,
    swept: IPv4Network | None = None,
    *,
    off_link_swept: bool = False,
) -> dict[str, str | None]:
    """The banner phase's hosts, ``ip -> MAC``: targets only, ever. A target is in when discovery saw
    it (any observation from its address), or when the ARP sweep could not reach it (``swept`` is the
    on-link subnet it covered: a host across a router that answers no discovery protocol may still
    serve HTTP or RTSP). With no discovery probe selected, every target. Hosts that answered discovery
    but are not targets are never probed; a MAC a payload merely claims is never used. With
    ``off_link_swept`` (the liveness sweep asked every off-link target), an off-link target is in only
    when something answered from it."""
    wanted = {str(t) for t in targets}
    live: dict[str, str | None] = {}
    for o in observations:
        if o.ip in wanted:
            mac = None if o.signal.startswith("claimed.") else o.mac
            if live.get(o.ip) is None:
                live[o.ip] = mac
    if off_link_swept:
        return live
    for t in targets:
        if not discovered or swept is None or t not in swept:
            live.setdefault(str(t), None)
    return live


def identify_observations(observations: Iterable[Observation]) -> list[DeviceReport]:
    """Every host of ``observations``, grouped by the one rule and identified, sorted by IP."""
    from scanner.ingest.stream import identify_stream

    reports = [DeviceReport.of(d, v) for d, v in identify_stream(observations, cap=None, max_hosts=None)]
    return sorted(reports, key=lambda r: ip_sort_key(r.ip))


def pick_interface(targets: Sequence[IPv4Address], requested: str | None) -> str | None:
    """The interface to scan from: the requested one, else the one whose subnet holds the first on-link target."""
    from scanner.netif import interface, interface_for

    if requested:
        interface(requested)  # TargetError if missing
        return requested
    for t in [*targets[:1], *targets[-1:]]:
        itf = interface_for(t)
        if itf:
            return itf.name
    return None


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def run_stoppable(main: Coroutine[Any, Any, None]) -> bool:
    """Run ``main`` on a new event loop; True if Ctrl-C or SIGTERM stopped it.

    The first signal cancels ``main`` (every probe's task with it); later ones only say that the scan is
    stopping, so that what was seen is still reported: nothing is raised into the loop's clean-up.
    Off the main thread (a lab test's namespace thread) no handler is installed.
    """
    loop = asyncio.new_event_loop()
    task = loop.create_task(main)
    signals = 0

    def on_signal() -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            task.cancel()
        else:
            sys.stderr.write("ndaa-scan: stopping: the probes are ending, then the report of what was seen\n")
            sys.stderr.flush()

    handled = _in_main_thread()
    previous = {s: signal.getsignal(s) for s in STOP_SIGNALS} if handled else {}
    try:
        for s in previous:
            loop.add_signal_handler(s, on_signal)
        try:
            with contextlib.suppress(asyncio.CancelledError):
                loop.run_until_complete(task)
        finally:
            _finish_loop(loop)
    finally:
        for s, handler in previous.items():
            loop.remove_signal_handler(s)
            if handler is not None:
                signal.signal(s, handler)
        loop.close()
    if signals == 0 and task.cancelled():
        raise RuntimeError("the scan was cancelled from inside")
    return signals > 0


def _finish_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what is left (as asyncio.run does), then close async generators and the thread pool."""
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in pending:
        t.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.run_until_complete(loop.shutdown_default_executor())


@contextlib.contextmanager
def _keep_writing() -> Iterator[None]:
    """While the report is built and written, Ctrl-C and SIGTERM say so instead of stopping it."""
    if not _in_main_thread():
        yield
        return

    def tell(signum: int, frame: object) -> None:
        sys.stderr.write("ndaa-scan: stopping: writing the report of what was seen (a moment)\n")
        sys.stderr.flush()

    previous: dict[int, Any] = {s: signal.signal(s, tell) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
