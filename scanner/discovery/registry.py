"""The explicit list of probes: name -> (module, class, phase). Imported lazily, only when selected.

Phase ``sweep`` (the liveness sweep) runs first, on the targets ARP cannot reach; phase ``discover``
probes then run together in one concurrent round (ARP and the discovery protocols), their unicast going
to the on-link targets and the off-link ones the sweep found alive; phase ``banner`` probes then run on
the hosts found alive.
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
    phase: str  # "sweep" | "discover" | "banner"
    default: bool = True  # selected when --probes is not given
    min_budget: float = 0.0  # seconds at least, whatever its phase's budget (scan.probe_budget)


PROBES: dict[str, ProbeSpec] = {
    p.name: p
    for p in [
        ProbeSpec("arp", "scanner.discovery.arp", "ArpProbe", "discover"),
        ProbeSpec("wsd", "scanner.discovery.wsd", "WsdProbe", "discover"),
        ProbeSpec("mdns", "scanner.discovery.mdns", "MdnsProbe", "discover"),
        ProbeSpec("ssdp", "scanner.discovery.ssdp", "SsdpProbe", "discover"),
        ProbeSpec("sadp", "scanner.discovery.sadp", "SadpProbe", "discover"),
        ProbeSpec("dhip", "scanner.discovery.dhip", "DhipProbe", "discover"),
        ProbeSpec("liveness", "scanner.discovery.liveness", "LivenessProbe", "sweep"),
        # unicast mDNS to the live off-link targets: with the banner probes, so only hosts that answered
        # the liveness sweep (or any discovery) are asked, never every address of a routed /16
        ProbeSpec("mdns-unicast", "scanner.discovery.mdns_unicast", "MdnsUnicastProbe", "banner"),
        # IPv6 link sweep: selected by --ipv6 (scan.select_probes), never sends without it
        ProbeSpec("ndp", "scanner.discovery.ndp", "NdpProbe", "discover", default=False),
        ProbeSpec("http", "scanner.discovery.http", "HttpProbe", "banner"),
        ProbeSpec("tls", "scanner.discovery.tls", "TlsProbe", "banner"),
        ProbeSpec("rtsp", "scanner.discovery.rtsp", "RtspProbe", "banner"),
        ProbeSpec("onvif", "scanner.discovery.onvif", "OnvifProbe", "banner"),
        # SSH, telnet and FTP greetings: telecom gear without a web page on the scanned side
        ProbeSpec("greeting", "scanner.discovery.greeting", "GreetingProbe", "banner"),
        # SIP OPTIONS (no call set up): ONTs and gateways name model and firmware in Server / User-Agent
        ProbeSpec("sip", "scanner.discovery.sip", "SipProbe", "banner"),
        ProbeSpec("snmp", "scanner.discovery.snmp", "SnmpProbe", "banner", default=False),
        # nmap -sV waits on every silent port and service probe (35.6 s for 4 hosts on a namespace lab)
        ProbeSpec(
            "nmap", "scanner.discovery.nmap_source", "NmapSource", "banner", default=False, min_budget=60.0
        ),
    ]
}


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
    probe: Probe = getattr(module, spec.cls)()
    return probe
