"""OCSF: one Device Inventory Info event (class_uid 5001, category Discovery, activity Collect) per device,
as JSON Lines, for security data lakes that speak the Open Cybersecurity Schema Framework.

Mapping (schema ocsf/ocsf-schema@a5cfc68, version 1.9.0-dev; the attributes used exist since 1.0):
``device`` holds what a network sees (ip, mac, hostname, vendor_name, model, type_id 7 "IOT" for cameras and
recorders, 10 switch, 12 router, 9 firewall, else 0 unknown); ``severity_id`` follows the verdict (covered 4
High, likely 3 Medium, suspected 2 Low, else 1 Informational); ``message`` is the verdict in one sentence;
the verdict itself (status, entity, lists, confidence, evidence) goes under ``unmapped.ndaa`` because OCSF has
no §889 attributes. ``time`` is the scan's end in milliseconds since the epoch, as OCSF's timestamp_t is.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from scanner.report._export import SEVERITY, TOOL, all_hosts, summary
from scanner.report._text import json_safe
from scanner.results import DeviceReport, ScanReport

CLASS_UID, CATEGORY_UID, ACTIVITY_COLLECT = 5001, 5, 2
SCHEMA_VERSION = "1.9.0-dev"
DEVICE_TYPE_IDS = {
    "camera": 7,
    "thermal-camera": 7,
    "nvr": 7,
    "dvr": 7,
    "doorbell": 7,
    "access-control": 7,
    "video-encoder": 7,
    "switch": 10,
    "router": 12,
    "firewall": 9,
}
DEVICE_TYPE_NAMES = {0: "Unknown", 7: "IOT", 9: "Firewall", 10: "Switch", 12: "Router"}


def render(report: ScanReport) -> str:
    when = report.finished_at or report.started_at
    millis = int(when.astimezone(UTC).timestamp() * 1000)
    return "".join(
        json_safe(json.dumps(_event(d, scope, report, millis), ensure_ascii=False)) + "\n"
        for d, scope in all_hosts(report)
    )


def _event(d: DeviceReport, host_scope: str, report: ScanReport, millis: int) -> dict[str, Any]:
    v = d.verdict
    severity_id, severity = SEVERITY[v.status]
    type_id = DEVICE_TYPE_IDS.get(v.device_type or "", 0)
    device: dict[str, Any] = {"type_id": type_id, "type": DEVICE_TYPE_NAMES[type_id]}
    for key, value in (
        ("ip", d.ip),
        ("mac", d.mac),
        ("hostname", d.hostnames[0] if d.hostnames else None),
        ("name", d.hostnames[0] if d.hostnames else d.ip),
        ("vendor_name", v.vendor),
        ("model", v.model),
        ("uid", d.mac or d.ip),
    ):
        if value:
            device[key] = value
    return {
        "activity_id": ACTIVITY_COLLECT,
        "activity_name": "Collect",
        "category_uid": CATEGORY_UID,
        "category_name": "Discovery",
        "class_uid": CLASS_UID,
        "class_name": "Device Inventory Info",
        "type_uid": CLASS_UID * 100 + ACTIVITY_COLLECT,
        "type_name": "Device Inventory Info: Collect",
        "severity_id": severity_id,
        "severity": severity,
        "time": millis,
        "message": summary(d),
        "metadata": {
            "version": SCHEMA_VERSION,
            "product": {"name": TOOL, "vendor_name": TOOL, "version": report.tool_version},
            **({"correlation_uid": report.scan_id} if report.scan_id else {}),
        },
        "device": device,
        "unmapped": {
            "ndaa": {
                "status": v.status.value,
                "confidence": v.confidence,
                "covered_entity": v.covered_entity,
                "lists": v.lists,
                "brand": v.brand,
                "serial": v.serial,
                "firmware": v.firmware,
                "waived": v.waived,
                "host_scope": host_scope,
                "evidence": [e.model_dump(mode="json") for e in v.evidence],
            }
        },
    }
