"""ARP over Ethernet (RFC 826) frames: build requests, parse replies."""

from __future__ import annotations

import socket
import struct
from typing import NamedTuple

ETH_P_ARP = 0x0806
_ETH = struct.Struct("!6s6sH")
_ARP = struct.Struct("!HHBBH6s4s6s4s")
BROADCAST = b"\xff" * 6


class ArpReply(NamedTuple):
    sender_mac: str
    sender_ip: str
    target_ip: str


def build_request(src_mac: bytes, src_ip: bytes, target_ip: bytes) -> bytes:
    """An Ethernet broadcast ARP who-has ``target_ip`` from ``src_mac``/``src_ip`` (padded to 60 bytes)."""
    frame = _ETH.pack(BROADCAST, src_mac, ETH_P_ARP) + _ARP.pack(
        1, 0x0800, 6, 4, 1, src_mac, src_ip, b"\0" * 6, target_ip
    )
    return frame.ljust(60, b"\0")


def parse_reply(frame: bytes) -> ArpReply | None:
    """The reply's sender MAC/IP, or None for anything that is not a well-formed IPv4-over-Ethernet ARP reply."""
    if len(frame) < _ETH.size + _ARP.size:
        return None
    _dst, _src, ethertype = _ETH.unpack_from(frame, 0)
    if ethertype != ETH_P_ARP:
        return None
    htype, ptype, hlen, plen, op, sha, spa, _tha, tpa = _ARP.unpack_from(frame, _ETH.size)
    if htype != 1 or ptype != 0x0800 or hlen != 6 or plen != 4 or op != 2:
        return None
    return ArpReply(":".join(f"{b:02x}" for b in sha), socket.inet_ntoa(spa), socket.inet_ntoa(tpa))
