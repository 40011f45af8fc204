"""The liveness sweep's packets: SYN and echo built right, answers accepted only with our cookie."""

from __future__ import annotations

import socket
import struct

from hypothesis import given
from hypothesis import strategies as st

from scanner.discovery.parsers.tcp_syn import (
    ACK,
    RST,
    SYN,
    SynFactory,
    build_echo,
    build_syn,
    checksum,
    cookie,
    parse_echo_reply,
    parse_tcp_answer,
)

SECRET = b"k" * 16
ME, PEER = socket.inet_aton("10.1.0.2"), socket.inet_aton("10.2.0.7")


def ip_packet(src: bytes, dst: bytes, proto: int, payload: bytes, frag: int = 0) -> bytes:
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, frag, 64, proto, 0, src, dst)
    return header[:10] + struct.pack("!H", checksum(header)) + header[12:] + payload


def tcp_answer(sport: int, dport: int, ack: int, flags: int) -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, 12345, ack, 5 << 4, flags, 1024, 0, 0)


def test_checksum_matches_rfc1071_example() -> None:
    # RFC 1071 §3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2; the checksum is its complement
    assert checksum(bytes.fromhex("0001f203f4f5f6f7")) == ~0xDDF2 & 0xFFFF


def test_syn_checksum_verifies_over_the_pseudo_header() -> None:
    seq = cookie(SECRET, PEER, 554)
    syn = build_syn(ME, PEER, 40000, 554, seq)
    sport, dport, got_seq, ack, offset, flags = struct.unpack_from("!HHIIBB", syn)
    assert (sport, dport, got_seq, ack, flags) == (40000, 554, seq, 0, SYN)
    assert offset >> 4 == len(syn) // 4
    pseudo = ME + PEER + struct.pack("!BBH", 0, 6, len(syn))
    assert checksum(pseudo + syn) == 0  # a correct checksum makes the whole sum verify to zero


def test_echo_request_verifies() -> None:
    echo = build_echo(0xBEEF, 3)
    assert echo[0] == 8 and struct.unpack_from("!HH", echo, 4) == (0xBEEF, 3)
    assert checksum(echo) == 0


def test_syn_ack_with_our_cookie_is_an_open_port() -> None:
    ack = (cookie(SECRET, PEER, 554) + 1) & 0xFFFFFFFF
    got = parse_tcp_answer(ip_packet(PEER, ME, 6, tcp_answer(554, 40000, ack, SYN | ACK)), 40000, SECRET)
    assert got is not None and (got.src, got.port, got.open) == ("10.2.0.7", 554, True)


def test_rst_with_our_cookie_is_a_live_host_with_a_closed_port() -> None:
    ack = (cookie(SECRET, PEER, 23) + 1) & 0xFFFFFFFF
    got = parse_tcp_answer(ip_packet(PEER, ME, 6, tcp_answer(23, 40000, ack, RST | ACK)), 40000, SECRET)
    assert got is not None and (got.port, got.open) == (23, False)


def test_forged_answers_are_refused() -> None:
    """Wrong cookie, cookie of another address or port, another destination port, a fragment."""
    good = (cookie(SECRET, PEER, 554) + 1) & 0xFFFFFFFF
    other_host = (cookie(SECRET, socket.inet_aton("10.2.0.8"), 554) + 1) & 0xFFFFFFFF
    cases = [
        ip_packet(PEER, ME, 6, tcp_answer(554, 40000, good ^ 1, SYN | ACK)),
        ip_packet(PEER, ME, 6, tcp_answer(554, 40000, other_host, SYN | ACK)),
        ip_packet(PEER, ME, 6, tcp_answer(80, 40000, good, SYN | ACK)),
        ip_packet(PEER, ME, 6, tcp_answer(554, 40001, good, SYN | ACK)),
        ip_packet(PEER, ME, 6, tcp_answer(554, 40000, good, SYN)),  # no ACK flag
        ip_packet(PEER, ME, 6, tcp_answer(554, 40000, good, SYN | ACK), frag=0x2000),
        ip_packet(PEER, ME, 17, tcp_answer(554, 40000, good, SYN | ACK)),
    ]
    assert [parse_tcp_answer(c, 40000, SECRET) for c in cases] == [None] * len(cases)


def test_echo_reply_needs_our_identifier() -> None:
    reply = bytearray(build_echo(0xBEEF, 1))
    reply[0] = 0
    assert parse_echo_reply(ip_packet(PEER, ME, 1, bytes(reply)), 0xBEEF) is not None
    assert parse_echo_reply(ip_packet(PEER, ME, 1, bytes(reply)), 0xBEEE) is None
    assert parse_echo_reply(ip_packet(PEER, ME, 1, build_echo(0xBEEF, 1)), 0xBEEF) is None  # a request


@given(st.binary(max_size=200))
def test_any_bytes_parse_to_an_answer_or_none(data: bytes) -> None:
    for packet in (data, ip_packet(PEER, ME, 6, data), ip_packet(PEER, ME, 1, data)):
        parse_tcp_answer(packet, 40000, SECRET)
        parse_echo_reply(packet, 0xBEEF)


@given(
    st.binary(min_size=16, max_size=16),
    st.integers(1, 65535),
    st.integers(0, 65535),
    st.binary(min_size=4, max_size=4),
    st.binary(min_size=4, max_size=4),
    st.integers(0, 65535),
    st.integers(0, 65535),
)
def test_syn_factory_builds_the_same_packets_as_build_syn_and_build_echo(
    secret: bytes, sport: int, ident: int, src: bytes, dst: bytes, dport: int, seq: int
) -> None:
    factory = SynFactory(secret, sport, ident)
    assert factory.cookie(dst, dport) == cookie(secret, dst, dport)
    assert factory.syn(src, dst, dport) == build_syn(src, dst, sport, dport, cookie(secret, dst, dport))
    assert factory.echo(seq) == build_echo(ident, seq)
