"""Compliance report (Markdown) for a FAR 52.204-25(d) report to the contracting officer.

Per finding (covered, likely, suspected): covered entity, manufacturer, brand, model, serial or other
identifier, item description, IP and MAC, where and when found, evidence, waiver. Dated by the scan,
with the one-business-day deadline, the scan's completeness and the OUI registry date; the contract
fields only the contractor knows (contract and order numbers, supplier, UEI, CAGE) are left blank to fill.
Hosts heard outside the targets are listed apart, as leads to confirm, never as findings.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from scanner.identify.models import Status, Verdict
from scanner.report._markdown_text import code, md
from scanner.report._text import HEARD_TITLE, STATUS_TITLE, flagged, heard_devices, maker, switch_ports
from scanner.report.markdown import evidence_item
from scanner.results import DeviceReport, ScanReport

BLANK = "\\_\\_\\_\\_\\_\\_\\_\\_"
_CONTRACT_FIELDS = (
    "Contract number",
    "Order number(s)",
    "Supplier name",
    "Supplier unique entity identifier (UEI)",
    "Supplier CAGE code",
)


def render(report: ScanReport) -> str:
    found = (report.finished_at or report.started_at).astimezone(UTC)
    findings = [d for d in report.sorted_devices() if flagged(d)]
    out = ["# NDAA §889 covered telecommunications equipment report", ""]
    out += [
        f"**Report date:** {found.date().isoformat()} (date of identification: the scan "
        f"{'finished' if report.finished_at else 'started'} {_ts(found)})  ",
        f"**Prepared with:** ndaa-scanner {md(report.tool_version)}"
        + (f", scan {code(report.scan_id)}" if report.scan_id else ""),
        "",
    ]
    out += ["## Scan", ""] + _scan_section(report) + [""]
    out += ["## Reporting duty", ""] + _duty_section(found.date(), findings) + [""]
    out += ["## Findings", ""]
    if not findings:
        out += [
            "No covered, likely or suspected equipment was found"
            + ("." if report.complete else ", but the scan was incomplete (see above)."),
            "",
        ]
    for i, d in enumerate(findings, 1):
        out += _finding(i, d, report)
    out += _heard_section(report)
    counts = report.counts()
    out += [
        "## Devices not listed",
        "",
        f"{counts[Status.NOT_COVERED.value]} identified as made by a maker that is not covered; "
        f"{counts[Status.UNKNOWN.value]} could not be identified (no usable evidence). See the full scan "
        "report for them.",
        "",
    ]
    return "\n".join(out)


def _heard_section(report: ScanReport) -> list[str]:
    """Covered, likely or suspected hosts heard outside the targets: not findings; scan them to confirm."""
    heard = heard_devices(report)
    if not heard:
        return []
    flagged_heard = [d for d in heard if flagged(d)]
    out = [
        f"## {HEARD_TITLE}",
        "",
        f"{len(heard)} host(s) outside the scanned targets answered a multicast or broadcast probe. They were "
        "not scanned, so they are not findings of this report; the ones below point at a covered entity by "
        "their own replies alone. Scan their addresses to confirm before reporting them.",
        "",
    ]
    if not flagged_heard:
        return [*out, "None of them points at a covered entity.", ""]
    out += [
        "| Verdict | Covered entity | Maker | Model | IP address | MAC address |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for d in flagged_heard:
        v = d.verdict
        out.append(
            f"| {STATUS_TITLE[v.status]} ({v.confidence:.2f}) | {md(v.covered_entity) or 'not determined'} "
            f"| {md(maker(v)) or 'not determined'} | {code(v.model, 60, in_table=True) or 'not found'} "
            f"| {code(d.ip, in_table=True) or 'not found'} | {code(d.mac, in_table=True) or 'not found'} |"
        )
    return [*out, ""]


def _ts(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _scan_section(report: ScanReport) -> list[str]:
    counts = report.counts()
    waived = sum(d.verdict.waived for d in report.devices)
    seen = ", ".join(f"{counts[s.value]} {STATUS_TITLE[s].lower()}" for s in Status)
    end = _ts(report.finished_at) if report.finished_at else "not recorded"
    failed = [f"{md(p.probe)} ({md(p.status)}: {md(p.error)})" for p in report.probes if p.error]
    if report.complete:
        completeness = "**Complete**: every probe ran."
    else:
        completeness = (
            "**INCOMPLETE**: "
            + ("; ".join(failed) if failed else "some probes did not finish")
            + ". Equipment may be missing from this report; scan again before relying on it."
        )
    return [
        f"- **Where:** targets {', '.join(code(t) for t in report.targets) or 'not recorded'}"
        f"{', interface ' + code(report.interface) if report.interface else ''}",
        f"- **When:** {_ts(report.started_at)} to {end}",
        f"- **Completeness:** {completeness}",
        *(f"- **Note:** {md(n)}" for n in report.notes),
        f"- **OUI registry date:** {md(report.oui_registry_date) or 'unknown'} (IEEE registry used to name "
        "the maker behind each MAC address)",
        f"- **Devices seen:** {len(report.devices)} ({seen}; {waived} waived)",
    ]


def next_business_day(day: date) -> date:
    """The next Monday-to-Friday day after ``day`` (federal holidays not considered)."""
    nxt = day + timedelta(days=1)
    while nxt.weekday() >= 5:
        nxt += timedelta(days=1)
    return nxt


def _duty_section(found: date, findings: list[DeviceReport]) -> list[str]:
    to_report = [d for d in findings if d.verdict.status is Status.COVERED and not d.verdict.waived]
    out = [
        "FAR 52.204-25(d)(1): covered equipment identified during contract performance is reported to the "
        "contracting officer (Department of Defense contracts: https://dibnet.dod.mil) within one business "
        f"day of identification: by **{next_business_day(found).isoformat()}** for this scan (weekends "
        "skipped; federal holidays not considered). Further mitigation information follows within 10 "
        "business days (d)(2)(ii).",
        "",
        f"Covered and not waived: **{len(to_report)}**. Likely and suspected findings need confirmation "
        "(for example by inspecting the label or the device's own management page) before they are reported.",
        "",
        "Fields of FAR 52.204-25(d)(2)(i) that only the contractor can fill in:",
        "",
        "| Field | Value |",
        "| --- | --- |",
    ]
    return out + [f"| {f} | {BLANK} |" for f in _CONTRACT_FIELDS]


def _finding(i: int, d: DeviceReport, report: ScanReport) -> list[str]:
    v = d.verdict
    seen = sorted(o.seen_at for o in d.observations)
    when = (
        f"{_ts(seen[0])} to {_ts(seen[-1])}" if seen else f"during the scan starting {_ts(report.started_at)}"
    )
    where = " ".join(p for p in (code(d.ip, in_table=True), code(d.mac, in_table=True)) if p)
    if report.interface:
        where += f" via interface {code(report.interface, in_table=True)}"
    identifier = code(v.serial, in_table=True) or (
        f"MAC {code(d.mac, in_table=True)}" if d.mac else "none found"
    )
    description = ", ".join(
        p
        for p in (md(v.device_type), f"firmware {code(v.firmware, in_table=True)}" if v.firmware else "")
        if p
    )
    ports = switch_ports(d)
    rows = [
        (
            "Verdict",
            f"{STATUS_TITLE[v.status]} (confidence {v.confidence:.2f})"
            + ("; the label names one maker, the protocols another" if v.brand_mismatch else ""),
        ),
        ("Covered entity", md(v.covered_entity) or "not determined"),
        ("Clause", md(v.scope) or "not determined"),
        ("Manufacturer", md(v.vendor) or "not determined"),
        ("Brand", md(v.brand or v.vendor) or "not determined"),
        ("Model number", code(v.model, in_table=True) or "not found"),
        ("Serial number / identifier", identifier),
        ("Item description", description or "not determined"),
        ("IP address", code(d.ip, in_table=True) or "not found"),
        ("MAC address", code(d.mac, in_table=True) or "not found"),
        ("Host names", ", ".join(code(h, in_table=True) for h in d.hostnames) or "none"),
        ("Where found", where or "not recorded"),
        *([("Switch port", "; ".join(md(p) for p in ports[:8]))] if ports else []),
        ("When found", when),
        ("Waiver", _waiver(v)),
        ("Mitigation", BLANK),
    ]
    title = " ".join(p for p in (md(maker(v)), code(v.model, 60)) if p) or "unidentified device"
    out = [
        f"### Finding {i}: {STATUS_TITLE[v.status]}{' (waived)' if v.waived else ''}: {title}",
        "",
        "| Field | Value |",
        "| --- | --- |",
    ] + [f"| {k} | {val} |" for k, val in rows]
    out += ["", "Evidence:", ""] + ([f"- {evidence_item(e)}" for e in v.evidence] or ["- none recorded"])
    return out + [""]


def _waiver(v: Verdict) -> str:
    """The waiver row: the active waiver, an expired one (bold, with its date: the device counts again), or none."""
    if v.waived:
        return md(v.waiver) or "waived, no reason recorded"
    if v.waiver_expired:
        return f"**EXPIRED** {md(v.waiver_expired)}: not waived"
    return "none"
