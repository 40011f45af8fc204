"""The passive analysis keeps bounded state whatever it is fed (a capture of any length, a listener that
runs for days): repeats, TLS flows and IP fragments are each capped, and repeats are dropped early."""

from __future__ import annotations

import struct

import pytest

from scanner.discovery import passive
from scanner.discovery.passive import LINKTYPE_ETHERNET, PassiveAnalyzer


def _arp(i: int) -> bytes:
    mac = bytes([0x02, 0, 0, i >> 16 & 0xFF, i >> 8 & 0xFF, i & 0xFF])
    ip = bytes([10, i >> 16 & 0xFF, i >> 8 & 0xFF, i & 0xFF or 1])
    body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac, ip, b"\0" * 6, b"\x0a\0\0\x01")
    return b"\xff" * 6 + mac + b"\x08\x06" + body


def _ipv4(src: bytes, dst: bytes, proto: int, payload: bytes, ident: int = 1, frag: int = 0x4000) -> bytes:
    head = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, 64, proto, 0, src, dst)
    return b"\x02" * 6 + b"\x02\0\0\0\0\x01" + b"\x08\x00" + head + payload


def _server_hello(i: int) -> bytes:
    hello = b"\x02\x00\x00\x26\x03\x03" + bytes(32) + b"\x00\xc0\x2f\x00"
    record = b"\x16\x03\x03" + struct.pack("!H", len(hello)) + hello
    tcp = struct.pack("!HHIIBBHHH", 443, 1024 + i % 60000, 1000, 1, 5 << 4, 0x18, 65535, 0, 0)
    return _ipv4(bytes([10, 9, i >> 8 & 0xFF, i & 0xFF]), b"\x0a\0\0\x02", 6, tcp + record)


def test_repeats_are_dropped_and_the_memory_of_them_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passive, "MAX_SEEN", 1000)
    analyzer = PassiveAnalyzer()
    first = analyzer.frame(_arp(1), LINKTYPE_ETHERNET, 1.0)
    assert [o.signal for o in first] == ["mac"]
    assert analyzer.frame(_arp(1), LINKTYPE_ETHERNET, 2.0) == []  # a repeat: no new observation
    new = sum(len(analyzer.frame(_arp(i), LINKTYPE_ETHERNET, 3.0)) for i in range(2, 5000))
    assert new == 4998 and len(analyzer.seen) <= 1000


def test_tls_flows_and_fragments_are_capped() -> None:
    analyzer = PassiveAnalyzer()
    for i in range(passive.MAX_FLOWS * 3):  # ServerHellos whose certificate never comes
        analyzer.frame(_server_hello(i), LINKTYPE_ETHERNET, 1.0)
    assert len(analyzer.flows) == passive.MAX_FLOWS
    assert analyzer.counts["tls flows dropped (too many at once)"] == passive.MAX_FLOWS * 2
    udp = struct.pack("!HHHH", 1900, 1900, 3008, 0) + b"x" * 1472  # first fragments that are never completed
    for i in range(passive.MAX_FRAGMENTS * 3):
        analyzer.frame(
            _ipv4(b"\x0a\0\0\x07", b"\xef\xff\xff\xfa", 17, udp, ident=i, frag=0x2000), LINKTYPE_ETHERNET, 1.0
        )
    assert len(analyzer.fragments) == passive.MAX_FRAGMENTS


def test_fragmented_ssdp_notify_is_reassembled() -> None:
    notify = (
        b"NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nNT: upnp:rootdevice\r\nNTS: ssdp:alive\r\n"
        b"SERVER: Linux/3.10 UPnP/1.0 Frag/1\r\nUSN: uuid:frag::upnp:rootdevice\r\nX-PAD: "
        + b"p" * 1500
        + b"\r\n\r\n"
    )
    datagram = struct.pack("!HHHH", 1900, 1900, 8 + len(notify), 0) + notify
    cut = 1480
    frames = [
        _ipv4(b"\x0a\0\0\x07", b"\xef\xff\xff\xfa", 17, datagram[:cut], ident=7, frag=0x2000),
        _ipv4(b"\x0a\0\0\x07", b"\xef\xff\xff\xfa", 17, datagram[cut:], ident=7, frag=cut // 8),
    ]
    analyzer = PassiveAnalyzer()
    out = [o for f in reversed(frames) for o in analyzer.frame(f, LINKTYPE_ETHERNET, 1.0)]  # out of order
    assert ("ssdp.server", "Linux/3.10 UPnP/1.0 Frag/1") in {(o.signal, o.value) for o in out}
    assert all(o.mac == "02:00:00:00:00:01" for o in out)  # sent to a group: the frame's source is the sender
    assert not analyzer.fragments


def _ipv6(
    src: bytes, dst: bytes, next_header: int, payload: bytes, src_mac: bytes = b"\x58\x50\xed\0\0\x01"
) -> bytes:
    head = struct.pack("!IHBB16s16s", 6 << 28, len(payload), next_header, 255, src, dst)
    dst_mac = b"\x33\x33" + dst[-4:] if dst[0] == 0xFF else b"\x02" * 6
    return dst_mac + src_mac + b"\x86\xdd" + head + payload


LINK_LOCAL = bytes.fromhex("fe800000000000005a50edfffe000001")
ALL_NODES = bytes.fromhex("ff020000000000000000000000000001")


def test_neighbour_advertisement_binds_the_target_to_its_mac() -> None:
    """RFC 4861 §4.4: type 136, target address, then option 2 (target link-layer address)."""
    na = struct.pack("!BBHI16s", 136, 0, 0, 0x60000000, LINK_LOCAL) + b"\x02\x01" + b"\x58\x50\xed\0\0\x01"
    (obs,) = PassiveAnalyzer().frame(_ipv6(LINK_LOCAL, ALL_NODES, 58, na), LINKTYPE_ETHERNET, 1.0)
    assert (obs.signal, obs.value, obs.ip, obs.mac, obs.probe) == (
        "mac",
        "58:50:ed:00:00:01",
        "fe80::5a50:edff:fe00:1",
        "58:50:ed:00:00:01",
        "passive-ndp",
    )


def test_ipv6_hostile_headers_are_bounded() -> None:
    analyzer = PassiveAnalyzer()
    # a chain of hop-by-hop headers longer than MAX_IPV6_EXTENSIONS, then UDP to mDNS: not followed
    chain = b"".join(bytes([0, 0]) + bytes(6) for _ in range(passive.MAX_IPV6_EXTENSIONS + 4))
    assert analyzer.frame(_ipv6(LINK_LOCAL, ALL_NODES, 0, chain), LINKTYPE_ETHERNET, 1.0) == []
    # a zero-length option in a solicitation (RFC 4861 §4.6: invalid) ends the walk
    ns = struct.pack("!BBHI16s", 135, 0, 0, 0, LINK_LOCAL) + b"\x01\x00" + bytes(6)
    assert analyzer.frame(_ipv6(LINK_LOCAL, ALL_NODES, 58, ns), LINKTYPE_ETHERNET, 1.0) == []
    # the unspecified source (duplicate address detection) names nobody; a cut header is no crash
    dad = struct.pack("!BBHI16s", 135, 0, 0, 0, LINK_LOCAL) + b"\x01\x01" + b"\x58\x50\xed\0\0\x01"
    assert analyzer.frame(_ipv6(bytes(16), ALL_NODES, 58, dad), LINKTYPE_ETHERNET, 1.0) == []
    for cut in range(14, 80):
        analyzer.frame(_ipv6(LINK_LOCAL, ALL_NODES, 58, ns)[:cut], LINKTYPE_ETHERNET, 1.0)
    assert analyzer.counts.get("malformed frames", 0) >= 1


GLOBAL = bytes.fromhex("20010db8000000000000000000000005")
SCANNER_LL = bytes.fromhex("fe80000000000000004e44fffe414102")


def _to_scanner(src: bytes, payload: bytes, hop_limit: int = 255) -> bytes:
    """A unicast ICMPv6 packet from ``src`` to the scanner, in a frame sent by 58:50:ed:00:00:01."""
    head = struct.pack("!IHBB16s16s", 6 << 28, len(payload), 58, hop_limit, src, SCANNER_LL)
    return b"\x02\x4e\x44\x41\x41\x02" + b"\x58\x50\xed\0\0\x01" + b"\x86\xdd" + head + payload


def _macs(frame: bytes) -> list[tuple[str | None, str | None]]:
    return [(o.ip, o.mac) for o in PassiveAnalyzer().frame(frame, LINKTYPE_ETHERNET, 1.0)]


def test_a_link_local_sender_is_bound_to_its_own_frame() -> None:
    """A solicited advertisement without its option (RFC 4861 §7.2.4) and an echo reply, both from a
    link-local address (never routed, RFC 4291 §2.5.6), name the frame's sender; nothing else does."""
    own = ("fe80::5a50:edff:fe00:1", "58:50:ed:00:00:01")
    bare_na = struct.pack("!BBHI16s", 136, 0, 0, 0x60000000, LINK_LOCAL)  # no target link-layer option
    assert _macs(_to_scanner(LINK_LOCAL, bare_na)) == [own]
    assert _macs(_to_scanner(LINK_LOCAL, bare_na, hop_limit=64)) == []  # not neighbour discovery (§7.1.2)
    proxy = struct.pack("!BBHI16s", 136, 0, 0, 0x20000000, GLOBAL)  # about another address: no MAC of it
    assert _macs(_to_scanner(LINK_LOCAL, proxy)) == []
    echo = struct.pack("!BBHHH", 129, 0, 0, 1, 1)
    assert _macs(_to_scanner(LINK_LOCAL, echo)) == [own]
    assert _macs(_to_scanner(GLOBAL, echo)) == []  # a global source may come through a router
