"""TCP SYN and ICMP echo packets for the liveness sweep, and the parsing of their answers.

Pure functions on bytes. Outgoing TCP segments carry no IP header (a raw IPPROTO_TCP socket without
IP_HDRINCL lets the kernel add it); the checksum covers the RFC 793 §3.1 pseudo-header. Each SYN's
sequence number is a keyed hash of (destination, port) — a "SYN cookie" as masscan uses — so an answer
counts only if it acknowledges the number we sent to that very address and port: a device on the LAN
cannot invent open ports or live hosts for addresses it is not.
Answers are IPv4 datagrams as a raw socket returns them (IP header first); anything short, truncated,
fragmented or not addressed to our port is None.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

SYN, RST, ACK = 0x02, 0x04, 0x10
ICMP_ECHO_REQUEST, ICMP_ECHO_REPLY = 8, 0
MSS_OPTION = b"\x02\x04\x05\xb4"  # MSS 1460: many stacks ignore a SYN without options
WINDOW = 1024


@dataclass(frozen=True, slots=True)
class TcpAnswer:
    src: str  # the answering address
    port: int  # the port that answered
    open: bool  # SYN-ACK (True) or RST (False: the host is there, the port closed)


@dataclass(frozen=True, slots=True)
class EchoAnswer:
    src: str


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of ``data``."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def cookie(secret: bytes, dst: bytes, port: int) -> int:
    """The 32-bit sequence number for a SYN to ``dst``:``port`` (``dst`` packed, 4 bytes)."""
    digest = hashlib.blake2s(dst + port.to_bytes(2, "big"), key=secret, digest_size=4).digest()
    return int.from_bytes(digest, "big")


def build_syn(src: bytes, dst: bytes, sport: int, dport: int, seq: int) -> bytes:
    """A TCP SYN segment (no IP header) from packed ``src`` to packed ``dst``, checksum filled in."""
    offset = (20 + len(MSS_OPTION)) // 4
    header = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, offset << 4, SYN, WINDOW, 0, 0) + MSS_OPTION
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(header))
    csum = checksum(pseudo + header)
    return header[:16] + struct.pack("!H", csum) + header[18:]


def build_echo(ident: int, seq: int, payload: bytes = b"ndaa-scan") -> bytes:
    """An ICMP echo request (no IP header)."""
    head = struct.pack("!BBHHH", ICMP_ECHO_REQUEST, 0, 0, ident, seq)
    csum = checksum(head + payload)
    return head[:2] + struct.pack("!H", csum) + head[4:] + payload


def _fold(total: int) -> int:
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


_SYN_HEAD = struct.Struct("!HHIIBBHHH4s")


class SynFactory:
    """The sweep's SYNs and echoes at a few microseconds each: ``build_syn(src, dst, sport, dport,
    cookie(secret, dst, dport))`` and ``build_echo(ident, seq)`` byte for byte, from templates whose
    constant part of the checksum is summed once (RFC 1071: the sum is order-independent, so the varying
    words are added to it) and a keyed hash initialised once and copied."""

    def __init__(self, secret: bytes, sport: int, ident: int, payload: bytes = b"ndaa-scan") -> None:
        self.sport, self.ident, self.payload = sport, ident, payload
        self._hash = hashlib.blake2s(key=secret, digest_size=4)
        length = 20 + len(MSS_OPTION)
        offset_flags = (length // 4) << 12 | SYN
        mss = struct.unpack("!HH", MSS_OPTION)
        # every constant 16-bit word: protocol and length of the pseudo-header, source port, data offset
        # and flags, window, the MSS option (ack, checksum and urgent pointer are zero)
        self._syn_base = 6 + length + sport + offset_flags + WINDOW + sum(mss)
        self._offset_flags = offset_flags
        padded = payload + b"\0" * (len(payload) % 2)
        words = struct.unpack(f"!{len(padded) // 2}H", padded)
        self._echo_base = (ICMP_ECHO_REQUEST << 8) + ident + sum(words)
        self._echo_head = struct.Struct("!BBHHH")

    def cookie(self, dst: bytes, port: int) -> int:
        h = self._hash.copy()
        h.update(dst + port.to_bytes(2, "big"))
        return int.from_bytes(h.digest(), "big")

    def syn(self, src: bytes, dst: bytes, dport: int) -> bytes:
        """The SYN from packed ``src`` to packed ``dst``:``dport`` with our cookie as its sequence number."""
        seq = self.cookie(dst, dport)
        s, d = int.from_bytes(src, "big"), int.from_bytes(dst, "big")
        total = self._syn_base + dport + (s >> 16) + (s & 0xFFFF) + (d >> 16) + (d & 0xFFFF)
        total += (seq >> 16) + (seq & 0xFFFF)
        csum = ~_fold(total) & 0xFFFF
        return _SYN_HEAD.pack(
            self.sport, dport, seq, 0, self._offset_flags >> 8, SYN, WINDOW, csum, 0, MSS_OPTION
        )

    def echo(self, seq: int) -> bytes:
        """The echo request with sequence number ``seq`` (16 bits)."""
        csum = ~_fold(self._echo_base + seq) & 0xFFFF
        return self._echo_head.pack(ICMP_ECHO_REQUEST, 0, csum, self.ident, seq) + self.payload


def _ip_payload(packet: bytes, proto: int) -> tuple[str, bytes] | None:
    """(source address, payload) of an unfragmented IPv4 datagram of protocol ``proto``."""
    if len(packet) < 20 or packet[0] >> 4 != 4:
        return None
    ihl = (packet[0] & 0x0F) * 4
    total = struct.unpack_from("!H", packet, 2)[0]
    frag = struct.unpack_from("!H", packet, 6)[0]
    if ihl < 20 or len(packet) < ihl or packet[9] != proto or frag & 0x3FFF:
        return None
    end = min(len(packet), total) if total >= ihl else len(packet)
    src = ".".join(str(b) for b in packet[12:16])
    return src, packet[ihl:end]


def parse_tcp_answer(packet: bytes, sport: int, secret: bytes) -> TcpAnswer | None:
    """A SYN-ACK or RST to our ``sport`` that acknowledges our cookie for its source address and port."""
    got = _ip_payload(packet, 6)
    if got is None:
        return None
    src, seg = got
    if len(seg) < 20:
        return None
    peer_port, dport, _seq, ack, _off, flags = struct.unpack_from("!HHIIBB", seg)
    if dport != sport or not flags & ACK:
        return None
    expected = (cookie(secret, bytes(int(p) for p in src.split(".")), peer_port) + 1) & 0xFFFFFFFF
    if ack != expected:
        return None
    if flags & RST:
        return TcpAnswer(src, peer_port, False)
    if flags & SYN:
        return TcpAnswer(src, peer_port, True)
    return None


def parse_echo_reply(packet: bytes, ident: int) -> EchoAnswer | None:
    """An ICMP echo reply carrying our identifier (raw ICMP sockets see IP headers)."""
    got = _ip_payload(packet, 1)
    if got is None:
        return None
    src, msg = got
    if len(msg) < 8 or msg[0] != ICMP_ECHO_REPLY or msg[1] != 0:
        return None
    if struct.unpack_from("!H", msg, 4)[0] != ident:
        return None
    return EchoAnswer(src)
