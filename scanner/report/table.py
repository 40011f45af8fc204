"""Terminal report (the default): scan facts, a count table, then each device (covered first) with evidence,
then, under its own heading, the hosts heard outside the targets (not in the counts).

Plain text unless ``color=True`` (``write_outputs`` sets it for a TTY without NO_COLOR). Plain output
is the same whatever the environment (width 120 unless given, no ANSI codes), so it is stable when piped.
Device strings are shown with control characters escaped, so a banner cannot drive the terminal.
"""

from __future__ import annotations

import io

from rich import box
from rich.console import Console, Group
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from scanner.identify.models import Evidence, Status
from scanner.report._text import (
    HEARD_SENTENCE,
    HEARD_TITLE,
    STATUS_TITLE,
    evidence_line,
    heard_devices,
    maker,
    status_counts,
    visible,
)
from scanner.results import DeviceReport, ScanReport

PLAIN_WIDTH = 120
EVIDENCE_VALUE_LIMIT = 60
EVIDENCE_SHOWN = 8  # supporting evidence lines per device; evidence against is always shown

STATUS_STYLE: dict[Status, str] = {
    Status.COVERED: "bold red",
    Status.LIKELY: "bold yellow",
    Status.SUSPECTED: "magenta",
    Status.NOT_COVERED: "green",
    Status.UNKNOWN: "dim",
}


def render(report: ScanReport, *, color: bool = False, width: int | None = None) -> str:
    buf = io.StringIO()
    console = Console(
        file=buf,
        width=width or PLAIN_WIDTH,
        force_terminal=color,
        color_system="standard" if color else None,
        no_color=not color,
        highlight=False,
        markup=False,
        emoji=False,
        soft_wrap=False,
        legacy_windows=False,
    )
    console.print(_heading(report))
    console.print(_counts_table(report))
    for device in report.sorted_devices():
        console.print(_device_block(device))
    heard = heard_devices(report)
    if heard:
        console.print(_heard_heading(heard))
        for device in heard:
            console.print(_device_block(device))
    text = buf.getvalue()
    return text if color else "\n".join(line.rstrip() for line in text.split("\n"))


def _heading(report: ScanReport) -> Text:
    text = Text()
    text.append(f"ndaa-scanner {visible(report.tool_version)}", style="bold")
    if report.scan_id:
        text.append(f"  scan {visible(report.scan_id)}")
    text.append("\n")
    when = report.started_at.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    if report.finished_at:
        when += f" ({(report.finished_at - report.started_at).total_seconds():.0f} s)"
    targets = ", ".join(visible(t) for t in report.targets) or "(none)"
    on = f" on {visible(report.interface)}" if report.interface else ""
    text.append(
        f"Targets {targets}{on}; started {when}; OUI registry {visible(report.oui_registry_date) or 'unknown'}\n"
    )
    if not report.complete:
        text.append("INCOMPLETE SCAN: devices may be missing\n", style="bold red")
    for p in report.probes:
        if p.error:
            text.append(
                f"probe {visible(p.probe)} {visible(p.status)}: {visible(p.error, 200)}\n", style="yellow"
            )
    for note in report.notes:
        text.append(f"note: {visible(note, 200)}\n")
    return text


def _counts_table(report: ScanReport) -> Table:
    counts = report.counts()
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for s in Status:
        table.add_column(STATUS_TITLE[s], justify="right", header_style=STATUS_STYLE[s])
    table.add_column("Waived", justify="right")
    table.add_row(*(str(counts[s.value]) for s in Status), str(sum(d.verdict.waived for d in report.devices)))
    return table


def _heard_heading(heard: list[DeviceReport]) -> Text:
    counts = status_counts(heard)
    shown = ", ".join(f"{counts[s.value]} {STATUS_TITLE[s].lower()}" for s in Status if counts[s.value])
    text = Text()
    text.append(f"{HEARD_TITLE.upper()} ({len(heard)}: {shown})\n", style="bold")
    text.append(f"{HEARD_SENTENCE}\n", style="dim")
    return text


def _evidence_to_show(evidence: list[Evidence]) -> tuple[list[Evidence], int]:
    """For the terminal: all evidence against; then the strongest supporting line of each probe, then
    the next strongest, one line per (probe, fingerprint) pair (the same match on another port adds
    nothing), at most EVIDENCE_SHOWN; report order kept."""
    keep: set[int] = {i for i, e in enumerate(evidence) if not e.supports}
    ranked = sorted((i for i, e in enumerate(evidence) if e.supports), key=lambda i: -evidence[i].certainty)
    seen: set[tuple[str, str]] = set()
    probes_shown: set[str] = set()
    budget = EVIDENCE_SHOWN
    for first_per_probe in (True, False):
        for i in ranked:
            e = evidence[i]
            key = (e.probe, e.matched)
            if budget == 0 or key in seen or (first_per_probe and e.probe in probes_shown):
                continue
            seen.add(key)
            probes_shown.add(e.probe)
            keep.add(i)
            budget -= 1
    return [e for i, e in enumerate(evidence) if i in keep], len(evidence) - len(keep)


def _device_block(device: DeviceReport) -> Group:
    """A heading line (status, IP, MAC, maker, model, entity, confidence), then its evidence, indented."""
    v = device.verdict
    head = Text()
    head.append(f"{STATUS_TITLE[v.status].upper():<15}", style=STATUS_STYLE[v.status])
    head.append(f" {visible(device.ip, 39) or '-':<15} {visible(device.mac, 40) or '-':<17}")
    what = " ".join(p for p in (visible(maker(v), 60), visible(v.model, 60), visible(v.device_type, 30)) if p)
    if what:
        head.append(f"  {what}", style="bold")
    facts = [f"entity {visible(v.covered_entity)}"] if v.covered_entity else []
    facts.append(f"confidence {v.confidence:.2f}")
    if v.brand_mismatch:
        facts.append("brand mismatch")
    if v.waived:
        facts.append("WAIVED")
    head.append(f"  [{', '.join(facts)}]")
    lines = [f"host name: {visible(h, 80)}" for h in device.hostnames]
    shown, hidden = _evidence_to_show(v.evidence)
    lines += [evidence_line(e, EVIDENCE_VALUE_LIMIT) for e in shown]
    if hidden:
        lines.append(f"… {hidden} more evidence line(s): every one is in -f json, html or markdown")
    if v.waived and v.waiver:
        lines.append(f"waiver: {visible(v.waiver, 200)}")
    lines += [f"note: {visible(n, 200)}" for n in v.notes]
    if not v.evidence:
        lines.append(f"no evidence ({', '.join(visible(p) for p in device.probes) or 'no probe'} answered)")
    return Group(head, Padding(Text("\n".join(lines)), (0, 0, 1, 4), expand=False))
