"""Group a stream of observations by host with bounded state, and identify each host.

Memory bound: at most ``max_hosts`` hosts are held at once, each with at most ``cap`` distinct
(signal, value) observations and ``MAX_NOTES`` notes, so the state is O(max_hosts × cap) whatever the
length of the input. Identical (signal, value) pairs of one host are kept once; observations past
``cap`` are counted (repeats included), not kept, and the verdict says how many. A host is identified
when its state is flushed: at the end of the input; when the input is host-sorted
(``host_sorted=True``, as nmap XML always is) and the next observation belongs to another host; or,
when ``max_hosts`` hosts are held, the host held longest is flushed to make room (it is then reported
again if it reappears).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from scanner.observations import Device, HostNote, Observation

if TYPE_CHECKING:
    from scanner.identify.models import Verdict
    from scanner.results import DeviceReport, ScanReport

DEFAULT_CAP = 256  # distinct observations kept per host
DEFAULT_MAX_HOSTS = 65_536  # hosts held at once
MAX_NOTES = 32  # notes kept per host
MAX_IPS_PER_HOST = 16  # addresses remembered per host for joining IP-only observations
MAX_REPORT_PROBLEMS = 20  # problem lines repeated in an offline report's notes

Format = Literal["jsonl", "nmap-xml"]
Problems = Callable[[int, str], None]


@dataclass(slots=True)
class HostState:
    """What is held for one host until it is identified."""

    ip: str | None
    mac: str | None
    observations: list[Observation] = field(default_factory=list)
    seen: set[tuple[str, str]] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    ips: set[str] = field(default_factory=set)
    duplicates: int = 0
    dropped: int = 0

    @property
    def key(self) -> str:
        return self.mac or self.ip or ""


class HostGrouper:
    """Merge observations into per-host states; ``add`` returns a state when one must be flushed.

    Keys follow ``group_by_host``: a host is its MAC when known, else its IP, and an IP-only
    observation joins the MAC last seen at that IP (an IP-keyed state is re-keyed when its MAC shows up).
    """

    def __init__(
        self, *, cap: int = DEFAULT_CAP, max_hosts: int = DEFAULT_MAX_HOSTS, host_sorted: bool = False
    ) -> None:
        self.cap = max(1, cap)
        self.max_hosts = max(1, max_hosts)
        self.host_sorted = host_sorted
        self.hosts: dict[str, HostState] = {}
        self.ip_to_mac: dict[str, str] = {}
        self.evicted = 0
        self._last: HostState | None = None

    def add(self, item: Observation | HostNote) -> HostState | None:
        """Add one observation or note; return the host state to identify now, if any."""
        state, flushed = self._state_for(item.ip, item.mac)
        if state is None:
            return flushed
        if isinstance(item, HostNote):
            if len(state.notes) < MAX_NOTES and item.text not in state.notes:
                state.notes.append(item.text)
            return flushed
        self._keep(item, state)
        return flushed

    def _keep(self, obs: Observation, state: HostState) -> None:
        pair = (obs.signal, obs.value)
        if pair in state.seen:
            state.duplicates += 1
        elif len(state.observations) < self.cap:
            state.seen.add(pair)
            state.observations.append(obs)
        else:
            state.dropped += 1

    def finish(self) -> Iterator[HostState]:
        """Every state still held, oldest first; the grouper is empty afterwards."""
        while self.hosts:
            yield self._pop(next(iter(self.hosts)))
        self._last = None

    def _state_for(self, ip: str | None, mac: str | None) -> tuple[HostState | None, HostState | None]:
        if mac is None and ip is not None:
            mac = self.ip_to_mac.get(ip)
        key = mac or ip
        if not key:
            return None, None
        state = self.hosts.get(key)
        if mac and ip and ip in self.hosts and self.hosts[ip].mac is None:  # its MAC just showed up
            ip_only = self.hosts.pop(ip)
            if state is None:
                ip_only.mac = mac
                state = self.hosts[mac] = ip_only
            else:
                self._merge(ip_only, into=state)
        flushed = None
        if self.host_sorted and self._last is not None and state is not self._last:
            flushed = self._pop(self._last.key)
        if state is None:
            if flushed is None and len(self.hosts) >= self.max_hosts:
                flushed = self._pop(next(iter(self.hosts)))
                self.evicted += 1
                flushed.notes.append(
                    f"held-host limit ({self.max_hosts}) reached: identified early; "
                    "later observations of this host are reported separately"
                )
            state = self.hosts[key] = HostState(ip=ip, mac=mac)
        if state.ip is None and ip:
            state.ip = ip
        if mac and ip and ip not in state.ips and len(state.ips) < MAX_IPS_PER_HOST:
            state.ips.add(ip)
            self.ip_to_mac.setdefault(ip, mac)
        self._last = state
        return state, flushed

    def _merge(self, other: HostState, *, into: HostState) -> None:
        for obs in other.observations:
            self._keep(obs, into)
        into.duplicates += other.duplicates
        into.dropped += other.dropped
        into.notes.extend(n for n in other.notes[: MAX_NOTES - len(into.notes)] if n not in into.notes)
        if self._last is other:
            self._last = into

    def _pop(self, key: str) -> HostState:
        state = self.hosts.pop(key)
        for ip in state.ips:
            if self.ip_to_mac.get(ip) == state.mac:
                del self.ip_to_mac[ip]
        if self._last is state:
            self._last = None
        return state


def identify_stream(
    observations: Iterable[Observation | HostNote],
    *,
    host_sorted: bool = False,
    cap: int = DEFAULT_CAP,
    max_hosts: int = DEFAULT_MAX_HOSTS,
    on_date: date | None = None,
    hisilicon_covered: bool = False,
) -> Iterator[tuple[Device, Verdict]]:
    """Group ``observations`` by host (bounded, see module doc) and yield each host with its verdict."""
    grouper = HostGrouper(cap=cap, max_hosts=max_hosts, host_sorted=host_sorted)
    for item in observations:
        flushed = grouper.add(item)
        if flushed is not None:
            yield _identify(flushed, grouper.cap, on_date, hisilicon_covered)
    for state in grouper.finish():
        yield _identify(state, grouper.cap, on_date, hisilicon_covered)


def _identify(
    state: HostState, cap: int, on_date: date | None, hisilicon_covered: bool
) -> tuple[Device, Verdict]:
    from scanner.identify.verdict import identify

    device = Device.model_construct(ip=state.ip, mac=state.mac, observations=state.observations)
    verdict = identify(device, on_date=on_date, hisilicon_covered=hisilicon_covered)
    notes = list(state.notes)
    if state.dropped:
        notes.append(f"{state.dropped} further observations not kept (limit: {cap} distinct per host)")
    if notes:
        verdict = verdict.model_copy(update={"notes": [*verdict.notes, *notes]})
    return device, verdict


def read_observations(path: str | Path, fmt: Format, problems: Problems) -> Iterator[Observation | HostNote]:
    """Observations (and host notes) from a JSON Lines or nmap XML file; ``-`` reads standard input."""
    if fmt == "jsonl":
        from scanner.ingest.jsonl import read_jsonl

        return read_jsonl(path, problems)
    if fmt == "nmap-xml":
        from scanner.ingest.nmap_xml import read_nmap_xml

        return read_nmap_xml(path, problems)
    from scanner.errors import UsageError

    raise UsageError(f"unknown input format {fmt!r} (expected 'jsonl' or 'nmap-xml')")


def device_reports(
    path: str | Path,
    fmt: Format,
    problems: Problems,
    *,
    host_sorted: bool | None = None,
    cap: int = DEFAULT_CAP,
    evidence_only: bool = False,
    on_date: date | None = None,
    hisilicon_covered: bool = False,
) -> Iterator[DeviceReport]:
    """One DeviceReport per host in the file. ``host_sorted`` defaults to True for nmap XML only.

    ``evidence_only`` keeps in each report just the observations the verdict cites (else all kept ones).
    """
    from scanner.results import DeviceReport

    sorted_input = fmt == "nmap-xml" if host_sorted is None else host_sorted
    items = read_observations(path, fmt, problems)
    for device, verdict in identify_stream(
        items, host_sorted=sorted_input, cap=cap, on_date=on_date, hisilicon_covered=hisilicon_covered
    ):
        observations = device.observations
        if evidence_only:
            cited = {(e.signal, e.value) for e in verdict.evidence}
            observations = [o for o in observations if (o.signal, o.value) in cited]
        yield DeviceReport(
            ip=device.ip,
            mac=device.mac,
            hostnames=_hostnames(device),
            probes=device.probes(),
            verdict=verdict,
            observations=observations,
        )


def identify_file(
    path: str | Path,
    fmt: Format,
    problems: Problems,
    *,
    tool_version: str | None = None,
    host_sorted: bool | None = None,
    cap: int = DEFAULT_CAP,
    evidence_only: bool = False,
    on_date: date | None = None,
    hisilicon_covered: bool = False,
) -> ScanReport:
    """A ScanReport for an offline identification of ``path``; input problems are repeated in its notes."""
    from scanner import __version__
    from scanner.results import ProbeSummary, ScanReport

    seen: list[str] = []
    count = 0

    def record(line: int, message: str) -> None:
        nonlocal count
        count += 1
        if len(seen) < MAX_REPORT_PROBLEMS:
            seen.append(f"line {line}: {message}" if line else message)
        problems(line, message)

    started, clock = datetime.now(UTC), time.monotonic()
    devices = list(
        device_reports(
            path,
            fmt,
            record,
            host_sorted=host_sorted,
            cap=cap,
            evidence_only=evidence_only,
            on_date=on_date,
            hisilicon_covered=hisilicon_covered,
        )
    )
    name = "standard input" if str(path) == "-" else str(path)
    notes = [
        (
            f"offline identification of {name} ({fmt}): no packets were sent; "
            "verdicts rest only on what the file records"
        )
    ]
    if count:
        notes.append(f"{count} input problem(s) (malformed lines were skipped):")
        notes.extend(seen)
    summary = ProbeSummary(
        probe="nmap" if fmt == "nmap-xml" else "import",
        status="partial" if count else "success",
        duration=time.monotonic() - clock,
        notes=[f"read {name}"],
    )
    from scanner.identify.oui import load_registry

    return ScanReport(
        tool_version=tool_version or __version__,
        started_at=started,
        finished_at=datetime.now(UTC),
        probes=[summary],
        notes=notes,
        devices=devices,
        oui_registry_date=load_registry().date,
    )


def _hostnames(device: Device) -> list[str]:
    names = device.values("hostname") + device.values("mdns.hostname")
    return list(dict.fromkeys(names))
