"""What the inventory exports (ocsf, ecs, cyclonedx, netbox) say about one device, in one place: its status
as a severity, its strongest evidence as a sentence, and the lists it is on.

Exports carry devices and heard hosts alike (``host_scope``: ``target`` or ``heard``), so a SIEM or CMDB
sees everything the scan saw and can filter; the raw evidence stays in the json format.
"""

from __future__ import annotations

from collections.abc import Iterator

from scanner.identify.models import Status, Verdict
from scanner.report._text import heard_devices, strongest
from scanner.results import DeviceReport, ScanReport

TOOL = "ndaa-scanner"
TARGET, HEARD = "target", "heard"

# OCSF severity_id / ECS event.severity scale: covered needs action now, likely needs action, suspected a
# person's look, the rest is information.
SEVERITY: dict[Status, tuple[int, str]] = {
    Status.COVERED: (4, "High"),
    Status.LIKELY: (3, "Medium"),
    Status.SUSPECTED: (2, "Low"),
    Status.NOT_COVERED: (1, "Informational"),
    Status.UNKNOWN: (1, "Informational"),
}


def all_hosts(report: ScanReport) -> Iterator[tuple[DeviceReport, str]]:
    """Every device (covered first) and then every heard host, with its ``host_scope``."""
    for d in report.sorted_devices():
        yield d, TARGET
    for d in heard_devices(report):
        yield d, HEARD


def summary(d: DeviceReport) -> str:
    """One plain sentence: what the device is and why, e.g. 'Hikvision DS-2CD2385G1-I at 10.0.0.5: covered
    (FAR 52.204-25(a)(2)); strongest evidence: sadp sadp.reply "DS-2CD2385G1-I"'."""
    v = d.verdict
    what = " ".join(filter(None, (v.brand or v.vendor or "unidentified device", v.model)))
    where = d.ip or d.mac or "?"
    text = f"{what} at {where}: {v.status.value}"
    if v.covered_entity:
        text += f" ({v.covered_entity})"
    strongest = strongest_evidence(v)
    if strongest:
        text += f"; strongest evidence: {strongest}"
    return text


def strongest_evidence(v: Verdict) -> str | None:
    """The strongest supporting evidence (``_text.strongest``) as one line with its fingerprint id."""
    e = strongest(v.evidence)
    if e is None:
        return None
    value = e.value if len(e.value) <= 80 else e.value[:77] + "..."
    return f'{e.probe} {e.signal} "{value}" ({e.matched})'
