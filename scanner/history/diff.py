"""What changed between two scans, device by device.

Devices are matched by MAC (any spelling). A device without a MAC is matched by IP to a device
the other scan has at that IP, unless both have (different) MACs: then the address was reused.
Only the fields in ``COMPARED_FIELDS`` count as a change; observation timestamps, evidence order
and a MAC-matched device moving to another IP do not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from scanner.observations import normalise_mac
from scanner.results import DeviceReport, ScanReport

COMPARED_FIELDS = ("status", "covered_entity", "vendor", "brand", "model", "firmware")


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class DeviceChange:
    before: DeviceReport
    after: DeviceReport
    changes: tuple[FieldChange, ...]


@dataclass(frozen=True)
class ScanDiff:
    old_scan: str | None
    new_scan: str | None
    appeared: tuple[DeviceReport, ...]
    disappeared: tuple[DeviceReport, ...]
    changed: tuple[DeviceChange, ...]

    @property
    def is_empty(self) -> bool:
        return not (self.appeared or self.disappeared or self.changed)

    def render_text(self) -> str:
        head = f"scan {self.old_scan or '?'} -> {self.new_scan or '?'}: "
        if self.is_empty:
            return head + "no changes"
        lines = [
            head + f"{len(self.appeared)} appeared, {len(self.disappeared)} disappeared, "
            f"{len(self.changed)} changed"
        ]
        lines += [f"+ {_label(d)}  {_describe(d)}" for d in self.appeared]
        lines += [f"- {_label(d)}  {_describe(d)}" for d in self.disappeared]
        lines += [
            f"~ {_label(c.after)}  "
            + "; ".join(f"{f.field}: {f.before or '-'} -> {f.after or '-'}" for f in c.changes)
            for c in self.changed
        ]
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps(
            {
                "old_scan": self.old_scan,
                "new_scan": self.new_scan,
                "appeared": [_summary(d) for d in self.appeared],
                "disappeared": [_summary(d) for d in self.disappeared],
                "changed": [
                    {
                        "ip": c.after.ip,
                        "mac": c.after.mac,
                        "before_ip": c.before.ip,
                        "changes": [
                            {"field": f.field, "before": f.before, "after": f.after} for f in c.changes
                        ],
                    }
                    for c in self.changed
                ],
            },
            indent=2,
        )


def diff_reports(old: ScanReport, new: ScanReport) -> ScanDiff:
    """Devices that appeared in ``new``, disappeared from ``old``, or whose verdict fields changed."""
    pairs, old_left, new_left = _match(old.devices, new.devices)
    changed = [DeviceChange(a, b, changes) for a, b in pairs if (changes := _changes(a, b))]
    return ScanDiff(
        old_scan=old.scan_id,
        new_scan=new.scan_id,
        appeared=tuple(sorted(new_left, key=_ip_key)),
        disappeared=tuple(sorted(old_left, key=_ip_key)),
        changed=tuple(sorted(changed, key=lambda c: _ip_key(c.after))),
    )


def _match(
    old: list[DeviceReport], new: list[DeviceReport]
) -> tuple[list[tuple[DeviceReport, DeviceReport]], list[DeviceReport], list[DeviceReport]]:
    new_left = dict(enumerate(new))
    by_mac: dict[str, list[int]] = {}
    for i, d in new_left.items():
        if mac := _mac(d):
            by_mac.setdefault(mac, []).append(i)
    pairs: list[tuple[DeviceReport, DeviceReport]] = []
    old_left: list[DeviceReport] = []
    for d in old:
        candidates = by_mac.get(_mac(d) or "")
        if candidates:
            pairs.append((d, new_left.pop(candidates.pop(0))))
        else:
            old_left.append(d)
    unmatched_old: list[DeviceReport] = []
    for d in old_left:
        j = next(
            (i for i, n in new_left.items() if d.ip and n.ip == d.ip and not (_mac(d) and _mac(n))), None
        )
        if j is None:
            unmatched_old.append(d)
        else:
            pairs.append((d, new_left.pop(j)))
    return pairs, unmatched_old, list(new_left.values())


def _changes(a: DeviceReport, b: DeviceReport) -> tuple[FieldChange, ...]:
    return tuple(
        FieldChange(f, before, after)
        for f in COMPARED_FIELDS
        if (before := _field(a, f)) != (after := _field(b, f))
    )


def _field(d: DeviceReport, name: str) -> str | None:
    value = getattr(d.verdict, name)
    return None if value is None else str(value)


def _mac(d: DeviceReport) -> str | None:
    try:
        return normalise_mac(d.mac) if d.mac else None
    except ValueError:
        return d.mac


def _label(d: DeviceReport) -> str:
    return f"{d.ip or '-':<15} {d.mac or '-':<17}"


def _describe(d: DeviceReport) -> str:
    v = d.verdict
    parts = [
        v.status.value,
        v.covered_entity or "",
        v.vendor or "",
        v.brand or "",
        v.model or "",
        v.firmware or "",
    ]
    return " ".join(p for p in parts if p)


def _summary(d: DeviceReport) -> dict[str, str | None]:
    return {"ip": d.ip, "mac": d.mac, **{f: _field(d, f) for f in COMPARED_FIELDS}}


def _ip_key(d: DeviceReport) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in (d.ip or "").split("."))
    except ValueError:
        return (1 << 30,)
