"""What a scan produces: devices with verdicts, and the scan's own facts. Used by reports and history."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field

from scanner.identify.models import Status, Verdict
from scanner.observations import Observation


class DeviceReport(BaseModel):
    ip: str | None = None
    mac: str | None = None
    hostnames: list[str] = Field(default_factory=list)
    probes: list[str] = Field(default_factory=list)  # probes that answered for this device
    verdict: Verdict = Field(default_factory=Verdict)
    observations: list[Observation] = Field(default_factory=list)


class ProbeSummary(BaseModel):
    probe: str
    status: str
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
