"""JSON Lines: a ``{"type": "scan", ...}`` header line, then one ``{"type": "device", ...}`` line per device,
then one ``{"type": "heard", ...}`` line per host heard outside the targets.

The header holds every ScanReport field except ``devices`` and ``heard``, plus ``counts`` (devices per
status) and ``heard_counts`` (heard hosts per status). Each device or heard line is a DeviceReport (schema:
``$defs/DeviceReport`` in docs/report.schema.json) plus ``type``. Devices come covered first. Every line is
one complete JSON object: ``grep covered | jq`` works; ``jq 'select(.type == "device")'`` skips heard hosts.
C1, DEL, bidi controls and U+2028/9 are written as ``\\uXXXX`` escapes (``json_safe``).
"""

from __future__ import annotations

import json
from typing import Any

from scanner.report._text import heard_devices, json_safe, status_counts
from scanner.results import DeviceReport, ScanReport


def render(report: ScanReport) -> str:
    heard = heard_devices(report)
    header = {
        "type": "scan",
        **report.model_dump(mode="json", exclude={"devices", "heard"}),
        "counts": report.counts(),
        "heard_counts": status_counts(heard),
    }
    lines = [_line(header)]
    lines += [_line(_typed("device", d)) for d in report.sorted_devices()]
    lines += [_line(_typed("heard", d)) for d in heard]
    return "\n".join(lines) + "\n"


def _typed(kind: str, d: DeviceReport) -> dict[str, Any]:
    return {"type": kind, **d.model_dump(mode="json")}


def _line(obj: dict[str, Any]) -> str:
    return json_safe(json.dumps(obj, ensure_ascii=False))
