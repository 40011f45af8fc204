"""Dahua DHIP: the search bytes, the reply parser on real-shaped and hostile input, the lab responder's
reply, and the probe against simulated devices (and a hostile one) in namespaces."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from labtools import DHIP_HOSTILE, dhip_frame, mutated
from paths import DATA_DIR

from scanner.discovery.dhip import dhip_reply
from scanner.discovery.parsers.dhip import (
    MAX_BODY,
    build_header,
    build_reply,
    build_search,
    is_search,
    parse_reply,
)
from scanner.lab.sim.device import SimDevice
from scanner.lab.sim.dhip import device_info

DATA = DATA_DIR / "dhip"
BODIES = {p.stem: p.read_bytes() for p in sorted(DATA.glob("*.json"))}
GO_CAPTURE_HEADER = bytes.fromhex(
    "20 00 00 00 44 48 49 50 00 00 00 00 00 00 00 00ef 02 00 00 00 00 00 00 ef 02 00 00 00 00 00 00"
)


def notify(device_info: dict) -> bytes:
    """A framed notifyDevInfo carrying ``device_info``."""
    message = {"method": "client.notifyDevInfo", "params": {"deviceInfo": device_info}}
    return dhip_frame(json.dumps(message).encode())


def real(name: str) -> bytes:
    """A fixture as a device sends it: JSON, newline and NUL, all counted in json_len."""
    return dhip_frame(BODIES[name] + b"\0")


# ---------------------------------------------------------------- search request


def test_header_matches_the_go_capture():
    assert build_header(0x2EF) == GO_CAPTURE_HEADER


def test_search_is_header_plus_documented_json():
    raw = build_search()
    assert raw[:32] == dhip_frame(b"x" * (len(raw) - 32))[:32]
    assert json.loads(raw[32:]) == {"method": "DHDiscover.search", "params": {"mac": "", "uni": 1}}
    assert raw[32:] == b'{"method":"DHDiscover.search","params":{"mac":"","uni":1}}'
    assert is_search(raw)
    assert parse_reply(raw) is None


def test_the_62_byte_search_variant_is_a_search():
    raw = dhip_frame(b'{"method":"DHDiscover.search"}')
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
    reply = parse_reply(dhip_frame(body))
    assert reply is not None and reply.info["Vendor"] == "IntelBras"


def test_bytes_beyond_json_len_are_ignored():
    body = BODIES["intelbras_vip-1230-d-g4"]
    assert parse_reply(dhip_frame(body + b"\0trailing junk", json_len=len(body))) is not None


def test_lab_reply_parses_to_the_profile_and_the_device_address():
    dev = SimDevice("d", "10.99.0.12", "08:ed:ed:44:55:66", "nd-unused", "dahua-ipc")
    params = {
        "DeviceType": "IPC-HDW1431T1-S4",
        "Vendor": "Private",
        "SerialNo": "4M0747EPAA{serial}",
        "Port": 37777,
    }
    raw = build_reply(dev.mac, device_info(dev, dev.fill(params)))
    assert raw[:32] == dhip_frame(raw[32:])[:32]  # json_len counts the NUL
    assert raw.endswith(b"}\0")
    reply = parse_reply(raw)
    assert reply is not None and reply.mac == dev.mac
    assert list(reply.info) == sorted(reply.info)  # alphabetical, like real replies
    assert reply.info["IPv4Address.IPAddress"] == dev.ip
    assert (reply.info["SerialNo"], reply.info["Port"]) == ("4M0747EPAA" + dev.serial, "37777")


@pytest.mark.parametrize("name", list(DHIP_HOSTILE))
def test_hostile_replies_are_rejected(name):
    assert parse_reply(DHIP_HOSTILE[name]) is None
    assert dhip_reply(DHIP_HOSTILE[name], "10.0.0.1") is None


def test_non_utf8_inside_a_valid_reply_is_replaced_not_fatal():
    body = BODIES["intelbras_mhdx-1016"].replace(b"MHDX 1016", b"MHDX \xe9\xff")
    reply = parse_reply(dhip_frame(body))
    assert reply is not None and reply.info["DeviceType"] == "MHDX \ufffd\ufffd"


def test_deep_and_wide_device_info_is_bounded():
    deep = {"a": {"b": {"c": {"d": {"e": 1}}}}}
    wide = {f"k{i}": "v" * 5000 for i in range(1000)}
    reply = parse_reply(notify(deep))
    assert reply is not None and reply.info == {"a.b.c.d": '{"e":1}'}
    assert (
        parse_reply(dhip_frame(notify(wide)[32 : 32 + MAX_BODY])) is None
    )  # cut at the bound: not JSON any more
    wide = {f"k{i}": "v" * 100 for i in range(500)}
    reply = parse_reply(notify(wide))
    assert reply is not None and len(reply.info) == 256


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_never_raise(raw):
    for candidate in (raw, dhip_frame(raw), dhip_frame(raw, json_len=len(raw) // 2)):
        assert parse_reply(candidate) is None or isinstance(parse_reply(candidate).info, dict)
        assert isinstance(is_search(candidate), bool)
        dhip_reply(candidate, "10.0.0.1")


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
    answer = dhip_reply(raw, "10.0.0.1")
    assert answer is None or answer.fields[0][0] == "dhip.reply"


def test_reply_is_about_its_udp_source_and_claims_the_payload_address_and_mac():
    ans = dhip_reply(real("intelbras_vip-1230-d-g4"), "10.99.0.13")
    assert ans is not None
    assert (ans.responder, ans.key, ans.mac, ans.port) == ("10.99.0.13", "9c:14:63:2d:7f:10", None, 37810)
    assert ans.fields[:4] == [
        ("dhip.reply", "VIP-1230-D-G4"),
        ("claimed.ip", "192.168.0.120"),
        ("claimed.mismatch", "claims 192.168.0.120, sent from 10.99.0.13"),
        ("claimed.mac", "9c:14:63:2d:7f:10"),
    ]
    assert ("dhip.Vendor", "IntelBras") in ans.fields
    assert ("dhip.IPv4Address.IPAddress", "192.168.0.120") in ans.fields
    assert not any(s == "mac" for s, _ in ans.fields)


# Lying binary lengths in the 32-byte header: every one is refused without reading past the datagram.
LYING = [
    (0xFFFFFFFF, "json_len far past the datagram"),
    (MAX_BODY + 1, "json_len over the body bound"),
    (1 << 31, "json_len with the sign bit set"),
]


@pytest.mark.parametrize(("json_len", "why"), LYING)
def test_lying_header_lengths_are_refused(json_len, why):
    body = BODIES["intelbras_mhdx-1016"]
    assert parse_reply(dhip_frame(body, json_len=json_len)) is None, why
    assert dhip_reply(dhip_frame(body, json_len=json_len), "10.0.0.1") is None, why


def test_a_short_json_len_reads_only_that_much():
    body = BODIES["intelbras_mhdx-1016"]
    assert parse_reply(dhip_frame(body, json_len=10)) is None  # the first 10 bytes are not a JSON object
    assert parse_reply(dhip_frame(body + b"\0" + b"\xff" * 60000, json_len=len(body) + 1)) is not None


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=0xFFFFFFFF), st.integers(min_value=0, max_value=0xFFFFFFFF))
def test_any_header_words_never_raise(json_len, size):
    raw = dhip_frame(BODIES["intelbras_mhdx-1016"], json_len=json_len, size=size)
    reply = parse_reply(raw)
    assert reply is None or (size == 0x20 and json_len <= len(raw) - 32)
