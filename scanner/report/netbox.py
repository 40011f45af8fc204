"""NetBox: a CSV for the device bulk import (Devices → Import), one row per device found.

Columns are fields of NetBox's ``DeviceImportForm`` (checked against netbox-community/netbox's
``dcim/forms/bulk_import.py`` in the tests): ``name``, ``role``, ``manufacturer``, ``device_type``,
``status``, ``site``, ``serial``, ``description``, ``comments``. NetBox resolves ``role``, ``manufacturer``,
``device_type`` and ``site`` by name, so they must exist before the import: the roles used are Camera,
Recorder, Network device and Unknown device, the site is ``ndaa-scanner`` (rename the column values to one
of your sites), a device type is the model as the device reported it (else "Unknown model"). ``status`` is
``active``; the verdict goes into ``description`` ("covered: Hikvision …") and ``comments`` (lists, strongest
evidence). Heard hosts are not rows: a CMDB import takes the scanned targets only. Cells are defused as in
the csv format (no formula a spreadsheet would run).
"""

from __future__ import annotations

import csv
import io

from scanner.report._export import strongest_evidence
from scanner.report._text import csv_cell
from scanner.results import DeviceReport, ScanReport

COLUMNS = (
    "name",
    "role",
    "manufacturer",
    "device_type",
    "status",
    "site",
    "serial",
    "description",
    "comments",
)
SITE = "ndaa-scanner"
ROLES = {
    "camera": "Camera",
    "thermal-camera": "Camera",
    "doorbell": "Camera",
    "nvr": "Recorder",
    "dvr": "Recorder",
    "video-encoder": "Recorder",
    "router": "Network device",
    "switch": "Network device",
    "gateway": "Network device",
    "ont": "Network device",
    "modem": "Network device",
    "firewall": "Network device",
}


def render(report: ScanReport) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    names: set[str] = set()
    for d in report.sorted_devices():
        writer.writerow([csv_cell(cell) for cell in _row(d, names)])
    return buf.getvalue()


def _row(d: DeviceReport, names: set[str]) -> list[str]:
    v = d.verdict
    base = d.hostnames[0] if d.hostnames else f"ndaa-{(d.ip or d.mac or 'device').replace(':', '-')}"
    name, n = base, 2
    while name in names:  # NetBox refuses two devices of one name at a site
        name, n = f"{base}-{n}", n + 1
    names.add(name)
    description = f"{v.status.value}" + (f": {v.covered_entity}" if v.covered_entity else "")
    description += f" ({v.brand or v.vendor or 'unidentified'}) at {d.ip or d.mac}"
    comments = "; ".join(
        filter(None, (f"lists: {', '.join(v.lists)}" if v.lists else None, strongest_evidence(v), d.mac))
    )
    return [
        name,
        ROLES.get(v.device_type or "", "Unknown device"),
        v.vendor or "Unknown",
        v.model or "Unknown model",
        "active",
        SITE,
        v.serial or "",
        description,
        comments,
    ]
