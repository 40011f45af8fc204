"""Passive analysis: one captured frame in, observations out. No socket, no packet sent.

Used by ``ndaa-scan import pcap`` (frames from a capture file, ``scanner/ingest/pcap.py``) and
``ndaa-scan listen`` (frames from an AF_PACKET socket, ``scanner/discovery/listen.py``). Every protocol
payload goes through the parsers the active probes use (``parsers/``, ``ssdp_reply``, ``wsd``
``match_fields``, ``sadp_reply``, ``dhip_reply``, zeroconf's DNS reader for mDNS); what only passive
analysis needs is here: link and IP headers, DHCP options, LLDP and CDP TLVs, TLS handshake records.

What is recorded, with probe names ``passive-<proto>``:
* ARP (requests, replies, announcements): ``mac`` of the sender at its address; IPv6 neighbour
  solicitations and advertisements (RFC 4861 §4.3-4.4) the same for IPv6 addresses (probe ``passive-ndp``).
* IPv4 and IPv6 alike (extension headers walked, at most ``MAX_IPV6_EXTENSIONS``; IPv6 fragments counted,
  not reassembled). A capture has no interface name: link-local addresses are given without a zone.
* DHCP client messages: ``hostname`` (12), ``dhcp.params`` (55), ``dhcp.vendor_class`` (60),
  ``dhcp.client_id`` (61), by ``chaddr``; a server's ACK binds ``yiaddr`` to ``chaddr`` (``mac``).
* mDNS answers, SSDP NOTIFY and search replies, WS-Discovery Hello/Bye/ProbeMatches, SADP ProbeMatch,
  DHIP notifyDevInfo: the same signals as the active probes.
* LLDP (``lldp.*``) and CDP (``cdp.*``) frames: by the frame's source MAC.
* TCP: HTTP and RTSP response heads (``http.server``/``http.status``/``http.www_authenticate``,
  ``rtsp.*``) from the first segment of a response, a server's SSH identification (``ssh.banner``,
  from port 22) and FTP greeting (``ftp.banner``, a 220 reply from port 21) from the segment that
  carries it (telnet is not read: after the banner the same stream carries the session), and the
  server certificate of TLS ≤ 1.2 handshakes
  (``x509.*``), reassembled in order per flow, at most ``MAX_TLS_BYTES`` per flow, ``MAX_FLOWS`` flows.

Addresses: an observation's ``ip`` is the packet's source. Its ``mac`` is the frame's source MAC only
when that is the sender's own: ARP, DHCP (``chaddr``), LLDP/CDP, and datagrams sent to a multicast or
broadcast address (never routed). A unicast IP packet's source MAC may be a router's, so its
observations carry the address only (the host grouping joins them to the MAC ARP saw at that address).

Memory is bounded whatever the capture's length: ``MAX_SEEN`` remembered (host, signal, value)
triples (a repeat is dropped before an Observation is built), ``MAX_FLOWS`` TLS flows of at most
``MAX_TLS_BYTES`` each, ``MAX_FRAGMENTS`` datagrams being reassembled.
"""

from __future__ import annotations

import socket
import struct
from collections import OrderedDict
from collections.abc import Iterable
from datetime import UTC, datetime

from scanner.discovery.parsers.dhip import PORT as DHIP_PORT
from scanner.discovery.parsers.dhip import is_search
from scanner.discovery.parsers.greeting import ftp_greeting, ssh_identification
from scanner.discovery.parsers.http import parse_head
from scanner.discovery.parsers.rtsp import parse_reply as parse_rtsp
from scanner.discovery.parsers.sadp import PORT as SADP_PORT
from scanner.discovery.parsers.ssdp import PORT as SSDP_PORT
from scanner.discovery.parsers.ssdp import parse_message as parse_ssdp
from scanner.discovery.parsers.wsd import PORT as WSD_PORT
from scanner.discovery.parsers.wsd import parse_hello_bye
from scanner.discovery.parsers.x509 import parse_certificate
from scanner.observations import MAX_VALUE_LEN, Observation

# link types (https://www.tcpdump.org/linktypes.html)
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_LINUX_SLL2 = 276
LINK_TYPES = {
    LINKTYPE_NULL: "null",
    LINKTYPE_ETHERNET: "ethernet",
    12: "raw",
    14: "raw",
    LINKTYPE_RAW: "raw",
    LINKTYPE_LOOP: "loop",
    LINKTYPE_LINUX_SLL: "linux-sll",
    LINKTYPE_IPV4: "ipv4",
    LINKTYPE_LINUX_SLL2: "linux-sll2",
}

MAX_SEEN = 1 << 18  # (host, signal, value) triples remembered to drop repeats early
MAX_FLOWS = 1024  # TLS server flows followed at once (the oldest is dropped)
MAX_TLS_BYTES = 64 * 1024  # bytes of one server's handshake kept while looking for its certificate
MAX_FRAGMENTS = 256  # IPv4 datagrams being reassembled at once
MAX_DATAGRAM = 64 * 1024
MAX_TLVS = 64

ETH_ARP, ETH_IPV4, ETH_VLAN, ETH_QINQ, ETH_LLDP = 0x0806, 0x0800, 0x8100, 0x88A8, 0x88CC
ETH_IPV6 = 0x86DD
IPV6_EXTENSIONS = (0, 43, 60)  # hop-by-hop, routing, destination options: skipped to the next header
MAX_IPV6_EXTENSIONS = 8
ICMPV6, ICMPV6_ECHO_REPLY, ICMPV6_NS, ICMPV6_NA = 58, 129, 135, 136
MDNS_PORT = 5353
HEAD_PREFIXES = (b"HTTP/1.", b"RTSP/1.")
SSH_PORT, FTP_PORT = 22, 21  # server-first greetings read from the server's side only
GREETING_PREFIXES = {SSH_PORT: b"SSH-", FTP_PORT: b"220"}
PLAIN_FIRST_BYTES = frozenset(p[0] for p in (*HEAD_PREFIXES, *GREETING_PREFIXES.values()))
_ARP = struct.Struct("!HHBBH6s4s6s4s")
MAX_PAYLOADS = 1 << 16  # (source, payload hash) pairs remembered: a repeated announcement is parsed once
_UDP_PORTS = {
    67: "dhcp",
    68: "dhcp",
    MDNS_PORT: "mdns",
    SSDP_PORT: "ssdp",
    WSD_PORT: "wsd",
    SADP_PORT: "sadp",
    DHIP_PORT: "dhip",
}
_TLS_HANDSHAKE = 0x16


def _mac(raw: bytes) -> str:
    return raw.hex(":")


def _ipv4_text(raw: bytes) -> str:
    return socket.inet_ntoa(raw)


def _ipv6_upper_layer(data: bytes, off: int) -> tuple[int, int, int]:
    """(next header, its offset, end of the packet) of the IPv6 packet at ``off``, past at most
    ``MAX_IPV6_EXTENSIONS`` hop-by-hop, routing and destination-options headers."""
    end = min(off + 40 + ((data[off + 4] << 8) | data[off + 5]), len(data))
    nxt, pos = data[off + 6], off + 40
    for _ in range(MAX_IPV6_EXTENSIONS):
        if nxt not in IPV6_EXTENSIONS:
            break
        nxt, pos = data[pos], pos + (data[pos + 1] + 1) * 8
    return nxt, pos, end


def _nd_link_address(data: bytes, pos: int, end: int, option: int) -> bytes | None:
    """The link-layer address of neighbour-discovery option ``option`` among the options at ``pos``; None
    when absent, ``b""`` when the options are invalid (a zero length: RFC 4861 §4.6)."""
    for _ in range(MAX_TLVS):
        if pos + 8 > end:
            return None
        length = data[pos + 1] * 8
        if length == 0:
            return b""
        if data[pos] == option and length == 8:
            return data[pos + 2 : pos + 8]
        pos += length
    return None


def _ipv6_text(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6, raw)


def _ip_text(raw: bytes) -> str:
    return socket.inet_ntoa(raw) if len(raw) == 4 else socket.inet_ntop(socket.AF_INET6, raw)


class PassiveAnalyzer:
    """Frames to observations with bounded state. ``frame()`` returns the new observations of one frame."""

    def __init__(self, probe_prefix: str = "passive") -> None:
        self.prefix = probe_prefix
        self.seen: set[tuple[str | None, str | None, str, str]] = set()
        self.flows: OrderedDict[tuple[bytes, int, bytes, int], _TlsFlow] = OrderedDict()
        self.payloads: set[tuple[object, int]] = set()
        self.fragments: OrderedDict[tuple[bytes, bytes, int, int], _Datagram] = OrderedDict()
        self.counts: dict[str, int] = {}
        self.frames = 0
        self._out: list[Observation] = []
        self._when: datetime = datetime.now(UTC)
        self._ts: float = -1.0
        self._ts_now: float = 0.0

    # ------------------------------------------------------------ entry points

    def frame(self, data: bytes, linktype: int, ts: float) -> list[Observation]:
        """The observations one frame adds (repeats of earlier ones are left out)."""
        self.frames += 1
        out: list[Observation] = []
        self._out = out
        self._ts_now = ts
        try:
            if linktype == LINKTYPE_ETHERNET:
                self._ethernet(data)
            elif linktype == LINKTYPE_LINUX_SLL:
                self._sll(data)
            elif linktype == LINKTYPE_LINUX_SLL2:
                self._sll2(data)
            elif linktype in (LINKTYPE_RAW, 12, 14, LINKTYPE_IPV4):
                self._ip(data, 0)
            elif linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
                self._ip(data, 4)
        except (IndexError, struct.error, ValueError, UnicodeError):
            self._count("malformed frames")  # hostile or cut frames are normal input
        return out

    def summary(self) -> list[str]:
        """One line per kind of frame recorded or skipped, for the report's notes."""
        return [f"{k}: {v}" for k, v in sorted(self.counts.items())]

    # ------------------------------------------------------------ recording

    def _count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def _add(
        self, proto: str, signal: str, value: str, ip: str | None, mac: str | None, port: int | None = None
    ) -> None:
        if not value or (ip is None and mac is None):
            return
        if len(value) > MAX_VALUE_LEN:
            value = value[:MAX_VALUE_LEN]
        key = (ip, mac, signal, value)
        if key in self.seen:
            return
        if len(self.seen) >= MAX_SEEN:
            self.seen.clear()  # repeats may come through again; the host grouping drops them
        self.seen.add(key)
        if self._ts != self._ts_now:
            self._ts = self._ts_now
            try:
                self._when = datetime.fromtimestamp(self._ts_now, UTC)
            except (OverflowError, OSError, ValueError):
                self._when = datetime.now(UTC)
        self._out.append(
            Observation.trusted(signal, value, f"{self.prefix}-{proto}", ip, mac, port, self._when)
        )

    def _fields(
        self, proto: str, fields: Iterable[tuple[str, str]], ip: str, mac: str | None, port: int | None
    ) -> None:
        for signal, value in fields:
            self._add(proto, signal, value, ip, mac, port)

    # ------------------------------------------------------------ link layer

    def _ethernet(self, data: bytes) -> None:
        ethertype = (data[12] << 8) | data[13]
        offset = 14
        if ethertype == ETH_IPV4:  # the common case first
            self._ipv4(data, 14, data, data[0] & 1 == 1)
            return
        for _ in range(2):  # 802.1Q / 802.1ad tags
            if ethertype not in (ETH_VLAN, ETH_QINQ):
                break
            ethertype = (data[offset + 2] << 8) | data[offset + 3]
            offset += 4
        if ethertype == ETH_IPV4:
            self._ipv4(data, offset, data, data[0] & 1 == 1)
        elif ethertype == ETH_IPV6:
            self._ipv6(data, offset, data[6:12], data[0] & 1 == 1)
        elif ethertype == ETH_ARP:
            self._arp(data[offset:])
        elif ethertype == ETH_LLDP:
            self._lldp(data[offset:], _mac(data[6:12]))
        elif ethertype <= 1500 and data[offset : offset + 8] == b"\xaa\xaa\x03\x00\x00\x0c\x20\x00":
            self._cdp(data[offset + 8 :], _mac(data[6:12]))  # 802.3 + LLC/SNAP, Cisco OUI, protocol CDP

    def _sll(self, data: bytes) -> None:
        halen = (data[4] << 8) | data[5]
        src = data[6:12] if halen == 6 else None
        group = data[1] in (1, 2)  # packet type: broadcast, multicast
        self._dispatch((data[14] << 8) | data[15], data[16:], src, group)

    def _sll2(self, data: bytes) -> None:
        halen = data[11]
        src = data[12:18] if halen == 6 else None
        group = data[10] in (1, 2)
        self._dispatch((data[0] << 8) | data[1], data[20:], src, group)

    def _dispatch(self, ethertype: int, payload: bytes, src: bytes | None, group: bool) -> None:
        if ethertype == ETH_IPV4:
            frame = None if src is None else b"\0" * 6 + src  # the source MAC where an Ethernet frame has it
            self._ipv4(payload, 0, None, group, frame)
        elif ethertype == ETH_IPV6:
            self._ipv6(payload, 0, src, group)
        elif ethertype == ETH_ARP:
            self._arp(payload)
        elif ethertype == ETH_LLDP and src is not None:
            self._lldp(payload, _mac(src))

    # ------------------------------------------------------------ ARP, LLDP, CDP

    def _arp(self, data: bytes) -> None:
        htype, ptype, hlen, plen, _op, sha, spa, _tha, _tpa = _ARP.unpack_from(data, 0)
        if htype != 1 or ptype != ETH_IPV4 or hlen != 6 or plen != 4:
            return
        if spa == b"\0\0\0\0" or sha[0] & 1 or sha == b"\0" * 6:
            return  # an ARP probe (RFC 5227) or a forged group sender: no address to bind
        self._count("arp")
        mac = _mac(sha)
        self._add("arp", "mac", mac, _ipv4_text(spa), mac)

    def _lldp(self, data: bytes, mac: str) -> None:
        if not self._new(mac, data):
            return
        self._count("lldp")
        pos = 0
        for _ in range(MAX_TLVS):
            if pos + 2 > len(data):
                return
            head = (data[pos] << 8) | data[pos + 1]
            kind, length = head >> 9, head & 0x1FF
            value = data[pos + 2 : pos + 2 + length]
            pos += 2 + length
            if kind == 0:
                return
            if kind in (1, 2) and value:
                subtype, body = value[0], value[1:]
                is_mac = len(body) == 6 and subtype == (4 if kind == 1 else 3)  # MAC address subtypes
                text = _mac(body) if is_mac else _text(body)
                self._add("lldp", "lldp.chassis_id" if kind == 1 else "lldp.port_id", text, None, mac)
            elif kind == 5:
                self._add("lldp", "lldp.sys_name", _text(value), None, mac)
            elif kind == 6:
                self._add("lldp", "lldp.sys_descr", _text(value), None, mac)

    def _cdp(self, data: bytes, mac: str) -> None:
        if not self._new(mac, data[4:]):  # the checksum aside
            return
        self._count("cdp")
        pos = 4  # version, TTL, checksum
        names = {1: "cdp.device_id", 5: "cdp.software", 6: "cdp.platform"}
        for _ in range(MAX_TLVS):
            if pos + 4 > len(data):
                return
            kind, length = struct.unpack_from("!HH", data, pos)
            if length < 4:
                return
            value = data[pos + 4 : pos + length]
            pos += length
            signal = names.get(kind)
            if signal is not None:
                text = _text(value)
                if kind == 5:
                    text = text.strip().splitlines()[0] if text.strip() else ""
                self._add("cdp", signal, text, None, mac)

    def _new(self, source: object, payload: bytes) -> bool:
        """False when ``source`` sent this very payload before (announcements repeat: parse them once)."""
        key = (source, hash(payload))
        if key in self.payloads:
            self._count("repeated payloads skipped")
            return False
        if len(self.payloads) >= MAX_PAYLOADS:
            self.payloads.clear()
        self.payloads.add(key)
        return True

    # ------------------------------------------------------------ IPv4, IPv6, UDP, TCP

    def _ip(self, data: bytes, off: int) -> None:
        """A raw IP packet (no link layer): IPv4 or IPv6 by its version."""
        if data[off] >> 4 == 6:
            self._ipv6(data, off, None, False)
        else:
            self._ipv4(data, off, None, False)

    def _ipv6(self, data: bytes, off: int, src_mac: bytes | None, group: bool) -> None:
        """An IPv6 packet at ``data[off:]``; ``src_mac`` the link-layer sender when the capture has one.

        UDP (the discovery protocols over ff02::fb / ff02::c and unicast replies) and the neighbour
        discovery messages that bind an address to a MAC, as ARP does for IPv4. Extension headers are
        walked (bounded); fragments are counted, not reassembled.
        """
        if data[off] >> 4 != 6:
            return
        nxt, pos, end = _ipv6_upper_layer(data, off)
        if pos + 8 > end:
            return
        src = data[off + 8 : off + 24]
        if src == bytes(16):
            return  # the unspecified address (duplicate address detection): nobody to name
        ip = _ipv6_text(src)
        # the frame's sender is the packet's own when it went to a group, or when its source is link-local
        # (fe80::/10 is never forwarded by a router: RFC 4291 §2.5.6)
        own = group or data[off + 24] == 0xFF or (src[0] == 0xFE and src[1] & 0xC0 == 0x80)
        if src_mac is None or src_mac[0] & 1 or not own:
            src_mac = None
        mac = None if src_mac is None else _mac(src_mac)
        if nxt == 17:
            self._udp(data, pos, end, ip, mac)
        elif nxt == 6:
            self._tcp(data, pos, end, src, data[off + 24 : off + 40])
        elif nxt == ICMPV6:
            self._icmpv6(data, pos, end, ip, data[off + 7], src_mac)
        elif nxt == 44:
            self._count("ipv6 fragments skipped")

    def _icmpv6(
        self, data: bytes, off: int, end: int, ip: str, hop_limit: int, src_mac: bytes | None
    ) -> None:
        """Neighbour solicitations (the sender's own MAC) and advertisements (the target's MAC), RFC 4861 §4.3-4.4;
        echo replies from a link-local address (``src_mac`` is then the sender's, see ``_ipv6``).

        The MAC is the message's link-layer address option. A solicited advertisement may leave it out
        (RFC 4861 §7.2.4); neighbour discovery is never forwarded (hop limit 255, §7.1.1/§7.1.2), so the
        frame's own source MAC then names the sender, when the advertisement is about the sender itself."""
        kind = data[off]
        if kind == ICMPV6_ECHO_REPLY and src_mac is not None:  # a link-local host answering: its own MAC
            self._count("ndp")
            mac = _mac(src_mac)
            self._add("ndp", "mac", mac, ip, mac)
            return
        if kind not in (ICMPV6_NS, ICMPV6_NA) or off + 24 > end or hop_limit != 255:
            return
        option = 1 if kind == ICMPV6_NS else 2  # source / target link-layer address (RFC 4861 §4.6.1)
        about_sender = True
        if kind == ICMPV6_NA:
            target = data[off + 8 : off + 24]
            if target[0] == 0xFF:
                return
            about_sender = _ipv6_text(target) == ip
            ip = _ipv6_text(target)
        raw = _nd_link_address(data, off + 24, end, option)
        if raw == b"":
            return  # invalid options: the message is dropped
        if raw is None and kind == ICMPV6_NA and about_sender:
            raw = src_mac
        if raw is None or raw[0] & 1 or raw == bytes(6):
            return
        self._count("ndp")
        mac = _mac(raw)
        self._add("ndp", "mac", mac, ip, mac)

    def _ipv4(self, data: bytes, off: int, eth: bytes | None, group: bool, sll: bytes | None = None) -> None:
        """An IPv4 packet at ``data[off:]``; ``eth`` the Ethernet frame it came in (source MAC at 6:12)."""
        first = data[off]
        if first >> 4 != 4:
            return
        ihl = (first & 0x0F) * 4
        total = (data[off + 2] << 8) | data[off + 3]
        proto = data[off + 9]
        end = off + total
        if end > len(data):
            end = len(data)
        if ihl < 20 or total < ihl:
            return
        if proto == 6:
            if not (data[off + 6] & 0x3F or data[off + 7]):  # TCP fragments are skipped
                self._tcp(data, off + ihl, end, data[off + 12 : off + 16], data[off + 16 : off + 20])
            return
        if proto != 17:
            return
        frag = ((data[off + 6] << 8) | data[off + 7]) & 0x3FFF
        src, dst = data[off + 12 : off + 16], data[off + 16 : off + 20]
        mac_frame = eth if eth is not None else sll
        group = group or dst[0] >= 224 or dst == b"\xff\xff\xff\xff"
        mac = _mac(mac_frame[6:12]) if mac_frame is not None and group and not mac_frame[6] & 1 else None
        if frag:  # a fragment: reassemble (discovery datagrams can outgrow one frame)
            whole = self._reassemble(
                src, dst, (data[off + 4] << 8) | data[off + 5], frag, data[off + ihl : end]
            )
            if whole is not None:
                self._udp(whole, 0, len(whole), _ipv4_text(src), mac)
            return
        self._udp(data, off + ihl, end, _ipv4_text(src), mac)

    def _reassemble(
        self, src: bytes, dst: bytes, ident: int, flags_frag: int, payload: bytes
    ) -> bytes | None:
        key = (src, dst, ident, 17)
        offset = (flags_frag & 0x1FFF) * 8
        more = bool(flags_frag & 0x2000)
        dgram = self.fragments.get(key)
        if dgram is None:
            if len(self.fragments) >= MAX_FRAGMENTS:
                self.fragments.popitem(last=False)
                self._count("fragments dropped (too many at once)")
            dgram = self.fragments[key] = _Datagram()
        if offset + len(payload) > MAX_DATAGRAM or len(dgram.pieces) >= 64:
            del self.fragments[key]
            return None
        dgram.pieces[offset] = payload
        if not more:
            dgram.total = offset + len(payload)
        whole = dgram.whole()
        if whole is not None:
            del self.fragments[key]
        return whole

    def _udp(self, data: bytes, off: int, end: int, ip: str, mac: str | None) -> None:
        sport, dport = (data[off] << 8) | data[off + 1], (data[off + 2] << 8) | data[off + 3]
        handler = _UDP_PORTS.get(dport) or _UDP_PORTS.get(sport)
        if handler is None:
            return
        body = data[off + 8 : end]
        if handler == "dhcp":
            self._dhcp(body)
        elif self._new((ip, sport), body):
            getattr(self, "_" + handler)(body, ip, mac)

    def _tcp(self, data: bytes, off: int, end: int, src: bytes, dst: bytes) -> None:
        """A TCP segment at ``data[off:end]`` between the addresses ``src`` and ``dst`` (4 or 16 bytes)."""
        start = off + (data[off + 12] >> 4) * 4
        if start >= end and not self.flows:
            return  # no payload (an ACK): the common case
        flows = self.flows
        if flows:
            key = (src, (data[off] << 8) | data[off + 1], dst, (data[off + 2] << 8) | data[off + 3])
            flow = flows.get(key)
            if flow is not None:
                self._tls_more(key, flow, int.from_bytes(data[off + 4 : off + 8], "big"), data[start:end])
                return
        if start >= end:
            return
        first = data[start]
        if first in PLAIN_FIRST_BYTES:  # "H", "R": an HTTP or RTSP head; "S", "2": an SSH or FTP greeting
            self._plain(data, off, src, start, end)
        elif first == _TLS_HANDSHAKE and end - start > 5 and data[start + 1] == 3 and data[start + 5] == 2:
            sport, dport = (data[off] << 8) | data[off + 1], (data[off + 2] << 8) | data[off + 3]
            key = (src, sport, dst, dport)
            seq = int.from_bytes(
                data[off + 4 : off + 8], "big"
            )  # a ServerHello: follow the flow to its certificate
            if len(flows) >= MAX_FLOWS:
                flows.popitem(last=False)
                self._count("tls flows dropped (too many at once)")
            flow = flows[key] = _TlsFlow(_ip_text(src), sport, seq)
            self._tls_more(key, flow, seq, data[start:end])

    # ------------------------------------------------------------ application protocols

    def _plain(self, data: bytes, off: int, src: bytes, start: int, end: int) -> None:
        """A segment that may start a plain-text answer: an HTTP/RTSP response head from any port, an SSH
        identification from port 22, an FTP greeting from port 21."""
        sport = (data[off] << 8) | data[off + 1]
        if data.startswith(HEAD_PREFIXES, start):
            parse = self._head
        elif data.startswith(GREETING_PREFIXES.get(sport, b"\0"), start):
            parse = self._greeting
        else:
            return
        payload = data[start:end]
        if self._new((src, sport), payload):
            parse(payload, _ip_text(src), sport)

    def _greeting(self, payload: bytes, ip: str, port: int) -> None:
        """A server's first segment on 22 or 21: its SSH identification or FTP greeting (the parsers of the
        greeting probe, on this one segment)."""
        if port == SSH_PORT:
            value, _done = ssh_identification(payload, ended=True)
            self._add("ssh", "ssh.banner", value or "", ip, None, port)
        else:
            value, _done = ftp_greeting(payload, ended=True)
            self._add("ftp", "ftp.banner", value or "", ip, None, port)

    def _head(self, payload: bytes, ip: str, port: int) -> None:
        if payload.startswith(b"RTSP/"):
            reply = parse_rtsp(payload)
            if reply is None:
                return
            self._count("rtsp")
            self._add("rtsp", "rtsp.server", reply.server or "", ip, None, port)
            for realm in reply.www_authenticate:
                self._add("rtsp", "rtsp.www_authenticate", realm, ip, None, port)
            return
        head = parse_head(payload)
        if head is None:
            return
        self._count("http")
        self._add("http", "http.server", head.get("Server") or "", ip, None, port)
        self._add("http", "http.status", str(head.status), ip, None, port)
        for realm in head.get_all("WWW-Authenticate"):
            self._add("http", "http.www_authenticate", realm, ip, None, port)

    def _tls_more(self, key: tuple[bytes, int, bytes, int], flow: _TlsFlow, seq: int, payload: bytes) -> None:
        if not payload:
            return
        if seq != flow.next_seq:
            if (seq - flow.next_seq) & 0xFFFFFFFF < 0x80000000:  # a gap ahead: a segment was lost
                del self.flows[key]
                self._count("tls flows not followed (segment missing)")
            return  # a retransmission of what was read
        flow.buffer += payload
        flow.next_seq = (seq + len(payload)) & 0xFFFFFFFF
        state = flow.scan()
        if state is None:
            if len(flow.buffer) > MAX_TLS_BYTES:
                del self.flows[key]
                self._count("tls handshakes over the size limit")
            return
        del self.flows[key]
        if isinstance(state, bytes):
            info = parse_certificate(state)
            if info is None:
                self._count("tls certificates unparsable")
                return
            self._count("tls certificates")
            ip, port = flow.ip, flow.port
            self._add("tls", "x509.subject", info.subject, ip, None, port)
            self._add("tls", "x509.issuer", info.issuer, ip, None, port)
            for san in info.sans:
                self._add("tls", "x509.san", san, ip, None, port)
            self._add("tls", "x509.serial", info.serial, ip, None, port)
            self._add("tls", "x509.sha256", info.sha256, ip, None, port)

    def _dhcp(self, data: bytes) -> None:
        if len(data) < 240 or data[236:240] != b"\x63\x82\x53\x63" or data[1] != 1 or data[2] != 6:
            return
        op = data[0]
        chaddr = data[28:34]
        if chaddr[0] & 1 or chaddr == b"\0" * 6:
            return
        if not self._new((op, chaddr, data[16:20]), data[240:]):
            return
        mac = _mac(chaddr)
        options = _dhcp_options(data[240:])
        msg_type = options.get(53, b"\0")[0]
        self._count("dhcp")
        if op == 2:
            if msg_type == 5 and data[16:20] != b"\0\0\0\0":  # DHCPACK: the address is now the client's
                self._add("dhcp", "mac", mac, _ipv4_text(data[16:20]), mac)
            return
        ciaddr = data[12:16]
        ip = _ipv4_text(ciaddr) if ciaddr != b"\0\0\0\0" else None
        self._add("dhcp", "mac", mac, ip, mac)
        if 12 in options:
            self._add("dhcp", "hostname", _text(options[12]), ip, mac)
        if 55 in options:
            self._add("dhcp", "dhcp.params", ",".join(str(b) for b in options[55]), ip, mac)
        if 60 in options:
            self._add("dhcp", "dhcp.vendor_class", _text(options[60]), ip, mac)
        if 61 in options:
            self._add("dhcp", "dhcp.client_id", options[61][:64].hex(":"), ip, mac)

    def _sadp(self, data: bytes, ip: str, mac: str | None) -> None:
        from scanner.discovery.sadp import sadp_reply

        reply = sadp_reply(data, ip)
        if reply is not None:
            self._count("sadp")
            self._fields("sadp", reply.fields, ip, mac, SADP_PORT)

    def _dhip(self, data: bytes, ip: str, mac: str | None) -> None:
        if is_search(data):
            return
        from scanner.discovery.dhip import dhip_reply

        reply = dhip_reply(data, ip)
        if reply is not None:
            self._count("dhip")
            self._fields("dhip", reply.fields, ip, mac, DHIP_PORT)

    def _mdns(self, data: bytes, ip: str, mac: str | None) -> None:
        from zeroconf._dns import DNSPointer, DNSService, DNSText
        from zeroconf._protocol.incoming import DNSIncoming

        msg = DNSIncoming(data)
        if not msg.valid or not msg.is_response():
            return
        self._count("mdns")
        for record in msg.answers()[:64]:
            if isinstance(record, DNSPointer):
                if record.name.startswith("_services._dns-sd."):
                    continue
                from scanner.discovery.mdns import instance_label

                self._add("mdns", "mdns.service", record.name, ip, mac)
                self._add("mdns", "mdns.instance", instance_label(record.alias, record.name), ip, mac)
            elif isinstance(record, DNSService):
                self._add("mdns", "mdns.hostname", record.server, ip, mac, record.port)
            elif isinstance(record, DNSText):
                for entry in _txt(record.text)[:32]:
                    self._add("mdns", "mdns.txt", entry, ip, mac)

    def _ssdp(self, data: bytes, ip: str, mac: str | None) -> None:
        from scanner.discovery.ssdp import ssdp_reply

        msg = parse_ssdp(data)
        if msg is None or msg.start_line.startswith("M-SEARCH"):
            return
        self._count("ssdp")
        fields = list(ssdp_reply(msg, ip).fields)
        if msg.get("nt"):  # a NOTIFY: NT is its ST
            fields.append(("ssdp.st", msg.get("nt")))
        self._fields("ssdp", fields, ip, mac, SSDP_PORT)

    def _wsd(self, data: bytes, ip: str, mac: str | None) -> None:
        from scanner.discovery.wsd import match_fields, wsd_reply

        reply = wsd_reply(data, ip)
        if reply is not None:
            self._count("wsd")
            self._fields("wsd", reply.fields, ip, mac, WSD_PORT)
            return
        for _kind, match in parse_hello_bye(data):
            self._count("wsd")
            self._fields("wsd", match_fields(match, ip), ip, mac, WSD_PORT)


class _Datagram:
    __slots__ = ("pieces", "total")

    def __init__(self) -> None:
        self.pieces: dict[int, bytes] = {}
        self.total: int | None = None

    def whole(self) -> bytes | None:
        if self.total is None:
            return None
        out = bytearray()
        for offset in sorted(self.pieces):
            if offset != len(out):  # a hole, or overlapping pieces: not whole (yet)
                return None
            out += self.pieces[offset]
        return bytes(out) if len(out) == self.total else None


class _TlsFlow:
    """One server's side of a TLS handshake, in order, until its Certificate message."""

    __slots__ = ("buffer", "ip", "next_seq", "port")

    def __init__(self, ip: str, port: int, seq: int) -> None:
        self.ip = ip
        self.port = port
        self.next_seq = seq
        self.buffer = bytearray()

    def scan(self) -> bytes | str | None:
        """The first certificate (DER) once it is all here; "none" when the handshake shows there is none
        to read (TLS 1.3, an alert, a record that is not a handshake); None while more is needed."""
        handshake = bytearray()
        pos = 0
        buf = self.buffer
        while pos + 5 <= len(buf):
            kind, length = buf[pos], (buf[pos + 3] << 8) | buf[pos + 4]
            if kind != _TLS_HANDSHAKE or buf[pos + 1] != 3:
                return "none"
            if pos + 5 + length > len(buf):
                break
            handshake += buf[pos + 5 : pos + 5 + length]
            pos += 5 + length
        return _certificate(bytes(handshake), complete=pos == len(buf))


def _certificate(handshake: bytes, complete: bool) -> bytes | str | None:
    pos = 0
    while pos + 4 <= len(handshake):
        kind = handshake[pos]
        length = int.from_bytes(handshake[pos + 1 : pos + 4], "big")
        if pos + 4 + length > len(handshake):
            return None
        body = handshake[pos + 4 : pos + 4 + length]
        if kind == 2 and b"\x00\x2b\x00\x02\x03\x04" in body:  # supported_versions = TLS 1.3: encrypted
            return "none"
        if kind == 11:
            if len(body) < 6:
                return "none"
            first = int.from_bytes(body[3:6], "big")
            der = body[6 : 6 + first]
            return der if len(der) == first else "none"
        if kind == 14:  # ServerHelloDone without a certificate
            return "none"
        pos += 4 + length
    return None


def _dhcp_options(data: bytes) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    pos = 0
    while pos < len(data) and len(out) < 128:
        code = data[pos]
        if code == 255:
            break
        if code == 0:
            pos += 1
            continue
        if pos + 1 >= len(data):
            break
        length = data[pos + 1]
        value = data[pos + 2 : pos + 2 + length]
        out[code] = out.get(code, b"") + value  # RFC 3396: repeated options concatenate
        pos += 2 + length
    return out


def _text(raw: bytes) -> str:
    text = raw.split(b"\0", 1)[0].decode("utf-8", "replace").strip()
    return "".join(c if c.isprintable() else "?" for c in text)


def _txt(raw: bytes) -> list[str]:
    out = []
    pos = 0
    while pos < len(raw):
        length = raw[pos]
        entry = raw[pos + 1 : pos + 1 + length]
        pos += 1 + length
        if entry:
            out.append(_text(entry))
    return out
