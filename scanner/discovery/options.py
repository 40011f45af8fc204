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

# Pace and parallelism: one model for every probe.
#
# ``--rate`` is the most packets a second the whole scan sends, every probe together: each packet a probe
# sends (ARP who-has or the unprivileged sweep's pokes, liveness SYN/echo, a connect()'s SYN, a banner
# host's SYNs, SADP/DHIP/WS-Discovery/SSDP/SNMP/SIP datagrams)
# first takes a token from the scan's one ``pacing.Pacer``. Within that cap each probe keeps a pace of
# its own (``ProbeOptions.rate_for``): the sweeps (ARP, liveness) go at ``SWEEP_RATE`` unless the user
# named a rate; the UDP requests that embedded devices parse (SADP, DHIP, WS-Discovery, SSDP, SNMP, SIP) never
# go faster than ``DEVICE_RATE`` each. ``--concurrency`` is how many connections a connection-oriented
# probe holds open at once (``ProbeOptions.concurrency_for``): banner hosts (http, tls, rtsp, onvif, greeting),
# the unprivileged liveness connect() sweep; SSDP description fetches and mDNS resolves keep their lower
# ceiling ``FETCH_CONCURRENCY``. Not counted against --rate: the few multicast queries python-zeroconf
# sends for mDNS, the SSDP description fetches (one per answering device) and the packets of an
# established TCP connection (the banner probes' SYNs are counted, per socket a host may open).
DEFAULT_RATE = 40_000.0  # packets/s, the whole scan: today's sweeps and unicast discovery side by side
SWEEP_RATE = 20_000.0  # packets/s, ARP and the liveness sweep each (their own defaults before the shared cap)
DEVICE_RATE = 5_000.0  # datagrams/s, each unicast discovery probe (SADP, DHIP, WS-Discovery, SSDP, SNMP, SIP)
MIN_RATE = 10.0  # packets/s: the slowest pace the CLI accepts
SWEEP_PROBES = frozenset({"arp", "liveness"})
DEFAULT_CONCURRENCY = 128  # banner hosts probed at once (each holds one socket per port)
CONNECT_CONCURRENCY = 1024  # connect() attempts at once in the unprivileged liveness sweep
FETCH_CONCURRENCY = 32  # SSDP description fetches, mDNS resolves: at most this many at once


@dataclass(frozen=True, slots=True)
class Credentials:
    """A user name and password given by the user (never logged, never shown in a repr)."""

    user: str
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ProbeOptions:
    """Settings the user can give probes. ``None`` means "the probe's own default"."""

    rate: float | None = None  # packets/s for the whole scan (None: DEFAULT_RATE); see rate_for()
    concurrency: int | None = None  # connections at once per connection probe (None: each one's default)
    host_timeout: float | None = None  # seconds a banner probe spends on one host
    # probe or protocol name ("http", "https", "tls", "rtsp", "onvif", "ssh", "telnet", "ftp") -> ports to try
    # instead of the default; () for none
    ports: Mapping[str, tuple[int, ...]] = field(default_factory=lambda: MappingProxyType({}))
    snmp_community: str | None = field(default=None, repr=False)  # SNMP probe runs only when set
    snmp_port: int = 161
    onvif_credentials: Credentials | None = None  # sent only to named targets whose ONVIF service answered
    nmap_ports: str | None = None  # nmap -p syntax
    # IPv6 on the scan interface's link (--ipv6): set only together with an interface. Without it no probe
    # sends any IPv6 packet (ICMPv6 echo, mDNS/WS-Discovery/SSDP to ff02::fb / ff02::c, banners over IPv6).
    ipv6: bool = False
    liveness_sample: int | None = None  # --sample N: the liveness sweep asks N addresses per /24 first

    def ports_for(self, probe: str, default: tuple[int, ...]) -> tuple[int, ...]:
        return self.ports.get(probe, default)

    @property
    def rate_cap(self) -> float:
        """Packets per second the whole scan may send, all probes together."""
        return max(MIN_RATE, float(self.rate)) if self.rate else DEFAULT_RATE

    def rate_for(self, probe: str) -> float:
        """Packets per second ``probe`` paces itself at (never above ``rate_cap``): a sweep (arp,
        liveness) at the user's rate, else ``SWEEP_RATE``; a unicast discovery probe at ``DEVICE_RATE``
        at most."""
        own = (float(self.rate) if self.rate else SWEEP_RATE) if probe in SWEEP_PROBES else DEVICE_RATE
        return min(own, self.rate_cap)

    def concurrency_for(self, default: int) -> int:
        """Connections a probe whose own default is ``default`` holds at once: the user's value, else that."""
        return max(1, self.concurrency) if self.concurrency else default

    @property
    def host_concurrency(self) -> int:
        """Banner hosts probed at once (``ProbeContext.concurrency``)."""
        return self.concurrency_for(DEFAULT_CONCURRENCY)


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
