"""WS-Discovery / ONVIF: Probe envelopes, the ProbeMatches parser on real-shaped and hostile input, scope
decoding, the lab responder, and the probe in namespaces against our responders and the third-party
``wsdiscovery`` publisher."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from labtools import mutated, wsd_target
from paths import DATA_DIR
from samples import WSD_CPPLUS as CPPLUS
from samples import WSD_HIK as HIK
from samples import WSD_HOSTILE as HOSTILE

from scanner.discovery.parsers.wsd import (
    MAX_ITEM_LEN,
    MAX_ITEMS,
    MAX_MATCHES,
    MAX_REPLY,
    NS_DN,
    NS_TDS,
    PROBE_TYPES,
    ProbeMatch,
    build_probe,
    match_mac,
    new_message_id,
    parse_probe,
    parse_probe_matches,
    scope_params,
    xaddr_ipv4,
)
from scanner.lab.sim.wsd import probe_matches

DATA = DATA_DIR / "wsd"


# ---------------------------------------------------------------- Probe envelopes


def test_two_separate_typed_probes_and_an_untyped_one():
    assert PROBE_TYPES == ("dn:NetworkVideoTransmitter", "tds:Device", None)
    nvt, device, untyped = (parse_probe(build_probe(f"urn:uuid:{i}", t)) for i, t in enumerate(PROBE_TYPES))
    assert nvt is not None and device is not None and untyped is not None
    assert nvt.types == ((NS_DN, "NetworkVideoTransmitter"),)
    assert device.types == ((NS_TDS, "Device"),)
    assert (untyped.message_id, untyped.types) == ("urn:uuid:2", ())


def test_probe_carries_the_ws_addressing_headers():
    mid = new_message_id()
    assert mid.startswith("urn:uuid:")
    raw = build_probe(mid, "dn:NetworkVideoTransmitter")
    for part in (
        b'xmlns:s="http://www.w3.org/2003/05/soap-envelope"',
        b'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"',
        b'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"',
        b">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>",
        b">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>",
        f">{mid}</a:MessageID>".encode(),
    ):
        assert part in raw


def test_the_wsdiscovery_package_reads_our_probe_types():
    """A third-party WS-Discovery implementation resolves our typed Probe to the ONVIF QName."""
    from wsdiscovery.message import parseSOAPMessage

    env = parseSOAPMessage(build_probe("urn:uuid:42", "dn:NetworkVideoTransmitter"), "10.0.0.1")
    assert env.getMessageId() == "urn:uuid:42"
    assert [t.getFullname() for t in env.getTypes()] == [f"{NS_DN}:NetworkVideoTransmitter"]


# ---------------------------------------------------------------- ProbeMatches parser


def test_real_shaped_hikvision_match():
    [m] = parse_probe_matches(HIK)
    assert m.endpoint == "urn:uuid:aa85c000-6324-11b3-819e-5850ed1fe385"
    assert m.types == ("dn:NetworkVideoTransmitter", "tds:Device")
    assert len(m.scopes) == 8 and m.scopes[4] == "onvif://www.onvif.org/MAC/58:50:ed:1f:e3:85"
    assert m.xaddrs == (
        "http://192.168.124.40/onvif/device_service",
        "http://[fe80::5a50:edff:fe1f:e385]/onvif/device_service",
    )
    params = scope_params(m.scopes)
    assert params["name"] == ["HIKVISION DS-2CD2385G1-I"]
    assert params["hardware"] == ["DS-2CD2385G1-I"]
    assert params["mac"] == ["58:50:ed:1f:e3:85"]
    assert params["location"] == ["city/hangzhou"]
    assert params["profile"] == ["Streaming", "G", "T"]
    assert params["type"] == ["video_encoder"]
    assert match_mac(m) == "58:50:ed:1f:e3:85"
    assert xaddr_ipv4(m) == "192.168.124.40"


def test_oasis_namespace_oem_match_without_mac_or_ipv4_xaddr():
    [m] = parse_probe_matches(CPPLUS)
    assert m.endpoint == "uuid:8f3ac3b2-5e7d-4c9a-a1b2-c3d4e5f60718"
    params = scope_params(m.scopes)
    assert (params["name"], params["hardware"]) == (["CP_PLUS"], ["CP-UNC-DA21PL3C-V3"])
    assert params["location"] == ["country/India"]
    assert match_mac(m) is None  # a random (version 4) endpoint UUID says nothing about the MAC
    assert xaddr_ipv4(m) is None


@pytest.mark.parametrize(
    ("scopes", "endpoint", "mac"),
    [
        (
            (),
            "urn:uuid:aa85c000-6324-11b3-819e-5850ed1fe385",
            "58:50:ed:1f:e3:85",
        ),  # Hikvision: v1 node = MAC
        (
            ("onvif://www.onvif.org/mac/14-22-01-23-45",),
            "urn:uuid:aa85c000-6324-11b3-819e-5850ed1fe385",
            "58:50:ed:1f:e3:85",
        ),  # a 5-octet MAC scope (field report) is not a MAC: the endpoint is used
        (("onvif://www.onvif.org/MacAddress/AC-CC-8E-27-0A-D8",), "", "ac:cc:8e:27:0a:d8"),
        (("onvif://www.onvif.org/MAC/01:00:5e:00:00:01",), "", None),  # multicast
        (("onvif://www.onvif.org/MAC/00:00:00:00:00:00",), "", None),
        ((), "urn:uuid:aa85c000-6324-11b3-819e-0150ed1fe385", None),  # v1 with a random (multicast-bit) node
        ((), "urn:uuid:3fb563d9-9a79-4844-ad3e-3fb5bb8a2a8d", None),  # v4
        ((), "urn:uuid:not-a-uuid", None),
    ],
)
def test_mac_from_scope_or_version_1_endpoint(scopes, endpoint, mac):
    assert match_mac(ProbeMatch(endpoint, (), scopes, ())) == mac


def test_scope_params_decode_case_and_ignore_foreign_scopes():
    params = scope_params(
        [
            "ONVIF://WWW.ONVIF.ORG/Name/Foo%2FBar%20Cam",
            "onvif://www.onvif.org/SerialNumber/X1",
            "http://example.com/name/Nope",
            "onvif://www.onvif.org/name/",
            "onvif://www.onvif.org/",
            "onvif://www.onvif.org/name/%FF%FE",
        ]
    )
    assert params == {"name": ["Foo/Bar Cam", "\ufffd\ufffd"], "serialnumber": ["X1"]}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_fixtures_yield_nothing(name):
    raw = (DATA / name).read_bytes()
    assert parse_probe_matches(raw) == []
    assert parse_probe(raw) is None


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00" * 100,
        b"<",
        b"<x/>",
        b"<Envelope/>",
        b"not xml at all",
        b'<?xml version="1.0" encoding="x-nope"?><Envelope/>',
        "<s:Envelope xmlns:s='u'><s:Body>\u00e9</s:Body></s:Envelope>".encode("utf-16"),
    ],
)
def test_garbage_yields_nothing(raw):
    assert parse_probe_matches(raw) == []
    assert parse_probe(raw) is None


def test_huge_datagram_is_refused_unparsed():
    pad = b"<!--" + b"x" * MAX_REPLY + b"-->"
    assert parse_probe_matches(HIK.replace(b"<env:Body>", b"<env:Body>" + pad)) == []
    assert parse_probe_matches(HIK) != []


def test_matches_items_and_values_are_bounded():
    scopes = " ".join(f"onvif://www.onvif.org/n/{i}" for i in range(MAX_ITEMS + 10))
    one = (
        f"<d:ProbeMatch><a:EndpointReference><a:Address>urn:uuid:{'x' * 1100}</a:Address>"
        f"</a:EndpointReference><d:Scopes>{scopes}</d:Scopes></d:ProbeMatch>"
    )
    raw = (
        '<s:Envelope xmlns:s="S" xmlns:a="A" xmlns:d="D"><s:Body><d:ProbeMatches>'
        + one * (MAX_MATCHES + 2)
        + "</d:ProbeMatches></s:Body></s:Envelope>"
    ).encode()
    assert len(raw) <= MAX_REPLY
    matches = parse_probe_matches(raw)
    assert len(matches) == MAX_MATCHES
    assert all(len(m.scopes) == MAX_ITEMS and len(m.endpoint) == MAX_ITEM_LEN for m in matches)


def test_a_probematch_built_by_the_wsdiscovery_package_parses():
    from wsdiscovery import QName, Scope
    from wsdiscovery.actions.probematch import constructProbeMatch, createProbeMatchMessage
    from wsdiscovery.service import Service

    endpoint = "urn:uuid:aa85c000-6324-11b3-819e-4419b6000001"
    svc = Service(
        [QName(NS_DN, "NetworkVideoTransmitter", "dn")],
        [Scope("onvif://www.onvif.org/name/HIKVISION DS-2CD2143G0-I")],
        ["http://10.0.0.9/onvif/device_service"],
        endpoint,
        1,
    )
    [m] = parse_probe_matches(createProbeMatchMessage(constructProbeMatch([svc], "urn:uuid:1")).encode())
    assert (m.endpoint, m.types) == (endpoint, ("dn:NetworkVideoTransmitter",))
    assert scope_params(m.scopes)["name"] == ["HIKVISION DS-2CD2143G0-I"]
    assert (xaddr_ipv4(m), match_mac(m)) == ("10.0.0.9", "44:19:b6:00:00:01")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096))
def test_random_bytes_never_raise(raw):
    assert isinstance(parse_probe_matches(raw), list)
    assert parse_probe(raw) is None or parse_probe(raw).message_id


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_replies_never_raise(data):
    raw = mutated(
        data,
        data.draw(st.sampled_from([HIK, CPPLUS, build_probe("urn:uuid:1", "tds:Device")])),
        [
            b"<",
            b">",
            b"&",
            b"&lol;",
            b"<!DOCTYPE x>",
            b"\xff",
            b"]]>",
            b"%",
            b"onvif://www.onvif.org/MAC/",
            b" ",
        ],
    )
    for m in parse_probe_matches(raw):
        scope_params(m.scopes)
        assert match_mac(m) is None or len(match_mac(m)) == 17
        xaddr_ipv4(m)


# ---------------------------------------------------------------- lab responder


@pytest.mark.parametrize(
    ("device_types", "probe_type", "answers"),
    [
        ("dn:NetworkVideoTransmitter tds:Device", "dn:NetworkVideoTransmitter", True),
        ("dn:NetworkVideoTransmitter tds:Device", "tds:Device", True),
        ("dn:NetworkVideoTransmitter tds:Device", None, True),
        ("dn:NetworkVideoTransmitter", "tds:Device", False),
    ],
)
def test_responder_answers_a_typed_probe_only_with_that_type(device_types, probe_type, answers):
    probe = parse_probe(build_probe("urn:uuid:7", probe_type))
    assert probe is not None
    reply = wsd_target(device_types).answer(probe)
    assert (reply is not None) == answers
    if reply:
        [m] = parse_probe_matches(reply)
        assert m.endpoint == "urn:uuid:aa85c000-6324-11b3-819e-5850ed1fe385"
        assert m.types == tuple(device_types.split())


def test_responder_answers_each_message_id_once():
    target = wsd_target()
    probe = parse_probe(build_probe("urn:uuid:8"))
    assert probe is not None
    assert target.answer(probe) is not None
    assert target.answer(probe) is None
    assert parse_probe_matches(probe_matches(target, "urn:uuid:8"))[0].xaddrs == (
        "http://10.99.0.9/onvif/device_service",
    )


# ---------------------------------------------------------------- probe without a network
