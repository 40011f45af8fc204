"""Hikvision SADP: the inquiry bytes, the ProbeMatch parser on real-shaped and hostile input, the lab
responder's reply, and the probe against simulated devices in namespaces."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from labtools import SADP_DHIP_LAB, by_mac, mutated, run_probe
from paths import DATA_DIR

from scanner.discovery.base import ProbeContext, ProbeResult, ProbeStatus
from scanner.discovery.parsers.sadp import MAX_REPLY, build_inquiry, parse_inquiry, parse_probe_match
from scanner.discovery.sadp import SadpProbe, sadp_answer
from scanner.lab.sim.device import SimDevice
from scanner.lab.sim.sadp import probe_match
from scanner.targets import parse_targets

DATA = DATA_DIR / "sadp"
REAL = (DATA / "probematch_ds-2cd2385g1-i.xml").read_bytes()
OEM = (DATA / "probematch_oem_one_line.xml").read_bytes()

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
    for result in (parse_probe_match(raw), parse_inquiry(raw), sadp_answer(raw, "10.0.0.1")):
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
    answer = sadp_answer(raw, "10.0.0.1")
    assert answer is None or answer.fields[0][0] == "sadp.reply"


# ---------------------------------------------------------------- observations of one reply


def test_answer_reports_every_field_about_the_claimed_address_and_mac():
    ans = sadp_answer(REAL, "10.99.0.77")
    assert ans is not None
    assert (ans.key, ans.ip, ans.mac) == ("58:50:ed:1f:e3:85", "192.168.1.64", "58:50:ed:1f:e3:85")
    assert ans.fields[:2] == [("sadp.reply", "DS-2CD2385G1-I"), ("mac", "58:50:ed:1f:e3:85")]
    assert [s for s, _ in ans.fields[2:]] == [f"sadp.{f}" for f in REAL_ORDER]
    assert ("sadp.DeviceSN", "DS-2CD2385G1-I20200414AAWRE33842150") in ans.fields


def test_answer_falls_back_to_the_source_for_bad_address_and_mac():
    raw = b"<ProbeMatch><MAC>not-a-mac</MAC><IPv4Address>0.0.0.0</IPv4Address></ProbeMatch>"
    ans = sadp_answer(raw, "10.99.0.77")
    assert ans is not None
    assert (ans.key, ans.ip, ans.mac) == ("10.99.0.77", "10.99.0.77", None)
    assert ans.fields[0] == ("sadp.reply", "yes")
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


def test_nothing_to_do_sends_nothing():
    result = asyncio.run(SadpProbe().run(ProbeContext(targets=[])))
    assert result.status == ProbeStatus.SKIPPED
    assert (result.sent, result.observations) == (0, [])


def test_unknown_interface_is_an_error_not_an_exception():
    result = asyncio.run(SadpProbe().run(ProbeContext(targets=[], interface="nd-no-such-if")))
    assert result.status == ProbeStatus.ERROR
    assert "nd-no-such-if" in (result.error or "")
    assert result.sent == 0


# ---------------------------------------------------------------- namespaces


@pytest.mark.netns
def test_only_hikvision_firmware_answers(lab_factory):
    from scanner.lab.sim.runtime import profiles

    lab = lab_factory(SADP_DHIP_LAB)
    result = run_probe(lab, SadpProbe(), ["10.99.0.0/24"])
    assert result.status == ProbeStatus.SUCCESS, result.error
    models = by_mac(result, "sadp.DeviceDescription")
    assert models == {"58:50:ed:1f:e3:85": "DS-2CD2385G1-I", "bc:ad:28:11:22:33": "IPC-B120-D/W"}
    hik = {d.name: d for d in lab.devices}["hik"]
    serial = SimDevice(hik.name, hik.ip, hik.mac, "", hik.profile).serial
    assert by_mac(result, "sadp.DeviceSN")["58:50:ed:1f:e3:85"] == f"DS-2CD2385G1-I20200414AAWR{serial}"
    assert by_mac(result, "sadp.MAC") == {
        "58:50:ed:1f:e3:85": "58-50-ed-1f-e3-85",
        "bc:ad:28:11:22:33": "bc-ad-28-11-22-33",
    }
    assert by_mac(result, "sadp.SoftwareVersion") == {
        "58:50:ed:1f:e3:85": profiles()["hikvision-ipc"]["sadp"]["SoftwareVersion"],
        "bc:ad:28:11:22:33": profiles()["hiwatch-ipc"]["sadp"]["SoftwareVersion"],
    }
    assert by_mac(result, "sadp.OEMInfo") == {"bc:ad:28:11:22:33": "HiWatch"}
    assert {o.ip for o in result.observations} == {"10.99.0.10", "10.99.0.11"}
    assert all(o.port == 37020 and o.probe == "sadp" for o in result.observations)


@pytest.mark.netns
def test_camera_on_its_factory_address_is_found_off_subnet(lab_factory):
    lab = lab_factory(
        [
            {
                "name": "factory",
                "ip": "192.0.0.64",
                "mac": "58:50:ed:00:00:64",
                "profile": "hikvision-ipc",
                "routes": ["default"],
            },
            {"name": "onnet", "ip": "10.99.0.20", "mac": "58:50:ed:00:00:20", "profile": "hikvision-nvr"},
        ]
    )
    result = run_probe(lab, SadpProbe(), ["10.99.0.0/24"])
    assert result.status == ProbeStatus.SUCCESS, result.error
    replies = {o.mac: o.ip for o in result.observations if o.signal == "sadp.reply"}
    assert replies == {"58:50:ed:00:00:64": "192.0.0.64", "58:50:ed:00:00:20": "10.99.0.20"}
    assert by_mac(result, "sadp.IPv4Address")["58:50:ed:00:00:64"] == "192.0.0.64"


@pytest.mark.netns
def test_fifty_responders_are_all_found_once(lab_factory):
    lab = lab_factory(
        groups=[
            {
                "name": "cam",
                "count": 50,
                "start_ip": "10.99.0.100",
                "ouis": ["58:50:ed"],
                "profile": "ezviz-cam",
            }
        ]
    )
    budget = 3.0
    result = run_probe(lab, SadpProbe(), ["10.99.0.0/24"], timeout=budget)
    assert result.status == ProbeStatus.SUCCESS, result.error
    replies = {o.mac: o.ip for o in result.observations if o.signal == "sadp.reply"}
    assert replies == {d.mac: d.ip for d in lab.devices}
    assert len([o for o in result.observations if o.signal == "sadp.reply"]) == 50
    assert result.received > 50  # every device answered several copies; they were merged
    assert result.duration < budget + 0.5


@pytest.mark.netns
def test_without_an_interface_only_the_targets_are_asked(lab_factory):
    from scanner.lab.netns import run_in_netns

    lab = lab_factory(
        groups=[
            {
                "name": "cam",
                "count": 3,
                "start_ip": "10.99.0.30",
                "ouis": ["58:50:ed"],
                "profile": "ezviz-cam",
            }
        ]
    )
    asked = lab.devices[1]

    def go(targets: list[str], interface: str | None) -> ProbeResult:
        ctx = ProbeContext(targets=parse_targets(targets), interface=interface, timeout=2.0)
        return asyncio.run(SadpProbe().run(ctx))

    result = run_in_netns(lab.scanner_ns, go, [asked.ip], None)  # unicast only: no group, no broadcast
    assert result.status == ProbeStatus.SUCCESS, result.error
    assert {(o.mac, o.ip) for o in result.observations if o.signal == "sadp.reply"} == {(asked.mac, asked.ip)}
    assert result.sent == 2  # both inquiry types once: a target that answered is not asked again
    result = run_in_netns(lab.scanner_ns, go, ["10.98.0.5"], "eth0")  # no route to the target
    assert result.status == ProbeStatus.PARTIAL
    assert "10.98.0.5" in (result.error or "")
    assert {o.mac for o in result.observations if o.signal == "sadp.reply"} == {d.mac for d in lab.devices}


def test_a_device_that_replies_only_to_the_group_is_heard(lab_factory):
    """Some firmware copies its ProbeMatch to 239.255.255.250:37020 rather than the requester's port."""
    lab = lab_factory(
        [
            {
                "name": "grp",
                "ip": "10.99.0.10",
                "mac": "58:50:ed:00:00:10",
                "profile": "hikvision-nvr",
                "params": {"sadp": {"reply_to": "group"}},
            },
            {"name": "uni", "ip": "10.99.0.11", "mac": "58:50:ed:00:00:11", "profile": "hikvision-nvr"},
        ]
    )
    result = run_probe(lab, SadpProbe(), ["10.99.0.10", "10.99.0.11"])
    found = {o.mac for o in result.observations if o.signal == "sadp.reply"}
    assert found == {"58:50:ed:00:00:10", "58:50:ed:00:00:11"}
    assert not any("not replies" in n for n in result.notes)  # our own looped-back inquiries are not counted
