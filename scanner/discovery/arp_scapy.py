"""ARP sweep through scapy, for platforms without AF_PACKET (BSD/macOS use BPF through libpcap).

Off the hot path by design: scapy takes ~0.8 s to import and ~306 µs to build a frame
(docs/PERFORMANCE.md#arp-sweep), so Linux uses ``arp.py``'s raw socket and only falls back here when
AF_PACKET does not exist. scapy is an optional extra (GPL-2.0-only): ``pip install ndaa-scanner[scapy]``.
"""

from __future__ import annotations

import asyncio
from ipaddress import IPv4Address

from scanner.discovery.base import Collector, ProbeContext, ProbeResult, ProbeStatus

NOTE = "ARP sweep through scapy (no AF_PACKET on this platform): slower than the raw-socket sweep"


def available() -> bool:
    try:
        import scapy  # noqa: F401
    except ImportError:
        return False
    return True


async def scapy_sweep(
    ctx: ProbeContext, targets: list[IPv4Address], iface: str, timeout: float = 1.0
) -> ProbeResult:
    col = Collector("arp", ctx)
    try:
        answered = await asyncio.to_thread(_srp, [str(t) for t in targets], iface, timeout)
    except PermissionError:
        return col.result(
            ProbeStatus.PERMISSION_DENIED, error="scapy needs raw-socket rights (root)", notes=[NOTE]
        )
    except OSError as exc:
        return col.result(ProbeStatus.ERROR, error=f"scapy ARP sweep failed: {exc}", notes=[NOTE])
    wanted = {str(t) for t in targets}
    for ip, mac in answered:
        if ip in wanted:
            col.add("mac", mac, ip=ip, mac=mac)
    return col.result(notes=[NOTE], sent=len(targets), received=len(col.observations))


def _srp(hosts: list[str], iface: str, timeout: float) -> list[tuple[str, str]]:
    from scapy.config import conf
    from scapy.layers.l2 import ARP, Ether
    from scapy.sendrecv import srp

    # scapy lists the interfaces once, in the namespace that imported it first: read them again here
    conf.ifaces.reload()

    # A host list, not ARP(pdst="x/24"): .0 and .255 never answer and would hold the timeout.
    answered, _ = srp(
        Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(pdst=hosts), iface=iface, timeout=timeout, retry=1, verbose=False
    )
    return [(rcv.psrc, rcv.hwsrc.lower()) for _snd, rcv in answered]
