"""IPv6 on the segment and one-shot mDNS, without namespaces: the DNS-SD query and answer parser, the
ICMPv6 echo frames, named IPv6 targets and placement, reply scopes, merged results, the neighbour table,
grouping of IPv4 and IPv6 identities by MAC, IPv6 URLs, and the options that keep IPv6 off unless asked."""

from __future__ import annotations

import asyncio
import ipaddress
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.discovery.base import ProbeContext, ProbeResult, ProbeStatus
from scanner.discovery.http_client import host_header, url_host
from scanner.discovery.mdns_unicast import PORT, MdnsUnicastProbe, mdns_reply, off_link
from scanner.discovery.ndp import NdpProbe, read_neighbours
from scanner.discovery.options import ProbeOptions
from scanner.discovery.parsers.dnssd import (
    ENUMERATION_TYPE,
    MAX_TXT,
    build_query,
    encode_name,
    parse_answer,
    txt_entries,
)
from scanner.discovery.parsers.icmp6 import ECHO_REPLY, ETH_P_IPV6, build_echo, parse_echo_reply
from scanner.discovery.request_reply import Scope as ReplyScope
from scanner.discovery.sockets import ipv6_link, link6, scoped
from scanner.discovery.udp_search import merge_results
from scanner.errors import DataError, TargetError, UsageError
from scanner.observations import Observation, group_by_host
from scanner.targets import Scope, Targets6, load_targets

AXIS = "AXIS M1014 - ACCC8E270AD8._axis-video._tcp.local."
HIK = "HIKVISION DS-2CD2385G1-I - 123._CGI._tcp.local."


def response(*records: object, additional: tuple[object, ...] = (), qid: int = 7) -> bytes:
    from zeroconf import DNSOutgoing
    from zeroconf.const import _FLAGS_AA, _FLAGS_QR_RESPONSE

    out = DNSOutgoing(_FLAGS_QR_RESPONSE | _FLAGS_AA, multicast=False, id_=qid)
    for r in records:
        out.add_answer_at_time(r, 0)  # type: ignore[arg-type]
    for r in additional:
        out.add_additional_answer(r)  # type: ignore[arg-type]
    packet: bytes = out.packets()[0]
    return packet


def ptr(name: str, alias: str) -> object:
    from zeroconf import DNSPointer

    return DNSPointer(name, 12, 1, 120, alias)


def srv(name: str, server: str, port: int) -> object:
    from zeroconf import DNSService

    return DNSService(name, 33, 1, 120, 0, 0, port, server)


def txt(name: str, raw: bytes) -> object:
    from zeroconf import DNSText

    return DNSText(name, 16, 1, 120, raw)


# ---------------------------------------------------------------- DNS-SD one-shot query and answer


def test_query_asks_one_ptr_question_per_name_with_the_id() -> None:
    from zeroconf._protocol.incoming import DNSIncoming

    data = build_query([ENUMERATION_TYPE, "_CGI._tcp.local."], 0x1234)
    msg = DNSIncoming(data)
    assert msg.valid and msg.is_query() and msg.id == 0x1234
    assert [(q.name, q.type) for q in msg.questions] == [(ENUMERATION_TYPE, 12), ("_CGI._tcp.local.", 12)]
    with pytest.raises(ValueError):
        encode_name("a" * 64 + ".local.")


def test_answer_with_ptr_srv_txt_gives_instance_fields() -> None:
    data = response(
        ptr("_axis-video._tcp.local.", AXIS),
        ptr(ENUMERATION_TYPE, "_axis-video._tcp.local."),
        additional=(
            srv(AXIS, "axis-accc8e270ad8.local.", 80),
            txt(AXIS, b"\x17macaddress=ACCC8E270AD8\x04flag"),
        ),
    )
    answer = parse_answer(data)
    assert answer is not None
    assert answer.types == ["_axis-video._tcp.local."]
    [inst] = answer.instances
    assert (inst.label, inst.server, inst.port) == (
        "AXIS M1014 - ACCC8E270AD8",
        "axis-accc8e270ad8.local.",
        80,
    )
    assert inst.txt == ("macaddress=ACCC8E270AD8", "flag")
    assert answer.fields() == [
        ("mdns.service", "_axis-video._tcp.local."),
        ("mdns.instance", "AXIS M1014 - ACCC8E270AD8"),
        ("mdns.hostname", "axis-accc8e270ad8.local."),
        ("mdns.txt", "macaddress=ACCC8E270AD8"),
        ("mdns.txt", "flag"),
    ]


def test_reply_is_about_its_source_and_only_from_port_5353() -> None:
    data = response(ptr("_CGI._tcp.local.", HIK), additional=(srv(HIK, "ds.local.", 80),))
    reply = mdns_reply(data, "fe80::1%eth0", PORT)
    assert reply is not None and reply.responder == "fe80::1%eth0"
    assert ("mdns.instance", "HIKVISION DS-2CD2385G1-I - 123") in reply.fields
    assert mdns_reply(data, "10.0.0.5", 40000) is None  # not a responder's port
    assert (
        mdns_reply(build_query(["_CGI._tcp.local."], 1), "10.0.0.5", PORT) is None
    )  # a query, not an answer


def test_answer_without_service_records_or_with_bad_types_is_nothing() -> None:
    assert parse_answer(response(txt("a.local.", b"\x01a"))) is None
    bad = response(
        ptr(ENUMERATION_TYPE, "not a type"), ptr("no-underscore._tcp.local.", "x.no-underscore._tcp.local.")
    )
    assert parse_answer(bad) is None


def test_txt_entries_are_bounded_and_skip_empty_and_nameless() -> None:
    raw = b"".join(bytes([len(e)]) + e for e in [b"", b"=novalue", b"k=v"] + [b"x%d" % i for i in range(100)])
    entries = txt_entries(raw)
    assert entries[0] == "k=v" and len(entries) == MAX_TXT
    assert txt_entries(b"\xff") == ()  # a length past the end: what is there, nothing more


def test_compression_loop_is_refused() -> None:
    header = struct.pack(">HHHHHH", 1, 0x8400, 0, 1, 0, 0)
    looping = header + b"\xc0\x0c" + struct.pack(">HHIH", 12, 1, 120, 2) + b"\xc0\x0c"
    assert parse_answer(looping) is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_random_datagrams_never_raise(raw: bytes) -> None:
    parse_answer(raw)
    mdns_reply(raw, "10.0.0.1", PORT)


# ---------------------------------------------------------------- ICMPv6 echo frames


def frame(
    src_mac: bytes, src: str, icmp: bytes, *, next_header: int = 58, ethertype: int = ETH_P_IPV6
) -> bytes:
    ip6 = struct.pack("!IHBB", 6 << 28, len(icmp), next_header, 255)
    ip6 += ipaddress.IPv6Address(src).packed + ipaddress.IPv6Address("fe80::2").packed
    return b"\x02" * 6 + src_mac + struct.pack("!H", ethertype) + ip6 + icmp


def test_echo_request_and_reply_round_trip() -> None:
    req = build_echo(0x4242, 3, b"token123")
    assert req[0] == 128 and req[4:8] == b"\x42\x42\x00\x03" and req[8:] == b"token123"
    reply = bytes([ECHO_REPLY]) + req[1:]
    got = parse_echo_reply(frame(bytes.fromhex("5850ed640164"), "fe80::5a50:edff:fe64:164", reply))
    assert got is not None
    assert (got.mac, got.ip, got.ident, got.seq, got.payload) == (
        "58:50:ed:64:01:64",
        "fe80::5a50:edff:fe64:164",
        0x4242,
        3,
        b"token123",
    )


@pytest.mark.parametrize(
    "case",
    ["request", "udp", "ipv4", "truncated", "multicast-source"],
)
def test_frames_that_are_not_echo_replies_are_ignored(case: str) -> None:
    mac, src, icmp = bytes(6), "fe80::1", bytes([ECHO_REPLY]) + build_echo(1, 1, b"x")[1:]
    built = {
        "request": frame(mac, src, build_echo(1, 1, b"x")),
        "udp": frame(mac, src, icmp, next_header=17),
        "ipv4": frame(mac, src, icmp, ethertype=0x0800),
        "truncated": frame(mac, src, icmp)[:60],
        "multicast-source": frame(mac, "ff02::1", icmp),
    }[case]
    assert parse_echo_reply(built) is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_frames_never_raise(raw: bytes) -> None:
    parse_echo_reply(raw)


def test_neighbour_table_rows() -> None:
    rows = [
        {"dst": "fe80::1", "lladdr": "58:50:ED:64:01:64", "state": ["REACHABLE"]},
        {"dst": "fe80::2", "state": ["FAILED"]},
        {"dst": "fe80::3", "lladdr": "junk"},
        "junk",
    ]
    assert read_neighbours(rows) == {"fe80::1": "58:50:ed:64:01:64"}
    assert read_neighbours({"not": "a list"}) == {}


# ---------------------------------------------------------------- named IPv6 targets, placement, reply scope


def targets6(*texts: str) -> Targets6:
    return load_targets(texts).v6


def test_placement_of_hosts_seen_over_ipv6() -> None:
    """The grouping rule's host seen on the IPv6 link: heard unless a named IPv6 target holds it."""
    v4 = frozenset({ipaddress.IPv4Address("10.66.0.12")})
    own = frozenset({ipaddress.IPv6Address("fe80::9%eth0")})
    plain = Scope(targets=v4, own=own)
    named = Scope(targets=v4, own=own, ipv6=targets6("fe80::/64%eth0"))
    cam = "fe80::5a50:edff:fe64:164%eth0"
    assert plain.place([cam]) == ("heard", None)  # found on IPv6, its IPv4 not a target: heard
    assert named.place([cam]) == ("device", cam)
    assert named.place(["fe80::5a50:edff:fe64:164%eth1"]) == ("heard", None)  # another link
    assert named.place(["fe80::9%eth0"]) == ("drop", None)  # the scanner itself


def test_reply_scope_takes_link_local_sources_of_its_link_only() -> None:
    scope = ReplyScope(own={"fe80::9"}, link6="eth0", networks6=[ipaddress.IPv6Network("2001:db8::/64")])
    assert scope.reject("fe80::1%eth0") is None
    assert scope.reject("fe80::1%eth1") == "outside"
    assert scope.reject("2001:db8::7") is None
    assert scope.reject("2001:db9::7") == "outside"
    assert scope.reject("fe80::9%eth0") == "own address"
    assert scope.reject("::1") == "loopback"
    assert ReplyScope().reject("fe80::1%eth0") == "outside"  # an IPv4 exchange takes no IPv6


def test_scoped_addresses() -> None:
    assert scoped("fe80::1", "eth0") == "fe80::1%eth0"
    assert scoped("fe80::1%eth9", "eth0") == "fe80::1%eth0"
    assert scoped("2001:db8::1", "eth0") == "2001:db8::1"
    assert scoped("10.0.0.1", "eth0") == "10.0.0.1"


def test_link_facts_from_if_inet6(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import scanner.discovery.sockets as sockets

    table = tmp_path / "if_inet6"
    table.write_text(
        "fe80000000000000004e44fffe414102 01 40 20 80       lo\n"  # another interface
        "fe80000000000000004e44fffe414102 02 40 20 80     eth0\n"
        "20010db8000000000000000000000002 02 40 00 80     eth0\n"
        "fe800000000000000000000000000bad 02 40 20 40     eth0\n"  # tentative: not a source
    )
    monkeypatch.setattr(sockets, "IF_INET6", table)
    monkeypatch.setattr(sockets.socket, "if_nametoindex", lambda name: 2)
    link = link6("eth0")
    assert link.source == "fe80::4e:44ff:fe41:4102"
    assert link.networks == (ipaddress.IPv6Network("2001:db8::/64"),)
    assert "fe80::bad" in link.own and link.index == 2
    table.write_text("20010db8000000000000000000000002 02 40 00 80     eth0\n")
    with pytest.raises(TargetError):
        link6("eth0")


def test_no_ipv6_link_unless_asked_and_an_interface_given() -> None:
    assert ipv6_link(ProbeContext(targets=[], interface="eth0")) is None
    assert ipv6_link(ProbeContext(targets=[], options=ProbeOptions(ipv6=True))) is None
    assert ProbeOptions().ipv6 is False


def test_ndp_probe_sends_nothing_without_ipv6() -> None:
    result = asyncio.run(NdpProbe().run(ProbeContext(targets=[], interface="eth0")))
    assert result.status == ProbeStatus.SKIPPED and result.sent == 0


# ---------------------------------------------------------------- results, grouping, scan plumbing


def test_merged_results_keep_both_halves() -> None:
    obs4 = Observation(signal="wsd.types", value="a", probe="wsd", ip="10.0.0.1")
    obs6 = Observation(signal="wsd.types", value="b", probe="wsd", ip="fe80::1%eth0")
    v4 = ProbeResult("wsd", ProbeStatus.SUCCESS, [obs4], notes=["n4"], sent=3, received=1)
    v6 = ProbeResult("wsd", ProbeStatus.SUCCESS, [obs6], notes=["n6"], sent=2, received=1)
    both = merge_results(v4, v6)
    assert both.observations == [obs4, obs6] and (both.sent, both.received) == (5, 2)
    assert both.notes == ["n4", "IPv6: n6"] and both.status == ProbeStatus.SUCCESS
    broken = merge_results(v4, ProbeResult("wsd", ProbeStatus.ERROR, error="no socket"))
    assert broken.status == ProbeStatus.PARTIAL and broken.error == "IPv6: no socket"
    nothing = merge_results(
        ProbeResult("wsd", ProbeStatus.NO_RESPONSE), ProbeResult("wsd", ProbeStatus.ERROR, error="x")
    )
    assert nothing.status == ProbeStatus.PARTIAL
    assert merge_results(v4, None) is v4


@pytest.mark.parametrize("v6_first", [False, True])
def test_ipv4_and_ipv6_identities_merge_by_mac(v6_first: bool) -> None:
    mac, ll = "08:ed:ed:66:00:12", "fe80::aed:edff:fe66:12%eth0"
    v4 = [
        Observation(signal="mac", value=mac, probe="arp", ip="10.66.0.12", mac=mac),
        Observation(signal="dhip.reply", value="x", probe="dhip", ip="10.66.0.12"),
    ]
    v6 = [
        Observation(signal="wsd.types", value="dn:NVT", probe="wsd", ip=ll),  # before its MAC is known
        Observation(signal="mac", value=mac, probe="ndp", ip=ll, mac=mac),
        Observation(
            signal="claimed.mac", value="00:11:22:33:44:55", probe="wsd", ip=ll, mac="00:11:22:33:44:55"
        ),
    ]
    [device] = group_by_host(v6 + v4 if v6_first else v4 + v6)
    assert device.mac == mac
    assert {o.ip for o in device.observations} == {"10.66.0.12", ll}


def test_live_ipv6_hosts_are_named_ones_only() -> None:
    from scanner.scan import live_hosts6

    scope = Scope(targets=frozenset(), ipv6=targets6("fe80::/64%eth0"))
    obs = [
        Observation(
            signal="mac", value="58:50:ed:00:00:01", probe="ndp", ip="fe80::1%eth0", mac="58:50:ed:00:00:01"
        ),
        Observation(signal="wsd.types", value="x", probe="wsd", ip="fe80::2%eth1"),  # another link
        Observation(signal="claimed.ip", value="fe80::3", probe="wsd", ip="fe80::3%eth0"),  # a claim only
        Observation(
            signal="mac", value="58:50:ed:00:00:04", probe="arp", ip="10.0.0.4", mac="58:50:ed:00:00:04"
        ),
    ]
    assert live_hosts6(obs, scope) == {"fe80::1%eth0": "58:50:ed:00:00:01"}


def test_ipv6_urls_and_host_headers() -> None:
    assert url_host("fe80::1%eth0") == "[fe80::1%25eth0]"
    assert url_host("10.0.0.1") == "10.0.0.1"
    assert host_header("fe80::1%eth0") == "[fe80::1]"
    from urllib.parse import unquote, urlsplit

    assert unquote(urlsplit(f"http://{url_host('fe80::1%eth0')}:80/").hostname or "") == "fe80::1%eth0"


def test_off_link_targets() -> None:
    net = ipaddress.IPv4Network("10.0.0.0/24")
    assert off_link(["10.0.0.5", "10.1.0.5", "fe80::1%eth0"], net) == ["10.1.0.5"]
    assert off_link(["10.0.0.5"], None) == ["10.0.0.5"]


def test_unicast_mdns_skips_without_off_link_targets() -> None:
    result = asyncio.run(MdnsUnicastProbe().run(ProbeContext(targets=[], live_hosts={})))
    assert result.status == ProbeStatus.SKIPPED and result.sent == 0


def test_cli_refuses_ipv6_without_an_interface_and_keeps_it_off_unless_asked() -> None:
    from scanner.cli.scan_cmd import build_request

    with pytest.raises(UsageError, match="--ipv6"):
        build_request(["10.0.0.0/30"], interface=None, exclude=[], probes=None, ipv6=True)
    request = build_request(["10.0.0.0/30"], interface=None, exclude=[], probes=None)
    assert request.options.ipv6 is False and "ndp" not in {p.name for p in request.probes}


def test_ipv6_adds_the_link_sweep_to_the_default_probes_only() -> None:
    from scanner.scan import select_probes

    names = {p.name for p in select_probes(None, snmp_community=None, with_nmap=False, ipv6=True)}
    assert "ndp" in names
    assert {p.name for p in select_probes("wsd", snmp_community=None, with_nmap=False, ipv6=True)} == {"wsd"}


def test_lab_spec_ipv6_fields() -> None:
    from scanner.lab.sim.device import link_local_of
    from scanner.lab.spec import parse_lab

    base = {"name": "x", "subnet": "10.66.0.0/24", "scanner_ip": "10.66.0.2"}
    cam = {"name": "cam", "ip": "192.168.1.64", "mac": "58:50:ed:64:01:64", "foreign_ip": True}
    v6only = {"name": "v6", "ip": "10.66.0.250", "mac": "ac:cc:8e:66:00:fa", "ipv4": False}
    spec = parse_lab({"lab": {**base, "ipv6": True}, "device": [cam, v6only]})
    assert spec.ipv6 and spec.devices[0].foreign_ip and not spec.devices[1].ipv4
    with pytest.raises(DataError, match="ipv6 = true"):
        parse_lab({"lab": base, "device": [v6only]})
    with pytest.raises(DataError, match="outside"):
        parse_lab({"lab": {**base, "ipv6": True}, "device": [{**cam, "foreign_ip": False}]})
    assert link_local_of("ee:96:74:90:b2:bc") == "fe80::ec96:74ff:fe90:b2bc"  # what the kernel assigns


def test_cli_refuses_ipv6_on_an_interface_without_it() -> None:
    from scanner.cli.scan_cmd import build_request

    with pytest.raises(TargetError):
        build_request(["10.0.0.0/30"], interface="no-such-if0", exclude=[], probes=None, ipv6=True)
