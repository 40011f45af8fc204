"""Dahua DHIP: the search bytes, the reply parser on real-shaped and hostile input, the lab responder's
reply, and the probe against simulated devices (and a hostile one) in namespaces."""

from __future__ import annotations

import json
import os
import select
import socket
import struct
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from labtools import SADP_DHIP_LAB, by_mac, mutated, run_probe
from paths import DATA_DIR

from scanner.discovery.base import ProbeStatus
from scanner.discovery.dhip import DhipProbe, dhip_answer
from scanner.discovery.parsers.dhip import (
    MAX_BODY,
    build_header,
    build_reply,
    build_search,
    is_search,
    parse_reply,
)
from scanner.discovery.sadp import SadpProbe
from scanner.lab.sim.device import SimDevice
from scanner.lab.sim.dhip import device_info

DATA = DATA_DIR / "dhip"
BODIES = {p.stem: p.read_bytes() for p in sorted(DATA.glob("*.json"))}
GO_CAPTURE_HEADER = bytes.fromhex(
    "20 00 00 00 44 48 49 50 00 00 00 00 00 00 00 00ef 02 00 00 00 00 00 00 ef 02 00 00 00 00 00 00"
)


def frame(body: bytes, json_len: int | None = None, magic: bytes = b"DHIP", size: int = 0x20) -> bytes:
    """A DHIP datagram written independently of the code under test: header words, then ``body``."""
    n = len(body) if json_len is None else json_len
    return struct.pack("<I4s6I", size, magic, 0, 0, n, 0, n, 0) + body


def notify(device_info: dict) -> bytes:
    """A framed notifyDevInfo carrying ``device_info``."""
    message = {"method": "client.notifyDevInfo", "params": {"deviceInfo": device_info}}
    return frame(json.dumps(message).encode())


def real(name: str) -> bytes:
    """A fixture as a device sends it: JSON, newline and NUL, all counted in json_len."""
    return frame(BODIES[name] + b"\0")


# ---------------------------------------------------------------- search request


def test_header_matches_the_go_capture():
    assert build_header(0x2EF) == GO_CAPTURE_HEADER


def test_search_is_header_plus_documented_json():
    raw = build_search()
    assert raw[:32] == frame(b"x" * (len(raw) - 32))[:32]
    assert json.loads(raw[32:]) == {"method": "DHDiscover.search", "params": {"mac": "", "uni": 1}}
    assert raw[32:] == b'{"method":"DHDiscover.search","params":{"mac":"","uni":1}}'
    assert is_search(raw)
    assert parse_reply(raw) is None


def test_the_62_byte_search_variant_is_a_search():
    raw = frame(b'{"method":"DHDiscover.search"}')
    assert len(raw) == 62 and is_search(raw)


# ---------------------------------------------------------------- reply parser


@pytest.mark.parametrize(
    ("name", "vendor", "version", "model"),
    [
        ("dahua_ipc-hdw1431t1-s4", "Private", "2.800.0000000.13.R", "IPC-HDW1431T1-S4"),
        ("intelbras_mhdx-1016", "Intelbras", "3.210.IB01.3", "MHDX 1016"),
        ("intelbras_ss-3530-mf-face-w", "Intelbras", "2.000.00IB004.0.R", "SS 3530 MF FACE W"),
        ("intelbras_vip-1230-d-g4", "IntelBras", "2.800.00IB00C.0.T", "VIP-1230-D-G4"),
    ],
)
def test_real_shaped_replies(name, vendor, version, model):
    reply = parse_reply(real(name))
    assert reply is not None
    assert (reply.info["Vendor"], reply.info["Version"], reply.info["DeviceType"]) == (vendor, version, model)
    expected = json.loads(BODIES[name])
    assert reply.mac == expected["mac"]
    assert reply.info["IPv4Address.IPAddress"] == expected["params"]["deviceInfo"]["IPv4Address"]["IPAddress"]


def test_dahua_reply_is_flattened_in_order_with_json_scalars():
    reply = parse_reply(real("dahua_ipc-hdw1431t1-s4"))
    assert reply is not None
    keys = list(reply.info)
    assert keys[:8] == [
        "AlarmInputChannels",
        "AlarmOutputChannels",
        "DeviceClass",
        "DeviceID",
        "DeviceType",
        "Find",
        "FindVersion",
        "HttpPort",
    ]
    assert keys[8:12] == [
        "IPv4Address.DefaultGateway",
        "IPv4Address.DhcpEnable",
        "IPv4Address.IPAddress",
        "IPv4Address.SubnetMask",
    ]
    assert reply.info["IPv6Address.LinkLocalAddress"] == "fe80::aed:edff:fe6a:31c4/64"
    assert [reply.info[k] for k in ("HttpPort", "Port", "IPv4Address.DhcpEnable")] == ["80", "37777", "false"]
    assert reply.info["SerialNo"] == "4M0747EPAA1D284"


@pytest.mark.parametrize("trailer", [b"", b"\0", b"\n\0", b"\0\0\0garbage after the NUL"])
def test_terminators_inside_json_len(trailer):
    body = BODIES["intelbras_vip-1230-d-g4"].rstrip(b"\n") + trailer
    reply = parse_reply(frame(body))
    assert reply is not None and reply.info["Vendor"] == "IntelBras"


def test_bytes_beyond_json_len_are_ignored():
    body = BODIES["intelbras_vip-1230-d-g4"]
    assert parse_reply(frame(body + b"\0trailing junk", json_len=len(body))) is not None


def test_lab_reply_parses_to_the_profile_and_the_device_address():
    dev = SimDevice("d", "10.99.0.12", "08:ed:ed:44:55:66", "nd-unused", "dahua-ipc")
    params = {
        "DeviceType": "IPC-HDW1431T1-S4",
        "Vendor": "Private",
        "SerialNo": "4M0747EPAA{serial}",
        "Port": 37777,
    }
    raw = build_reply(dev.mac, device_info(dev, dev.fill(params)))
    assert raw[:32] == frame(raw[32:])[:32]  # json_len counts the NUL
    assert raw.endswith(b"}\0")
    reply = parse_reply(raw)
    assert reply is not None and reply.mac == dev.mac
    assert list(reply.info) == sorted(reply.info)  # alphabetical, like real replies
    assert reply.info["IPv4Address.IPAddress"] == dev.ip
    assert (reply.info["SerialNo"], reply.info["Port"]) == ("4M0747EPAA" + dev.serial, "37777")


MHDX = BODIES["intelbras_mhdx-1016"]
HOSTILE = {
    "empty": b"",
    "header only": frame(b""),
    "short header": frame(b"{}")[:31],
    "wrong magic": frame(MHDX, magic=b"DHIQ"),
    "wrong header size": frame(MHDX, size=0x40),
    "json_len past the datagram": frame(MHDX, json_len=len(MHDX) + 1),
    "json_len absurd": frame(MHDX, json_len=0xFFFFFFFF),
    "json_len over the bound": frame(b"{}" + b" " * MAX_BODY),
    "json_len cuts the json": frame(MHDX, json_len=40),
    "not json": frame(b"\x89PNG\r\n\x1a\n"),
    "not utf-8": frame(b"\xff\xfe{\x00\x00"),
    "deeply nested json": frame(b"[" * 30000 + b"]" * 30000),
    "nested objects": frame(b'{"a":' * 10000 + b"1" + b"}" * 10000),
    "huge integer": frame(
        b'{"method":"client.notifyDevInfo","params":{"deviceInfo":{"a":' + b"9" * 20000 + b"}}}"
    ),
    "json array": frame(b"[1,2,3]"),
    "our own search": build_search(),
    "no deviceInfo": frame(b'{"method":"client.notifyDevInfo","params":{}}'),
    "deviceInfo not an object": frame(b'{"method":"client.notifyDevInfo","params":{"deviceInfo":[1]}}'),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_replies_are_rejected(name):
    assert parse_reply(HOSTILE[name]) is None
    assert dhip_answer(HOSTILE[name], "10.0.0.1") is None


def test_non_utf8_inside_a_valid_reply_is_replaced_not_fatal():
    body = BODIES["intelbras_mhdx-1016"].replace(b"MHDX 1016", b"MHDX \xe9\xff")
    reply = parse_reply(frame(body))
    assert reply is not None and reply.info["DeviceType"] == "MHDX \ufffd\ufffd"


def test_deep_and_wide_device_info_is_bounded():
    deep = {"a": {"b": {"c": {"d": {"e": 1}}}}}
    wide = {f"k{i}": "v" * 5000 for i in range(1000)}
    reply = parse_reply(notify(deep))
    assert reply is not None and reply.info == {"a.b.c.d": '{"e":1}'}
    assert parse_reply(frame(notify(wide)[32 : 32 + MAX_BODY])) is None  # cut at the bound: not JSON any more
    wide = {f"k{i}": "v" * 100 for i in range(500)}
    reply = parse_reply(notify(wide))
    assert reply is not None and len(reply.info) == 256


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_never_raise(raw):
    for candidate in (raw, frame(raw), frame(raw, json_len=len(raw) // 2)):
        assert parse_reply(candidate) is None or isinstance(parse_reply(candidate).info, dict)
        assert isinstance(is_search(candidate), bool)
        dhip_answer(candidate, "10.0.0.1")


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_replies_never_raise(data):
    raw = mutated(
        data,
        real(data.draw(st.sampled_from(sorted(BODIES)))),
        [b"{", b"[", b'"', b"\0", b"\xff", b"\\u0", b"1e999"],
    )
    reply = parse_reply(raw)
    assert reply is None or all(isinstance(k, str) and isinstance(v, str) for k, v in reply.info.items())
    answer = dhip_answer(raw, "10.0.0.1")
    assert answer is None or answer.fields[0][0] == "dhip.reply"


def test_answer_reports_the_device_address_vendor_and_mac():
    ans = dhip_answer(real("intelbras_vip-1230-d-g4"), "10.99.0.13")
    assert ans is not None
    assert (ans.key, ans.ip, ans.mac) == ("9c:14:63:2d:7f:10", "192.168.0.120", "9c:14:63:2d:7f:10")
    assert ans.fields[:2] == [("dhip.reply", "VIP-1230-D-G4"), ("mac", "9c:14:63:2d:7f:10")]
    assert ("dhip.Vendor", "IntelBras") in ans.fields
    assert ("dhip.IPv4Address.IPAddress", "192.168.0.120") in ans.fields


# ---------------------------------------------------------------- namespaces


@pytest.mark.netns
def test_only_dahua_firmware_answers(lab_factory):
    from scanner.lab.sim.runtime import profiles

    lab = lab_factory(SADP_DHIP_LAB)
    result = run_probe(lab, DhipProbe(), ["10.99.0.0/24"])
    assert result.status == ProbeStatus.SUCCESS, result.error
    devices = {d.name: d for d in lab.devices}
    expected = {name: profiles()[devices[name].profile]["dhip"] for name in ("dahua", "intelbras", "amcrest")}
    for key in ("DeviceType", "Vendor", "Version", "DeviceClass"):
        assert by_mac(result, f"dhip.{key}") == {devices[n].mac: p[key] for n, p in expected.items()}
    serials = by_mac(result, "dhip.SerialNo")
    for name, params in expected.items():
        dev = devices[name]
        sim = SimDevice(dev.name, dev.ip, dev.mac, "", dev.profile)
        assert serials[dev.mac] == sim.fill(params["SerialNo"])
    assert by_mac(result, "dhip.IPv4Address.IPAddress") == {devices[n].mac: devices[n].ip for n in expected}
    assert {o.ip for o in result.observations} == {devices[n].ip for n in expected}
    assert all(o.port == 37810 and o.probe == "dhip" for o in result.observations)


@pytest.mark.netns
def test_fifty_responders_are_all_found_once(lab_factory):
    lab = lab_factory(
        groups=[
            {
                "name": "cam",
                "count": 50,
                "start_ip": "10.99.0.100",
                "ouis": ["9c:8e:cd"],
                "profile": "amcrest-ipc",
            }
        ]
    )
    budget = 3.0
    result = run_probe(lab, DhipProbe(), ["10.99.0.0/24"], timeout=budget)
    assert result.status == ProbeStatus.SUCCESS, result.error
    replies = {o.mac: o.ip for o in result.observations if o.signal == "dhip.reply"}
    assert replies == {d.mac: d.ip for d in lab.devices}
    assert len([o for o in result.observations if o.signal == "dhip.reply"]) == 50
    assert result.received > 50  # every device answered several copies; they were merged
    assert result.duration < budget + 0.5


def _junk() -> dict[int, list[bytes]]:
    """What the hostile device sends back to every request, per port."""
    sadp_dir = DATA_DIR / "sadp"
    sadp = [
        (sadp_dir / n).read_bytes()
        for n in (
            "hostile_billion_laughs.xml",
            "hostile_external_entity.xml",
            "hostile_truncated.xml",
            "hostile_not_utf8.xml",
        )
    ]
    sadp += [b"<ProbeMatch>" + b"<a>" * 16000, os.urandom(60000), b"\0" * 65000, os.urandom(512)]
    dhip = list(HOSTILE.values()) + [os.urandom(60000), frame(os.urandom(60000)), b"\xff" * 65000]
    return {37020: sadp, 37810: dhip}


def _hostile_device(
    netns: str, ip: str, ready: threading.Event, stop: threading.Event, sent: list[int]
) -> None:
    """Answer every SADP and DHIP request with garbage and oversized datagrams, 20 times over."""
    from scanner.lab.netns import enter_netns

    enter_netns(netns)
    junk = _junk()
    socks = {}
    for port, group in ((37020, "239.255.255.250"), (37810, "239.255.255.251")):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
        s.bind(("0.0.0.0", port))
        mreq = socket.inet_aton(group) + socket.inet_aton(ip)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        socks[s] = port
    ready.set()
    try:
        while not stop.is_set():
            readable, _, _ = select.select(list(socks), [], [], 0.05)
            for s in readable:
                _request, addr = s.recvfrom(65536)
                for _ in range(20):
                    for datagram in junk[socks[s]]:
                        try:
                            s.sendto(datagram, addr)
                            sent[0] += 1
                        except OSError:  # a full queue: drop, like a real flood would
                            pass
    finally:
        for s in socks:
            s.close()


@pytest.mark.netns
@pytest.mark.parametrize(
    ("probe", "good"), [(SadpProbe(), "hik"), (DhipProbe(), "dahua")], ids=["sadp", "dhip"]
)
def test_hostile_flood_does_not_hide_good_devices(lab_factory, probe, good):
    lab = lab_factory(
        [d for d in SADP_DHIP_LAB if d["name"] in ("hik", "dahua")]
        + [{"name": "evil", "ip": "10.99.0.66", "mac": "02:00:00:00:06:66", "profile": "host"}]
    )
    evil = next(i for i, d in enumerate(lab.devices) if d.name == "evil")
    ready, stop, sent = threading.Event(), threading.Event(), [0]
    thread = threading.Thread(
        target=_hostile_device, daemon=True, args=(lab.device_ns(evil), "10.99.0.66", ready, stop, sent)
    )
    thread.start()
    try:
        assert ready.wait(5)
        result = run_probe(lab, probe, ["10.99.0.0/24"], timeout=3.0)
    finally:
        stop.set()
        thread.join(5)
    assert sent[0] > 1000
    assert result.status == ProbeStatus.SUCCESS, result.error
    want = next(d for d in lab.devices if d.name == good)
    replies = {(o.mac, o.ip) for o in result.observations if o.signal.endswith(".reply")}
    assert replies == {(want.mac, want.ip)}
    assert any(n.startswith("ignored ") for n in result.notes)
    assert result.duration < 3.5
