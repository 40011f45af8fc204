"""Explicit scan targets: CIDRs, ranges and addresses. Nothing is ever scanned implicitly."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from scanner.errors import TargetError

DEFAULT_MAX_HOSTS = 65536  # a /16: larger sweeps must raise --max-hosts on purpose

_RANGE_SHORT = re.compile(r"^(\d{1,3}\.\d{1,3}\.\d{1,3}\.)(\d{1,3})-(\d{1,3})$")


def parse_target(text: str, max_hosts: int = DEFAULT_MAX_HOSTS) -> list[ipaddress.IPv4Address]:
    """One target: ``10.0.0.0/24`` (network and broadcast excluded), ``10.0.1.5-40``,
    ``10.0.1.5-10.0.1.40`` or ``10.0.1.5``."""
    t = text.strip()
    if not t:
        raise TargetError("empty target")
    try:
        if "/" in t:
            net = ipaddress.IPv4Network(t, strict=False)
            if net.num_addresses > max_hosts + 2:
                raise TargetError(
                    f"{text!r} holds {net.num_addresses} addresses, over the limit of {max_hosts}; "
                    "split the scan or raise --max-hosts"
                )
            if net.prefixlen >= 31:
                return list(net)
            return list(net.hosts())
        m = _RANGE_SHORT.match(t)
        if m:
            first = ipaddress.IPv4Address(m.group(1) + m.group(2))
            last_octet = int(m.group(3))
            if last_octet > 255:
                raise TargetError(f"{text!r}: {last_octet} is not an octet (0-255)")
            last = ipaddress.IPv4Address(m.group(1) + str(last_octet))
            return _span(text, first, last, max_hosts)
        if "-" in t:
            a, b = t.split("-", 1)
            return _span(text, ipaddress.IPv4Address(a.strip()), ipaddress.IPv4Address(b.strip()), max_hosts)
        return [ipaddress.IPv4Address(t)]
    except TargetError:
        raise
    except ValueError as exc:
        raise TargetError(
            f"{text!r} is not a target: {exc}. "
            "Use a CIDR (10.0.0.0/24), a range (10.0.1.5-40 or 10.0.1.5-10.0.1.40) "
            "or an address."
        ) from None


def _span(
    text: str, first: ipaddress.IPv4Address, last: ipaddress.IPv4Address, max_hosts: int
) -> list[ipaddress.IPv4Address]:
    if last < first:
        raise TargetError(f"{text!r}: the range ends before it starts")
    count = int(last) - int(first) + 1
    if count > max_hosts:
        raise TargetError(
            f"{text!r} holds {count} addresses, over the limit of {max_hosts}; "
            "split the scan or raise --max-hosts"
        )
    return [ipaddress.IPv4Address(i) for i in range(int(first), int(last) + 1)]


def parse_targets(texts: Iterable[str], max_hosts: int = DEFAULT_MAX_HOSTS) -> list[ipaddress.IPv4Address]:
    """All targets, de-duplicated and sorted; TargetError over ``max_hosts`` or when none is given."""
    seen: set[ipaddress.IPv4Address] = set()
    for text in texts:
        for part in text.split(","):
            if part.strip():
                seen.update(parse_target(part, max_hosts))
                if len(seen) > max_hosts:
                    raise TargetError(
                        f"the targets hold more than {max_hosts} addresses; "
                        f"split the scan or raise --max-hosts"
                    )
    if not seen:
        raise TargetError("no targets: name the CIDRs, ranges or addresses to scan, or --interface NAME")
    return sorted(seen)
