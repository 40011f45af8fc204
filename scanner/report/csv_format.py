"""CSV (RFC 4180, CRLF line ends): one row per device, covered first, for spreadsheets and asset systems.

One table, one header: the last column, ``host_scope``, is ``target`` for the scan's devices and ``heard``
for hosts outside the targets that answered a multicast/broadcast probe (their rows follow the targets'
rows). A single column keeps every row loadable by spreadsheets, ``csv.DictReader`` and CMDB imports,
which a second header block would break; filter on it to drop heard hosts.

Lists are joined with ``; `` (host names, probes) or newlines inside the quoted cell (evidence, notes).
Device text has control and bidi characters shown as escapes (``\\x1b``, ``\\u202e``; ``visible``), and a cell
that starts with ``=``, ``+``, ``-``, ``@``, tab or CR gets a leading ``'`` so a spreadsheet never runs a
device-supplied formula (OWASP "CSV injection"). The raw strings are in the json format.
"""

from __future__ import annotations

import csv
import io

from scanner.report._text import csv_cell, defuse, evidence_line, heard_devices, visible
from scanner.results import DeviceReport, ScanReport

__all__ = ["COLUMNS", "HEARD", "TARGET", "defuse", "render"]

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
    "hostname",  # the name the target was given: added before host_scope, so earlier positions stay
    "host_scope",
)
TARGET, HEARD = "target", "heard"


def render(report: ScanReport) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(_row(d, TARGET) for d in report.sorted_devices())
    writer.writerows(_row(d, HEARD) for d in heard_devices(report))
    return buf.getvalue()


def _row(d: DeviceReport, host_scope: str) -> list[str]:
    v = d.verdict
    cells = [
        v.status.value,
        f"{v.confidence:.2f}",
        csv_cell(v.covered_entity),
        csv_cell(v.vendor),
        csv_cell(v.brand),
        _flag(v.brand_mismatch),
        csv_cell(v.model),
        csv_cell(v.serial),
        csv_cell(v.firmware),
        csv_cell(v.device_type),
        csv_cell(d.ip),
        csv_cell(d.mac),
        defuse("; ".join(visible(h) for h in d.hostnames)),
        defuse("; ".join(visible(p) for p in d.probes)),
        csv_cell(v.scope),
        _flag(v.waived),
        csv_cell(v.waiver),
        defuse("\n".join(evidence_line(e, limit=None) for e in v.evidence)),
        defuse("\n".join(visible(n) for n in v.notes)),
        csv_cell(d.hostname),
        host_scope,
    ]
    return cells


def _flag(value: bool) -> str:
    return "yes" if value else "no"
