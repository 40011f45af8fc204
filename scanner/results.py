"""What a scan produces: devices with verdicts, and the scan's own facts. Used by reports and history.

``build_report`` is the one place a ScanReport is assembled, for live scans and offline inputs alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from scanner.discovery.base import ProbeStatus
from scanner.identify.models import Status, Verdict
from scanner.observations import Device, Observation

if TYPE_CHECKING:
    from scanner.targets import Scope

HEARD_NOTE = "heard only: it answered a multicast/broadcast probe but is not a target, so it was never probed"
HOSTNAME_SIGNALS = ("hostname", "mdns.hostname")


class DeviceReport(BaseModel):
    ip: str | None = None
    # the host name the user gave as a target, resolved to ``ip`` before the scan (not a name a reply gave)
    hostname: str | None = None
    mac: str | None = None
    hostnames: list[str] = Field(default_factory=list)
    probes: list[str] = Field(default_factory=list)  # probes that answered for this device
    verdict: Verdict = Field(default_factory=Verdict)
    observations: list[Observation] = Field(default_factory=list)

    @classmethod
    def of(cls, device: Device, verdict: Verdict, *, evidence_only: bool = False) -> DeviceReport:
        """The report line of an identified device; ``evidence_only`` keeps just the observations the
        verdict cites."""
        observations = device.observations
        if evidence_only:
            cited = {(e.signal, e.value) for e in verdict.evidence}
            observations = [o for o in observations if (o.signal, o.value) in cited]
        hostnames = sorted({o.value for o in device.observations if o.signal in HOSTNAME_SIGNALS})
        return cls(
            ip=device.ip,
            mac=device.mac,
            hostnames=hostnames,
            probes=device.probes(),
            verdict=verdict,
            observations=observations,
        )


class ProbeSummary(BaseModel):
    probe: str
    status: ProbeStatus
    duration: float = 0.0
    error: str | None = None
    notes: list[str] = Field(default_factory=list)


class ScanReport(BaseModel):
    scan_id: str | None = None
    tool_version: str
    started_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    complete: bool = True
    targets: list[str] = Field(default_factory=list)
    interface: str | None = None
    probes: list[ProbeSummary] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    oui_registry_date: str | None = None
    data_version: str | None = None  # digest of the fingerprint data the verdicts were made with
    as_of: date | None = None  # the day the lists and ownerships were evaluated on (None: the scan's day)
    devices: list[DeviceReport] = Field(default_factory=list)
    # Hosts that answered a multicast/broadcast probe but are not among the targets: their own replies'
    # verdict, never probed further, never counted in the exit code unless the user asks (--fail-on-heard).
    heard: list[DeviceReport] = Field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in Status}
        for d in self.devices:
            out[d.verdict.status.value] += 1
        return out

    def sorted_devices(self) -> list[DeviceReport]:
        """Covered first, then likely, suspected, not covered, unknown; by IP within each."""

        def key(d: DeviceReport) -> tuple[int, tuple[int, ...]]:
            try:
                ipk = tuple(int(p) for p in (d.ip or "255.255.255.255").split("."))
            except ValueError:
                ipk = (999,)
            return (d.verdict.status.rank, ipk)

        return sorted(self.devices, key=key)


def build_report(
    devices: Iterable[DeviceReport],
    *,
    tool_version: str | None = None,
    started_at: datetime | None = None,
    complete: bool = True,
    probes: Sequence[ProbeSummary] = (),
    notes: Sequence[str] = (),
    targets: Sequence[str] = (),
    interface: str | None = None,
    scan_id: str | None = None,
    scope: Scope | None = None,
    as_of: date | None = None,
) -> ScanReport:
    """The ScanReport of identified ``devices``. With a ``scope`` (a live scan), only hosts at a target
    address are devices; the others are ``heard`` (with a note saying so), and the scanner's own
    addresses and loopback are dropped, however they got here."""
    from scanner import __version__

    kept: list[DeviceReport] = []
    heard: list[DeviceReport] = []
    dropped = 0
    for d in devices:
        if scope is None:
            kept.append(d)
            continue
        ips = dict.fromkeys([*([d.ip] if d.ip else []), *(o.ip for o in d.observations if o.ip)])
        placement, address = scope.place(ips)
        if placement == "device":
            name = scope.name_of(address)
            kept.append(
                d if d.ip == address and not name else d.model_copy(update={"ip": address, "hostname": name})
            )
        elif placement == "heard":
            verdict = d.verdict.model_copy(update={"notes": [*d.verdict.notes, HEARD_NOTE]})
            heard.append(d.model_copy(update={"verdict": verdict}))
        else:
            dropped += 1
    all_notes = list(notes)
    if dropped:
        all_notes.append(f"{dropped} host(s) at the scanner's own or a loopback address left out")
    return ScanReport(
        scan_id=scan_id,
        tool_version=tool_version or __version__,
        started_at=started_at or datetime.now(UTC),
        finished_at=datetime.now(UTC),
        complete=complete,
        targets=list(targets),
        interface=interface,
        probes=list(probes),
        notes=all_notes,
        oui_registry_date=_oui_date(),
        data_version=_data_version(),
        as_of=as_of,
        devices=kept,
        heard=heard,
    )


def _data_version() -> str | None:
    try:
        from scanner.datafiles import data_version

        return data_version()
    except OSError:  # the report still says what it can
        return None


def _oui_date() -> str | None:
    try:
        from scanner.identify.oui import load_registry

        return load_registry().date
    except Exception:  # the report still says what it can
        return None
