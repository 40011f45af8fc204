"""Explicit scan targets, the way nmap users give them, less exclusions. Nothing is ever scanned implicitly.

A target is an IPv4 CIDR (``10.0.0.0/24``), range (``10.0.1.5-40``, ``10.0.1.5-10.0.1.40``, nmap's octet
ranges ``10.0.0-3.1-254`` and ``10.0.4.*``) or address; an IPv6 address or prefix (``2001:db8::5``,
``fe80::1%eth0``, ``fe80::/64%eth0``); or a host name (``cam1.example.net``, ``cam1.example.net/24``),
resolved once, before any packet, within a bounded wait (``load_targets``).
Lists come from the command line (comma lists too) and from files (``-iL FILE``, ``--exclude-file FILE``,
``-`` for stdin): whitespace, comma or newline separated, ``#`` starts a comment (nmap's conventions).

IPv4 targets are enumerated (``--max-hosts`` bounds them). IPv6 targets are listed hosts, prefixes small
enough to enumerate, and prefixes that are never enumerated: a link-local prefix with its interface
(``fe80::/64%eth0``: the segment, found by discovery on it) or a global prefix that the list also names
hosts in. A ``Scope`` answers membership for both families; IPv4-only probes see only ``ScanRequest.targets``
(IPv4) and so skip every IPv6 target.
"""

from __future__ import annotations

import ipaddress
import math
import queue
import re
import socket
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address, IPv6Network
from types import MappingProxyType
from typing import BinaryIO, Literal

from scanner.errors import TargetError, UsageError

DEFAULT_MAX_HOSTS = 65536  # a /16: larger sweeps must raise --max-hosts on purpose
RESOLVE_SECONDS = 10.0  # the whole wait for every host name of a scan
RESOLVE_WORKERS = 16  # names resolved at once
MAX_LIST_BYTES = 8 * 1024 * 1024  # a target or exclusion file (or stdin) is read up to this
STDIN = "-"

Address = IPv4Address | IPv6Address
Resolver = Callable[[str], Sequence[Address]]  # blocking; OSError (socket.gaierror) when the name fails

_RANGE_SHORT = re.compile(r"^(\d{1,3}\.\d{1,3}\.\d{1,3}\.)(\d{1,3})-(\d{1,3})$")
_IPV4_CHARS = re.compile(r"^[0-9./\-\s]+$")
_IPV6 = re.compile(r"^(?P<addr>[^%/]+)(?:%(?P<zone1>[^/%]+))?(?:/(?P<prefix>[^%]*))?(?:%(?P<zone2>.+))?$")
_ZONE = re.compile(r"^[A-Za-z0-9_.:@-]{1,15}$")  # an interface name (IFNAMSIZ) or index
_LABEL = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")
_LINK_LOCAL = IPv6Network("fe80::/10")
_ONE_ENTRY = re.compile(r"^[^\s,]+$")
_OCTET = r"(?:\*|\d{1,3}(?:-\d{1,3})?)"
_NMAP_OCTETS = re.compile(rf"^{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}$")  # nmap's 10.0.0-3.*

SYNTAX = (
    "use an IPv4 CIDR (10.0.0.0/24), range (10.0.1.5-40 or 10.0.1.5-10.0.1.40) or address, "
    "an IPv6 address or prefix (2001:db8::5, fe80::1%eth0, fe80::/64%eth0) or a host name (cam1.example.net)"
)

Span = tuple[int, int]  # first and last address, as integers, inclusive


# ---------------------------------------------------------------- IPv4 (the original syntax)


def _span_of(text: str) -> Span:
    """One IPv4 target as an inclusive span: ``10.0.0.0/24`` (network and broadcast excluded below /31),
    ``10.0.1.5-40``, ``10.0.1.5-10.0.1.40`` or ``10.0.1.5``."""
    t = text.strip()
    if not t:
        raise TargetError("empty target")
    try:
        if "/" in t:
            net = ipaddress.IPv4Network(t, strict=False)
            first, last = int(net.network_address), int(net.broadcast_address)
            return (first, last) if net.prefixlen >= 31 else (first + 1, last - 1)
        m = _RANGE_SHORT.match(t)
        if m:
            last_octet = int(m.group(3))
            if last_octet > 255:
                raise TargetError(f"{text!r}: {last_octet} is not an octet (0-255)")
            a = IPv4Address(m.group(1) + m.group(2))
            b = IPv4Address(m.group(1) + str(last_octet))
        elif "-" in t:
            left, right = t.split("-", 1)
            a, b = IPv4Address(left.strip()), IPv4Address(right.strip())
        else:
            a = b = IPv4Address(t)
    except TargetError:
        raise
    except ValueError as exc:
        raise TargetError(f"{text!r} is not a target: {_reason(exc)}; {SYNTAX}") from None
    if b < a:
        raise TargetError(f"{text!r}: the range ends before it starts")
    return int(a), int(b)


def _reason(exc: ValueError) -> str:
    """ipaddress's reason in the user's terms, without the repetition of the text itself."""
    reason = str(exc).split(" in ", 1)[0].rstrip(".") or "malformed"
    if reason.startswith("Expected 4 octets"):
        return "an IPv4 address is four numbers 0-255 (10.0.0.7)"
    return reason


def _too_many(text: str, count: int, max_hosts: int) -> TargetError:
    return TargetError(
        f"{text!r} holds {count} addresses, over the limit of {max_hosts}; split the scan or raise --max-hosts"
    )


def parse_target(text: str, max_hosts: int = DEFAULT_MAX_HOSTS) -> list[IPv4Address]:
    """The addresses of one IPv4 target (see ``_span_of``); TargetError when malformed or over ``max_hosts``."""
    first, last = _span_of(text)
    count = last - first + 1
    if count > max_hosts:
        raise _too_many(text, count, max_hosts)
    return [IPv4Address(i) for i in range(first, last + 1)]


def _parts(texts: Iterable[str]) -> Iterable[str]:
    for text in texts:
        yield from (part.strip() for part in re.split(r"[\s,]+", text) if part.strip())


def exclusions(texts: Iterable[str]) -> list[Span]:
    """The IPv4 spans ``--exclude`` names (same syntax as targets, any size: they are never enumerated)."""
    return [_span_of(part) for part in _parts(texts)]


def parse_targets(
    texts: Iterable[str], max_hosts: int = DEFAULT_MAX_HOSTS, exclude: Iterable[str] = ()
) -> list[IPv4Address]:
    """IPv4 literal targets only (no names are resolved here), de-duplicated and sorted, less every
    address ``exclude`` names; TargetError over ``max_hosts`` (counted before exclusions), when none is
    given, or when the exclusions leave none. A scan's targets come from ``load_targets``."""
    skip = exclusions(exclude)  # a malformed exclusion fails before anything else
    seen: set[IPv4Address] = set()
    for part in _parts(texts):
        seen.update(parse_target(part, max_hosts))
        if len(seen) > max_hosts:
            raise TargetError(
                f"the targets hold more than {max_hosts} addresses; split the scan or raise --max-hosts"
            )
    if not seen:
        raise TargetError("no targets: name the CIDRs, ranges or addresses to scan, or --interface NAME")
    left = sorted(a for a in seen if not _in_spans(int(a), skip))
    if not left:
        raise TargetError("--exclude removes every target: nothing is left to scan")
    return left


def _in_spans(value: int, spans: Sequence[Span]) -> bool:
    return any(first <= value <= last for first, last in spans)


# ---------------------------------------------------------------- IPv6


@dataclass(frozen=True, slots=True)
class Net6:
    """An IPv6 prefix and the interface (zone) it is on; ``zone`` None: any interface."""

    network: IPv6Network
    zone: str | None = None

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, IPv6Address):
            return False
        return _bare(address) in self.network and _zones_match(self.zone, address.scope_id)

    def __str__(self) -> str:
        return f"{self.network}%{self.zone}" if self.zone else str(self.network)


def _bare(address: IPv6Address) -> IPv6Address:
    return address if address.scope_id is None else IPv6Address(int(address))


def _zones_match(a: str | None, b: str | None) -> bool:
    """Two zones name the same link unless both are given and differ (a zone left out matches any)."""
    return a is None or b is None or a == b


def _with_zone(address: IPv6Address, zone: str | None) -> IPv6Address:
    return IPv6Address(f"{_bare(address)}%{zone}") if zone else _bare(address)


@dataclass(frozen=True, slots=True)
class Targets6:
    """The IPv6 part of the targets: listed hosts (zone in ``scope_id``), prefixes that are never enumerated
    (membership only), and the IPv6 exclusions."""

    hosts: frozenset[IPv6Address] = frozenset()
    networks: tuple[Net6, ...] = ()
    excluded: tuple[Net6, ...] = ()
    _zones: Mapping[IPv6Address, frozenset[str | None]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _skip_hosts: Mapping[IPv6Address, frozenset[str | None]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _skip_nets: tuple[Net6, ...] = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "_zones", _index(self.hosts))
        singles = [x for x in self.excluded if x.network.prefixlen == 128]
        object.__setattr__(
            self, "_skip_hosts", _index(_with_zone(x.network.network_address, x.zone) for x in singles)
        )
        object.__setattr__(self, "_skip_nets", tuple(x for x in self.excluded if x.network.prefixlen < 128))

    def __bool__(self) -> bool:
        return bool(self.hosts or self.networks)

    def __contains__(self, address: object) -> bool:
        """A listed host (zones compatible), or inside a named prefix and not excluded."""
        if not isinstance(address, IPv6Address) or self.excludes(address):
            return False
        return _indexed(self._zones, address) or any(address in n for n in self.networks)

    def excludes(self, address: IPv6Address) -> bool:
        """True when an IPv6 exclusion covers ``address``."""
        return _indexed(self._skip_hosts, address) or any(address in x for x in self._skip_nets)

    def texts(self, limit: int | None = None) -> list[str]:
        """Hosts then prefixes, as text (for notes), the first ``limit`` of them."""
        shown = [str(h) for h in sorted(self.hosts, key=int)[:limit]] + [str(n) for n in self.networks]
        return shown[:limit]


def _index(hosts: Iterable[IPv6Address]) -> dict[IPv6Address, frozenset[str | None]]:
    """Address without zone -> the zones it was given with (None: none)."""
    zones: dict[IPv6Address, set[str | None]] = {}
    for h in hosts:
        zones.setdefault(_bare(h), set()).add(h.scope_id)
    return {a: frozenset(z) for a, z in zones.items()}


def _indexed(index: Mapping[IPv6Address, frozenset[str | None]], address: IPv6Address) -> bool:
    zones = index.get(_bare(address))
    return zones is not None and any(_zones_match(z, address.scope_id) for z in zones)


# ---------------------------------------------------------------- scope


Placement = Literal["device", "heard", "drop"]


@dataclass(frozen=True, slots=True)
class Scope:
    """Where a scan's devices may come from: the named targets (less exclusions), IPv4 (``targets``) and
    IPv6 (``ipv6``); the scanner's own addresses and loopback are never a device. Hosts heard on the wire
    that are not targets are reported apart (``ScanReport.heard``) and never probed. ``names``: the host
    name the user gave for a target address (address text -> name)."""

    targets: frozenset[IPv4Address]
    own: frozenset[IPv4Address | IPv6Address] = frozenset()
    ipv6: Targets6 = field(default_factory=Targets6)
    names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __contains__(self, address: object) -> bool:
        """A target address of either family (an IPv6 address inside a named prefix included)."""
        if isinstance(address, IPv4Address):
            return address in self.targets
        return address in self.ipv6

    def place(self, ips: Iterable[str]) -> tuple[Placement, str | None]:
        """Where a host seen at ``ips`` belongs, and the target address to report it by: ``device`` (one
        of its addresses is a target), ``heard`` (none is), ``drop`` (the scanner itself, loopback)."""
        addresses = [a for a in map(_ip, ips) if a is not None]
        if any(self._own(a) or a.is_loopback or a.is_unspecified for a in addresses):
            return "drop", None
        target = next((a for a in addresses if a in self), None)
        return ("device", str(target)) if target is not None else ("heard", None)

    def probeable(self, address: IPv4Address | IPv6Address) -> bool:
        """True for a target the active probes may contact: not the scanner itself, not loopback."""
        return address in self and not self._own(address) and not address.is_loopback

    def name_of(self, address: str | None) -> str | None:
        """The host name the user gave for the target at ``address``, if any."""
        if not address:
            return None
        return self.names.get(address) or self.names.get(address.split("%", 1)[0])

    def _own(self, address: IPv4Address | IPv6Address) -> bool:
        if isinstance(address, IPv6Address):
            bare, zone = _bare(address), address.scope_id
            return any(
                isinstance(o, IPv6Address) and _bare(o) == bare and _zones_match(o.scope_id, zone)
                for o in self.own
            )
        return address in self.own


def _ip(text: str) -> IPv4Address | IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        try:
            return ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError:
            return None


def own_ipv6_addresses(path: str = "/proc/net/if_inet6") -> frozenset[IPv6Address]:
    """This namespace's own IPv6 addresses (Linux; none elsewhere), link-local ones with their zone."""
    out: set[IPv6Address] = set()
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            lines = f.read(1 << 20).splitlines()
    except OSError:
        return frozenset()
    for line in lines:
        fields = line.split()
        if len(fields) < 6 or len(fields[0]) != 32:
            continue
        try:
            address = IPv6Address(int(fields[0], 16))
        except ValueError:
            continue
        out.add(_with_zone(address, fields[5]) if address in _LINK_LOCAL else address)
    return frozenset(out)


# ---------------------------------------------------------------- entries


@dataclass(frozen=True, slots=True)
class _V4:
    spans: tuple[Span, ...]

    @classmethod
    def of(cls, span: Span) -> _V4:
        return cls((span,))

    def count(self) -> int:
        return sum(last - first + 1 for first, last in self.spans)


@dataclass(frozen=True, slots=True)
class _V6:
    network: IPv6Network  # a host is a /128
    zone: str | None


@dataclass(frozen=True, slots=True)
class _Name:
    name: str
    prefix: int | None


_Entry = _V4 | _V6 | _Name


@dataclass(frozen=True, slots=True)
class _Item:
    text: str
    where: str  # "" on the command line, "FILE:LINE" in a list file
    entry: _Entry

    def error(self, message: str) -> TargetError:
        return TargetError(f"{self.where}: {message}" if self.where else message)


def _classify(text: str, default_zone: str | None, exclusion: bool = False) -> _Entry:
    """What one target text is; TargetError (one line, saying what is supported) when it is none."""
    t = text.strip()
    if not t:
        raise TargetError("empty target")
    if ":" in t:
        return _ipv6(t, default_zone, exclusion)
    if _NMAP_OCTETS.match(t) and ("*" in t or "-" in t.rsplit(".", 1)[0]):
        return _octet_ranges(t)
    if _IPV4_CHARS.match(t):
        return _V4.of(_span_of(t))
    name, _, prefix = t.partition("/")
    if _is_hostname(name):
        if not prefix:
            return _Name(name, None)
        if prefix.isdigit() and int(prefix) <= 128:
            return _Name(name, int(prefix))
        raise TargetError(f"{text!r}: {prefix!r} is not a prefix length")
    if "%" in t:
        raise TargetError(f"{text!r}: a zone (%eth0) belongs to IPv6 link-local addresses only")
    raise TargetError(f"{text!r} is not a target; {SYNTAX}")


def _octet_ranges(text: str) -> _V4:
    """nmap's octet ranges: ``10.0.0-3.1-254``, ``192.168.1.*`` (``*`` is 0-255), as one span per
    combination of the first three octets."""
    octets: list[tuple[int, int]] = []
    for part in text.split("."):
        first, _, last = ("0-255" if part == "*" else part).partition("-")
        lo, hi = int(first), int(last or first)
        if hi > 255:
            raise TargetError(f"{text!r}: {hi} is not an octet (0-255)")
        if hi < lo:
            raise TargetError(f"{text!r}: the octet range {part} ends before it starts")
        octets.append((lo, hi))
    (a0, a1), (b0, b1), (c0, c1), (d0, d1) = octets
    if (a1 - a0 + 1) * (b1 - b0 + 1) * (c1 - c0 + 1) > DEFAULT_MAX_HOSTS * 4:
        raise TargetError(f"{text!r} holds too many addresses; split the scan")
    spans = [
        ((a << 24) + (b << 16) + (c << 8) + d0, (a << 24) + (b << 16) + (c << 8) + d1)
        for a in range(a0, a1 + 1)
        for b in range(b0, b1 + 1)
        for c in range(c0, c1 + 1)
    ]
    return _V4(tuple(spans))


def _is_hostname(name: str) -> bool:
    """A DNS name (RFC 1123 labels, underscores allowed, not all digits at the end); an
    internationalised name is checked in its IDNA form."""
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            return False
    bare = name[:-1] if name.endswith(".") else name
    labels = bare.split(".")
    return (
        0 < len(bare) <= 253
        and all(_LABEL.match(label) for label in labels)
        and any(c.isalpha() for c in bare)
        and not labels[-1].isdigit()
    )


def _unbracket(text: str) -> str:
    """``[2001:db8::1]`` (as in URLs) without its brackets; an address and port is refused."""
    if not (text.startswith("[") and "]" in text):
        return text
    inner, _, rest = text[1:].partition("]")
    if rest and rest[0] not in "/%":
        raise TargetError(f"{text!r}: a target is an address, not an address and port")
    return inner + rest


def _ipv6(text: str, default_zone: str | None, exclusion: bool) -> _Entry:
    text = _unbracket(text)
    m = _IPV6.match(text)
    if not m:
        raise TargetError(f"{text!r} is not an IPv6 address or prefix; {SYNTAX}")
    addr_text, prefix_text = m["addr"], m["prefix"]
    zone = m["zone1"] or m["zone2"]
    if "-" in addr_text or (prefix_text and "-" in prefix_text):
        raise TargetError(
            f"{text!r}: IPv6 ranges are not supported; give a prefix (2001:db8::/120) or list the addresses"
        )
    if m["zone1"] and m["zone2"]:
        raise TargetError(f"{text!r}: two zones")
    if zone is not None and not _ZONE.match(zone):
        raise TargetError(f"{text!r}: {zone!r} is not an interface name")
    try:
        address = IPv6Address(addr_text)
        if prefix_text is None:
            network = IPv6Network(address)
        elif prefix_text.isdigit():
            network = IPv6Network(f"{address}/{prefix_text}", strict=False)
        else:
            raise ValueError(f"{prefix_text!r} is not a prefix length")
    except ValueError as exc:
        raise TargetError(f"{text!r} is not an IPv6 address or prefix: {_reason(exc)}; {SYNTAX}") from None
    if network.prefixlen >= 96 and address.ipv4_mapped is not None:  # ::ffff:10.0.0.1 is an IPv4 target
        mapped = ipaddress.IPv4Network(f"{address.ipv4_mapped}/{network.prefixlen - 96}", strict=False)
        return _V4.of((int(mapped.network_address), int(mapped.broadcast_address)))
    return _v6_entry(text, network, zone, default_zone, exclusion)


def _v6_entry(
    text: str, network: IPv6Network, zone: str | None, default_zone: str | None, exclusion: bool = False
) -> _V6:
    """An IPv6 target; a link-local one needs its zone (an exclusion without one excludes on every link)."""
    if network.is_multicast:
        raise TargetError(f"{text!r}: a multicast address is not a target (name the hosts or the segment)")
    if network.is_unspecified or network.is_loopback:
        raise TargetError(f"{text!r}: not a host on a network")
    link_local = network.subnet_of(_LINK_LOCAL) or _LINK_LOCAL.subnet_of(network)
    if link_local:
        zone = zone or (None if exclusion else default_zone)
        if zone is None and not exclusion:
            raise TargetError(
                f"{text!r}: a link-local address needs its interface: {network.network_address}%eth0 "
                "(or give --interface)"
            )
    elif zone is not None:
        raise TargetError(f"{text!r}: a zone (%{zone}) belongs to link-local addresses only")
    return _V6(network, zone)


# ---------------------------------------------------------------- list files


def read_list(path: str, option: str, stdin: BinaryIO | None = None) -> list[tuple[str, str]]:
    """``(entry, "FILE:LINE")`` of a target list (``-``: stdin), read up to ``MAX_LIST_BYTES``: entries
    separated by whitespace, commas or newlines, ``#`` to the end of a line a comment. UsageError (one
    line) for a file that is missing, unreadable, a directory, too large or not text."""
    label = "<stdin>" if path == STDIN else path
    try:
        if path == STDIN:
            data = (stdin if stdin is not None else sys.stdin.buffer).read(MAX_LIST_BYTES + 1)
        else:
            with open(path, "rb") as f:
                data = f.read(MAX_LIST_BYTES + 1)
    except FileNotFoundError:
        raise UsageError(f"{option} {label}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{option} {label}: is a directory, not a list of targets") from None
    except OSError as exc:
        raise UsageError(f"{option} {label}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_LIST_BYTES:
        raise UsageError(f"{option} {label}: over {MAX_LIST_BYTES // (1024 * 1024)} MiB: split the list")
    if b"\0" in data:
        raise UsageError(f"{option} {label}: not a text file (it holds NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{option} {label}: not UTF-8 text (byte {exc.start})") from None
    return _list_entries(text, label)


def _list_entries(text: str, label: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for n, line in enumerate(text.splitlines(), 1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        where = f"{label}:{n}"
        if _ONE_ENTRY.match(entry):  # the common case, one target a line: no split
            out.append((entry, where))
        else:
            out += [(part, where) for part in _parts([entry])]
    return out


# ---------------------------------------------------------------- names


def system_resolve(name: str) -> list[Address]:
    """The addresses of ``name`` from the system's resolver (files, DNS… per nsswitch), in its order.
    A ``.invalid`` name never resolves and is not asked (RFC 6761 §6.4)."""
    if name.rstrip(".").lower().rsplit(".", 1)[-1] == "invalid":
        raise socket.gaierror(socket.EAI_NONAME, "a .invalid name never resolves (RFC 6761 section 6.4)")
    out: list[Address] = []
    for family, _, _, _, sockaddr in socket.getaddrinfo(name, None, type=socket.SOCK_STREAM):
        if family == socket.AF_INET:
            out.append(IPv4Address(sockaddr[0]))
        elif family == socket.AF_INET6:
            text = str(sockaddr[0]).split("%", 1)[0]
            scope = int(sockaddr[3]) if len(sockaddr) > 3 else 0
            zone = _zone_name(scope) if scope else None
            out.append(IPv6Address(f"{text}%{zone}") if zone else IPv6Address(text))
    return list(dict.fromkeys(out))


def _zone_name(index: int) -> str:
    try:
        return socket.if_indextoname(index)
    except OSError:
        return str(index)


def resolve_names(
    names: Sequence[str], resolver: Resolver, seconds: float = RESOLVE_SECONDS
) -> dict[str, list[Address] | str]:
    """Each name's addresses, or why it failed (text): resolved concurrently (``RESOLVE_WORKERS`` at
    once) on daemon threads, all within ``seconds``; a name not answered by then is ``"no answer…"``
    (a resolver that hangs is left behind, never waited for)."""
    todo: queue.SimpleQueue[str] = queue.SimpleQueue()
    for n in dict.fromkeys(names):
        todo.put(n)
    wanted = len(set(names))
    results: dict[str, list[Address] | str] = {}
    lock = threading.Lock()
    done = threading.Event()

    def work() -> None:
        while True:
            try:
                name = todo.get_nowait()
            except queue.Empty:
                return
            got: list[Address] | str
            try:
                got = list(resolver(name)) or "the resolver gave no address"
            except (OSError, UnicodeError, ValueError) as exc:
                got = (exc.strerror if isinstance(exc, OSError) else None) or str(exc) or type(exc).__name__
            with lock:
                results[name] = got
                if len(results) >= wanted:
                    done.set()

    if not wanted:
        return {}
    for _ in range(min(RESOLVE_WORKERS, wanted)):
        threading.Thread(target=work, name="resolve", daemon=True).start()
    done.wait(seconds)
    with lock:
        out = dict(results)
    for n in names:
        out.setdefault(n, f"no answer from the name resolver within {seconds:g} s")
    return out


# ---------------------------------------------------------------- the whole target list


@dataclass(frozen=True, slots=True)
class TargetSet:
    """A scan's targets, resolved and less exclusions: ``v4`` (enumerated, sorted), ``v6``; ``names``
    (address -> the host name given); ``texts`` and ``exclude_texts`` as the report and history record
    them (a name replaced by the address scanned); ``notes`` for the report."""

    v4: tuple[IPv4Address, ...]
    v6: Targets6
    names: Mapping[str, str]
    texts: tuple[str, ...]
    exclude_texts: tuple[str, ...]
    notes: tuple[str, ...]

    def zones(self) -> set[str]:
        return {h.scope_id for h in self.v6.hosts if h.scope_id} | {
            n.zone for n in self.v6.networks if n.zone
        }


def load_targets(
    texts: Sequence[str],
    *,
    files: Sequence[str] = (),
    exclude: Sequence[str] = (),
    exclude_files: Sequence[str] = (),
    max_hosts: int = DEFAULT_MAX_HOSTS,
    default_zone: str | None = None,
    resolver: Resolver | None = None,
    resolve_seconds: float = RESOLVE_SECONDS,
    stdin: BinaryIO | None = None,
) -> TargetSet:
    """Every target and exclusion (command line, then files), checked, names resolved (all at once,
    within ``resolve_seconds``), enumerated and subtracted. Every problem is one TargetError/UsageError
    line, raised before anything is sent: syntax first, then names, then sizes."""
    if sum(f == STDIN for f in (*files, *exclude_files)) > 1:
        raise UsageError("only one list can come from stdin ('-')")
    targets = _items([(t, "") for t in _parts(texts)], default_zone)
    for f in files:
        listed = read_list(f, "-iL", stdin)
        if not listed:
            raise UsageError(f"-iL {'<stdin>' if f == STDIN else f}: no targets in it")
        targets += _items(listed, default_zone)
    skips = _items([(t, "") for t in _parts(exclude)], default_zone, exclusion=True)
    for f in exclude_files:
        skips += _items(read_list(f, "--exclude-file", stdin), default_zone, exclusion=True)
    if not targets:
        raise TargetError("no targets: name the CIDRs, ranges, addresses or host names to scan, or -iL FILE")
    names = [i.entry.name for i in (*targets, *skips) if isinstance(i.entry, _Name)]
    resolved = resolve_names(names, resolver or system_resolve, resolve_seconds) if names else {}
    return _build(targets, skips, resolved, max_hosts, default_zone)


def _items(
    entries: Iterable[tuple[str, str]], default_zone: str | None, exclusion: bool = False
) -> list[_Item]:
    out = []
    for text, where in entries:
        try:
            out.append(_Item(text, where, _classify(text, default_zone, exclusion)))
        except TargetError as exc:
            raise TargetError(f"{where}: {exc}" if where else str(exc)) from None
    return out


def _pick(item: _Item, name: _Name, got: list[Address] | str, default_zone: str | None) -> tuple[_Entry, str]:
    """A resolved name as an entry (its first IPv4 address, else its first IPv6, as nmap does) and the
    text the report records."""
    if isinstance(got, str):
        raise item.error(f"{name.name}: the name does not resolve ({got})")
    address = next((a for a in got if isinstance(a, IPv4Address)), got[0])
    if isinstance(address, IPv4Address):
        if name.prefix is not None and name.prefix > 32:
            raise item.error(
                f"{item.text!r}: /{name.prefix} is not an IPv4 prefix ({name.name} is {address})"
            )
        text = f"{address}/{name.prefix}" if name.prefix is not None else str(address)
        return _V4.of(_span_of(text)), text
    network = IPv6Network(f"{_bare(address)}/{128 if name.prefix is None else name.prefix}", strict=False)
    try:
        entry = _v6_entry(item.text, network, address.scope_id, default_zone)
    except TargetError as exc:
        raise item.error(f"{name.name} is {address}: {exc}") from None
    text = str(_with_zone(address, entry.zone)) + (f"/{name.prefix}" if name.prefix is not None else "")
    return entry, text


def _resolve_items(
    items: list[_Item], resolved: Mapping[str, list[Address] | str], default_zone: str | None
) -> tuple[list[tuple[_Item, _Entry, str]], dict[str, str], list[str]]:
    """Each item with its entry (names replaced by an address) and recorded text; address -> name; notes."""
    out: list[tuple[_Item, _Entry, str]] = []
    names: dict[str, str] = {}
    notes: list[str] = []
    for item in items:
        if not isinstance(item.entry, _Name):
            out.append((item, item.entry, item.text))
            continue
        got = resolved.get(item.entry.name, "not asked")
        entry, text = _pick(item, item.entry, got, default_zone)
        out.append((item, entry, text))
        assert not isinstance(got, str)
        chosen = text.split("/", 1)[0]
        names.setdefault(chosen, item.entry.name)
        note = f"{item.entry.name} resolved to {chosen}"
        others = [str(a) for a in got if str(a) != chosen]
        if others:
            note += f" (other addresses not scanned: {', '.join(others[:8])})"
        notes.append(note)
    return out, names, list(dict.fromkeys(notes))


def _build(
    targets: list[_Item],
    skips: list[_Item],
    resolved: Mapping[str, list[Address] | str],
    max_hosts: int,
    default_zone: str | None,
) -> TargetSet:
    wanted, names, notes = _resolve_items(targets, resolved, default_zone)
    unwanted, _, skip_notes = _resolve_items(skips, resolved, default_zone)
    skip4 = [span for _, e, _ in unwanted if isinstance(e, _V4) for span in e.spans]
    skip6 = Targets6(excluded=tuple(Net6(e.network, e.zone) for _, e, _ in unwanted if isinstance(e, _V6)))
    seen4, hosts6, nets6 = _expand(wanted, max_hosts)
    v4 = _less(seen4, skip4)
    v6 = Targets6(
        hosts=frozenset(h for h in hosts6 if not skip6.excludes(h)),
        networks=tuple(dict.fromkeys(nets6)),
        excluded=skip6.excluded,
    )
    if not v4 and not v6:
        raise TargetError("--exclude/--exclude-file removes every target: nothing is left to scan")
    if v6:
        notes.append(_v6_note(v6))
    return TargetSet(
        v4=v4,
        v6=v6,
        names=MappingProxyType(names),
        texts=tuple(text for _, _, text in wanted),
        exclude_texts=tuple(text for _, _, text in unwanted),
        notes=tuple(dict.fromkeys([*notes, *skip_notes])),
    )


def _expand(
    wanted: list[tuple[_Item, _Entry, str]], max_hosts: int
) -> tuple[set[int], set[IPv6Address], list[Net6]]:
    """The IPv4 addresses (as integers), IPv6 hosts and never-enumerated IPv6 prefixes of the targets;
    TargetError past ``max_hosts`` or for a large global prefix with no host named in it."""
    listed6 = [
        e.network.network_address for _, e, _ in wanted if isinstance(e, _V6) and e.network.prefixlen == 128
    ]
    seen4: set[int] = set()
    hosts6: set[IPv6Address] = set()
    nets6: list[Net6] = []
    for item, entry, text in wanted:
        if isinstance(entry, _V4):
            count = entry.count()
            if count > max_hosts:
                raise item.error(str(_too_many(text, count, max_hosts)))
            for first, last in entry.spans:
                seen4.update(range(first, last + 1))
        elif isinstance(entry, _V6):
            if entry.network.num_addresses <= max_hosts:
                hosts6.update(_enumerate6(entry))
            elif entry.zone is not None or any(a in entry.network for a in listed6):
                nets6.append(Net6(entry.network, entry.zone))
            else:
                raise item.error(_unbounded(text, entry.network, max_hosts))
        if len(seen4) + len(hosts6) > max_hosts:
            raise item.error(
                f"the targets hold more than {max_hosts} addresses; split the scan or raise --max-hosts"
            )
    return seen4, hosts6, nets6


def _less(seen: set[int], skip: list[Span]) -> tuple[IPv4Address, ...]:
    """The IPv4 addresses of ``seen`` outside every span of ``skip``, sorted."""
    singles = {first for first, last in skip if first == last}
    ranges = [(first, last) for first, last in skip if first != last]
    return tuple(map(IPv4Address, sorted(a for a in seen if a not in singles and not _in_spans(a, ranges))))


def _v6_note(v6: Targets6) -> str:
    total = len(v6.hosts) + len(v6.networks)
    more = f" and {total - 8} more" if total > 8 else ""
    return f"IPv6 targets (IPv4-only probes skip them): {', '.join(v6.texts(8))}{more}"


def _enumerate6(entry: _V6) -> Iterable[IPv6Address]:
    """The addresses of a small IPv6 prefix, with its zone, less the subnet-router anycast address
    (RFC 4291 §2.6.1) below /127."""
    net = entry.network
    first = 1 if net.prefixlen <= 126 else 0
    base = int(net.network_address)
    addresses = map(IPv6Address, range(base + first, base + net.num_addresses))
    return addresses if entry.zone is None else (_with_zone(a, entry.zone) for a in addresses)


def _unbounded(text: str, net: IPv6Network, max_hosts: int) -> str:
    smallest = 128 - int(math.log2(max_hosts))
    return (
        f"{text!r} holds 2^{128 - net.prefixlen} addresses: an IPv6 prefix is never swept; name hosts in it "
        f"too (e.g. {net.network_address + 1}), a prefix of at most {max_hosts} addresses (/{smallest}), "
        "or a link-local segment with its interface (fe80::/64%eth0)"
    )
