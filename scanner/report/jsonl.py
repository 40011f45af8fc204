"""JSON Lines: a ``{"type": "scan", ...}`` header line, then one ``{"type": "device", ...}`` line per device.

The header holds every ScanReport field except ``devices``, plus ``counts`` (devices per status).
Each device line is a DeviceReport (schema: ``$defs/DeviceReport`` in docs/report.schema.json) plus ``type``.
Devices come covered first. Every line is one complete JSON object: ``grep covered | jq`` works.
"""

from __future__ import annotations

import json

from scanner.results import ScanReport


def render(report: ScanReport) -> str:
    header = {
        "type": "scan",
        **report.model_dump(mode="json", exclude={"devices"}),
        "counts": report.counts(),
    }
    lines = [json.dumps(header, ensure_ascii=False)]
    lines += [
        json.dumps({"type": "device", **d.model_dump(mode="json")}, ensure_ascii=False)
        for d in report.sorted_devices()
    ]
    return "\n".join(lines) + "\n"
