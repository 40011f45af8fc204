"""Hikvision SADP: the inquiry bytes, the ProbeMatch parser on real-shaped and hostile input, the lab
responder's reply, and the probe against simulated devices in namespaces."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from labtools import mutated
from paths import DATA_DIR
from samples import SADP_OEM as OEM
from samples import SADP_REAL as REAL

from scanner.discovery.parsers.sadp import MAX_REPLY, build_inquiry, parse_inquiry, parse_probe_match
from scanner.discovery.sadp import sadp_reply
from scanner.lab.sim.device import SimDevice
from scanner.lab.sim.sadp import probe_match

DATA = DATA_DIR / "sadp"

# The field order of the real DS-2CD2385G1-I ProbeMatch, as docs/PROTOCOLS.md#sadp lists it.
REAL_ORDER = [
    "Uuid",
    "Types",
    "DeviceType",
    "DeviceDescription",
    "DeviceSN",
    "CommandPort",
    "HttpPort",
    "MAC",
    "IPv4Address",
    "IPv4SubnetMask",
    "IPv4Gateway",
    "IPv6Address",
    "IPv6Gateway",
    "IPv6MaskLen",
    "DHCP",
    "AnalogChannelNum",
    "DigitalChannelNum",
    "SoftwareVersion",
    "DSPVersion",
    "BootTime",
    "Encrypt",
    "ResetAbility",
    "DiskNumber",
    "Activated",
    "PasswordResetAbility",
    "PasswordResetModeSecond",
    "DetailOEMCode",
    "SupportSecurityQuestion",
    "SupportHCPlatform",
    "HCPlatformEnable",
    "IsModifyVerificationCode",
    "Salt",
    "DeviceLock",
    "SDKOverTLSPort",
    "SDKServerStatus",
    "SDKOverTLSServerStatus",
    "SupportMailBox",
]


# ---------------------------------------------------------------- inquiry


def test_inquiry_is_the_documented_xml():
    assert build_inquiry("1D5C8F0A-0000-4000-8000-0123456789AB") == (
        b'<?xml version="1.0" encoding="utf-8"?><Probe><Uuid>1D5C8F0A-0000-4000-8000-0123456789AB</Uuid>'
        b"<Types>inquiry</Types></Probe>"
    )
    assert b"<Types>inquiry_v32</Types>" in build_inquiry("X", "inquiry_v32")


def test_inquiry_round_trips_and_is_not_a_reply():
    raw = build_inquiry("ABC", "inquiry_v32")
    assert parse_inquiry(raw) == ("ABC", "inquiry_v32")
    assert parse_probe_match(raw) is None
    assert parse_inquiry(REAL) is None


# ---------------------------------------------------------------- ProbeMatch parser


def test_real_shaped_probe_match_keeps_every_field_in_order():
    fields = parse_probe_match(REAL)
    assert fields is not None
    assert list(fields) == REAL_ORDER
    assert fields["DeviceType"] == "141945"
    assert fields["DeviceDescription"] == "DS-2CD2385G1-I"
    assert fields["DeviceSN"] == "DS-2CD2385G1-I20200414AAWRE33842150"
    assert fields["MAC"] == "58-50-ed-1f-e3-85"
    assert (fields["CommandPort"], fields["HttpPort"], fields["SDKOverTLSPort"]) == ("8000", "80", "8443")
    assert fields["SoftwareVersion"] == "V5.6.2build 190701"
    assert fields["DSPVersion"] == "V7.3 build 190626"
    assert fields["DetailOEMCode"] == "1"


def test_oem_reply_on_one_line_carries_oem_info():
    fields = parse_probe_match(OEM)
    assert fields is not None
    assert fields["OEMInfo"] == "HiWatch"
    assert fields["DeviceDescription"] == "IPC-B120-D/W"
    assert fields["Activated"] == "false"


def test_tolerant_of_case_namespaces_duplicates_and_nesting():
    raw = (
        b'<Probematch xmlns="urn:x"><MAC>aa-bb-cc-dd-ee-ff</MAC><MAC>11-22-33-44-55-66</MAC>'
        b"<Encoder><Name> H.265 </Name></Encoder><Empty/></Probematch>"
    )
    assert parse_probe_match(raw) == {"MAC": "aa-bb-cc-dd-ee-ff", "Encoder": "H.265", "Empty": ""}


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("hostile_*")))
def test_hostile_fixtures_are_rejected(name):
    assert parse_probe_match((DATA / name).read_bytes()) is None


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\0" * 64,
        b"not xml",
        b"<ProbeMatch>",
        b"<Probe><Uuid>x</Uuid></Probe>",
        b'<?xml version="1.0" encoding="x-unknown"?><ProbeMatch/>',
        b"<a>" * 5000 + b"</a>" * 5000,
    ],
)
def test_garbage_is_rejected(raw):
    assert parse_probe_match(raw) is None


def test_size_bound():
    body = REAL.replace(b"</ProbeMatch>", b"")
    at_limit = body + b" " * (MAX_REPLY - len(body) - len(b"</ProbeMatch>")) + b"</ProbeMatch>"
    assert len(at_limit) == MAX_REPLY and parse_probe_match(at_limit) is not None
    assert parse_probe_match(at_limit + b" ") is None


def test_field_values_are_bounded():
    fields = parse_probe_match(
        b"<ProbeMatch><DeviceDescription>"
        + b"A" * 50000
        + b"</DeviceDescription>"
        + b"".join(b"<F%d/>" % i for i in range(1000))
        + b"</ProbeMatch>"
    )
    assert fields is not None
    assert len(fields["DeviceDescription"]) == 1024
    assert len(fields) == 256


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096))
def test_random_bytes_never_raise(raw):
    for result in (parse_probe_match(raw), parse_inquiry(raw), sadp_reply(raw, "10.0.0.1")):
        assert result is None or isinstance(result, dict | tuple)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_replies_never_raise(data):
    raw = mutated(
        data,
        data.draw(st.sampled_from([REAL, OEM])),
        [b"<", b">", b"&", b"&lol;", b"<!DOCTYPE x>", b"\xff", b"]]>"],
    )
    fields = parse_probe_match(raw)
    assert fields is None or all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items())
    answer = sadp_reply(raw, "10.0.0.1")
    assert answer is None or (answer.fields[0][0] == "sadp.reply" and answer.responder == "10.0.0.1")


# ---------------------------------------------------------------- observations of one reply


def test_reply_is_about_its_udp_source_and_its_payload_addresses_are_claims():
    ans = sadp_reply(REAL, "10.99.0.77")
    assert ans is not None
    assert (ans.responder, ans.mac, ans.port) == ("10.99.0.77", None, 37020)  # no MAC from a payload
    assert ans.fields[:4] == [
        ("sadp.reply", "DS-2CD2385G1-I"),
        ("claimed.ip", "192.168.1.64"),
        ("claimed.mismatch", "claims 192.168.1.64, sent from 10.99.0.77"),
        ("claimed.mac", "58:50:ed:1f:e3:85"),
    ]
    assert [s for s, _ in ans.fields[4:]] == [f"sadp.{f}" for f in REAL_ORDER]
    assert ("sadp.DeviceSN", "DS-2CD2385G1-I20200414AAWRE33842150") in ans.fields
    assert ("mac", "58:50:ed:1f:e3:85") not in ans.fields


def test_a_reply_that_claims_its_own_source_has_no_mismatch():
    ans = sadp_reply(REAL, "192.168.1.64")
    assert ans is not None
    signals = [s for s, _ in ans.fields]
    assert "claimed.ip" in signals and "claimed.mismatch" not in signals


def test_bad_claimed_address_and_mac_are_not_claims():
    raw = b"<ProbeMatch><MAC>not-a-mac</MAC><IPv4Address>0.0.0.0</IPv4Address></ProbeMatch>"
    ans = sadp_reply(raw, "10.99.0.77")
    assert ans is not None
    assert (ans.responder, ans.mac, ans.key) == ("10.99.0.77", None, "")
    assert ans.fields[0] == ("sadp.reply", "yes")
    assert not any(s.startswith("claimed.") for s, _ in ans.fields)
    assert ("sadp.MAC", "not-a-mac") in ans.fields


# ---------------------------------------------------------------- lab responder


def test_lab_reply_has_the_real_field_order_and_the_device_identity():
    dev = SimDevice("cam", "10.99.0.20", "58:50:ed:00:00:07", "nd-unused", "hikvision-ipc")
    params = {
        "DeviceType": "141945",
        "DeviceDescription": "DS-2CD2385G1-I",
        "DeviceSN": "DS-X{serial}",
        "SoftwareVersion": "V5.6.2build 190701",
        "DetailOEMCode": "1",
        "OEMInfo": "HiWatch",
    }
    fields = parse_probe_match(probe_match(dev, dev.fill(params), "U-1", "inquiry"))
    assert fields is not None
    known = [f for f in fields if f in REAL_ORDER]
    assert known == [f for f in REAL_ORDER if f in fields]
    assert list(fields)[-1] == "OEMInfo"  # not in the real reply: appended
    assert (fields["Uuid"], fields["Types"]) == ("U-1", "inquiry")
    assert (fields["MAC"], fields["IPv4Address"]) == ("58-50-ed-00-00-07", "10.99.0.20")
    assert fields["DeviceSN"] == "DS-X" + dev.serial


# ---------------------------------------------------------------- probe without a network
