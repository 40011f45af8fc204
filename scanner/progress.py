"""How far a scan has got: ``ScanProgress`` counts, ``ProgressView`` is one snapshot for a renderer.

The scan (``scanner.scan.run_probes``) tells the tracker what happens: the discovery round starts with
its probes and its time budget, each probe ends, every observation arrives, the banner round starts on
the live targets, a banner probe finishes a host (``ProbeContext.host_done``). The tracker turns that
into what a user asks on a terminal:

* **hosts done / total**: a target is done when nothing is left to do for it: during discovery none is
  (every discovery probe asks every target until it ends); once discovery ended, every target that is
  not a banner host is done, and a banner host is done when every banner probe finished it (or ended).
* **devices found**: targets something answered from; hosts that answered but are not targets are
  counted apart (``heard``).
* **covered so far**: targets whose verdict, from what they said so far, is covered (and likely): hosts
  with new observations are identified again at most once per ``IDENTIFY_EVERY`` seconds,
  ``IDENTIFY_BATCH`` hosts at a time (the final report identifies everything once more).
* **discovery sent**: during discovery, the share of the round's planned packets (its first round, every
  probe together) sent so far under the scan's ``--rate``, shown below 100 % until the round ends
  (retries and waits come after the first round).
* **ETA**: during discovery, the time left of the round's budget (an upper bound: the probes end early
  once every target answered or was asked enough); during the banner round, the hosts left at the pace
  of the hosts done so far, never beyond the round's budget.

Nothing here prints: renderers (``scanner.cli.common.Progress``) show ``view()``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from scanner.observations import Observation

IDENTIFY_EVERY = 1.0  # seconds between two identification passes
IDENTIFY_BATCH = 64  # hosts identified in one pass at most (~0.3 ms each: the event loop is never held long)
SHARE_BEFORE_THE_END = 0.99  # the discovery share shown until the round has really ended

Identify = Callable[[list[Observation]], str | None]  # a host's observations -> its verdict status


@dataclass(frozen=True, slots=True)
class ProgressView:
    """One snapshot of a scan's progress."""

    phase: str  # "starting", "discovery", "banners", "done"
    hosts_total: int
    hosts_done: int
    devices: int  # targets something answered from
    heard: int  # hosts that answered but are not targets
    covered: int
    likely: int
    packets: int  # packets sent so far under the scan's --rate
    elapsed: float  # seconds since the scan started
    eta: float | None  # seconds left; None when nothing says
    eta_bound: bool  # the ETA is an upper bound (the round's budget), not an extrapolation
    running: tuple[str, ...] = ()  # probes still running
    sent_share: float | None = None  # during discovery: share of the round's planned packets sent (< 1.0)


@dataclass
class _Round:
    started: float
    budget: float
    running: dict[str, None] = field(default_factory=dict)
    planned: int = 0  # packets the round plans to send (discovery)
    packets_before: int = 0  # packets sent before the round began


def identify_status(observations: list[Observation]) -> str | None:
    """The verdict status of one host's observations (the same rule as the report), or None."""
    from scanner.ingest.stream import identify_stream

    statuses = [str(v.status) for _d, v in identify_stream(observations, cap=None, max_hosts=None)]
    order = ("covered", "likely", "suspected", "not-covered", "unknown")
    return min(statuses, key=lambda s: order.index(s) if s in order else len(order), default=None)


class ScanProgress:
    """Counts of one scan; see the module docstring. ``clock`` and ``identify`` are injectable for tests."""

    def __init__(
        self,
        targets: Iterable[str],
        *,
        clock: Callable[[], float] = time.monotonic,
        identify: Identify = identify_status,
        packets: Callable[[], int] = lambda: 0,
    ) -> None:
        self.targets = frozenset(targets)
        self.clock, self.identify, self.packets = clock, identify, packets
        self.started = clock()
        self.phase = "starting"
        self.round: _Round | None = None
        self.by_host: dict[str, list[Observation]] = {}  # targets that answered -> what they said
        self.heard: set[str] = set()
        self.dirty: dict[str, None] = {}
        self.status: dict[str, str] = {}
        self.identified_at = float("-inf")
        self.banner_hosts: frozenset[str] = frozenset()
        self.banner_probes: tuple[str, ...] = ()
        self.finished_by: dict[str, set[str]] = {}  # banner host -> probes that finished it
        self.hosts_done_count = 0

    # ------------------------------------------------------------------ events

    def start_discovery(self, probes: Sequence[str], budget: float, packets: int = 0) -> None:
        self.phase = "discovery"
        self.round = _Round(self.clock(), budget, dict.fromkeys(probes), packets, self.packets())

    def probe_finished(self, probe: str) -> None:
        if self.round is None:
            return
        self.round.running.pop(probe, None)
        if self.phase == "banners" and probe in self.banner_probes:
            for ip in self.banner_hosts:
                self._finish(ip, probe)

    def start_banners(self, hosts: Iterable[str], probes: Sequence[str], budget: float) -> None:
        """The banner round starts: every target that is not one of ``hosts`` is done."""
        self.phase = "banners"
        self.banner_hosts = frozenset(hosts) & self.targets
        self.banner_probes = tuple(probes)
        self.round = _Round(self.clock(), budget, dict.fromkeys(probes))
        self.hosts_done_count = len(self.targets) - len(self.banner_hosts)
        if not self.banner_probes:
            self.hosts_done_count = len(self.targets)

    def host_done(self, probe: str, ip: str) -> None:
        if self.phase == "banners" and probe in self.banner_probes and ip in self.banner_hosts:
            self._finish(ip, probe)

    def finish(self) -> None:
        self.phase = "done"
        self.hosts_done_count = len(self.targets)
        if self.round is not None:
            self.round.running.clear()

    def observe(self, obs: Observation) -> None:
        if obs.ip is None:
            return
        if obs.ip in self.targets:
            self.by_host.setdefault(obs.ip, []).append(obs)
            self.dirty[obs.ip] = None
        else:
            self.heard.add(obs.ip)

    def _finish(self, ip: str, probe: str) -> None:
        done = self.finished_by.setdefault(ip, set())
        if probe not in done:
            done.add(probe)
            if len(done) == len(self.banner_probes):
                self.hosts_done_count += 1

    # ------------------------------------------------------------------ the snapshot

    def view(self) -> ProgressView:
        now = self.clock()
        self._identify(now)
        eta, bound = self._eta(now)
        counts = list(self.status.values())
        packets = self.packets()
        share = None
        r = self.round
        if self.phase == "discovery" and r is not None and r.planned:
            share = min(SHARE_BEFORE_THE_END, (packets - r.packets_before) / r.planned)
        return ProgressView(
            phase=self.phase,
            hosts_total=len(self.targets),
            hosts_done=self.hosts_done_count,
            devices=len(self.by_host),
            heard=len(self.heard),
            covered=counts.count("covered"),
            likely=counts.count("likely"),
            packets=packets,
            elapsed=now - self.started,
            eta=eta,
            eta_bound=bound,
            running=tuple(self.round.running) if self.round is not None else (),
            sent_share=share,
        )

    def _identify(self, now: float) -> None:
        if not self.dirty or now - self.identified_at < IDENTIFY_EVERY:
            return
        self.identified_at = now
        batch = list(self.dirty)[:IDENTIFY_BATCH]
        for ip in batch:
            del self.dirty[ip]
            try:
                status = self.identify(self.by_host[ip])
            except Exception:  # progress must never break a scan; the report identifies again
                status = None
            if status is not None:
                self.status[ip] = status

    def _eta(self, now: float) -> tuple[float | None, bool]:
        r = self.round
        if self.phase == "done":
            return 0.0, False
        if r is None:
            return None, False
        left_in_budget = max(0.0, r.started + r.budget - now)
        if self.phase == "discovery":
            return left_in_budget, True
        todo = len(self.banner_hosts)
        done = self.hosts_done_count - (len(self.targets) - todo)
        if done == 0 or todo == 0:
            return left_in_budget, True
        pace = (now - r.started) / done
        return min(left_in_budget, pace * (todo - done)), False
