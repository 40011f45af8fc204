"""Markdown (GitHub flavoured): scan facts, counts, a device table covered first, then each device's evidence.

Hosts heard outside the targets follow in their own section (table and evidence), not in the counts.
For pull-request comments, wikis and tickets. Device strings are in code spans, so a banner cannot
inject HTML, links or formatting.
"""

from __future__ import annotations

from scanner.identify.models import Evidence, Status
from scanner.report._markdown_text import code, md
from scanner.report._text import (
    DOCUMENT_PUNCTUATION,
    HEARD_SENTENCE,
    HEARD_TITLE,
    STATUS_TITLE,
    EvidenceStyle,
    format_evidence,
    heard_devices,
    maker,
)
from scanner.results import DeviceReport, ScanReport


def render_inventory(sites: list[tuple[str, ScanReport, dict[str, int]]], generated_at: str) -> str:
    """The central inventory of many sites (``ndaa-scan inventory -f markdown``): each site's latest scan
    and its counts (``sites``: name, the scan with the devices listed, the scan's full counts), then one
    device table with a Site column, then each device's evidence under its site."""
    out = [
        "# NDAA §889 inventory",
        "",
        f"Generated {md(generated_at)}; {len(sites)} site(s).",
        "",
        "## Sites",
        "",
    ]
    head = ["Site", "Scan", "Started", "Complete", *(STATUS_TITLE[s] for s in Status), "Devices"]
    out += [f"| {' | '.join(head)} |", "| --- | --- | --- | --- |" + " ---: |" * (len(Status) + 1)]
    for site, report, counts in sites:
        cells = [str(counts.get(s.value, 0)) for s in Status]
        out.append(
            f"| {md(site)} | {code(report.scan_id, in_table=True)} | {report.started_at.isoformat()} "
            f"| {'yes' if report.complete else '**no**'} | {' | '.join(cells)} | {sum(counts.values())} |"
        )
    rows = [(site, d) for site, report, _ in sites for d in report.sorted_devices()]
    out += ["", "## Devices", ""] + _device_table([d for _, d in rows], [site for site, _ in rows])
    out += ["", "## Evidence"]
    for i, (site, d) in enumerate(rows, 1):
        title = f"### {i}. {md(site)}: {STATUS_TITLE[d.verdict.status]}: {code(d.ip)} {code(d.mac)}"
        out += ["", title.rstrip(), ""] + device_details(d)
    return "\n".join(out) + "\n"


def render(report: ScanReport) -> str:
    devices = report.sorted_devices()
    out = [f"# NDAA §889 scan report{' ' + code(report.scan_id) if report.scan_id else ''}", ""]
    out += scan_facts(report)
    out += ["", "## Summary", ""] + counts_table(report)
    out += ["", "## Devices", ""] + _device_table(devices)
    if report.probes:
        out += ["", "## Probes", ""] + _probe_table(report)
    out += ["", "## Evidence"]
    for i, d in enumerate(devices, 1):
        out += ["", f"### {i}. {STATUS_TITLE[d.verdict.status]}: {code(d.ip)} {code(d.mac)}".rstrip(), ""]
        out += device_details(d)
    heard = heard_devices(report)
    if heard:
        out += ["", f"## {HEARD_TITLE}", "", HEARD_SENTENCE, ""]
        out += _device_table(heard)
        for i, d in enumerate(heard, 1):
            title = f"### H{i}. {STATUS_TITLE[d.verdict.status]} (heard): {code(d.ip)} {code(d.mac)}"
            out += ["", title.rstrip(), ""] + device_details(d)
    return "\n".join(out) + "\n"


def scan_facts(report: ScanReport) -> list[str]:
    """A two-column table of the scan's own facts, then a warning when the scan was incomplete."""
    finished = report.finished_at.isoformat() if report.finished_at else "not recorded"
    rows = [
        ("Tool", f"ndaa-scanner {md(report.tool_version)}"),
        ("Started", report.started_at.isoformat()),
        ("Finished", finished),
        ("Targets", ", ".join(code(t, in_table=True) for t in report.targets) or "none recorded"),
        ("Interface", code(report.interface, in_table=True) or "default"),
        ("Scan complete", "yes" if report.complete else "**no**: some probes failed; devices may be missing"),
        ("OUI registry date", md(report.oui_registry_date) or "unknown"),
    ]
    out = ["| Fact | Value |", "| --- | --- |"] + [f"| {k} | {v} |" for k, v in rows]
    problems = [f"{md(p.probe)} {md(p.status)}: {md(p.error)}" for p in report.probes if p.error]
    problems += [md(n) for n in report.notes]
    if problems:
        out += [""] + [f"> {p}  " for p in problems]
    return out


def counts_table(report: ScanReport) -> list[str]:
    counts = report.counts()
    waived = sum(d.verdict.waived for d in report.devices)
    head = [STATUS_TITLE[s] for s in Status] + ["Waived", "Total"]
    cells = [str(counts[s.value]) for s in Status] + [str(waived), str(len(report.devices))]
    return [f"| {' | '.join(head)} |", f"|{' ---: |' * len(head)}", f"| {' | '.join(cells)} |"]


def _device_table(devices: list[DeviceReport], sites: list[str] | None = None) -> list[str]:
    """The device table; ``sites``: each device's site, in a first column (the inventory of many sites)."""
    site_head = ("| Site ", "| --- ") if sites is not None else ("", "")
    out = [
        f"{site_head[0]}| # | Status | IP | MAC | Maker | Model | Entity | Confidence |",
        f"{site_head[1]}| ---: | --- | --- | --- | --- | --- | --- | ---: |",
    ]
    for i, d in enumerate(devices, 1):
        v = d.verdict
        status = STATUS_TITLE[v.status] + (" (waived)" if v.waived else "")
        site = f"| {md(sites[i - 1])} " if sites is not None else ""
        out.append(
            f"{site}| {i} | {status} | {_ip(d)} | {code(d.mac, in_table=True)} | {md(maker(v))} "
            f"| {code(v.model, 60, in_table=True)} | {md(v.covered_entity)} | {v.confidence:.2f} |"
        )
    return out


def _ip(d: DeviceReport) -> str:
    """The IP cell: the address, and the host name the user gave for it."""
    ip = code(d.ip, in_table=True)
    return f"{ip} ({code(d.hostname, 80, in_table=True)})" if d.hostname else ip


def _probe_table(report: ScanReport) -> list[str]:
    out = ["| Probe | Status | Seconds | Error |", "| --- | --- | ---: | --- |"]
    out += [f"| {md(p.probe)} | {md(p.status)} | {p.duration:.1f} | {md(p.error)} |" for p in report.probes]
    return out


def device_details(d: DeviceReport) -> list[str]:
    """Bullets: identity fields, waiver, notes, then one sub-bullet per evidence item."""
    v = d.verdict
    facts = [
        ("Maker", md(maker(v))),
        ("Entity", md(v.covered_entity)),
        ("Scope", md(v.scope)),
        ("Type", md(v.device_type)),
        ("Model", code(v.model)),
        ("Serial", code(v.serial)),
        ("Firmware", code(v.firmware)),
        ("Host names", ", ".join(code(h) for h in d.hostnames)),
        ("Probes that answered", md(", ".join(d.probes))),
        ("Confidence", f"{v.confidence:.2f}"),
    ]
    out = [f"- **{k}:** {val}" for k, val in facts if val]
    if v.brand_mismatch:
        out.append("- **Brand mismatch:** the label names one maker, the protocols another")
    if v.waived:
        out.append(f"- **Waived:** {md(v.waiver) or 'no reason recorded'}")
    out += [f"- **Note:** {md(n)}" for n in v.notes]
    out.append("- **Evidence:**" if v.evidence else "- **Evidence:** none")
    out += [f"  - {evidence_item(e)}" for e in v.evidence]
    return out


MARKDOWN_EVIDENCE = EvidenceStyle(
    "{sign}: {probe} {signal}{port} = {value}{target} ({certainty}); matched {matched}{note}",
    text=md,
    code=code,
    signs=("supports", "against"),
    port=" port {}",
    value_limit=200,
    empty_value="(empty)",
    **DOCUMENT_PUNCTUATION,
)


def evidence_item(e: Evidence) -> str:
    """'supports: sadp `sadp.DeviceDescription` = `DS-…` → Hikvision (0.95); matched `file:id`'."""
    return format_evidence(e, MARKDOWN_EVIDENCE)
