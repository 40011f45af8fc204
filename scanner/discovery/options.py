"""Typed settings for probes, and what one phase of a scan hands to the next.

One rule for typed values in this package: a frozen dataclass for what lives only inside one process
(a scan request, probe options, a phase hand-off); a pydantic model for what crosses a boundary (files
we read, reports and JSON we write), where validation and a schema pay for themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

ONVIF_USER_ENV, ONVIF_PASSWORD_ENV = "NDAA_ONVIF_USER", "NDAA_ONVIF_PASSWORD"  # read by the CLI only


@dataclass(frozen=True, slots=True)
class Credentials:
    """A user name and password given by the user (never logged, never shown in a repr)."""

    user: str
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ProbeOptions:
    """Settings the user can give probes. ``None`` means "the probe's own default"."""

    arp_rate: float | None = None  # ARP who-has frames per second
    udp_rate: float | None = None  # unicast discovery datagrams per second (SADP, DHIP, WS-Discovery, SSDP)
    host_timeout: float | None = None  # seconds a banner probe spends on one host
    # probe name ("http", "https", "tls", "rtsp", "onvif") -> ports to try instead of the default; () for none
    ports: Mapping[str, tuple[int, ...]] = field(default_factory=lambda: MappingProxyType({}))
    snmp_community: str | None = field(default=None, repr=False)  # SNMP probe runs only when set
    snmp_port: int = 161
    onvif_credentials: Credentials | None = None  # sent only to named targets whose ONVIF service answered
    nmap_ports: str | None = None  # nmap -p syntax
    liveness_sample: int | None = None  # --sample N: the liveness sweep asks N addresses per /24 first

    def ports_for(self, probe: str, default: tuple[int, ...]) -> tuple[int, ...]:
        return self.ports.get(probe, default)


@dataclass(frozen=True, slots=True)
class Handoff:
    """What the discovery phase found that the banner phase may use, keyed by the replying host's address."""

    # host -> ONVIF device-service URLs that host announced over WS-Discovery (only same-host URLs are used)
    onvif_xaddrs: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))


def parse_ports(text: str) -> tuple[int, ...]:
    """ "80,8080" -> (80, 8080); an empty text -> (); ValueError on anything else."""
    parts = [p for p in text.replace(" ", "").split(",") if p]
    ports = tuple(int(p) for p in parts if p.isascii() and p.isdigit())
    if len(ports) != len(parts) or not all(0 < p < 65536 for p in ports):
        raise ValueError(f"not a port list: {text!r}")
    return ports
