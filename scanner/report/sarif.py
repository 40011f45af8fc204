"""SARIF 2.1.0 for GitHub code scanning and other SARIF viewers.

One result per covered, likely or suspected device; one rule per (status, covered entity), e.g.
``ndaa889/covered/hikvision``. Levels: ``error`` for covered, ``warning`` for likely and suspected.
Each result is located at the artifact ``network://<ip>/<mac>`` (line 1, as container scanners do for
images) and at a logical location of kind ``resource``; ``partialFingerprints`` keep one alert per device
across scans. A waived device carries an external suppression with the waiver as justification.

Hosts heard outside the targets are never results (they must not fail a code-scanning gate): each is a
``note``-level tool execution notification (descriptor ``ndaa889/heard-outside-targets``) and an entry of
``runs[0].properties.heard``, with ``heardCounts`` beside ``counts``.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from scanner.identify.models import Status
from scanner.report._text import (
    HEARD_TITLE,
    STATUS_TITLE,
    heard_devices,
    json_safe,
    maker,
    status_counts,
    switch_ports,
    visible,
)
from scanner.results import DeviceReport, ScanReport

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://www.acquisition.gov/far/52.204-25"
FINGERPRINT_KEY = "ndaaDevice/v1"
HEARD_DESCRIPTOR = "ndaa889/heard-outside-targets"

_REPORTED = (Status.COVERED, Status.LIKELY, Status.SUSPECTED)
_LEVEL = {Status.COVERED: "error", Status.LIKELY: "warning", Status.SUSPECTED: "warning"}
_PRECISION = {Status.COVERED: "high", Status.LIKELY: "medium", Status.SUSPECTED: "low"}
_SEVERITY = {Status.COVERED: "9.0", Status.LIKELY: "7.0", Status.SUSPECTED: "5.0"}
_MEANING = {
    Status.COVERED: "A strong, maker-specific signal identifies equipment produced by {entity}",
    Status.LIKELY: "Weaker evidence (such as a MAC OUI) points at equipment produced by {entity}",
    Status.SUSPECTED: "An unverified rebrand/OEM link or conflicting evidence points at {entity}",
}
_HELP = (
    "NDAA FY2019 section 889 and FAR 52.204-25 prohibit covered telecommunications and video surveillance "
    "equipment. Confirm the device's maker from the evidence, then report it to the contracting officer "
    "within one business day of identification (FAR 52.204-25(d)) and plan its removal or replacement. "
    "If an exception applies, record a waiver so later scans mark it as accepted."
)


def render(report: ScanReport) -> str:
    return json_safe(json.dumps(sarif_log(report), indent=2, ensure_ascii=False)) + "\n"


def sarif_log(report: ScanReport) -> dict[str, Any]:
    """The SARIF log as a dict: one run, its rules and results."""
    devices = [d for d in report.sorted_devices() if d.verdict.status in _REPORTED]
    rule_index: dict[str, int] = {}
    rules: list[dict[str, Any]] = []
    results = []
    for d in devices:
        rid = rule_id(d)
        if rid not in rule_index:
            rule_index[rid] = len(rules)
            rules.append(_rule(rid, d))
        results.append(_result(d, rid, rule_index[rid]))
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "ndaa-scanner",
                        "version": report.tool_version,
                        "informationUri": INFORMATION_URI,
                        "rules": rules,
                    }
                },
                "automationDetails": {"id": "ndaa-scanner/"},
                "invocations": [_invocation(report)],
                "results": results,
                "properties": {
                    "scanId": report.scan_id,
                    "complete": report.complete,
                    "targets": report.targets,
                    "ouiRegistryDate": report.oui_registry_date,
                    "counts": report.counts(),
                    "heardCounts": status_counts(heard_devices(report)),
                    "heard": [_heard_properties(d) for d in heard_devices(report)],
                },
            }
        ],
    }


def rule_id(d: DeviceReport) -> str:
    """'ndaa889/<status>/<entity slug>', e.g. 'ndaa889/likely/hikvision'."""
    entity = re.sub(r"[^a-z0-9]+", "-", (d.verdict.covered_entity or "").lower()).strip("-") or "unattributed"
    return f"ndaa889/{d.verdict.status.value}/{entity}"


def _rule(rid: str, d: DeviceReport) -> dict[str, Any]:
    status, entity = d.verdict.status, visible(d.verdict.covered_entity, 200) or "a covered entity"
    words = re.sub(
        r"[^A-Za-z0-9]+", " ", f"{STATUS_TITLE[status]} {d.verdict.covered_entity or ''} equipment"
    )
    return {
        "id": rid,
        "name": "".join(w[:1].upper() + w[1:] for w in words.split()),
        "shortDescription": {"text": f"{STATUS_TITLE[status]}: {entity} equipment (NDAA section 889)"},
        "fullDescription": {
            "text": _MEANING[status].format(entity=entity) + ", a section 889 covered entity."
        },
        "help": {"text": _HELP},
        "helpUri": INFORMATION_URI,
        "defaultConfiguration": {"level": _LEVEL[status]},
        "properties": {
            "tags": ["security", "ndaa-889", "supply-chain", status.value],
            "precision": _PRECISION[status],
            "security-severity": _SEVERITY[status],
        },
    }


def _invocation(report: ScanReport) -> dict[str, Any]:
    """Scan times and completeness; each failed probe as a tool execution notification."""
    invocation: dict[str, Any] = {
        "executionSuccessful": report.complete,
        "startTimeUtc": _utc(report.started_at),
    }
    if report.finished_at:
        invocation["endTimeUtc"] = _utc(report.finished_at)
    notes = [
        {
            "level": "warning",
            "message": {"text": _literal(f"probe {p.probe} {p.status}: {p.error}")},
            "descriptor": {"id": p.probe},
        }
        for p in report.probes
        if p.error
    ]
    notes += [{"level": "note", "message": {"text": _literal(n)}} for n in report.notes]
    notes += [
        {"level": "note", "message": {"text": _heard_message(d)}, "descriptor": {"id": HEARD_DESCRIPTOR}}
        for d in heard_devices(report)
    ]
    if notes:
        invocation["toolExecutionNotifications"] = notes
    return invocation


def _heard_message(d: DeviceReport) -> str:
    """'Heard outside the targets (not scanned): Covered: Hikvision DS-… at 10.9.0.5 / 58:50:…; …'."""
    return _literal(f"{HEARD_TITLE} (not scanned, not a result): {_message(d, literal=False)}")


def _heard_properties(d: DeviceReport) -> dict[str, Any]:
    v = d.verdict
    return {
        "ip": d.ip,
        "mac": d.mac,
        "status": v.status.value,
        "confidence": v.confidence,
        "coveredEntity": v.covered_entity,
        "vendor": v.vendor,
        "brand": v.brand,
        "model": v.model,
        "probes": d.probes,
    }


def _utc(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _result(d: DeviceReport, rid: str, index: int) -> dict[str, Any]:
    v = d.verdict
    result: dict[str, Any] = {
        "ruleId": rid,
        "ruleIndex": index,
        "level": _LEVEL[v.status],
        "message": {"text": _message(d)},
        "locations": [
            {
                "physicalLocation": {"artifactLocation": {"uri": device_uri(d)}, "region": {"startLine": 1}},
                "logicalLocations": [
                    {
                        "name": d.ip or d.mac or "unknown",
                        "kind": "resource",
                        "fullyQualifiedName": " ".join(p for p in (d.ip, d.mac) if p) or "unknown",
                    }
                ],
            }
        ],
        "partialFingerprints": {FINGERPRINT_KEY: _fingerprint(d)},
        "properties": {
            "status": v.status.value,
            "confidence": v.confidence,
            "coveredEntity": v.covered_entity,
            "vendor": v.vendor,
            "brand": v.brand,
            "brandMismatch": v.brand_mismatch,
            "model": v.model,
            "serial": v.serial,
            "firmware": v.firmware,
            "deviceType": v.device_type,
            "ip": d.ip,
            "mac": d.mac,
            "hostnames": d.hostnames,
            "switchPorts": switch_ports(d),  # collect snmp: where a switch learned the MAC
            "evidence": [e.model_dump(mode="json") for e in v.evidence],
        },
    }
    if v.waived:
        # No "status": a suppression without one is in effect; the vendored 2.1.0-rtm.4 schema predates it.
        result["suppressions"] = [{"kind": "external", "justification": v.waiver or "waived"}]
    return result


def device_uri(d: DeviceReport) -> str:
    """'network://192.168.1.64/58:50:ed:1f:e3:85' (IPv6 in brackets; anything odd percent-encoded)."""
    ip = d.ip or "unknown-ip"
    host = f"[{quote(ip, safe=':.')}]" if ":" in ip else quote(ip, safe=".")
    return f"network://{host}/{quote(d.mac or 'unknown-mac', safe=':')}"


def _fingerprint(d: DeviceReport) -> str:
    """Stable per device: its MAC (else IP), hashed."""
    return hashlib.sha256((d.mac or d.ip or "").encode()).hexdigest()[:32]


def _message(d: DeviceReport, *, literal: bool = True) -> str:
    v = d.verdict
    what = " ".join(p for p in (maker(v), v.model, f"({v.device_type})" if v.device_type else "") if p)
    text = f"{STATUS_TITLE[v.status]}: {what or 'device'} at {' / '.join(p for p in (d.ip, d.mac) if p)}"
    if v.covered_entity:
        text += f"; section 889 entity {v.covered_entity}"
    text += f"; confidence {v.confidence:.2f}."
    best = max((e for e in v.evidence if e.supports), key=lambda e: e.certainty, default=None)
    if best is not None:
        text += f' Strongest evidence: {best.probe} {best.signal} = "{best.value}".'
    ports = switch_ports(d)
    if ports:
        text += f" Switch port: {'; '.join(ports[:4])}."
    if v.brand_mismatch:
        text += " The label names one maker, the protocols another."
    if v.waived:
        text += f" Waived: {v.waiver or 'no reason recorded'}."
    return _literal(text) if literal else text


def _literal(text: str) -> str:
    """Plain SARIF message text: controls made visible; '[' and ']' escaped so no embedded link forms."""
    return re.sub(r"([\[\]])", r"\\\1", visible(text, 2000))
