"""Text helpers every report format shares: safe display of device strings, one-line evidence, labels,
and the heard-outside-the-targets section every format carries.

Output hygiene lives here, in one place:

- ``visible``: for text formats (table, CSV, Markdown, HTML, JUnit, SARIF messages, diff): control characters
  (C0, DEL, C1 such as ESC and CSI), bidi overrides and isolates, and every other non-printable character
  are shown as escapes (``\\x1b``, ``\\u202e``), so a device string cannot drive a terminal or reorder text.
- ``csv_cell``: ``visible`` plus a leading ``'`` on a cell a spreadsheet would evaluate as a formula.
- ``json_safe``: for JSON text (json, jsonl, sarif): the same characters written as ``\\uXXXX`` JSON
  escapes, so the file holds none of them raw yet every value parses back exactly.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypedDict

from scanner.identify.models import Evidence, Status, Verdict
from scanner.results import DeviceReport, ScanReport

# Bidirectional controls can reorder what a reader sees ("trojan source", CVE-2021-42574); show them, never
# apply them: LRM, RLM, ALM, the embeddings and overrides U+202A-U+202E and the isolates U+2066-U+2069.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# What JSON text must not hold raw: DEL, C1, bidi controls, line and paragraph separators (U+2028/9 end
# a line in JavaScript). JSON encoders already escape C0 inside strings; outside strings it is layout.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
# A cell a spreadsheet evaluates as a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

HEARD_TITLE = "Heard outside the targets"
HEARD_MEANING = (
    "hosts outside the scan's targets that answered a multicast or broadcast probe: verdicts rest on their "
    "own replies only; they were never probed further and are not counted in the totals above or in the "
    "exit code (unless --fail-on-heard)"
)
HEARD_SENTENCE = f"{HEARD_MEANING[:1].upper()}{HEARD_MEANING[1:]}."  # the meaning as a sentence of its own

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
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def csv_cell(text: str | None) -> str:
    """A CSV cell: device text made visible, then a formula start defused with a leading ``'``."""
    return defuse(visible(text))


def defuse(cell: str) -> str:
    """Prefix a cell a spreadsheet would evaluate as a formula with ``'``."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def json_safe(text: str) -> str:
    """JSON text with C1, DEL, bidi controls and U+2028/9 written as ``\\uXXXX`` escapes (same values)."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def heard_devices(report: ScanReport) -> list[DeviceReport]:
    """The report's heard hosts, ordered like its devices (covered first, by IP)."""
    return report.model_copy(update={"devices": report.heard}).sorted_devices() if report.heard else []


def status_counts(devices: list[DeviceReport]) -> dict[str, int]:
    """Devices per status value, every status present (as ``ScanReport.counts`` for the targets)."""
    out = {s.value: 0 for s in Status}
    for d in devices:
        out[d.verdict.status.value] += 1
    return out


def evidence_points(ev: Evidence) -> list[str]:
    """The brand and vendor an evidence item points at, each once ('Amcrest', 'Dahua'), raw."""
    return list(dict.fromkeys(p for p in (ev.brand, ev.vendor) if p))


def maker(verdict: Verdict) -> str:
    """'EZVIZ' / 'Amcrest (made by Dahua)' / '' — the label first, the maker when they differ."""
    vendor, brand = verdict.vendor or "", verdict.brand or ""
    if brand and vendor and brand.casefold() != vendor.casefold():
        return f"{brand} (made by {vendor})"
    return brand or vendor


def host(device: DeviceReport) -> str:
    """'192.168.1.64 58:50:ed:1f:e3:85' — whichever of IP and MAC are known."""
    return " ".join(p for p in (device.ip, device.mac) if p) or "(no address)"


@dataclass(frozen=True)
class EvidenceStyle:
    """How one format writes an evidence item: its template and how it escapes text and code.

    The template's fields: ``sign``, ``cls`` (supports / against), ``probe``, ``signal``, ``port``,
    ``value``, ``target`` (the maker it points at, with its arrow), ``certainty``, ``matched``, ``note``.
    """

    template: str
    text: Callable[[str | None], str]  # our words and names: probe, maker, note
    code: Callable[[str | None, int | None], str]  # device strings: signal, value, matched (bounded)
    signs: tuple[str, str] = ("[+]", "[-]")  # supports, against
    port: str = ":{}"
    arrow: str = " -> {}"
    points_sep: str = "/"
    note: str = "; {}"
    value_limit: int | None = 160
    empty_value: str = ""


class Punctuation(TypedDict):
    arrow: str
    points_sep: str


# the document formats' (HTML, Markdown) punctuation: a real arrow, spaced separators
DOCUMENT_PUNCTUATION: Punctuation = {"arrow": " \u2192 {}", "points_sep": " / "}


def format_evidence(ev: Evidence, style: EvidenceStyle) -> str:
    """One evidence item in ``style`` (the one place its parts are chosen, for every format)."""
    points = style.points_sep.join(style.text(p) for p in evidence_points(ev))
    return style.template.format(
        sign=style.signs[0] if ev.supports else style.signs[1],
        cls="supports" if ev.supports else "against",
        probe=style.text(ev.probe),
        signal=style.code(ev.signal, None),
        port=style.port.format(ev.port) if ev.port else "",
        value=style.code(ev.value, style.value_limit) or style.empty_value,
        target=style.arrow.format(points) if points else "",
        certainty=f"{ev.certainty:.2f}",
        matched=style.code(ev.matched, None),
        note=style.note.format(style.text(ev.note)) if ev.note else "",
    )


PLAIN_EVIDENCE = EvidenceStyle(
    '{sign} {probe} {signal}{port} = "{value}"{target} ({certainty}) [{matched}{note}]',
    text=visible,
    code=visible,
)


def evidence_line(ev: Evidence, limit: int | None = 160) -> str:
    """One evidence item as a line: '[+] sadp sadp.DeviceDescription:37020 = "DS-…" -> Hikvision (0.95) [m]'.

    ``[+]`` marks evidence for the verdict, ``[-]`` evidence against it.
    """
    style = (
        PLAIN_EVIDENCE if limit == PLAIN_EVIDENCE.value_limit else replace(PLAIN_EVIDENCE, value_limit=limit)
    )
    return format_evidence(ev, style)


def flagged(device: DeviceReport) -> bool:
    """A device a person must look at: covered, likely or suspected."""
    return device.verdict.status in (Status.COVERED, Status.LIKELY, Status.SUSPECTED)


# --- evidence in plain words (the compact table, alerts) -----------------------------------------

# signal (or its prefix) -> what the device did, in words a non-expert reads; {v} is the value (quoted).
_SAID: tuple[tuple[str, str], ...] = (
    ("sadp.", "answered Hikvision SADP discovery as {v}"),
    ("dhip.", "answered Dahua DHIP discovery as {v}"),
    ("dahua.cgi", "its web API (Dahua magicBox) says {v}"),
    ("isapi.", "its Hikvision ISAPI device info says {v}"),
    ("onvif.", "its ONVIF service says {v}"),
    ("wsd.", "its WS-Discovery reply says {v}"),
    ("http.server", "its web server calls itself {v}"),
    ("http.www_authenticate", "its web login prompt is {v}"),
    ("rtsp.www_authenticate", "its video stream login prompt is {v}"),
    ("http.title", "its web page is titled {v}"),
    ("http.favicon", "its web page icon is a known one ({v})"),
    ("rtsp.server", "its video stream server calls itself {v}"),
    ("x509.", "its TLS certificate names {v}"),
    ("ssdp.", "its UPnP announcement says {v}"),
    ("upnp.", "its UPnP description says {v}"),
    ("snmp.", "its SNMP system description says {v}"),
    ("mdns.", "its mDNS announcement says {v}"),
    ("hostname", "its host name is {v}"),
    ("ssh.banner", "its SSH server calls itself {v}"),
    ("telnet.banner", "its telnet prompt is {v}"),
    ("ftp.banner", "its FTP server calls itself {v}"),
    ("sip.", "its SIP agent calls itself {v}"),
    ("nmap.", "nmap identified it as {v}"),
)


def plain_evidence(ev: Evidence, limit: int = 60) -> str:
    """One evidence item as a sentence: 'answered Hikvision's SADP discovery as DS-2CD2385G1-I',
    'its MAC 58:50:ed is registered to Hangzhou Hikvision Digital Technology' (fingerprint ids stay in JSON)."""
    value = visible(ev.value, limit)
    if ev.signal in ("mac", "claimed.mac"):
        org = ev.matched.split(" ", 1)[1] if ev.matched.startswith("oui:") and " " in ev.matched else "?"
        who = "its MAC" if ev.signal == "mac" else "the MAC it states"
        text = f"{who} {visible(ev.value[:8])} is registered to {visible(org, 60)}"
    else:
        template = next((t for prefix, t in _SAID if ev.signal.startswith(prefix)), "{signal} is {v}")
        text = template.format(v=f'"{value}"', signal=visible(ev.signal))
    points = "/".join(visible(p) for p in evidence_points(ev))
    if points and not ev.supports:
        text += f" (points at {points}, against the verdict)"
    return text


def strongest(evidence: list[Evidence]) -> Evidence | None:
    """The strongest evidence for the verdict (ties: report order), else None."""
    supporting = [e for e in evidence if e.supports and e.certainty > 0]
    return max(supporting, key=lambda e: e.certainty) if supporting else None


def switch_ports(device: DeviceReport) -> list[str]:
    """Where switches learned the device's MAC (``collect snmp``: switch, port, VLAN), sorted, each once."""
    return sorted({o.value for o in device.observations if o.signal == "snmp.fdb"})
