"""Explicit scan targets: CIDRs, ranges and addresses, less exclusions. Nothing is ever scanned implicitly."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from scanner.errors import TargetError

DEFAULT_MAX_HOSTS = 65536  # a /16: larger sweeps must raise --max-hosts on purpose

_RANGE_SHORT = re.compile(r"^(\d{1,3}\.\d{1,3}\.\d{1,3}\.)(\d{1,3})-(\d{1,3})$")

Span = tuple[int, int]  # first and last address, as integers, inclusive


def _span_of(text: str) -> Span:
    """One target as an inclusive span: ``10.0.0.0/24`` (network and broadcast excluded below /31),
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
            a = ipaddress.IPv4Address(m.group(1) + m.group(2))
            b = ipaddress.IPv4Address(m.group(1) + str(last_octet))
        elif "-" in t:
            left, right = t.split("-", 1)
            a, b = ipaddress.IPv4Address(left.strip()), ipaddress.IPv4Address(right.strip())
        else:
            a = b = ipaddress.IPv4Address(t)
    except TargetError:
        raise
    except ValueError as exc:
        raise TargetError(
            f"{text!r} is not a target: {exc}. "
            "Use a CIDR (10.0.0.0/24), a range (10.0.1.5-40 or 10.0.1.5-10.0.1.40) "
            "or an address."
        ) from None
    if b < a:
        raise TargetError(f"{text!r}: the range ends before it starts")
    return int(a), int(b)


def parse_target(text: str, max_hosts: int = DEFAULT_MAX_HOSTS) -> list[ipaddress.IPv4Address]:
    """The addresses of one target (see ``_span_of``); TargetError when malformed or over ``max_hosts``."""
    first, last = _span_of(text)
    count = last - first + 1
    if count > max_hosts:
        raise TargetError(
            f"{text!r} holds {count} addresses, over the limit of {max_hosts}; "
            "split the scan or raise --max-hosts"
        )
    return [ipaddress.IPv4Address(i) for i in range(first, last + 1)]


def _parts(texts: Iterable[str]) -> Iterable[str]:
    for text in texts:
        yield from (part for part in text.split(",") if part.strip())


def exclusions(texts: Iterable[str]) -> list[Span]:
    """The spans ``--exclude`` names (same syntax as targets, any size: they are never enumerated)."""
    return [_span_of(part) for part in _parts(texts)]


def parse_targets(
    texts: Iterable[str], max_hosts: int = DEFAULT_MAX_HOSTS, exclude: Iterable[str] = ()
) -> list[ipaddress.IPv4Address]:
    """All targets, de-duplicated and sorted, less every address ``exclude`` names; TargetError over
    ``max_hosts`` (counted before exclusions), when none is given, or when the exclusions leave none."""
    skip = exclusions(exclude)  # a malformed exclusion fails before anything else
    seen: set[ipaddress.IPv4Address] = set()
    for part in _parts(texts):
        seen.update(parse_target(part, max_hosts))
        if len(seen) > max_hosts:
            raise TargetError(
                f"the targets hold more than {max_hosts} addresses; split the scan or raise --max-hosts"
            )
    if not seen:
        raise TargetError("no targets: name the CIDRs, ranges or addresses to scan, or --interface NAME")
    left = sorted(a for a in seen if not any(first <= int(a) <= last for first, last in skip))
    if not left:
        raise TargetError("--exclude removes every target: nothing is left to scan")
    return left


Placement = Literal["device", "heard", "drop"]

Target6 = tuple[ipaddress.IPv6Network, str | None]  # a named IPv6 prefix or address, and its zone


def parse_target6(text: str) -> Target6:
    """One named IPv6 target: an address or a prefix, with an optional zone (``fe80::/64%eth0``,
    ``fe80::1%eth0``, ``2001:db8::/64``). IPv6 prefixes are never enumerated: they bound which hosts found
    on the link may be probed. TargetError when malformed."""
    t = text.strip()
    net_text, zone = t, None
    if "%" in t:
        addr, _, rest = t.partition("%")
        zone, _, plen = rest.partition("/")
        net_text = f"{addr}/{plen}" if plen else addr
        if not zone or not zone.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise TargetError(f"{text!r}: the zone after % must name an interface, e.g. fe80::/64%eth0")
    try:
        net = ipaddress.IPv6Network(net_text, strict=False)
    except ValueError as exc:
        raise TargetError(f"{text!r} is not an IPv6 address or prefix: {exc}") from None
    if net.is_link_local and zone is None:
        raise TargetError(f"{text!r}: a link-local target needs its interface, e.g. fe80::/64%eth0")
    return net, zone


def in_targets6(text: str, targets6: Iterable[Target6]) -> bool:
    """True when IPv6 address ``text`` (``fe80::1%eth0``) is in one of the named ``targets6`` (a zoned
    target matches only addresses of that zone)."""
    bare, _, zone = text.partition("%")
    try:
        addr = ipaddress.IPv6Address(bare)
    except ValueError:
        return False
    return any(addr in net and (want is None or want == zone) for net, want in targets6)


@dataclass(frozen=True, slots=True)
class Scope:
    """Where a scan's devices may come from: the named targets (less exclusions); the scanner's own
    addresses and loopback are never a device. Hosts heard on the wire that are not targets are reported
    apart (``ScanReport.heard``) and never probed."""

    targets: frozenset[ipaddress.IPv4Address]
    own: frozenset[ipaddress.IPv4Address] = frozenset()
    targets6: tuple[Target6, ...] = ()  # named IPv6 prefixes/addresses (--ipv6)
    own6: frozenset[str] = frozenset()  # this host's IPv6 addresses (no zone)

    def place(self, ips: Iterable[str]) -> tuple[Placement, str | None]:
        """Where a host seen at ``ips`` belongs, and the target address to report it by: ``device`` (one
        of its addresses is a target: an IPv4 target first, else a named IPv6 one), ``heard`` (none is),
        ``drop`` (the scanner itself, loopback)."""
        texts = list(ips)
        addresses = [a for a in map(_ip, texts) if a is not None]
        if any(a in self.own or a.is_loopback or a.is_unspecified or str(a) in self.own6 for a in addresses):
            return "drop", None
        target = next((a for a in addresses if a in self.targets), None)
        if target is not None:
            return "device", str(target)
        named6 = next((t for t in texts if ":" in t and self.probeable6(t)), None)
        return ("device", named6) if named6 is not None else ("heard", None)

    def probeable6(self, text: str) -> bool:
        """True for an IPv6 address (``fe80::1%eth0``) inside a named IPv6 target, not this host's own."""
        return text.partition("%")[0] not in self.own6 and in_targets6(text, self.targets6)

    def probeable(self, address: ipaddress.IPv4Address) -> bool:
        """True for a target the active probes may contact: not the scanner itself, not loopback."""
        return address in self.targets and address not in self.own and not address.is_loopback


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
