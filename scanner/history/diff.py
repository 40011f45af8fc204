"""What changed between two scans, device by device, over only what both scans covered.

Devices are matched by MAC (any spelling). A device without a MAC is matched by IP to a device
the other scan has at that IP, unless both have (different) MACs: then the address was reused.
Only the fields in ``COMPARED_FIELDS`` count as a change; observation timestamps, evidence order
and a MAC-matched device moving to another IP do not.

Scope: two scans are compared only where both looked.

- A device one scan found at an address outside the other scan's targets is **not scanned** by the
  other, not "appeared" or "disappeared". So is a device found only by probes the other scan did not run.
- A matched device whose verdict changed is **not comparable** when either verdict cites evidence from a
  probe that ran in one scan only: the change may be nothing but the missing probe.
- ``warnings`` says when either scan is incomplete, or their probes or targets differ.

A scan that recorded no targets (an offline import) is taken to cover every address; a target that is
not an address, range or CIDR (an interface name) makes that scan's scope unknown, and nothing is
classed as not scanned on its account. Hosts heard outside the targets (``ScanReport.heard``) are not
compared. Only appeared, disappeared and (comparable) changed devices make ``is_empty`` false.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import Literal

from scanner.observations import normalise_mac
from scanner.report._text import visible
from scanner.results import DeviceReport, ScanReport

COMPARED_FIELDS = ("status", "covered_entity", "vendor", "brand", "model", "firmware")
# A probe with one of these statuses gathered nothing: it did not run as far as evidence goes.
NOT_RUN = frozenset({"error", "skipped"})

Side = Literal["old", "new"]


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
    reason: str | None = None  # set when the change is not comparable: why


@dataclass(frozen=True)
class OneSided:
    """A device only one scan has, where the other did not look: ``side`` is the scan that has it."""

    device: DeviceReport
    side: Side
    reason: str


@dataclass(frozen=True)
class ScanDiff:
    old_scan: str | None
    new_scan: str | None
    appeared: tuple[DeviceReport, ...]
    disappeared: tuple[DeviceReport, ...]
    changed: tuple[DeviceChange, ...]
    not_scanned: tuple[OneSided, ...] = ()
    not_comparable: tuple[DeviceChange, ...] = ()
    warnings: tuple[str, ...] = ()
    common_probes: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        """No comparable change: nothing appeared, disappeared or changed where both scans looked."""
        return not (self.appeared or self.disappeared or self.changed)

    def render_text(self) -> str:
        head = f"scan {visible(self.old_scan) or '?'} -> {visible(self.new_scan) or '?'}: "
        extra = []
        if self.not_scanned:
            extra.append(f"{len(self.not_scanned)} not scanned by both")
        if self.not_comparable:
            extra.append(f"{len(self.not_comparable)} not comparable")
        if self.is_empty:
            head += "no changes"
        else:
            head += f"{len(self.appeared)} appeared, {len(self.disappeared)} disappeared, {len(self.changed)} changed"
        lines = [head + (f" ({', '.join(extra)})" if extra else "")]
        lines += [f"warning: {w}" for w in self.warnings]
        lines += [f"+ {_label(d)}  {_describe(d)}" for d in self.appeared]
        lines += [f"- {_label(d)}  {_describe(d)}" for d in self.disappeared]
        lines += [f"~ {_label(c.after)}  {_changes_text(c)}" for c in self.changed]
        lines += [
            f"? {_label(o.device)}  only in the {o.side} scan, {o.reason}: {_describe(o.device)}"
            for o in self.not_scanned
        ]
        lines += [
            f"! {_label(c.after)}  not comparable ({c.reason}): {_changes_text(c)}"
            for c in self.not_comparable
        ]
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps(
            {
                "old_scan": self.old_scan,
                "new_scan": self.new_scan,
                "appeared": [_summary(d) for d in self.appeared],
                "disappeared": [_summary(d) for d in self.disappeared],
                "changed": [_change(c) for c in self.changed],
                "not_scanned": [
                    {**_summary(o.device), "in": o.side, "reason": o.reason} for o in self.not_scanned
                ],
                "not_comparable": [{**_change(c), "reason": c.reason} for c in self.not_comparable],
                "warnings": list(self.warnings),
                "common_probes": list(self.common_probes),
            },
            indent=2,
        )


def diff_reports(old: ScanReport, new: ScanReport) -> ScanDiff:
    """Devices that appeared in ``new``, disappeared from ``old``, or whose verdict fields changed,
    over what both scans covered (see the module doc)."""
    old_ran, new_ran = _ran(old), _ran(new)
    probes_known = bool(old.probes and new.probes)
    only_old = old_ran - new_ran if probes_known else set()
    only_new = new_ran - old_ran if probes_known else set()
    old_scope, new_scope = _Scope(old.targets), _Scope(new.targets)

    pairs, old_left, new_left = _match(old.devices, new.devices)
    changed: list[DeviceChange] = []
    not_comparable: list[DeviceChange] = []
    for a, b in pairs:
        changes = _changes(a, b)
        if not changes:
            continue
        one_sided = sorted((_evidence_probes(a) & only_old) | (_evidence_probes(b) & only_new))
        if one_sided:
            reason = f"rests on evidence from {', '.join(one_sided)}, run by one scan only"
            not_comparable.append(DeviceChange(a, b, changes, reason))
        else:
            changed.append(DeviceChange(a, b, changes))

    disappeared, gone_unseen = _split_one_sided(old_left, "old", new_scope, only_old)
    appeared, new_unseen = _split_one_sided(new_left, "new", old_scope, only_new)
    not_scanned = gone_unseen + new_unseen

    return ScanDiff(
        old_scan=old.scan_id,
        new_scan=new.scan_id,
        appeared=tuple(sorted(appeared, key=_ip_key)),
        disappeared=tuple(sorted(disappeared, key=_ip_key)),
        changed=tuple(sorted(changed, key=lambda c: _ip_key(c.after))),
        not_scanned=tuple(sorted(not_scanned, key=lambda o: (o.side != "old", _ip_key(o.device)))),
        not_comparable=tuple(sorted(not_comparable, key=lambda c: _ip_key(c.after))),
        warnings=tuple(_warnings(old, new, old_scope, new_scope, only_old, only_new, probes_known)),
        common_probes=tuple(sorted(old_ran & new_ran)),
    )


class _Scope:
    """The addresses a scan's targets cover, as inclusive integer ranges; ``known`` False when a target
    is not an address, range or CIDR. No targets at all (an offline import): every address."""

    def __init__(self, targets: list[str]) -> None:
        self.targets = targets
        self.ranges: list[tuple[int, int]] = []
        self.known = True
        for text in (part.strip() for t in targets for part in t.split(",")):
            span = _span(text) if text else None
            if span is None:
                self.known = False
            else:
                self.ranges.append(span)

    def covers(self, ip: str | None) -> bool:
        """False only when the address is surely outside the targets."""
        if not self.known or not self.targets or not ip:
            return True
        try:
            value = int(ipaddress.ip_address(ip))
        except ValueError:
            return True
        return any(lo <= value <= hi for lo, hi in self.ranges)


def _span(text: str) -> tuple[int, int] | None:
    """'10.0.0.0/24' -> its first and last address; '10.0.1.5-40' and '10.0.1.5-10.0.1.40' ranges; an address."""
    try:
        if "/" in text:
            net = ipaddress.ip_network(text, strict=False)
            return int(net.network_address), int(net.broadcast_address)
        if "-" in text:
            first_text, last_text = (p.strip() for p in text.split("-", 1))
            first = ipaddress.ip_address(first_text)
            if "." not in last_text and ":" not in last_text:  # 10.0.1.5-40: the last octet only
                last = ipaddress.ip_address(first_text.rsplit(".", 1)[0] + "." + last_text)
            else:
                last = ipaddress.ip_address(last_text)
            return int(first), int(last)
        value = int(ipaddress.ip_address(text))
        return value, value
    except ValueError:
        return None


def _ran(report: ScanReport) -> set[str]:
    return {p.probe for p in report.probes if p.status not in NOT_RUN}


def _evidence_probes(d: DeviceReport) -> set[str]:
    return {e.probe for e in d.verdict.evidence}


def _split_one_sided(
    devices: list[DeviceReport], side: Side, other_scope: _Scope, one_sided: set[str]
) -> tuple[list[DeviceReport], list[OneSided]]:
    """Devices only the ``side`` scan has: those the other scan should have seen, and those it could not."""
    other = "new" if side == "old" else "old"
    seen, unseen = [], []
    for d in devices:
        reason = _not_looked_for(d, other_scope, other, one_sided)
        if reason:
            unseen.append(OneSided(d, side, reason))
        else:
            seen.append(d)
    return seen, unseen


def _not_looked_for(d: DeviceReport, other_scope: _Scope, other: str, one_sided: set[str]) -> str | None:
    """Why the other scan could not have seen this device, or None if it should have."""
    if not other_scope.covers(d.ip):
        return f"outside the {other} scan's targets"
    found_by = set(d.probes) or _evidence_probes(d)
    if found_by and found_by <= one_sided:
        return f"found only by {', '.join(sorted(found_by))}, which the {other} scan did not run"
    return None


def _warnings(
    old: ScanReport,
    new: ScanReport,
    old_scope: _Scope,
    new_scope: _Scope,
    only_old: set[str],
    only_new: set[str],
    probes_known: bool,
) -> list[str]:
    out = []
    for name, report in (("old", old), ("new", new)):
        if not report.complete:
            out.append(
                f"the {name} scan {visible(report.scan_id) or ''} is incomplete: devices it missed show as "
                + ("disappeared" if name == "new" else "appeared")
            )
    if only_old or only_new:
        parts = [f"only the old scan ran {', '.join(sorted(only_old))}"] if only_old else []
        parts += [f"only the new scan ran {', '.join(sorted(only_new))}"] if only_new else []
        out.append(f"probe sets differ ({'; '.join(parts)}): what rests on them is not compared")
    elif not probes_known and (old.probes or new.probes):
        name = "old" if not old.probes else "new"
        out.append(f"the {name} scan recorded no probes: probe sets not compared")
    if old_scope.known and new_scope.known and sorted(old.targets) != sorted(new.targets):
        out.append(
            f"targets differ (old: {visible(' '.join(old.targets), 200) or 'none recorded'}; "
            f"new: {visible(' '.join(new.targets), 200) or 'none recorded'}): "
            "hosts outside the other scan's targets are listed as not scanned"
        )
    for name, scope in (("old", old_scope), ("new", new_scope)):
        if not scope.known:
            out.append(
                f"the {name} scan's targets are not all addresses or networks: its scope is not checked"
            )
    return out


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
    return f"{visible(d.ip, 39) or '-':<15} {visible(d.mac, 40) or '-':<17}"


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
    return " ".join(visible(p, 120) for p in parts if p)


def _changes_text(c: DeviceChange) -> str:
    return "; ".join(
        f"{f.field}: {visible(f.before, 120) or '-'} -> {visible(f.after, 120) or '-'}" for f in c.changes
    )


def _summary(d: DeviceReport) -> dict[str, str | None]:
    return {"ip": d.ip, "mac": d.mac, **{f: _field(d, f) for f in COMPARED_FIELDS}}


def _change(c: DeviceChange) -> dict[str, object]:
    return {
        "ip": c.after.ip,
        "mac": c.after.mac,
        "before_ip": c.before.ip,
        "changes": [{"field": f.field, "before": f.before, "after": f.after} for f in c.changes],
    }


def _ip_key(d: DeviceReport) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in (d.ip or "").split("."))
    except ValueError:
        return (1 << 30,)
