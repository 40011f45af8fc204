"""ICMP echo (ping) from inside a lab namespace, to measure what the lab's links do (loss, round-trip time).

Only for lab namespaces: :func:`ping` enters ``netns`` before it opens its socket, so nothing it sends can
leave the lab. The host needs no ping binary.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import statistics
import struct
import time
from dataclasses import dataclass, field

from scanner.lab.netns import run_in_netns


@dataclass
class PingStats:
    sent: int
    rtts: list[float] = field(default_factory=list)  # seconds, one per reply

    @property
    def received(self) -> int:
        return len(self.rtts)

    @property
    def loss(self) -> float:
        return 1.0 - self.received / self.sent if self.sent else 0.0

    def render(self) -> str:
        if not self.rtts:
            return f"{self.sent} sent, 0 received"
        return (
            f"{self.sent} sent, {self.received} received, loss {self.loss:.1%}, rtt min/median/max "
            f"{min(self.rtts) * 1000:.1f}/{statistics.median(self.rtts) * 1000:.1f}/{max(self.rtts) * 1000:.1f} ms"
        )


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return int(~total & 0xFFFF)


def _echo(ident: int, seq: int, payload: bytes) -> bytes:
    head = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    return struct.pack("!BBHHH", 8, 0, _checksum(head + payload), ident, seq) + payload


def _ping_here(target: str, count: int, interval: float, timeout: float) -> PingStats:
    ident = os.getpid() & 0xFFFF
    token = os.urandom(8)  # in every request: a late reply to an earlier run is not counted in this one
    payload = b"ndaa-lab" * 3 + token
    sent_at: dict[int, float] = {}
    stats = PingStats(sent=count)
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as s:
        s.setblocking(False)
        start = time.monotonic()
        last = start + (count - 1) * interval
        seq = 0
        while True:
            now = time.monotonic()
            if seq < count and now >= start + seq * interval:
                sent_at[seq] = now
                with contextlib.suppress(OSError):  # no neighbour yet (ARP lost): counted as a loss
                    s.sendto(_echo(ident, seq, payload), (target, 0))
                seq += 1
                continue
            if seq >= count and (now > last + timeout or len(stats.rtts) == count):
                return stats
            wait = (start + seq * interval - now) if seq < count else (last + timeout - now)
            ready, _, _ = select.select([s], [], [], max(0.0, min(wait, 0.05)))
            while ready:
                try:
                    packet, (src, _) = s.recvfrom(2048)
                except BlockingIOError:
                    break
                ihl = (packet[0] & 0x0F) * 4
                if src != target or len(packet) < ihl + 8:
                    continue
                kind, _, _, rid, rseq = struct.unpack("!BBHHH", packet[ihl : ihl + 8])
                if kind == 0 and rid == ident and rseq in sent_at and packet[ihl + 8 :] == payload:
                    stats.rtts.append(time.monotonic() - sent_at.pop(rseq))


def ping(
    netns: str, target: str, count: int = 200, interval: float = 0.01, timeout: float = 2.0
) -> PingStats:
    """Send ``count`` echo requests to ``target`` from namespace ``netns``, one every ``interval`` seconds, and
    wait ``timeout`` seconds after the last for replies."""
    result: PingStats = run_in_netns(netns, _ping_here, target, count, interval, timeout)
    return result
