"""Waivers: devices reviewed and accepted by a named person, until a date.

A waiver file is TOML with one ``[[waiver]]`` table per waiver (example: examples/waivers.toml)::

    [[waiver]]
    mac = "58:50:ed:1f:e3:85"   # one or more of mac / serial / ip; a device matching ANY of them is waived
    reason = "Isolated VLAN, replacement ordered"
    approved_by = "J. Smith (ISSO)"
    expires = 2026-06-30        # TOML date; the waiver holds through that day
    ticket = "SEC-1234"         # optional

MACs match in any spelling, serials (``verdict.serial``) case-insensitively, IPs as addresses.
A waived device stays in the report with ``verdict.waived`` set; an expired waiver waives nothing
and leaves the note "waiver expired on DATE". Unknown keys are errors, so a typo never silently
disables a waiver. Errors are UsageError as ``FILE:LINE: waiver N: reason``.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from scanner.dataload import read_text, toml_error_position
from scanner.errors import UsageError
from scanner.observations import normalise_mac
from scanner.results import DeviceReport, ScanReport

MAX_FILE_BYTES = 1 << 20
IDENTIFIERS = ("mac", "serial", "ip")
REQUIRED = ("reason", "approved_by", "expires")
KEYS = (*IDENTIFIERS, *REQUIRED, "ticket")

_WAIVER_HEADER = re.compile(r"^\s*\[\[\s*(?:waiver|\"waiver\"|'waiver')\s*\]\]")
_TABLE_HEADER = re.compile(r"^\s*\[")
_DATE_HINT = "; dates are written YYYY-MM-DD, e.g. expires = 2026-06-30"


@dataclass(frozen=True)
class Waiver:
    reason: str
    approved_by: str
    expires: date
    mac: str | None = None  # normalised
    serial: str | None = None
    ip: str | None = None  # canonical
    ticket: str | None = None
    line: int | None = None  # of its [[waiver]] header

    def matches(self, device: DeviceReport) -> bool:
        serial = device.verdict.serial
        return bool(
            (self.mac and _mac(device.mac) == self.mac)
            or (self.serial and serial and serial.strip().casefold() == self.serial.casefold())
            or (self.ip and _ip(device.ip) == self.ip)
        )

    def expired(self, today: date) -> bool:
        return today > self.expires

    def describe(self) -> str:
        ticket = f", ticket {self.ticket}" if self.ticket else ""
        return f"{self.reason} (approved by {self.approved_by}, until {self.expires.isoformat()}{ticket})"


def load_waivers(path: Path | str) -> list[Waiver]:
    """Read and check a waiver file; UsageError naming the file, line and reason."""
    path = Path(path)
    text = read_text(path, max_bytes=MAX_FILE_BYTES, error=UsageError, what="waiver file")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        at, column, reason = toml_error_position(exc, text)
        if column is None:
            raise UsageError(f"{path}:{at}: invalid TOML: {exc}") from None
        lines = text.splitlines()
        hint = _DATE_HINT if at <= len(lines) and _key_line(lines, "expires", at - 1, at) else ""
        raise UsageError(f"{path}:{at}: invalid TOML: {reason} (column {column}){hint}") from None
    lines = text.splitlines()
    for key in data:
        if key != "waiver":
            line = _key_line(lines, key, 0, _table_end(lines, -1)) or _header_line(lines, key)
            where = f"{path}:{line}" if line else str(path)
            raise UsageError(
                f"{where}: unknown top-level key {key!r} (a waiver file holds only [[waiver]] tables)"
            )
    tables = data.get("waiver", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        line = _key_line(lines, "waiver", 0, len(lines)) or _header_line(lines, "waiver")
        where = f"{path}:{line}" if line else str(path)
        raise UsageError(f"{where}: write each waiver as a [[waiver]] table (double brackets)")
    headers = [i for i, line in enumerate(lines) if _WAIVER_HEADER.match(line)]
    if len(headers) != len(tables):  # written as an inline array: no header lines to point at
        headers = []
    waivers = []
    for n, table in enumerate(tables):
        start = headers[n] if headers else None
        try:
            waivers.append(_parse(table, None if start is None else start + 1))
        except _Invalid as exc:
            line = (
                None
                if start is None
                else (_key_line(lines, exc.key, start + 1, _table_end(lines, start)) or start + 1)
            )
            where = f"{path}:{line}" if line else str(path)
            raise UsageError(f"{where}: waiver {n + 1}: {exc.reason}") from None
    return waivers


def apply_waivers(report: ScanReport, waivers: list[Waiver], today: date | None = None) -> ScanReport:
    """A copy of ``report`` with matching devices waived; the first unexpired matching waiver wins.
    Expired matches only add "waiver expired on DATE" notes. ``report`` itself is not changed."""
    today = today or date.today()
    devices = []
    for device in report.devices:
        matching = [w for w in waivers if w.matches(device)]
        active = next((w for w in matching if not w.expired(today)), None)
        verdict = device.verdict
        if active is not None:
            verdict = verdict.model_copy(update={"waived": True, "waiver": active.describe()})
        elif matching:
            notes = list(verdict.notes)
            for w in matching:
                note = f"waiver expired on {w.expires.isoformat()}"
                if note not in notes:
                    notes.append(note)
            latest = max(matching, key=lambda w: w.expires)
            expired = f"on {latest.expires.isoformat()}: {latest.describe()}"
            verdict = verdict.model_copy(update={"notes": notes, "waiver_expired": expired})
        devices.append(
            device if verdict is device.verdict else device.model_copy(update={"verdict": verdict})
        )
    return report.model_copy(update={"devices": devices})


class _Invalid(Exception):
    def __init__(self, key: str | None, reason: str) -> None:
        super().__init__(reason)
        self.key = key
        self.reason = reason


def _parse(table: dict[str, Any], line: int | None) -> Waiver:
    for key in table:
        if key not in KEYS:
            raise _Invalid(key, f"unknown key {key!r} (expected: {', '.join(KEYS)})")
    for key in KEYS:
        value = table.get(key)
        if key != "expires" and value is not None and (not isinstance(value, str) or not value.strip()):
            raise _Invalid(key, f"{key!r} must be a non-empty string")
    if not any(k in table for k in IDENTIFIERS):
        raise _Invalid(None, "needs at least one of mac, serial, ip to match a device")
    for key in REQUIRED:
        if key not in table:
            raise _Invalid(None, f"missing {key!r}")
    return Waiver(
        reason=table["reason"].strip(),
        approved_by=table["approved_by"].strip(),
        expires=_date(table["expires"]),
        mac=_checked(table, "mac", normalise_mac),
        serial=_checked(table, "serial", str.strip),
        ip=_checked(table, "ip", _canonical_ip),
        ticket=_checked(table, "ticket", str.strip),
        line=line,
    )


def _checked(table: dict[str, Any], key: str, convert: Callable[[str], object]) -> str | None:
    if key not in table:
        return None
    try:
        return str(convert(table[key]))
    except ValueError:
        raise _Invalid(key, f"{key!r}: not a valid {key}: {table[key]!r}") from None


def _date(value: object) -> date:
    if isinstance(value, datetime):
        raise _Invalid("expires", f"'expires' must be a date like 2026-06-30, not a date-time ({value})")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _Invalid("expires", f"'expires' must be a date like 2026-06-30, got {value!r}")


def _canonical_ip(text: str) -> str:
    return str(ipaddress.ip_address(text.strip()))


def _mac(text: str | None) -> str | None:
    try:
        return normalise_mac(text) if text else None
    except ValueError:
        return None


def _ip(text: str | None) -> str | None:
    try:
        return _canonical_ip(text) if text else None
    except ValueError:
        return None


def _table_end(lines: list[str], header: int) -> int:
    return next((i for i in range(header + 1, len(lines)) if _TABLE_HEADER.match(lines[i])), len(lines))


def _header_line(lines: list[str], key: str) -> int | None:
    pattern = re.compile(rf"^\s*\[+\s*[\"']?{re.escape(key)}[\"']?\s*[\].]")
    return next((i + 1 for i, line in enumerate(lines) if pattern.match(line)), None)


def _key_line(lines: list[str], key: str | None, start: int, end: int) -> int | None:
    """1-based line of ``key = …`` within lines[start:end], if written plainly."""
    if key is None:
        return None
    pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
    return next((i + 1 for i in range(start, end) if pattern.match(lines[i])), None)
