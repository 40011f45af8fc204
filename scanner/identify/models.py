"""Verdict and evidence models."""

from __future__ import annotations

import enum

from pydantic import BaseModel, Field

FAR_889 = (
    "far_889"  # the list a verdict's status answers (entities.toml [[list]]); others are reported beside it
)


class Status(enum.StrEnum):
    """The §889 verdict on one device, strongest first."""

    COVERED = "covered"  # a strong, maker-specific signal names a covered entity
    LIKELY = "likely"  # only weaker evidence (an OUI, a generic string) points at a covered entity
    SUSPECTED = "suspected"  # an unverified rebrand / OEM edge or conflicting evidence
    NOT_COVERED = "not-covered"  # identified as a maker that is not covered
    UNKNOWN = "unknown"  # nothing to go on

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Status.COVERED: 0, Status.LIKELY: 1, Status.SUSPECTED: 2, Status.NOT_COVERED: 3, Status.UNKNOWN: 4}


class Evidence(BaseModel):
    """One observation that counted, and how."""

    probe: str  # which probe saw it (arp, sadp, http …)
    signal: str  # which field (mac, sadp.DeviceDescription, http.server …)
    value: str  # what it saw
    matched: str  # which fingerprint / data row matched (file:entry id)
    vendor: str | None = None  # the maker this evidence points at
    brand: str | None = None  # the label this evidence points at, when different from the maker
    certainty: float = 0.5  # 0..1, how strongly this alone identifies the vendor
    supports: bool = True  # False: this evidence counts against the verdict
    note: str | None = None
    port: int | None = None


class Verdict(BaseModel):
    status: Status = Status.UNKNOWN
    confidence: float = 0.0  # 0..1
    vendor: str | None = None  # who made it (after rebrand resolution)
    brand: str | None = None  # the name on the label, when different from the maker
    covered_entity: str | None = None  # one of the five §889 entities, or None
    scope: str | None = None  # which §889 clause applies
    device_type: str | None = None  # camera, nvr, router, phone, radio …
    model: str | None = None
    serial: str | None = None
    firmware: str | None = None
    brand_mismatch: bool = False  # the label says one maker, the protocols another
    waived: bool = False
    waiver: str | None = None  # the waiver reason, when waived
    waiver_expired: str | None = None  # a matching waiver that has expired: "on DATE: reason (approved by …)"
    lists: list[str] = Field(default_factory=list)  # the lists the maker is on that day: far_889, fcc_covered
    evidence: list[Evidence] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
