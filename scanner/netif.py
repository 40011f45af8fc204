"""The local interface facts discovery needs: name, index, MAC, IPv4 address and subnet (Linux)."""

from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

from scanner.errors import TargetError

SIOCGIFADDR = 0x8915
SIOCGIFNETMASK = 0x891B


@dataclass(frozen=True)
class Interface:
    name: str
    index: int
    mac: str
    ip: ipaddress.IPv4Address
    network: ipaddress.IPv4Network


def _ioctl_addr(sock: socket.socket, name: str, req: int) -> str:
    packed = fcntl.ioctl(sock.fileno(), req, struct.pack("256s", name.encode()[:15]))
    return socket.inet_ntoa(packed[20:24])


def interface(name: str) -> Interface:
    """Facts of interface ``name``; TargetError if it is missing or has no IPv4 address."""
    sys_dir = Path("/sys/class/net") / name
    if not name or "/" in name or not sys_dir.exists():
        known = ", ".join(sorted(p.name for p in Path("/sys/class/net").iterdir())) \
            if Path("/sys/class/net").exists() else "none"
        raise TargetError(f"no interface named {name!r} (interfaces here: {known})")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            addr = _ioctl_addr(s, name, SIOCGIFADDR)
            mask = _ioctl_addr(s, name, SIOCGIFNETMASK)
        except OSError:
            raise TargetError(f"interface {name!r} has no IPv4 address") from None
    mac = (sys_dir / "address").read_text().strip()
    index = int((sys_dir / "ifindex").read_text())
    net = ipaddress.IPv4Network(f"{addr}/{mask}", strict=False)
    return Interface(name, index, mac, ipaddress.IPv4Address(addr), net)


def interfaces() -> list[Interface]:
    """Every up interface with an IPv4 address, loopback excluded."""
    out = []
    root = Path("/sys/class/net")
    for p in sorted(root.iterdir()) if root.exists() else []:
        if p.name == "lo":
            continue
        try:
            out.append(interface(p.name))
        except (TargetError, OSError):
            continue
    return out


def interface_for(address: ipaddress.IPv4Address) -> Interface | None:
    """The interface whose subnet holds ``address`` (on-link), if any."""
    for itf in interfaces():
        if address in itf.network:
            return itf
    return None
