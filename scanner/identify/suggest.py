"""Draft fingerprint entries for a device the data could not identify (``ndaa-scan fingerprints suggest``).

Takes the device's own observations, keeps those on signals the fingerprint files read that no entry
matched, and writes one draft file section per signal: an anchored, escaped pattern of the value as
seen, the value itself as the example (the self-test runs it), and a source naming where and when it was
seen. The draft is a starting point for a person: they generalise the pattern, name the vendor (a name in
``fingerprints/vendors.toml``) and save it in the local fingerprint directory, where ``fingerprints test``
checks it and every later verdict uses it (evidence marked "local").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

from scanner.identify.fingerprints import FingerprintDB
from scanner.observations import Observation

MAX_DRAFTS = 20  # values drafted per device
MAX_PATTERN_CHARS = 200  # longer values are drafted from their first line / start
PLACEHOLDER_VENDOR = "REPLACE-WITH-A-VENDORS.TOML-NAME"


def unmatched(observations: Iterable[Observation], db: FingerprintDB) -> list[Observation]:
    """Observations on a signal the data reads that no fingerprint matched, one per (signal, value)."""
    seen: dict[tuple[str, str], Observation] = {}
    for o in observations:
        if o.signal in db.signals and db.best(o.signal, o.value) is None:
            seen.setdefault((o.signal, o.value), o)
    return list(seen.values())[:MAX_DRAFTS]


def draft(observations: Iterable[Observation], db: FingerprintDB, *, vendor: str | None, where: str) -> str:
    """The TOML draft for one device (``where``: how the device is named, e.g. its address), or ""."""
    todo = unmatched(observations, db)
    if not todo:
        return ""
    today = datetime.now(UTC).date().isoformat()
    slug = re.sub(r"[^a-z0-9]+", "-", where.lower()).strip("-") or "device"
    by_signal: dict[str, list[Observation]] = {}
    for o in todo:
        by_signal.setdefault(o.signal, []).append(o)
    parts = []
    for signal, obs in by_signal.items():
        lines = [
            f"# --- {signal}: save as its own file, e.g. local-{slug}-{signal.replace('.', '-')}.toml ---",
            f"matches = [{_toml_str(signal)}]",
            f"description = {_toml_str(f'local fingerprints for {signal}')}",
            "",
        ]
        for n, o in enumerate(obs, 1):
            value = o.value.splitlines()[0] if o.value.strip() else o.value
            value = value[:MAX_PATTERN_CHARS]
            lines += [
                "[[fingerprint]]",
                f"id = {_toml_str(f'local-{slug}-{signal.replace(chr(46), chr(45)).lower()}-{n}')}",
                f"pattern = {_toml_literal('^' + re.escape(value))}",
                f"description = {_toml_str(f'{signal} seen on {where}')}",
                f"vendor = {_toml_str(vendor or PLACEHOLDER_VENDOR)}",
                "certainty = 0.8",
                f"source = {_toml_str(f'observed on {where} by the {o.probe} probe, {today}')}",
                f"examples = [{_toml_str(o.value)}]",
                "",
            ]
        parts.append("\n".join(lines))
    return "\n".join(parts)


def _toml_str(text: str) -> str:
    """A TOML basic string (escapes quotes, backslashes and control characters)."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(ch, f"\\u{ord(ch):04x}"))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_literal(text: str) -> str:
    """A TOML literal string when it can be one (regexes read best unescaped), else a basic string."""
    if "'" not in text and not any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        return "'" + text + "'"
    return _toml_str(text)
