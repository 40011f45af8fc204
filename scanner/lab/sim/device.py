"""What a responder gets: the device's identity, its service parameters and socket openers in its namespace."""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import socket
import struct
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from scanner.lab.netns import in_netns

IFNAME = "eth0"  # every lab device's interface


def link_local_of(mac: str) -> str:
    """The EUI-64 link-local address of ``mac`` (aa:bb:cc:dd:ee:ff -> fe80::a8bb:ccff:fedd:eeff)."""
    b = bytes.fromhex(mac.replace(":", ""))
    eui = bytes([b[0] ^ 0x02]) + b[1:3] + b"\xff\xfe" + b[3:6]
    return str(ipaddress.IPv6Address(b"\xfe\x80" + b"\0" * 6 + eui))


@dataclass
class SimDevice:
    name: str
    ip: str
    mac: str  # aa:bb:cc:dd:ee:ff
    netns: str
    profile: str
    services: dict[str, dict[str, Any]] = field(default_factory=dict)  # service -> parameters (filled)
    ipv4: bool = True  # False: the device has no IPv4 address (``ip`` only names it)
    ipv6: bool = False  # True: its responders also answer on its IPv6 link-local address

    @property
    def link_local(self) -> str:
        """The kernel's link-local address of eth0 (EUI-64 from the MAC, RFC 4291 App. A), no zone."""
        return link_local_of(self.mac)

    @property
    def serial(self) -> str:
        """A stable per-device serial suffix (digits), derived from the MAC."""
        return str(
            int(hashlib.sha1(self.mac.encode(), usedforsecurity=False).hexdigest()[:8], 16) % 10**9
        ).zfill(9)

    def fill(self, value: Any) -> Any:
        """Substitute the per-device placeholders into a parameter value (recursively)."""
        if isinstance(value, str):
            hexmac = self.mac.replace(":", "")
            nonce = hashlib.md5(self.mac.encode(), usedforsecurity=False).hexdigest()
            return (
                value.replace("{mac}", self.mac)
                .replace("{MAC}", self.mac.upper())
                .replace("{mac_dash}", self.mac.replace(":", "-"))
                .replace("{mac_hex}", hexmac)
                .replace("{MAC_hex}", hexmac.upper())
                .replace("{ip}", self.ip)
                .replace("{serial}", self.serial)
                .replace("{name}", self.name)
                .replace("{nonce32}", nonce)
            )
        if isinstance(value, list):
            return [self.fill(v) for v in value]
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        return value

    def udp_socket(self, port: int, groups: tuple[str, ...] = (), *, bind_any: bool = True) -> socket.socket:
        """A non-blocking UDP socket on ``port`` in the device's namespace, joined to multicast ``groups``."""
        with in_netns(self.netns):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            s.bind(("0.0.0.0" if bind_any else self.ip, port))
            for g in groups:
                mreq = struct.pack("4s4s", socket.inet_aton(g), socket.inet_aton(self.ip))
                s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(self.ip))
            s.setblocking(False)
            return s

    def udp6_socket(self, port: int, groups: tuple[str, ...] = (), *, bind_any: bool = True) -> socket.socket:
        """A non-blocking IPv6 UDP socket on ``port`` (``[::]``, else the link-local address) in the device's
        namespace, joined to the link-scope multicast ``groups`` on eth0."""
        with in_netns(self.netns):
            index = socket.if_nametoindex(IFNAME)
            s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind(("::", port) if bind_any else (self.link_local, port, 0, index))
            for g in groups:
                mreq = socket.inet_pton(socket.AF_INET6, g) + struct.pack("@I", index)
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
            s.setblocking(False)
            return s

    def tcp_listener6(self, port: int) -> socket.socket:
        """A non-blocking listening TCP socket on the device's link-local address and ``port``."""
        with in_netns(self.netns):
            index = socket.if_nametoindex(IFNAME)
            s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((self.link_local, port, 0, index))
            s.listen(64)
            s.setblocking(False)
            return s

    def tcp_listeners(self, port: int) -> list[socket.socket]:
        """Listening TCP sockets on ``port``: on the IPv4 address (if it has one) and the link-local address
        (if the lab is IPv6-enabled)."""
        out = [self.tcp_listener(port)] if self.ipv4 else []
        if self.ipv6:
            out.append(self.tcp_listener6(port))
        return out

    def tcp_listener(self, port: int) -> socket.socket:
        """A non-blocking listening TCP socket on the device's address and ``port``."""
        with in_netns(self.netns):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((self.ip, port))
            s.listen(64)
            s.setblocking(False)
            return s

    def in_netns(self) -> AbstractContextManager[None]:
        """Context manager: run code (e.g. a library that opens its own sockets or threads) in the device's namespace."""
        return in_netns(self.netns)


REQUEST_TIMEOUT = 5.0  # seconds for an HTTP client to send its request head


async def serve_xml(
    path: str,
    body: Callable[[], bytes],
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    server: str | None = None,
) -> None:
    """Answer one GET: ``body()`` as XML at ``path``, 404 elsewhere (a ``Server`` header when given); close."""
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT)
        parts = head.split(b"\r\n", 1)[0].split()
        found = len(parts) == 3 and parts[0] == b"GET" and parts[1] == path.encode()
        payload = body() if found else b""
        server_line = "" if server is None else f"Server: {server}\r\n"
        writer.write(
            f"HTTP/1.1 {'200 OK' if found else '404 Not Found'}\r\n"
            f'Content-Type: text/xml; charset="utf-8"\r\nContent-Length: {len(payload)}\r\n{server_line}'
            "Connection: close\r\n\r\n".encode()
            + payload
        )
        await asyncio.wait_for(writer.drain(), REQUEST_TIMEOUT)
    except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        pass
    finally:
        writer.close()


class Responder(asyncio.DatagramProtocol):
    """A simulated service's UDP endpoint: it keeps its transport; ``send`` answers while it is open."""

    transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, datagrams: Iterable[bytes], addr: tuple[str, int]) -> None:
        if self.transport is not None and not self.transport.is_closing():
            for datagram in datagrams:
                self.transport.sendto(datagram, addr)
