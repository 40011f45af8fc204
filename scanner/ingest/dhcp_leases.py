"""Read DHCP server lease databases: ISC dhcpd ``dhcpd.leases``, dnsmasq ``dnsmasq.leases`` and Kea's
memfile CSV (``kea-leases4.csv``), told apart by their content, not their name.

Every lease becomes observations about its client, keyed by the lease's MAC and address
(probe ``dhcp-leases``): ``mac``, ``hostname`` (the name the client sent, option 12, or the FQDN
Kea recorded), ``dhcp.vendor_class`` (option 60, where the server stored it: dhcpd with
``set vendor-string = option vendor-class-identifier;``), ``dhcp.client_id`` (option 61, hex) and
``dhcp.lease`` (its state and end, e.g. ``expired 2026-12-03T13:10:00Z``). A lease that has ended,
or that the server marks free, released, expired or abandoned, is said to be so in ``dhcp.lease`` and
in a note: its address may since belong to another host, so its ``ip`` is kept only as evidence of
where the MAC was (the MAC, the host name and the vendor class still identify the device).

Formats (all read line by line, at most ``MAX_LINE_BYTES`` a line, ``MAX_LEASES`` leases held):
* dhcpd.leases(5): ``lease A.B.C.D { starts W YYYY/MM/DD HH:MM:SS; ends …; binding state active;
  hardware ethernet M; uid "…"; client-hostname "…"; set NAME = "…"; }``; the file is a log, the last
  record of an address wins. Times are UTC (``db-time-format default``) or ``epoch N;`` (``local``).
* dnsmasq: ``EXPIRY MAC IP HOSTNAME CLIENT-ID`` (``*`` for none; expiry 0 = never); DHCPv6 lines
  after ``duid …`` are skipped (no MAC).
* Kea memfile v4 CSV: header ``address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,
  fqdn_rev,hostname,state,…``; state 0 default, 1 declined, 2 expired-reclaimed; commas in host
  names are written ``&#x2c``. Appended records: the last of an address wins.

A malformed line or record is reported to ``problems(line, message)`` and skipped; a file with no valid
lease is a UsageError (exit 2).
"""

from __future__ import annotations

import csv
import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Literal

from scanner.errors import UsageError
from scanner.ingest.lines import BoundedLines
from scanner.observations import HostNote, Observation, normalise_mac

PROBE = "dhcp-leases"
MAX_LINE_BYTES = 64 * 1024
MAX_LEASES = 1 << 20  # addresses held while a file is read (a log file repeats them; last one wins)
MAX_FIELD = 512  # characters kept of a host name, vendor class or client id
MAX_PROBLEMS_HELD = 100

Problems = Callable[[int, str], None]
Kind = Literal["isc", "dnsmasq", "kea"]
ENDED_STATES = {"free", "released", "expired", "abandoned", "reset", "declined", "expired-reclaimed"}


@dataclass(slots=True)
class Lease:
    """One lease as the server last recorded it."""

    ip: str
    line: int
    mac: str | None = None
    hostname: str | None = None
    vendor_class: str | None = None
    client_id: str | None = None
    state: str = "active"  # active, free, released, expired, abandoned, backup, declined, …
    starts: datetime | None = None
    ends: datetime | None = None  # None: never ends (or not recorded)
    extra: dict[str, str] = field(default_factory=dict)

    def ended(self, now: datetime) -> bool:
        return self.state in ENDED_STATES or (self.ends is not None and self.ends <= now)


def read_dhcp_leases(
    source: str | Path | BinaryIO, problems: Problems, *, now: datetime | None = None
) -> Iterator[Observation | HostNote]:
    """Observations (and notes) for every lease of a dhcpd, dnsmasq or Kea lease file, address order
    of first appearance. ``now`` decides which leases have ended (default: the current time)."""
    from scanner.ingest.jsonl import open_input, source_name

    at = now or datetime.now(UTC)
    with open_input(source) as stream:
        name = source_name(source)
        leases, kind = read_leases(stream, problems, name)
        for lease in leases.values():
            if lease.mac is None:
                problems(lease.line, f"lease of {lease.ip} has no hardware address: skipped")
                continue
            yield from lease_observations(lease, kind, at)


def read_leases(stream: BinaryIO, problems: Problems, name: str = "input") -> tuple[dict[str, Lease], Kind]:
    """Every lease of the file by address (the last record of an address wins) and the format found."""
    held: list[tuple[int, str]] = []  # problems are reported once the file proves to hold a lease

    def hold(line: int, message: str) -> None:
        if len(held) < MAX_PROBLEMS_HELD:
            held.append((line, message))
        elif len(held) == MAX_PROBLEMS_HELD:
            held.append((line, "further problems not shown"))

    lines = _lines(stream, hold)
    first = _first_content(lines)
    if first is None:
        why = f"; first problem: line {held[0][0]}: {held[0][1]}" if held else ""
        raise UsageError(f"{name}: not a DHCP lease file (empty{why})"[:400])
    kind = _kind(first, name)
    reader = {"isc": _isc, "dnsmasq": _dnsmasq, "kea": _kea}[kind]
    leases: dict[str, Lease] = {}
    for lease in reader(_chain(first, lines), hold):
        if lease.ip not in leases and len(leases) >= MAX_LEASES:
            hold(lease.line, f"more than {MAX_LEASES} addresses: lease of {lease.ip} skipped")
            continue
        leases.pop(lease.ip, None)  # re-inserted: the order is that of the last record
        leases[lease.ip] = lease
    if not any(lease.mac for lease in leases.values()):
        why = f"; first problem: line {held[0][0]}: {held[0][1]}" if held else ""
        raise UsageError(f"{name}: no valid lease in this {_KIND_NAMES[kind]} file{why}"[:400])
    for line, message in held:
        problems(line, message)
    return leases, kind


_KIND_NAMES = {"isc": "dhcpd.leases", "dnsmasq": "dnsmasq leases", "kea": "Kea memfile CSV"}
_DNSMASQ = re.compile(r"^\d{1,20} [0-9A-Fa-f:-]{1,64} [0-9A-Fa-f.:]{2,45} \S+( \S+)?$")
_ISC_START = re.compile(
    r"^(lease\s+\d{1,3}(\.\d{1,3}){3}\s*\{|authoring-byte-order\b|server-duid\b|host\s+\S+\s*\{"
    r"|failover\s+peer\b|ia-na\b|lease6\b)"
)


def _kind(first: tuple[int, str], name: str) -> Kind:
    lineno, text = first
    kind = detect(text)
    if kind is None and text.startswith("address,duid,"):
        raise UsageError(f"{name}: a Kea DHCPv6 lease file: its clients are DUIDs, not MACs (not read)")
    if kind is None:
        raise UsageError(
            f"{name}: not a DHCP lease file (line {lineno} is neither dhcpd.leases, "
            f"dnsmasq nor Kea CSV: {text[:60]!r})"
        )
    return kind


def detect(first_line: str) -> Kind | None:
    """The lease format of a file from its first non-comment line."""
    line = first_line.strip()
    if line.startswith("address,hwaddr,"):
        return "kea"
    if _ISC_START.match(line):
        return "isc"
    if _DNSMASQ.match(line) or line.startswith("duid "):
        return "dnsmasq"
    return None


def lease_observations(lease: Lease, kind: Kind, now: datetime) -> Iterator[Observation | HostNote]:
    """The observations of one lease (its MAC must be known)."""
    ended = lease.ended(now)
    seen = lease.starts or now
    if seen.tzinfo is None:
        seen = seen.replace(tzinfo=UTC)
    server = {"isc": "dhcpd", "dnsmasq": "dnsmasq", "kea": "kea"}[kind]

    def obs(signal: str, value: str) -> Observation:
        return Observation(signal=signal, value=value, probe=PROBE, ip=lease.ip, mac=lease.mac, seen_at=seen)

    assert lease.mac is not None
    yield obs("mac", lease.mac)
    state = _state_text(lease, ended)
    yield obs("dhcp.lease", f"{state} ({server}, {lease.ip})")
    if lease.hostname:
        yield obs("hostname", lease.hostname)
    if lease.vendor_class:
        yield obs("dhcp.vendor_class", lease.vendor_class)
    if lease.client_id:
        yield obs("dhcp.client_id", lease.client_id)
    if ended:
        yield HostNote(
            f"DHCP lease of {lease.ip} {state}: the address may since belong to another host",
            ip=lease.ip,
            mac=lease.mac,
        )


def _state_text(lease: Lease, ended: bool) -> str:
    end = _iso(lease.ends) if lease.ends else None
    if lease.state in ENDED_STATES:
        return f"{lease.state} (ends {end})" if end else lease.state
    if ended:
        return f"expired {end}"
    if lease.state != "active":
        return f"{lease.state} until {end}" if end else lease.state
    return f"active until {end}" if end else "active, never ends"


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- lines


def _lines(stream: BinaryIO, problems: Problems) -> Iterator[tuple[int, str]]:
    for lineno, raw in BoundedLines(stream, problems, MAX_LINE_BYTES):
        if b"\0" in raw:
            problems(lineno, "NUL byte in line: skipped")
            continue
        yield lineno, raw.decode("utf-8", "replace").rstrip("\r\n")


def _first_content(lines: Iterator[tuple[int, str]]) -> tuple[int, str] | None:
    for lineno, text in lines:
        s = text.strip()
        if s and not s.startswith("#"):
            return lineno, text
    return None


def _chain(first: tuple[int, str], rest: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    yield first
    yield from rest


def _mac(text: str) -> str | None:
    try:
        return normalise_mac(text)
    except ValueError:
        return None


def _ipv4(text: str) -> str | None:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        return None


def _clip(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text[:MAX_FIELD])


# ---------------------------------------------------------------- dnsmasq


def _dnsmasq(lines: Iterator[tuple[int, str]], problems: Problems) -> Iterator[Lease]:
    v6 = False
    for lineno, text in lines:
        parts = text.split()
        if not parts or parts[0].startswith("#"):
            continue
        if parts[0] == "duid":
            v6 = True  # the DHCPv6 leases follow: IAID instead of a MAC
            continue
        if v6:
            continue
        if len(parts) not in (4, 5) or not parts[0].isdigit():
            problems(lineno, "not a dnsmasq lease line (EXPIRY MAC IP HOSTNAME [CLIENT-ID]): skipped")
            continue
        ip = _ipv4(parts[2])
        mac = _mac(parts[1])
        if ip is None or mac is None:
            problems(lineno, f"bad {'address' if ip is None else 'MAC'} in dnsmasq lease: skipped")
            continue
        expiry = int(parts[0][:20])
        ends = None if expiry == 0 else _epoch(expiry)
        if expiry and ends is None:
            problems(lineno, f"expiry {parts[0][:20]} out of range: kept without an end")
        host = parts[3] if parts[3] != "*" else None
        cid = parts[4] if len(parts) == 5 and parts[4] != "*" else None
        yield _lease(ip, lineno, mac, host, cid, ends=ends)


def _lease(
    ip: str,
    line: int,
    mac: str | None,
    host: str | None,
    cid: str | None,
    *,
    state: str = "active",
    starts: datetime | None = None,
    ends: datetime | None = None,
) -> Lease:
    """A dnsmasq or Kea lease row: its host name and client id (lower case) clipped, empty ones left out."""
    return Lease(
        ip=ip,
        line=line,
        mac=mac,
        hostname=_clip(host) if host else None,
        client_id=_clip(cid.lower()) if cid else None,
        state=state,
        starts=starts,
        ends=ends,
    )


def _epoch(n: int) -> datetime | None:
    try:
        return datetime.fromtimestamp(n, UTC)
    except (OverflowError, OSError, ValueError):
        return None


# ---------------------------------------------------------------- Kea memfile CSV

_KEA_STATES = {"0": "active", "1": "declined", "2": "expired-reclaimed"}


def _kea(lines: Iterator[tuple[int, str]], problems: Problems) -> Iterator[Lease]:
    header: list[str] | None = None
    for lineno, text in lines:
        if not text.strip() or text.startswith("#"):
            continue
        try:
            row = next(csv.reader([text]))
        except csv.Error as exc:
            problems(lineno, f"not CSV ({exc}): skipped")
            continue
        if row and row[0] == "address":
            header = row
            continue
        if header is None:
            problems(lineno, "Kea CSV row before the header: skipped")
            continue
        if len(row) < 10 or len(row) > len(header) + 4:
            problems(lineno, f"Kea lease row has {len(row)} fields, header {len(header)}: skipped")
            continue
        rec = dict(zip(header, row, strict=False))
        ip = _ipv4(rec.get("address", ""))
        if ip is None:
            problems(lineno, f"bad address {rec.get('address', '')[:45]!r} in Kea lease: skipped")
            continue
        raw_mac = rec.get("hwaddr", "")
        mac = _mac(raw_mac) if raw_mac else None
        if raw_mac and mac is None:
            problems(lineno, f"bad hwaddr {raw_mac[:64]!r} in Kea lease: skipped")
            continue
        try:
            expire = int(rec.get("expire", ""))
            valid = int(rec.get("valid_lifetime", ""))
        except ValueError:
            problems(lineno, "Kea lease expire/valid_lifetime not a number: skipped")
            continue
        ends = _epoch(expire) if valid != 0xFFFFFFFF else None
        starts = _epoch(expire - valid) if valid != 0xFFFFFFFF else None
        host = rec.get("hostname", "").replace("&#x2c", ",").rstrip(".")
        cid = rec.get("client_id", "")
        state = _KEA_STATES.get(rec.get("state", "0"), f"state {rec.get('state', '')[:8]}")
        yield _lease(ip, lineno, mac, host, cid, state=state, starts=starts, ends=ends)


# ---------------------------------------------------------------- ISC dhcpd.leases

_ISC_TIME = re.compile(r"^(?:\d\s+)?(\d{4})/(\d{1,2})/(\d{1,2})\s+(\d{1,2}):(\d{2}):(\d{2})$")
_VENDOR_SET = re.compile(r"vendor", re.IGNORECASE)


def _isc(lines: Iterator[tuple[int, str]], problems: Problems) -> Iterator[Lease]:
    """Statements of lease blocks; other blocks (host, failover, server-duid, lease6) are skipped."""
    lease: Lease | None = None
    depth = 0  # nesting inside a block that is not a lease
    for lineno, text in lines:
        s = text.strip()
        if not s or s.startswith("#"):
            continue
        if lease is None:
            lease, depth = _isc_outside(s, lineno, depth, problems)
            continue
        if s == "}":
            yield lease
            lease = None
        elif _LEASE_OPEN.match(s):
            problems(lease.line, f"lease of {lease.ip} not closed before line {lineno}: skipped")
            lease, depth = _isc_outside(s, lineno, 0, problems)
        elif not s.endswith(";"):
            problems(lineno, f"statement in lease of {lease.ip} does not end with ';': skipped")
        else:
            _isc_statement(lease, s[:-1].strip(), lineno, problems)
    if lease is not None:
        problems(lease.line, f"lease of {lease.ip} not closed at the end of the file: skipped")


_LEASE_OPEN = re.compile(r"^lease\s+(\S+)\s*\{\s*$")


def _isc_outside(s: str, lineno: int, depth: int, problems: Problems) -> tuple[Lease | None, int]:
    """A line outside any lease: the lease it opens, and the nesting depth of other blocks."""
    if depth:
        return None, max(depth + s.count("{") - s.count("}"), 0)
    m = _LEASE_OPEN.match(s)
    if m:
        ip = _ipv4(m.group(1))
        if ip is not None:
            return Lease(ip=ip, line=lineno), 0
        problems(lineno, f"lease of a bad address {m.group(1)[:45]!r}: skipped")
        return None, 1
    if "{" in s:
        return None, max(s.count("{") - s.count("}"), 0)
    if not s.endswith(";"):
        problems(lineno, "not a dhcpd.leases statement: skipped")
    return None, 0


def _isc_statement(lease: Lease, stmt: str, lineno: int, problems: Problems) -> None:
    head, _, rest = stmt.partition(" ")
    rest = rest.strip()
    if head in ("starts", "ends"):
        t = _isc_time(rest)
        if t is None and rest != "never":
            problems(lineno, f"{head} time {rest[:40]!r} not understood: ignored")
        setattr(lease, head, t)
    elif head == "binding" and rest.startswith("state "):
        lease.state = rest[6:].strip()[:32]
    elif head == "hardware":
        parts = rest.split()
        mac = _mac(parts[1]) if len(parts) == 2 and parts[0] == "ethernet" else None
        if mac is None:
            problems(lineno, f"hardware {rest[:64]!r} is not an Ethernet MAC: ignored")
        lease.mac = mac or lease.mac
    elif head == "client-hostname":
        name = _isc_string(rest)
        lease.hostname = _clip(name) if name else lease.hostname
    elif head == "uid":
        raw = _isc_bytes(rest)
        lease.client_id = ":".join(f"{b:02x}" for b in raw[:64]) if raw else lease.client_id
    elif head == "set" and "=" in rest:
        _isc_set(lease, rest)


def _isc_set(lease: Lease, rest: str) -> None:
    key, _, value = rest.partition("=")
    text = _isc_string(value.strip())
    if text is not None and _VENDOR_SET.search(key):
        lease.vendor_class = _clip(text)
    elif text is not None:
        lease.extra[key.strip()[:64]] = _clip(text)


def _isc_time(text: str) -> datetime | None:
    text = text.split("#", 1)[0].strip()
    if text.startswith("epoch "):
        n = text[6:].strip()
        return _epoch(int(n)) if n.isdigit() and len(n) < 20 else None
    m = _ISC_TIME.match(text)
    if not m:
        return None
    try:
        year, month, day, hour, minute, second = (int(g) for g in m.groups())
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None


def _isc_string(text: str) -> str | None:
    """A quoted dhcpd string (octal escapes decoded as bytes, then UTF-8), or colon-separated hex octets."""
    raw = _isc_bytes(text)
    return None if raw is None else raw.decode("utf-8", "replace")


def _isc_bytes(text: str) -> bytes | None:
    text = text.strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return _unescape(text[1:-1])
    if re.fullmatch(r"[0-9A-Fa-f]{1,2}(:[0-9A-Fa-f]{1,2})*", text):
        return bytes(int(x, 16) for x in text.split(":"))
    return None


def _unescape(body: str) -> bytes:
    out = bytearray()
    i = 0
    raw = body.encode("utf-8", "replace")
    while i < len(raw):
        c = raw[i]
        if c == 0x5C and i + 1 < len(raw):  # backslash
            nxt = raw[i + 1 : i + 4]
            if len(nxt) == 3 and all(0x30 <= d <= 0x37 for d in nxt):
                out.append(int(nxt.decode(), 8) & 0xFF)
                i += 4
                continue
            out.append(raw[i + 1])
            i += 2
            continue
        out.append(c)
        i += 1
    return bytes(out)
