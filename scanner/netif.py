"""The local interface facts discovery needs: name, index, MAC, IPv4 address and subnet (Linux).

Everything is asked through ioctls on a socket, which answer for the calling thread's network
namespace. /sys/class/net would answer for the namespace that mounted sysfs instead, which is
wrong after setns(2) (``--netns``, the lab's threads).
"""

from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct
from dataclasses import dataclass

from scanner.errors import TargetError

SIOCGIFADDR = 0x8915
SIOCGIFNETMASK = 0x891B
SIOCGIFHWADDR = 0x8927


@dataclass(frozen=True)
class Interface:
    name: str
    index: int
    mac: str
    ip: ipaddress.IPv4Address
    network: ipaddress.IPv4Network


def _ioctl(sock: socket.socket, name: str, req: int) -> bytes:
    return fcntl.ioctl(sock.fileno(), req, struct.pack("256s", name.encode()[:15]))


def _names() -> list[str]:
    try:
        return [name for _index, name in socket.if_nameindex()]
    except OSError:
        return []


def interface(name: str) -> Interface:
    """Facts of interface ``name``; TargetError if it is missing or has no IPv4 address."""
    try:
        index = socket.if_nametoindex(name) if name and "/" not in name and len(name) < 16 else 0
    except OSError:
        index = 0
    if not index:
        known = ", ".join(sorted(_names())) or "none"
        raise TargetError(f"no interface named {name!r} (interfaces here: {known})")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            addr = socket.inet_ntoa(_ioctl(s, name, SIOCGIFADDR)[20:24])
            mask = socket.inet_ntoa(_ioctl(s, name, SIOCGIFNETMASK)[20:24])
        except OSError:
            raise TargetError(f"interface {name!r} has no IPv4 address") from None
        try:
            hw = _ioctl(s, name, SIOCGIFHWADDR)[18:24]
        except OSError:
            hw = b"\0" * 6
    mac = ":".join(f"{b:02x}" for b in hw)
    net = ipaddress.IPv4Network(f"{addr}/{mask}", strict=False)
    return Interface(name, index, mac, ipaddress.IPv4Address(addr), net)


def interfaces() -> list[Interface]:
    """Every interface with an IPv4 address, loopback excluded."""
    out = []
    for name in sorted(_names()):
        if name == "lo":
            continue
        try:
            out.append(interface(name))
        except (TargetError, OSError):
            continue
    return out


def interface_for(address: ipaddress.IPv4Address) -> Interface | None:
    """The interface whose subnet holds ``address`` (on-link), if any."""
    for itf in interfaces():
        if address in itf.network:
            return itf
    return None
