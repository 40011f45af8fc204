"""Terminal report (the default). Compact: scan facts, one line per device (covered first: status, IP, MAC,
maker and model, entity, the strongest evidence in plain words), the hosts heard outside the targets under
their own heading, and a summary by status and by entity. With ``evidence=True`` (``--evidence``): a count
table, then each device with its evidence lines (fingerprint ids included), notes and waiver.

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
    plain_evidence,
    status_counts,
    strongest,
    switch_ports,
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


def render(
    report: ScanReport, *, color: bool = False, width: int | None = None, evidence: bool = False
) -> str:
    """One line per device and a summary by status and by entity (default), or, with ``evidence``, each
    device with its evidence lines, notes and waiver."""
    return (_detailed if evidence else _compact)(report, _console(color, width), color)


def _console(color: bool, width: int | None) -> Console:
    return Console(
        file=io.StringIO(),
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


def _text_of(console: Console, color: bool) -> str:
    text = console.file.getvalue()  # type: ignore[attr-defined]
    return str(text) if color else "\n".join(line.rstrip() for line in str(text).split("\n"))


def _compact(report: ScanReport, console: Console, color: bool) -> str:
    console.print(_heading(report))
    for device in report.sorted_devices():
        console.print(_device_line(device), no_wrap=True, overflow="ellipsis")
    heard = heard_devices(report)
    if heard:
        console.print(_heard_heading(heard))
        for device in heard:
            console.print(_device_line(device), no_wrap=True, overflow="ellipsis")
    console.print(_summary(report))
    return _text_of(console, color)


def _device_line(device: DeviceReport) -> Text:
    """STATUS  IP  MAC  maker model  [entity]  the strongest evidence in plain words — on one line."""
    v = device.verdict
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(f"{STATUS_TITLE[v.status].upper():<15}", style=STATUS_STYLE[v.status])
    line.append(f" {_address(device):<15} {visible(device.mac, 40) or '-':<17}")
    what = " ".join(p for p in (visible(maker(v), 40), visible(v.model, 30)) if p) or "-"
    line.append(f"  {what}", style="bold")
    tags = [visible(v.covered_entity)] if v.covered_entity and v.covered_entity not in what else []
    if v.waived:
        tags.append("WAIVED")
    if v.lists and v.lists != ["far_889", "fcc_covered"]:
        tags.append(", ".join(v.lists))
    if tags:
        line.append(f"  [{'; '.join(tags)}]")
    located = switch_ports(device)
    if located:
        line.append(
            f"  at {visible(located[0], 80)}" + (f" (+{len(located) - 1})" if len(located) > 1 else "")
        )
    best = strongest(v.evidence)
    if best is not None:
        line.append(f"  {plain_evidence(best)}", style="dim" if v.status is Status.UNKNOWN else "")
    elif not v.evidence:
        line.append("  no evidence", style="dim")
    return line


def _address(device: DeviceReport) -> str:
    """The IP, with the host name the user gave as the target beside it."""
    ip = visible(device.ip, 39) or "-"
    return f"{ip} ({visible(device.hostname, 80)})" if device.hostname else ip


def _summary(report: ScanReport) -> Text:
    """'By status: 2 covered, …' and 'By entity: Hikvision 2 (2 covered), …' (the targets only)."""
    counts = report.counts()
    text = Text()
    by_status = ", ".join(f"{counts[s.value]} {STATUS_TITLE[s].lower()}" for s in Status if counts[s.value])
    waived = sum(d.verdict.waived for d in report.devices)
    text.append(
        f"\n{len(report.devices)} device(s): {by_status or 'none'}" + (f"; {waived} waived" if waived else "")
    )
    entities: dict[str, dict[str, int]] = {}
    for d in report.devices:
        if d.verdict.covered_entity:
            per = entities.setdefault(d.verdict.covered_entity, {})
            per[d.verdict.status.value] = per.get(d.verdict.status.value, 0) + 1
    if entities:
        parts = [
            f"{visible(e)} {sum(c.values())} ({', '.join(f'{c[s.value]} {s.value}' for s in Status if s.value in c)})"
            for e, c in sorted(entities.items(), key=lambda kv: -sum(kv[1].values()))
        ]
        text.append(f"\nBy entity: {'; '.join(parts)}")
    text.append(
        "\nEvidence: --evidence (or -f json / html) shows every observation behind each verdict.", style="dim"
    )
    return text


def _detailed(report: ScanReport, console: Console, color: bool) -> str:
    console.print(_heading(report))
    console.print(_counts_table(report))
    for device in report.sorted_devices():
        console.print(_device_block(device))
    heard = heard_devices(report)
    if heard:
        console.print(_heard_heading(heard))
        for device in heard:
            console.print(_device_block(device))
    return _text_of(console, color)


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
    head.append(f" {_address(device):<15} {visible(device.mac, 40) or '-':<17}")
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
