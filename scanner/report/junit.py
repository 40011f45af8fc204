"""JUnit XML for CI dashboards (Jenkins, GitLab, GitHub test reporters): one testcase per device.

A device fails when its status is in ``fail_statuses`` (default: covered only; pass the ``--fail-on``
policy to match the exit code). A waived device in that set is ``<skipped>`` with the waiver as message.
An incomplete scan adds one ``scan completeness`` testcase with an ``<error>``. Hosts heard outside the
targets are a second testsuite whose testcases are ``<skipped>`` (never failures), unless ``fail_on_heard``
(as ``--fail-on-heard``): then they fail like the scan's own devices. Layout follows the common
JUnit XSD: ``testsuites > testsuite > (properties, testcase*, system-out, system-err)``.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Collection
from datetime import UTC
from xml.etree import ElementTree as ET

from scanner.identify.models import Status
from scanner.report._text import (
    HEARD_MEANING,
    HEARD_TITLE,
    STATUS_TITLE,
    evidence_line,
    heard_devices,
    maker,
    switch_ports,
    visible,
)
from scanner.results import DeviceReport, ScanReport

DEFAULT_FAIL_STATUSES = frozenset({Status.COVERED})
# XML 1.0 forbids these even as character references; visible() already escapes controls: a backstop.
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def render(
    report: ScanReport,
    *,
    fail_statuses: Collection[Status | str] | None = None,
    fail_on_heard: bool = False,
) -> str:
    failing = {Status(s) for s in fail_statuses} if fail_statuses is not None else DEFAULT_FAIL_STATUSES
    cases = [_device_case(d, failing) for d in report.sorted_devices()]
    if not report.complete:
        cases.append(_incomplete_case(report))
    heard = [_device_case(d, failing, heard=not fail_on_heard) for d in heard_devices(report)]
    duration = (report.finished_at - report.started_at).total_seconds() if report.finished_at else 0.0
    every = _totals(cases + heard, duration)
    root = ET.Element("testsuites", {"name": "ndaa-scanner", **every})  # the XSD has no 'skipped' here
    stamp = report.started_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    host = _x(socket.gethostname()) or "localhost"
    suite = _suite(root, f"ndaa-889 scan {report.scan_id or ''}".strip(), cases, duration, stamp, host, 0)
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("tool_version", report.tool_version),
        ("scan_id", report.scan_id or ""),
        ("complete", str(report.complete).lower()),
        ("targets", " ".join(report.targets)),
        ("oui_registry_date", report.oui_registry_date or "unknown"),
        ("fail_statuses", ",".join(sorted(s.value for s in failing))),
        ("fail_on_heard", str(fail_on_heard).lower()),
    ):
        ET.SubElement(props, "property", {"name": name, "value": _x(value)})
    suite.extend(cases)
    ET.SubElement(suite, "system-out").text = _body("\n".join(report.notes))
    ET.SubElement(suite, "system-err").text = _body(
        "\n".join(f"{p.probe} {p.status}: {p.error}" for p in report.probes if p.error)
    )
    if heard:
        heard_suite = _suite(root, f"ndaa-889 {HEARD_TITLE.lower()}", heard, 0.0, stamp, host, 1)
        heard_suite.extend(heard)
        ET.SubElement(heard_suite, "system-out").text = _body(f"{HEARD_TITLE}: {HEARD_MEANING}.")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def render_sites(
    sites: list[tuple[str, ScanReport]], *, fail_statuses: Collection[Status | str] | None = None
) -> str:
    """The central inventory of many sites (``ndaa-scan inventory -f junit``): one testsuite per site (its
    latest scan), each device a testcase whose classname starts with its site."""
    failing = {Status(s) for s in fail_statuses} if fail_statuses is not None else DEFAULT_FAIL_STATUSES
    suites: list[tuple[str, ScanReport, list[ET.Element]]] = []
    for site, report in sites:
        cases = [_device_case(d, failing) for d in report.sorted_devices()]
        for case in cases:
            case.set("classname", f"{_x(site)}.{case.get('classname')}")
        if not report.complete:
            cases.append(_incomplete_case(report))
        suites.append((site, report, cases))
    root = ET.Element(
        "testsuites", {"name": "ndaa-scanner inventory", **_totals([c for *_, cs in suites for c in cs], 0.0)}
    )
    host = _x(socket.gethostname()) or "localhost"
    for index, (site, report, cases) in enumerate(suites):
        stamp = report.started_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        suite = _suite(
            root, f"ndaa-889 site {site} scan {report.scan_id or ''}".strip(), cases, 0.0, stamp, host, index
        )
        props = ET.SubElement(suite, "properties")
        for name, value in (
            ("site", site),
            ("scan_id", report.scan_id or ""),
            ("complete", str(report.complete).lower()),
        ):
            ET.SubElement(props, "property", {"name": name, "value": _x(value)})
        suite.extend(cases)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _totals(cases: list[ET.Element], duration: float) -> dict[str, str]:
    return {
        "tests": str(len(cases)),
        "failures": str(sum(c.find("failure") is not None for c in cases)),
        "errors": str(sum(c.find("error") is not None for c in cases)),
        "time": f"{max(duration, 0.0):.3f}",
    }


def _suite(
    root: ET.Element, name: str, cases: list[ET.Element], duration: float, stamp: str, host: str, index: int
) -> ET.Element:
    return ET.SubElement(
        root,
        "testsuite",
        {
            "name": _x(name),
            **_totals(cases, duration),
            "skipped": str(sum(c.find("skipped") is not None for c in cases)),
            "timestamp": stamp,
            "hostname": host,
            "id": str(index),
            "package": "ndaa889",
        },
    )


def _device_case(d: DeviceReport, failing: Collection[Status], *, heard: bool = False) -> ET.Element:
    """A device's testcase; ``heard``: a host heard outside the targets, ``<skipped>`` (never a failure)."""
    v = d.verdict
    name = " ".join(p for p in (d.ip, d.mac, maker(v), v.model) if p) or "device"
    case = ET.Element(
        "testcase", {"name": _x(name, 200), "classname": f"ndaa889.{v.status.value}", "time": "0"}
    )
    summary = f"{STATUS_TITLE[v.status]}: {maker(v) or 'unknown maker'}"
    if v.covered_entity:
        summary += f" (section 889 entity {v.covered_entity})"
    summary += f", confidence {v.confidence:.2f}"
    details = "\n".join(evidence_line(e, limit=300) for e in v.evidence) or "no evidence"
    ports = switch_ports(d)
    details += "".join(f"\nswitch port: {p}" for p in ports[:8])
    if heard:
        message = f"heard outside the targets, not scanned: {summary}"
        ET.SubElement(case, "skipped", {"message": _x(message, 500)})
    elif v.status in failing:
        if v.waived:
            ET.SubElement(
                case, "skipped", {"message": _x(f"waived: {v.waiver or 'no reason recorded'}", 500)}
            )
        else:
            ET.SubElement(
                case, "failure", {"message": _x(summary, 500), "type": v.status.value}
            ).text = _body(details)
    ET.SubElement(case, "system-out").text = _body(f"{summary}\n{details}")
    return case


def _incomplete_case(report: ScanReport) -> ET.Element:
    case = ET.Element("testcase", {"name": "scan completeness", "classname": "ndaa889.scan", "time": "0"})
    failed = [f"{p.probe} {p.status}: {p.error}" for p in report.probes if p.error]
    ET.SubElement(
        case, "error", {"message": "scan incomplete: devices may be missing", "type": "incomplete"}
    ).text = _body("\n".join(failed + report.notes) or "no probe reported why")
    return case


def _x(text: str, limit: int | None = None) -> str:
    """Attribute text safe for XML 1.0: one line, controls shown as escapes, bounded."""
    return _NOT_XML.sub("\ufffd", visible(text, limit))


def _body(text: str) -> str:
    """Element text safe for XML 1.0: newlines kept, other controls shown as escapes."""
    return "\n".join(_x(line) for line in text.split("\n"))
