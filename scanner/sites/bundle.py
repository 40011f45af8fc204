"""A bundle: what an agent pushes for one stored scan — the ScanReport, the site it was taken at, and a
stable id (the SHA-256 of the canonical JSON of site and report), so the same scan pushed twice is
recognised and stored once (the server keeps (site, bundle_id) unique)."""

from __future__ import annotations

import hashlib
import json
import re

from pydantic import BaseModel, Field, field_validator

from scanner.results import ScanReport

BUNDLE_FORMAT = 1
SITE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_BUNDLE_BYTES = 256 * 1024 * 1024  # a 65,536-host scan with its evidence fits easily


class Bundle(BaseModel):
    format: int = BUNDLE_FORMAT
    site: str
    bundle_id: str = Field(pattern=r"^[0-9a-f]{64}$")
    report: ScanReport

    @field_validator("site")
    @classmethod
    def _site_name(cls, value: str) -> str:
        return check_site(value)


def check_site(name: str) -> str:
    """A site name: 1-64 letters, digits, ``.``, ``_``, ``-``, starting with a letter or digit."""
    if not SITE_RE.fullmatch(name):
        raise ValueError(
            f"site name {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return name


def canonical(site: str, report: ScanReport) -> bytes:
    """The bytes the bundle id is the digest of: sorted keys, no spaces, UTF-8."""
    doc = {"site": site, "report": report.model_dump(mode="json")}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def make_bundle(site: str, report: ScanReport) -> Bundle:
    """The bundle of ``report`` taken at ``site``; its id depends only on their content."""
    check_site(site)
    return Bundle(site=site, bundle_id=hashlib.sha256(canonical(site, report)).hexdigest(), report=report)
