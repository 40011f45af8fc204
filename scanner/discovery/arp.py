"""ARP sweep of the on-link targets from a raw AF_PACKET socket, asyncio-driven.

Measured here (docs/PERFORMANCE.md#arp-sweep): a raw-socket sweep finds 254 hosts in ~0.3 s where
scapy's srp, nmap -sn and arp-scan take 1.4-1.8 s, so this hot path is our own code. Requests are
paced (``rate`` frames/s), non-responders are asked once more, and the sweep ends when every target
answered or nothing arrived for ``idle`` seconds. Without raw-socket rights it falls back to
``neighbour.py`` (an unprivileged sweep through the kernel's neighbour table) and says so; on a
platform without AF_PACKET it uses scapy (``arp_scapy.py``) when installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from ipaddress import IPv4Address

from scanner.discovery.base import Collector, ProbeContext, ProbeResult, ProbeStatus
from scanner.discovery.parsers.arp import ETH_P_ARP, build_request, parse_reply
from scanner.netif import interface

IDLE = 0.25  # seconds without a reply that end a round
ROUNDS = 2  # first ask, then ask the silent once more
DEFAULT_RATE = 20000  # frames per second
RCVBUF = 4 << 20


class ArpProbe:
    name = "arp"
    description = "ARP sweep of on-link targets (raw socket; unprivileged neighbour-table fallback)"

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        col = Collector(self.name, ctx)
        if not ctx.interface:
            return col.result(ProbeStatus.SKIPPED, notes=["ARP needs an interface on the targets' subnet"])
        itf = interface(ctx.interface)
        targets = [t for t in ctx.targets if t in itf.network and t != itf.ip]
        if not targets:
            return col.result(
                ProbeStatus.SKIPPED, notes=[f"no target is on-link on {itf.name} ({itf.network})"]
            )
        if not hasattr(socket, "AF_PACKET"):
            from scanner.discovery import arp_scapy

            if arp_scapy.available():
                return await arp_scapy.scapy_sweep(ctx, targets, itf.name)
            from scanner.discovery.neighbour import neighbour_sweep

            return await neighbour_sweep(ctx, targets, itf)
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
        except PermissionError:
            from scanner.discovery.neighbour import neighbour_sweep

            return await neighbour_sweep(ctx, targets, itf)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
            sock.bind((itf.name, ETH_P_ARP))
            sock.setblocking(False)
            rate = float(ctx.options.arp_rate or DEFAULT_RATE)
            found, sent = await _sweep(sock, itf.mac, itf.ip, targets, col, rate, ctx.timeout)
        except OSError as exc:
            return col.result(ProbeStatus.ERROR, error=f"ARP sweep on {itf.name} failed: {exc}")
        finally:
            sock.close()
        return col.result(sent=sent, received=found)


async def _sweep(
    sock: socket.socket,
    src_mac: str,
    src_ip: IPv4Address,
    targets: list[IPv4Address],
    col: Collector,
    rate: float,
    budget: float,
) -> tuple[int, int]:
    loop = asyncio.get_running_loop()
    mac_b = bytes.fromhex(src_mac.replace(":", ""))
    ip_b = src_ip.packed
    pending = {str(t): t.packed for t in targets}
    answered: dict[str, str] = {}
    last_event = time.monotonic()
    all_done = asyncio.Event()
    deadline = time.monotonic() + max(budget, 0.5)

    def on_readable() -> None:
        nonlocal last_event
        for _ in range(512):
            try:
                frame = sock.recv(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            reply = parse_reply(frame)
            if reply is None or reply.target_ip != str(src_ip) or reply.sender_ip not in pending:
                continue
            if reply.sender_ip in answered:
                continue
            answered[reply.sender_ip] = reply.sender_mac
            last_event = time.monotonic()
            col.add("mac", reply.sender_mac, ip=reply.sender_ip, mac=reply.sender_mac)
            if len(answered) == len(pending):
                all_done.set()

    loop.add_reader(sock.fileno(), on_readable)
    sent = 0
    try:
        for _round in range(ROUNDS):
            silent = [(ip, packed) for ip, packed in pending.items() if ip not in answered]
            if not silent:
                break
            interval = 1.0 / rate if rate > 0 else 0.0
            start = time.monotonic()
            for i, (_ip, packed) in enumerate(silent):
                frame = build_request(mac_b, ip_b, packed)
                while True:
                    try:
                        sock.send(frame)
                        break
                    except (BlockingIOError, InterruptedError):
                        await asyncio.sleep(0.001)
                    except OSError as exc:
                        if exc.errno == 105:  # ENOBUFS: the queue is full, let it drain
                            await asyncio.sleep(0.001)
                            continue
                        raise
                sent += 1
                ahead = start + (i + 1) * interval - time.monotonic()
                if ahead > 0.002:
                    await asyncio.sleep(ahead)
                elif i % 64 == 63:
                    await asyncio.sleep(0)  # let replies in
            last_event = time.monotonic()
            while not all_done.is_set():
                now = time.monotonic()
                wait = min(last_event + IDLE, deadline) - now
                if wait <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(all_done.wait(), wait)
            if time.monotonic() >= deadline:
                break
    finally:
        loop.remove_reader(sock.fileno())
    return len(answered), sent
