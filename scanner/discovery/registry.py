"""The explicit list of probes: name -> (module, class, phase). Imported lazily, only when selected.

Phase ``discover`` probes run together in one concurrent round over the explicit targets (ARP and the
discovery protocols); phase ``banner`` probes then run on the hosts found alive.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from scanner.discovery.base import Probe
from scanner.errors import UsageError


@dataclass(frozen=True)
class ProbeSpec:
    name: str
    module: str
    cls: str
    phase: str  # "discover" | "banner"
    default: bool = True  # selected when --probes is not given
    summary: str = ""


PROBES: dict[str, ProbeSpec] = {p.name: p for p in [
    ProbeSpec("arp", "scanner.discovery.arp", "ArpProbe", "discover", summary="ARP sweep of on-link targets"),
    ProbeSpec("wsd", "scanner.discovery.wsd", "WsdProbe", "discover", summary="WS-Discovery / ONVIF probes"),
    ProbeSpec("mdns", "scanner.discovery.mdns", "MdnsProbe", "discover", summary="mDNS / DNS-SD browse"),
    ProbeSpec("ssdp", "scanner.discovery.ssdp", "SsdpProbe", "discover",
              summary="SSDP M-SEARCH + UPnP device descriptions"),
    ProbeSpec("sadp", "scanner.discovery.sadp", "SadpProbe", "discover", summary="Hikvision SADP inquiry"),
    ProbeSpec("dhip", "scanner.discovery.dhip", "DhipProbe", "discover", summary="Dahua DHIP DHDiscover.search"),
    ProbeSpec("http", "scanner.discovery.http", "HttpProbe", "banner",
              summary="HTTP(S) banners, titles, favicons, vendor endpoints"),
    ProbeSpec("tls", "scanner.discovery.tls", "TlsProbe", "banner", summary="TLS certificate subject/issuer"),
    ProbeSpec("rtsp", "scanner.discovery.rtsp", "RtspProbe", "banner", summary="RTSP OPTIONS/DESCRIBE banners"),
    ProbeSpec("onvif", "scanner.discovery.onvif", "OnvifProbe", "banner",
              summary="ONVIF GetSystemDateAndTime (GetDeviceInformation with env credentials)"),
    ProbeSpec("snmp", "scanner.discovery.snmp", "SnmpProbe", "banner", default=False,
              summary="SNMPv2c sysDescr/sysObjectID (only with --snmp-community)"),
    ProbeSpec("nmap", "scanner.discovery.nmap_source", "NmapSource", "banner", default=False,
              summary="nmap -sV on the live hosts via python-nmap (only with --with-nmap)"),
]}


def select(names: str | None) -> list[ProbeSpec]:
    """Probes named in a comma list (``all`` or None: the defaults); UsageError for unknown names."""
    if names is None or names.strip() in ("", "all"):
        return [p for p in PROBES.values() if p.default]
    chosen = []
    for raw in names.split(","):
        n = raw.strip().lower()
        if not n:
            continue
        if n not in PROBES:
            raise UsageError(f"unknown probe {n!r}; probes: {', '.join(PROBES)}")
        if PROBES[n] not in chosen:
            chosen.append(PROBES[n])
    if not chosen:
        raise UsageError("--probes names no probe")
    return chosen


def instantiate(spec: ProbeSpec) -> Probe:
    module = importlib.import_module(spec.module)
    return getattr(module, spec.cls)()
