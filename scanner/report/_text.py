"""Text helpers every report format shares: safe display of device strings, one-line evidence, labels."""

from __future__ import annotations

import unicodedata

from scanner.identify.models import Evidence, Status, Verdict
from scanner.results import DeviceReport

# Bidirectional controls can reorder what a reader sees ("trojan source"); show them, never apply them.
_BIDI = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

STATUS_TITLE: dict[Status, str] = {
    Status.COVERED: "Covered",
    Status.LIKELY: "Likely covered",
    Status.SUSPECTED: "Suspected",
    Status.NOT_COVERED: "Not covered",
    Status.UNKNOWN: "Unknown",
}


def visible(text: str | None, limit: int | None = None) -> str:
    """Device text for display: control and bidi characters shown as escapes (``\\n``, ``\\x1b``), bounded."""
    if not text:
        return ""
    out = text if text.isprintable() and not _BIDI.intersection(text) else "".join(_escape(c) for c in text)
    if limit is not None and len(out) > limit:
        out = out[: max(limit - 1, 0)] + "…"
    return out


def _escape(c: str) -> str:
    if c == " " or (c.isprintable() and c not in _BIDI):
        return c
    if c in "\n\r\t":
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}[c]
    if unicodedata.category(c) == "Zs":
        return " "
    code = ord(c)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def maker(verdict: Verdict) -> str:
    """'EZVIZ' / 'Amcrest (made by Dahua)' / '' — the label first, the maker when they differ."""
    vendor, brand = verdict.vendor or "", verdict.brand or ""
    if brand and vendor and brand.casefold() != vendor.casefold():
        return f"{brand} (made by {vendor})"
    return brand or vendor


def host(device: DeviceReport) -> str:
    """'192.168.1.64 58:50:ed:1f:e3:85' — whichever of IP and MAC are known."""
    return " ".join(p for p in (device.ip, device.mac) if p) or "(no address)"


def evidence_line(ev: Evidence, limit: int | None = 160) -> str:
    """One evidence item as a line: '[+] sadp sadp.DeviceDescription:37020 = "DS-…" -> Hikvision (0.95) [m]'.

    ``[+]`` marks evidence for the verdict, ``[-]`` evidence against it.
    """
    sign = "[+]" if ev.supports else "[-]"
    where = f"{visible(ev.signal)}:{ev.port}" if ev.port else visible(ev.signal)
    both = ev.brand and ev.vendor and ev.brand != ev.vendor
    points = f"{ev.brand}/{ev.vendor}" if both else (ev.vendor or ev.brand)
    target = f" -> {visible(points)}" if points else ""
    note = f"; {ev.note}" if ev.note else ""
    return (
        f'{sign} {visible(ev.probe)} {where} = "{visible(ev.value, limit)}"{target} '
        f"({ev.certainty:.2f}) [{visible(ev.matched)}{visible(note)}]"
    )


def flagged(device: DeviceReport) -> bool:
    """A device a person must look at: covered, likely or suspected."""
    return device.verdict.status in (Status.COVERED, Status.LIKELY, Status.SUSPECTED)
