"""Locate shipped data: ``fingerprints/`` and ``examples/labs/`` in a checkout or an installed wheel."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PKG = Path(__file__).resolve().parent


@cache
def fingerprints_dir() -> Path:
    for candidate in (_PKG / "_fingerprints", _PKG.parent / "fingerprints"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("fingerprint data not found (expected fingerprints/ beside the scanner package)")


@cache
def labs_dir() -> Path:
    for candidate in (_PKG / "_labs", _PKG.parent / "examples" / "labs"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("lab files not found (expected examples/labs/)")
