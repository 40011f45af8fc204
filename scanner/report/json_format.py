"""JSON: the whole ScanReport, devices covered first; valid against docs/report.schema.json."""

from __future__ import annotations

from scanner.results import ScanReport


def render(report: ScanReport) -> str:
    ordered = report.model_copy(update={"devices": report.sorted_devices()})
    return ordered.model_dump_json(indent=2) + "\n"
