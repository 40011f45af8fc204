"""CSV (RFC 4180, CRLF line ends): one row per device, covered first, for spreadsheets and asset systems.

Lists are joined with ``; `` (host names, probes) or newlines inside the quoted cell (evidence).
A cell that starts with ``=``, ``+``, ``-``, ``@``, tab or CR gets a leading ``'`` so a spreadsheet
never runs a device-supplied formula (OWASP "CSV injection"); every other string round-trips exactly.
"""

from __future__ import annotations

import csv
import io

from scanner.report._text import evidence_line
from scanner.results import DeviceReport, ScanReport

COLUMNS = (
    "status",
    "confidence",
    "covered_entity",
    "vendor",
    "brand",
    "brand_mismatch",
    "model",
    "serial",
    "firmware",
    "device_type",
    "ip",
    "mac",
    "hostnames",
    "probes",
    "scope",
    "waived",
    "waiver",
    "evidence",
    "notes",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def render(report: ScanReport) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows([defuse(cell) for cell in _row(d)] for d in report.sorted_devices())
    return buf.getvalue()


def defuse(cell: str) -> str:
    """Prefix a cell a spreadsheet would evaluate as a formula with ``'``."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def _row(d: DeviceReport) -> list[str]:
    v = d.verdict
    return [
        v.status.value,
        f"{v.confidence:.2f}",
        v.covered_entity or "",
        v.vendor or "",
        v.brand or "",
        _flag(v.brand_mismatch),
        v.model or "",
        v.serial or "",
        v.firmware or "",
        v.device_type or "",
        d.ip or "",
        d.mac or "",
        "; ".join(d.hostnames),
        "; ".join(d.probes),
        v.scope or "",
        _flag(v.waived),
        v.waiver or "",
        "\n".join(evidence_line(e, limit=None) for e in v.evidence),
        "\n".join(v.notes),
    ]


def _flag(value: bool) -> str:
    return "yes" if value else "no"
