"""ICMPv6 echo (RFC 4443 §4) as the ``ndp`` probe sends it, and the Ethernet frames it reads back.

``build_echo`` makes an Echo Request (the kernel fills the checksum of a raw ICMPv6 socket, RFC 3542
§3.1); ``parse_echo_reply`` reads an Ethernet frame (as an AF_PACKET socket gives it) and returns the
link-layer source, the IPv6 source and the echo identifier/sequence/payload of an Echo Reply, or None
for anything else (other protocols, extension headers, truncated or malformed frames).
"""

from __future__ import annotations

import ipaddress
import struct
from typing import NamedTuple

ETH_P_IPV6 = 0x86DD
ICMPV6 = 58
ECHO_REQUEST, ECHO_REPLY = 128, 129
_ETH = struct.Struct("!6s6sH")
_IP6_FIXED = 40
_ECHO = struct.Struct("!BBHHH")


class EchoReply(NamedTuple):
    mac: str  # the frame's Ethernet source
    ip: str  # the IPv6 source address (no zone)
    ident: int
    seq: int
    payload: bytes


def build_echo(ident: int, seq: int, payload: bytes) -> bytes:
    """An ICMPv6 Echo Request with a zero checksum (filled by the kernel)."""
    return _ECHO.pack(ECHO_REQUEST, 0, 0, ident & 0xFFFF, seq & 0xFFFF) + payload


def parse_echo_reply(frame: bytes) -> EchoReply | None:
    """The Echo Reply an Ethernet frame carries, or None."""
    if len(frame) < _ETH.size + _IP6_FIXED + _ECHO.size:
        return None
    _dst, src_mac, ethertype = _ETH.unpack_from(frame, 0)
    if ethertype != ETH_P_IPV6:
        return None
    ip6 = frame[_ETH.size :]
    if ip6[0] >> 4 != 6 or ip6[6] != ICMPV6:
        return None
    payload_len = struct.unpack_from("!H", ip6, 4)[0]
    icmp = ip6[_IP6_FIXED : _IP6_FIXED + payload_len]
    if len(icmp) < _ECHO.size:
        return None
    kind, code, _sum, ident, seq = _ECHO.unpack_from(icmp, 0)
    if kind != ECHO_REPLY or code != 0:
        return None
    src = ipaddress.IPv6Address(ip6[8:24])
    if src.is_multicast or src.is_unspecified:
        return None
    return EchoReply(":".join(f"{b:02x}" for b in src_mac), str(src), ident, seq, bytes(icmp[_ECHO.size :]))
