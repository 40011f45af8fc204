"""IPv6 hosts on the scan link: ICMPv6 Echo Requests to all-nodes (ff02::1) and the MAC of every answer.

Only with ``--ipv6`` and an interface (``sockets.ipv6_link``). The requests leave from the link-local
address by a raw ICMPv6 socket (hop limit 1), in ``ROUNDS`` against loss; every node on the link answers
from its link-local address (RFC 4443 §4.2; Linux does unless net.ipv6.icmp.echo_ignore_multicast).
An AF_PACKET socket on the interface reads the Echo Replies with their Ethernet source: the MAC of the
address, as neighbour discovery would give it (the responder resolved us with a Neighbor Solicitation
to send it). Where a reply's frame was missed, the kernel's IPv6 neighbour table (``ip -6 neigh``) gives
the MAC. Each host gets ``mac`` and ``host.alive`` (``icmp6-echo``) observations at its zoned address
(``fe80::1%eth0``), so the one grouping rule (``HostGrouper``: a host is its MAC) merges it with the
same device's IPv4 identity. A device that found this way is not a target is reported as heard.
Raw sockets need root or CAP_NET_RAW; without them the probe says so and sends nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
import subprocess
import time

from scanner.discovery.base import Collector, ProbeContext, ProbeResult, ProbeStatus
from scanner.discovery.parsers.icmp6 import ETH_P_IPV6, build_echo, parse_echo_reply
from scanner.discovery.sockets import Link6, ipv6_link
from scanner.errors import TargetError
from scanner.observations import normalise_mac

ALL_NODES = "ff02::1"
ROUNDS = (0.0, 0.3, 0.7)  # seconds after the start at which the echo goes out
MIN_WAIT = 1.0  # seconds, at least, after the first echo
QUIET = 0.3  # seconds without a new host that end the wait after the last round
MAX_HOSTS = 4096
MAX_FRAMES = 65536  # frames read per run (a flood costs at most this)
NEIGH_TIMEOUT = 2.0  # seconds for `ip -6 neigh`
NOTE_PRIVILEGES = "ICMPv6 echo needs raw sockets (root or CAP_NET_RAW): no IPv6 host sweep"


class NdpProbe:
    name = "ndp"
    description = "IPv6 link sweep: ICMPv6 echo to ff02::1, MACs from the replies' frames (with --ipv6)"

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        col = Collector(self.name, ctx)
        try:
            link = ipv6_link(ctx)
        except TargetError as exc:
            return col.result(ProbeStatus.ERROR, error=str(exc))
        if link is None:
            return col.result(ProbeStatus.SKIPPED, notes=["IPv6 needs --ipv6 and an interface"])
        try:
            icmp = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        except PermissionError:
            return col.result(ProbeStatus.PERMISSION_DENIED, notes=[NOTE_PRIVILEGES])
        with contextlib.ExitStack() as stack:
            stack.enter_context(icmp)
            try:
                frames = stack.enter_context(
                    socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IPV6))
                )
                frames.bind((link.ifname, ETH_P_IPV6))
                frames.setblocking(False)
                icmp.bind((link.source, 0, 0, link.index))
                icmp.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, link.index)
                icmp.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 1)
                icmp.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
                icmp.setblocking(False)
            except PermissionError:
                return col.result(ProbeStatus.PERMISSION_DENIED, notes=[NOTE_PRIVILEGES])
            except OSError as exc:
                return col.result(ProbeStatus.ERROR, error=f"cannot open the ICMPv6 sockets: {exc}")
            sweep = _Sweep(col, link, icmp, frames)
            await sweep.run(ctx.timeout)
        return sweep.result()


class _Sweep:
    def __init__(self, col: Collector, link: Link6, icmp: socket.socket, frames: socket.socket) -> None:
        self.col, self.link, self.icmp, self.frames = col, link, icmp, frames
        self.ident = secrets.randbelow(0xFFFF) + 1
        self.token = secrets.token_bytes(8)
        self.hosts: dict[str, str | None] = {}  # zoned address -> MAC
        self.sent = self.read = 0
        self.failure: str | None = None
        self.capped = False
        self.last_new = 0.0
        self.wake = asyncio.Event()

    async def run(self, budget: float) -> None:
        loop = asyncio.get_running_loop()
        start = time.monotonic()
        deadline = start + max(budget, 0.1)
        self.last_new = start
        loop.add_reader(self.frames.fileno(), self._on_frames)
        loop.add_reader(self.icmp.fileno(), self._on_icmp)
        try:
            for seq, at in enumerate(ROUNDS):
                await self._sleep_until(min(start + at, deadline))
                if time.monotonic() >= deadline:
                    break
                self._send(seq)
            while True:
                now = time.monotonic()
                quiet_at = max(start + MIN_WAIT, self.last_new + QUIET)
                if now >= deadline or now >= quiet_at:
                    break
                await self._sleep_until(min(quiet_at, deadline))
        finally:
            loop.remove_reader(self.frames.fileno())
            loop.remove_reader(self.icmp.fileno())
            self._on_frames()
        missing = [ip for ip, mac in self.hosts.items() if mac is None]
        if missing:
            table = await asyncio.to_thread(neighbour_table, self.link.ifname)
            for ip in missing:
                mac = table.get(ip.split("%", 1)[0])
                if mac:
                    self._record(ip, mac)

    async def _sleep_until(self, when: float) -> None:
        delay = when - time.monotonic()
        if delay > 0:
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), delay)

    def _send(self, seq: int) -> None:
        try:
            self.icmp.sendto(build_echo(self.ident, seq, self.token), (ALL_NODES, 0, 0, self.link.index))
            self.sent += 1
            if self.col.ctx.pacer is not None:  # one group packet: counted against the scan's --rate
                self.col.ctx.pacer.charge()
        except OSError as exc:
            self.failure = f"ICMPv6 echo to {ALL_NODES}%{self.link.ifname}: {exc.strerror or exc}"

    def _on_icmp(self) -> None:
        """Echo Replies as the raw ICMPv6 socket gets them: the address (the MAC comes with the frame)."""
        for _ in range(256):
            try:
                data, addr = self.icmp.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            mine = data[4:6] == self.ident.to_bytes(2, "big") and data[8:] == self.token
            if len(data) >= 8 and data[0] == 129 and mine:
                self._found(self.link.scoped(addr[0]), None)

    def _on_frames(self) -> None:
        for _ in range(256):
            if self.read >= MAX_FRAMES:
                return
            try:
                frame = self.frames.recv(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            self.read += 1
            reply = parse_echo_reply(frame)
            if reply is None or reply.ident != self.ident or reply.payload != self.token:
                continue
            self._found(self.link.scoped(reply.ip), reply.mac)

    def _found(self, ip: str, mac: str | None) -> None:
        if ip.split("%", 1)[0] in self.link.own:
            return
        known = self.hosts.get(ip)
        if ip in self.hosts and (known is not None or mac is None):
            return
        if ip not in self.hosts and len(self.hosts) >= MAX_HOSTS:
            self.capped = True
            return
        self.last_new = time.monotonic()
        self.wake.set()
        if mac is None:
            self.hosts[ip] = None
            return
        self._record(ip, mac)

    def _record(self, ip: str, mac: str) -> None:
        try:
            mac = normalise_mac(mac)
        except ValueError:
            return
        if mac in ("00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"):
            return
        self.hosts[ip] = mac
        self.col.add("mac", mac, ip=ip, mac=mac)
        self.col.add("host.alive", "icmp6-echo", ip=ip, mac=mac)

    def result(self) -> ProbeResult:
        notes = []
        without = [ip for ip, mac in self.hosts.items() if mac is None]
        for ip in without:  # answered, but no MAC: still a host on the link
            self.col.add("host.alive", "icmp6-echo", ip=ip)
        if without:
            notes.append(f"{len(without)} IPv6 host(s) answered without a MAC seen")
        if self.capped:
            notes.append(f"stopped at {MAX_HOSTS} IPv6 hosts")
        if self.failure and not self.sent:
            return self.col.result(ProbeStatus.ERROR, error=self.failure, notes=notes)
        return self.col.result(error=self.failure, notes=notes, sent=self.sent, received=len(self.hosts))


def neighbour_table(ifname: str) -> dict[str, str]:
    """The kernel's IPv6 neighbours on ``ifname`` with a MAC (``ip -j -6 neigh``): address -> MAC."""
    try:
        proc = subprocess.run(
            ["ip", "-j", "-6", "neigh", "show", "dev", ifname],
            capture_output=True,
            text=True,
            timeout=NEIGH_TIMEOUT,
            check=False,
        )
        rows = json.loads(proc.stdout or "[]")
    except (OSError, subprocess.SubprocessError, ValueError):
        return {}
    return read_neighbours(rows)


def read_neighbours(rows: object) -> dict[str, str]:
    """``ip -j -6 neigh`` rows as address -> MAC (rows without a usable MAC are left out)."""
    out: dict[str, str] = {}
    if not isinstance(rows, list):
        return out
    for row in rows[:MAX_HOSTS]:
        if not isinstance(row, dict):
            continue
        dst, mac = row.get("dst"), row.get("lladdr")
        if not isinstance(dst, str) or not isinstance(mac, str):
            continue
        try:
            out[dst] = normalise_mac(mac)
        except ValueError:
            continue
    return out
