"""Unprivileged host sweep: poke each address over UDP so the kernel resolves it, then read the
neighbour table. Needs no raw-socket rights; on-link subnets only, a few hundred addresses at a time
(the kernel's gc_thresh3)."""

from __future__ import annotations

import asyncio
import socket
from ipaddress import IPv4Address
from pathlib import Path

from scanner.discovery.base import Collector, ProbeContext, ProbeResult, ProbeStatus
from scanner.netif import Interface

CHUNK = 256
SETTLE = 0.35  # seconds for the kernel's ARP resolution of a chunk
# /proc/net follows the process's first thread; thread-self follows the calling thread's namespace.
ARP_TABLE = (
    Path("/proc/thread-self/net/arp") if Path("/proc/thread-self/net/arp").exists() else Path("/proc/net/arp")
)
NOTE = (
    "unprivileged sweep: no raw-socket rights (root or CAP_NET_RAW), so hosts were found through the "
    "kernel neighbour table after UDP pokes; run as root for a faster, complete ARP sweep"
)


def read_neighbours(text: str, device: str) -> dict[str, str]:
    """Complete (flags 0x2) entries of /proc/net/arp on ``device``: ip -> mac."""
    out = {}
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 6 or parts[5] != device:
            continue
        try:
            flags = int(parts[2], 16)
        except ValueError:
            continue
        if flags & 0x2 and parts[3] != "00:00:00:00:00:00":
            out[parts[0]] = parts[3].lower()
    return out


async def neighbour_sweep(ctx: ProbeContext, targets: list[IPv4Address], itf: Interface) -> ProbeResult:
    col = Collector("neighbour", ctx)
    seen: set[str] = set()
    sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setblocking(False)
        for start in range(0, len(targets), CHUNK):
            for t in targets[start : start + CHUNK]:
                if ctx.pacer is not None:  # each poke makes the kernel send an ARP request: --rate counts it
                    await ctx.pacer.take()
                try:
                    s.sendto(b"", (str(t), 9))  # discard port; the point is the kernel's ARP request
                    sent += 1
                except OSError:
                    continue
            await asyncio.sleep(SETTLE)
            try:
                table = read_neighbours(ARP_TABLE.read_text(), itf.name)
            except OSError as exc:
                return col.result(ProbeStatus.ERROR, error=f"cannot read {ARP_TABLE}: {exc}", notes=[NOTE])
            wanted = {str(t) for t in targets[start : start + CHUNK]}
            for ip_, mac in table.items():
                if ip_ in wanted and ip_ not in seen:
                    seen.add(ip_)
                    col.add("mac", mac, ip=ip_, mac=mac)
    status = ProbeStatus.PERMISSION_DENIED if not col.observations else ProbeStatus.SUCCESS
    return col.result(status, notes=[NOTE], sent=sent, received=len(seen))
