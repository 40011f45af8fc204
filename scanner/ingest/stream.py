"""Group a stream of observations by host with bounded state, and identify each host.

The grouping rule is ``scanner.observations.HostGrouper``, the one rule (live scans use it too, with
``cap=None, max_hosts=None``: every observation kept). Memory bound for files: at most ``max_hosts``
hosts are held at once, each with at most ``cap`` distinct (signal, value) observations and
``MAX_NOTES`` notes, so the state is O(max_hosts × cap) whatever the length of the input. Identical
(signal, value) pairs of one host are kept once; observations past ``cap`` are counted (repeats
included), not kept, and the verdict says how many. A host is identified when its state is flushed: at
the end of the input; when the input is host-sorted (``host_sorted=True``, as nmap XML always is) and
the next observation belongs to another host; or, when ``max_hosts`` hosts are held, the host held
longest is flushed to make room (it is then reported again if it reappears).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal

from scanner.observations import (
    DEFAULT_CAP,
    DEFAULT_MAX_HOSTS,
    MAX_NOTES,
    Device,
    HostGrouper,
    HostNote,
    HostState,
    Observation,
)

if TYPE_CHECKING:
    from scanner.identify.models import Verdict
    from scanner.results import DeviceReport, ScanReport

__all__ = [  # the grouping names are re-exported: ingest code and its tests know them from here
    "MAX_NOTES",
    "HostGrouper",
    "HostNote",
    "HostState",
    "device_reports",
    "identify_file",
    "identify_stream",
    "read_observations",
]

MAX_REPORT_PROBLEMS = 20  # problem lines repeated in an offline report's notes

Format = Literal["jsonl", "nmap-xml", "dhcp-leases", "pcap"]
Problems = Callable[[int, str], None]


def identify_stream(
    observations: Iterable[Observation | HostNote],
    *,
    host_sorted: bool = False,
    cap: int | None = DEFAULT_CAP,
    max_hosts: int | None = DEFAULT_MAX_HOSTS,
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
    state: HostState, cap: int | None, on_date: date | None, hisilicon_covered: bool
) -> tuple[Device, Verdict]:
    from scanner.identify.verdict import identify

    device = state.device()
    verdict = identify(device, on_date=on_date, hisilicon_covered=hisilicon_covered)
    notes = list(state.notes)
    if state.dropped:
        notes.append(f"{state.dropped} further observations not kept (limit: {cap} distinct per host)")
    if notes:
        verdict = verdict.model_copy(update={"notes": [*verdict.notes, *notes]})
    return device, verdict


def read_observations(
    path: str | Path | BinaryIO, fmt: Format, problems: Problems
) -> Iterator[Observation | HostNote]:
    """Observations (and host notes) from a JSON Lines or nmap XML file; ``-`` reads standard input."""
    if fmt == "jsonl":
        from scanner.ingest.jsonl import read_jsonl

        return read_jsonl(path, problems)
    if fmt == "nmap-xml":
        from scanner.ingest.nmap_xml import read_nmap_xml

        return read_nmap_xml(path, problems)
    if fmt == "dhcp-leases":
        from scanner.ingest.dhcp_leases import read_dhcp_leases

        return read_dhcp_leases(path, problems)
    if fmt == "pcap":
        from scanner.ingest.pcap import read_pcap

        return read_pcap(path, problems)
    from scanner.errors import UsageError

    raise UsageError(f"unknown input format {fmt!r} (expected 'jsonl', 'nmap-xml', 'dhcp-leases' or 'pcap')")


def device_reports(
    path: str | Path | BinaryIO,
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
        yield DeviceReport.of(device, verdict, evidence_only=evidence_only)


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
    from scanner.discovery.base import ProbeStatus
    from scanner.results import ProbeSummary, build_report

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
        probe={"nmap-xml": "nmap", "dhcp-leases": "dhcp-leases", "pcap": "pcap"}.get(fmt, "import"),
        status=ProbeStatus.PARTIAL if count else ProbeStatus.SUCCESS,
        duration=time.monotonic() - clock,
        notes=[f"read {name}"],
    )
    return build_report(
        devices, tool_version=tool_version, started_at=started, probes=[summary], notes=notes, as_of=on_date
    )
