"""CycloneDX 1.6 JSON: a hardware bill of materials, one ``device`` component per device found.

Each component carries what identifies the hardware (manufacturer, model as ``name``, firmware as
``version``, serial and addresses as properties) and the verdict as properties in the ``ndaa-scanner:``
namespace (status, covered entity, lists, confidence, the strongest evidence). The BOM's ``serialNumber`` is
derived from the scan id (the same scan gives the same BOM serial), ``metadata.tools`` names this scanner.
Validated against the official CycloneDX 1.6 JSON schema (cyclonedx-python-lib) in the tests.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC
from typing import Any

from scanner.report._export import TOOL, all_hosts, strongest_evidence
from scanner.report._text import json_safe
from scanner.results import DeviceReport, ScanReport

SPEC_VERSION = "1.6"
PREFIX = "ndaa-scanner:"


def render(report: ScanReport) -> str:
    when = (report.finished_at or report.started_at).astimezone(UTC).isoformat().replace("+00:00", "Z")
    serial = (
        uuid.uuid5(uuid.NAMESPACE_URL, f"ndaa-scanner:{report.scan_id}") if report.scan_id else uuid.uuid4()
    )
    bom: dict[str, Any] = {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": serial.urn,
        "version": 1,
        "metadata": {
            "timestamp": when,
            "tools": {"components": [{"type": "application", "name": TOOL, "version": report.tool_version}]},
            "properties": _props(
                ("scan_id", report.scan_id),
                ("targets", ", ".join(report.targets)),
                ("complete", str(report.complete).lower()),
                ("oui_registry_date", report.oui_registry_date),
                ("data_version", report.data_version),
                ("as_of", report.as_of.isoformat() if report.as_of else None),
            ),
        },
        "components": [_component(d, scope, n) for n, (d, scope) in enumerate(all_hosts(report), 1)],
    }
    return json_safe(json.dumps(bom, indent=2, ensure_ascii=False)) + "\n"


def _component(d: DeviceReport, host_scope: str, n: int) -> dict[str, Any]:
    v = d.verdict
    component: dict[str, Any] = {
        "type": "device",
        "bom-ref": f"device-{n}-{d.mac or d.ip or 'unknown'}",
        "name": v.model or v.device_type or "unidentified device",
    }
    if v.vendor:
        component["manufacturer"] = {"name": v.vendor}
    if v.firmware:
        component["version"] = v.firmware
    component["description"] = " ".join(
        filter(None, (v.brand or v.vendor, v.device_type, f"at {d.ip or d.mac}"))
    )
    component["properties"] = _props(
        ("status", v.status.value),
        ("covered_entity", v.covered_entity),
        ("lists", ", ".join(v.lists)),
        ("confidence", f"{v.confidence:.2f}"),
        ("brand", v.brand),
        ("serial", v.serial),
        ("ip", d.ip),
        ("mac", d.mac),
        ("hostnames", ", ".join(d.hostnames)),
        ("waived", str(v.waived).lower()),
        ("waiver", v.waiver),
        ("host_scope", host_scope),
        ("strongest_evidence", strongest_evidence(v)),
        ("evidence_count", str(len(v.evidence))),
    )
    return component


def _props(*pairs: tuple[str, str | None]) -> list[dict[str, str]]:
    return [{"name": PREFIX + name, "value": value} for name, value in pairs if value]
