"""Locate data: the shipped ``fingerprints/`` and ``examples/labs/`` (a checkout or an installed wheel) and
the user's data directory, where updates go (the installed package is never written to)."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

_PKG = Path(__file__).resolve().parent
DATA_DIR_ENV = "NDAA_SCAN_DATA_DIR"  # overrides the user's data directory
LOCAL_FINGERPRINTS_ENV = "NDAA_SCAN_FINGERPRINTS_DIR"  # overrides the user's own fingerprint directory
APP_NAME = "ndaa-scanner"


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


def package_dir() -> Path:
    """The installed ``scanner`` package (its shipped data included): never written to."""
    return _PKG


def local_fingerprints_dir() -> Path:
    """The user's own fingerprint files (same format as ``fingerprints/banners/*.toml``), loaded after the
    shipped ones: ``$NDAA_SCAN_FINGERPRINTS_DIR``, else ``${XDG_CONFIG_HOME:-~/.config}/ndaa-scanner/fingerprints``."""
    explicit = os.environ.get(LOCAL_FINGERPRINTS_ENV, "")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".config"
    return base / APP_NAME / "fingerprints"


def user_data_dir() -> Path:
    """Where the user's updated data lives: ``$NDAA_SCAN_DATA_DIR``, else
    ``${XDG_DATA_HOME:-~/.local/share}/ndaa-scanner`` (a relative XDG_DATA_HOME is ignored, as the spec says)."""
    explicit = os.environ.get(DATA_DIR_ENV, "")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".local" / "share"
    return base / APP_NAME


@cache
def data_version() -> str:
    """A short digest of the shipped fingerprint data (every TOML file under ``fingerprints/``, by name and
    content), recorded in each report so a verdict can be tied to the data that made it."""
    import hashlib

    digest = hashlib.sha256()
    root = fingerprints_dir()
    for path in sorted(root.rglob("*.toml")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]
