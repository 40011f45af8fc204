"""JSON: the whole ScanReport, devices covered first; valid against docs/report.schema.json.

``heard`` (beside ``devices``) lists hosts outside the targets that answered a multicast/broadcast probe,
ordered like the devices. C1, DEL, bidi controls and U+2028/9 in device strings are written as ``\\uXXXX``
escapes (``json_safe``): the values parse back exactly, the file holds none of them raw.
"""

from __future__ import annotations

from scanner.report._text import heard_devices, json_safe
from scanner.results import ScanReport


def render(report: ScanReport) -> str:
    ordered = report.model_copy(update={"devices": report.sorted_devices(), "heard": heard_devices(report)})
    return json_safe(ordered.model_dump_json(indent=2)) + "\n"
