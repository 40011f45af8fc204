"""Elastic Common Schema: one NDJSON document per device, ready for an Elasticsearch bulk load or a Filebeat
input (ECS 9.4, checked field by field against ECS's generated field list in the tests).

``event.kind: asset`` (ECS: "information about an asset"), ``event.category: [host]``,
``event.type: [info]``; ``host.*`` is the device as the network sees it (ip, mac in ECS's upper-case,
hyphen-separated notation, name), ``device.*`` its maker, model and serial, ``observer.*`` this scanner;
``event.severity`` follows the verdict (covered 4 … informational 1). ECS has no §889 fields: the verdict
goes into ``labels`` (``ndaa_status``, ``ndaa_covered_entity``, ``ndaa_lists`` …, keyword values) and
``message`` says it in one sentence.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from scanner.report._export import SEVERITY, TOOL, all_hosts, summary
from scanner.report._text import json_safe
from scanner.results import DeviceReport, ScanReport

ECS_VERSION = "9.4.0"


def render(report: ScanReport) -> str:
    return "".join(
        json_safe(json.dumps(_doc(d, scope, report), ensure_ascii=False)) + "\n"
        for d, scope in all_hosts(report)
    )


def _doc(d: DeviceReport, host_scope: str, report: ScanReport) -> dict[str, Any]:
    v = d.verdict
    when = (report.finished_at or report.started_at).astimezone(UTC).isoformat().replace("+00:00", "Z")
    host: dict[str, Any] = {}
    if d.ip:
        host["ip"] = [d.ip]
    if d.mac:
        host["mac"] = [d.mac.upper().replace(":", "-")]
    name = d.hostnames[0] if d.hostnames else d.ip or d.mac
    if name:
        host["name"] = name
    if d.hostnames:
        host["hostname"] = d.hostnames[0]
    device: dict[str, Any] = {}
    if v.vendor:
        device["manufacturer"] = v.vendor
    if v.model:
        device["model"] = {"identifier": v.model, "name": v.model}
    if v.serial:
        device["serial_number"] = v.serial
    labels = {
        "ndaa_status": v.status.value,
        "ndaa_covered_entity": v.covered_entity or "",
        "ndaa_lists": ",".join(v.lists),
        "ndaa_brand": v.brand or "",
        "ndaa_device_type": v.device_type or "",
        "ndaa_waived": str(v.waived).lower(),
        "ndaa_host_scope": host_scope,
    }
    doc: dict[str, Any] = {
        "@timestamp": when,
        "ecs": {"version": ECS_VERSION},
        "event": {
            "kind": "asset",
            "category": ["host"],
            "type": ["info"],
            "module": "ndaa_scanner",
            "dataset": "ndaa_scanner.device",
            "severity": SEVERITY[v.status][0],
            "created": when,
            **({"id": f"{report.scan_id}:{d.mac or d.ip}"} if report.scan_id else {}),
        },
        "host": host,
        "observer": {"vendor": TOOL, "product": TOOL, "type": "scanner", "version": report.tool_version},
        "labels": {k: value for k, value in labels.items() if value},
        "message": summary(d),
        "tags": ["ndaa-889", v.status.value],
    }
    if device:
        doc["device"] = device
    if d.ip:
        doc["related"] = {"ip": [d.ip]}
    return doc
