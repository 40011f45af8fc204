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
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from ipaddress import IPv4Address, IPv4Network, IPv6Address
from typing import TYPE_CHECKING, Any, Protocol

from scanner.discovery.base import ProbeContext, ProbeResult, ProbeStatus
from scanner.discovery.options import Handoff, ProbeOptions
from scanner.discovery.pacing import Pacer
from scanner.discovery.registry import PROBES, ProbeSpec, instantiate, select
from scanner.observations import Observation, ip_sort_key
from scanner.progress import ProgressView, ScanProgress
from scanner.results import DeviceReport, ProbeSummary, ScanReport, build_report
from scanner.targets import Scope, Targets6

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
    options: ProbeOptions = field(default_factory=ProbeOptions)  # --rate and --concurrency live here
    exclude_texts: Sequence[str] = ()
    waivers: Sequence[Waiver] = ()
    notes: Sequence[str] = ()  # said in the report as given (e.g. "demo lab …")
    as_of: date | None = None  # evaluate lists and ownerships on this day (None: today)
    # IPv6 targets (hosts, prefixes, exclusions): in the Scope; the IPv4-only probes never see them
    ipv6: Targets6 = field(default_factory=Targets6)
    hostnames: Mapping[str, str] = field(default_factory=dict)  # target address -> the host name given

    @property
    def concurrency(self) -> int:
        """Banner hosts probed at once (``--concurrency``, else its default)."""
        return self.options.host_concurrency


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
    packets: int = 0  # packets the probes sent under the scan's --rate (Pacer.taken)


ProgressFn = Callable[[ProgressView], None]  # called every PROGRESS_EVERY seconds and once at the end
PROGRESS_EVERY = 0.5  # seconds


def select_probes(
    names: str | None, *, snmp_community: str | None, with_nmap: bool, ipv6: bool = False
) -> tuple[ProbeSpec, ...]:
    """The probes to run: ``names`` (a comma list; None: the defaults), plus snmp when a community is given
    and no list is, plus nmap with ``with_nmap``, plus the IPv6 link sweep (ndp) with ``ipv6`` and no
    list. UsageError for unknown names."""
    chosen = select(names)
    if ipv6 and names is None and PROBES["ndp"] not in chosen:
        chosen.append(PROBES["ndp"])
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
    if request.options.rate:
        all_notes.append(
            f"paced at {request.options.rate_cap:g} packets/s at most, every probe together (--rate): "
            f"{state.packets} sent"
        )
    for r in state.results:
        all_notes += [f"{r.probe}: {n}" for n in r.notes]
    report = build_report(
        identify_observations(state.observations, on_date=request.as_of),
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
        as_of=request.as_of,
    )
    if request.waivers:
        from scanner.policy.waivers import apply_waivers

        waivers = list(request.waivers)
        heard = apply_waivers(report.model_copy(update={"devices": report.heard}), waivers).devices
        report = apply_waivers(report, waivers).model_copy(update={"heard": heard})
    return report


def scope_of(request: ScanRequest) -> Scope:
    return Scope(
        targets=frozenset(request.targets), own=own_addresses(), ipv6=request.ipv6, names=request.hostnames
    )


def own_addresses() -> frozenset[IPv4Address | IPv6Address]:
    """This namespace's own addresses (never a target of the active probes, never a device)."""
    from scanner.netif import interfaces
    from scanner.targets import own_ipv6_addresses

    try:
        return frozenset(i.ip for i in interfaces()) | own_ipv6_addresses()
    except OSError:
        return own_ipv6_addresses()


async def run_probes(
    request: ScanRequest,
    state: ScanState,
    sink: Callable[[Observation], None] | None = None,
    progress: ProgressFn | None = None,
) -> None:
    """Discovery round (all ``discover`` probes concurrently), then banner probes on the live targets;
    every probe's packets under one ``Pacer`` (``--rate``); ``progress`` gets a ``ProgressView`` every
    ``PROGRESS_EVERY`` seconds and once at the end."""
    pacer = Pacer(request.options.rate_cap)
    if progress is None:
        try:
            await _run_rounds(request, state, sink, pacer, None)
        finally:
            state.packets = pacer.taken
        return
    scope = scope_of(request)
    tracker = ScanProgress(
        (str(t) for t in request.targets if scope.probeable(t)), packets=lambda: pacer.taken
    )

    def tell() -> None:
        try:
            progress(tracker.view())
        except Exception:  # a renderer's trouble never stops the scan
            log.debug("progress failed", exc_info=True)

    async def tick() -> None:
        while True:
            tell()
            await asyncio.sleep(PROGRESS_EVERY)

    ticker = asyncio.create_task(tick())
    try:
        await _run_rounds(request, state, sink, pacer, tracker)
    finally:
        state.packets = pacer.taken
        ticker.cancel()
        tracker.finish()
        tell()


async def _run_rounds(
    request: ScanRequest,
    state: ScanState,
    sink: Callable[[Observation], None] | None,
    pacer: Pacer,
    tracker: ScanProgress | None,
) -> None:
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
        if tracker is not None:
            tracker.observe(obs)

    async def run_one(spec: ProbeSpec, ctx: ProbeContext) -> None:
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
        if tracker is not None:
            tracker.probe_finished(spec.name)

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
            pacer=pacer,
            host_done=tracker.host_done if tracker is not None else None,
        )

    sweep = [p for p in request.probes if p.phase == "sweep"]
    discover = [p for p in request.probes if p.phase == "discover"]
    banner = [p for p in request.probes if p.phase == "banner"]
    swept = itf.network if itf and any(p.name == "arp" for p in discover) else None
    # The liveness sweep asks what ARP cannot: the targets off the ARP-swept subnet. It runs first, so
    # that unicast discovery and banners go only to the off-link targets that answered it.
    off_link = [t for t in targets if swept is None or t not in swept]
    # the probes share one --rate: none ends before all of them together could send their first round
    planned_sweep = discovery_packets([p.name for p in sweep], 0, len(off_link))
    sweep_contexts = [
        (
            p,
            context(
                off_link,
                max(planned_sweep / request.options.rate_cap + 1.5, probe_budget(p, request, len(off_link))),
                {},
            ),
        )
        for p in sweep
    ]
    if tracker is not None and sweep_contexts:
        tracker.start_discovery(
            [p.name for p in sweep], max(c.timeout for _p, c in sweep_contexts), planned_sweep
        )
    await asyncio.gather(*(run_one(p, c) for p, c in sweep_contexts))
    off_link_swept = any(r.probe in {p.name for p in sweep} and r.status in SWEPT for r in state.results)
    asked = targets
    if off_link_swept:
        answered = live_hosts(state.observations, off_link, True, None, off_link_swept=True)
        asked = [t for t in targets if (swept is not None and t in swept) or str(t) in answered]
    on_link = sum(1 for t in asked if swept is not None and t in swept)
    planned = discovery_packets([p.name for p in discover], on_link, len(asked) - on_link)
    shared = planned / request.options.rate_cap + 1.5
    contexts = [(p, context(asked, max(shared, probe_budget(p, request, len(asked))), {})) for p in discover]
    if tracker is not None:
        tracker.start_discovery(
            [p.name for p in discover], max((c.timeout for _p, c in contexts), default=0.0), planned
        )
    await asyncio.gather(*(run_one(p, c) for p, c in contexts))
    if banner:
        live = live_hosts(
            state.observations, targets, bool(discover or sweep), swept, off_link_swept=off_link_swept
        )
        if request.options.ipv6 and request.ipv6:
            # hosts found on the IPv6 link inside a named IPv6 target, and the listed IPv6 hosts; a
            # dual-stack target is probed once, over IPv4
            v4_macs = {mac for mac in live.values() if mac}
            found6 = live_hosts6(state.observations, scope)
            live.update((ip, mac) for ip, mac in found6.items() if mac not in v4_macs)
            for host in sorted(request.ipv6.hosts, key=int):
                if scope.probeable(host):
                    live.setdefault(str(host), None)
        state.probed = list(live)
        if not live:
            if tracker is not None:
                tracker.start_banners((), [p.name for p in banner], 0.0)
            why = "no target answered discovery" if targets else "no target to probe"
            state.results += [ProbeResult(p.name, ProbeStatus.SKIPPED, notes=[why]) for p in banner]
            return
        hosts = [IPv4Address(ip) for ip in live if ":" not in ip]  # IPv6 hosts are in ``live`` only
        handoff = discovery_handoff(state.observations, live)
        contexts = [(p, context(hosts, probe_budget(p, request, len(live)), live, handoff)) for p in banner]
        if tracker is not None:
            tracker.start_banners(live, [p.name for p in banner], max(c.timeout for _p, c in contexts))
        await asyncio.gather(*(run_one(p, c) for p, c in contexts))


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
    from scanner.discovery.liveness import DEFAULT_PORTS, sweep_budget

    ports = request.options.ports_for("liveness", DEFAULT_PORTS)
    return max(request.timeout, sweep_budget(targets, len(ports), request.options.rate_for("liveness")))


UNICAST_PROBES = frozenset({"sadp", "dhip", "wsd", "ssdp"})  # discovery: a datagram to every target per round


def discovery_packets(probes: Sequence[str], on_link: int, off_link: int) -> int:
    """Packets the discovery ``probes`` send together in their first round: a unicast datagram per target
    each, an ARP frame per on-link target, the liveness host rounds per off-link target. Under the one
    ``--rate`` (``rate_cap``) none of them may end before all could have been sent (plus the replies'
    wait); the progress line shows the share sent."""
    from scanner.discovery.liveness import HOST_PORTS, HOST_TRIES

    packets = sum(on_link + off_link for p in probes if p in UNICAST_PROBES)
    packets += on_link if "arp" in probes else 0
    packets += off_link * (1 + len(HOST_PORTS)) * HOST_TRIES if "liveness" in probes else 0
    return packets


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


def live_hosts6(observations: Iterable[Observation], scope: Scope) -> dict[str, str | None]:
    """The banner phase's IPv6 hosts, ``ip -> MAC``: addresses found on the IPv6 link (``fe80::1%eth0``)
    inside a named IPv6 target, never one merely heard, never a claimed address."""
    live: dict[str, str | None] = {}
    for o in observations:
        if not o.ip or ":" not in o.ip or o.signal.startswith("claimed.") or live.get(o.ip) is not None:
            continue
        try:
            address = IPv6Address(o.ip)
        except ValueError:
            continue
        if scope.probeable(address):
            live[o.ip] = o.mac
    return live


def identify_observations(
    observations: Iterable[Observation], *, on_date: date | None = None
) -> list[DeviceReport]:
    """Every host of ``observations``, grouped by the one rule and identified (on ``on_date``: lists and
    ownerships in force that day), sorted by IP."""
    from scanner.ingest.stream import identify_stream

    stream = identify_stream(observations, cap=None, max_hosts=None, on_date=on_date)
    reports = [DeviceReport.of(d, v) for d, v in stream]
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
