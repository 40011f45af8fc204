"""SSDP / UPnP: M-SEARCH bytes, the reply and description parsers on real-shaped and hostile input, the
LOCATION fetch policy, the lab responder, and the probe in namespaces."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from labtools import mutated
from paths import DATA_DIR
from samples import SSDP_AXIS as AXIS
from samples import SSDP_AXIS_DESC as AXIS_DESC
from samples import SSDP_HUAWEI as HUAWEI

from scanner.discovery.parsers.ssdp import (
    MAX_DATAGRAM,
    MAX_HEADERS,
    build_msearch,
    fetchable_location,
    parse_msearch,
    parse_response,
)
from scanner.discovery.parsers.upnp import MAX_DESCRIPTION, UpnpDevice, parse_description
from scanner.lab.sim.device import SimDevice
from scanner.lab.sim.ssdp import UpnpIdentity, upnp_identity

DATA = DATA_DIR / "ssdp"


# ---------------------------------------------------------------- M-SEARCH


def test_msearch_is_the_uda_request():
    assert build_msearch("ssdp:all", 1) == (
        b'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\nMX: 1\r\n'
        b"ST: ssdp:all\r\nUSER-AGENT: Linux/1 UPnP/1.1 ndaa-scanner/0.1\r\n\r\n"
    )
    search = parse_msearch(build_msearch("upnp:rootdevice", 2, "10.0.0.5"))
    assert search is not None
    assert (search.st, search.mx, search.host) == ("upnp:rootdevice", 2, "10.0.0.5:1900")
    assert parse_response(build_msearch("ssdp:all", 1)) is None


@pytest.mark.parametrize(
    "raw",
    [
        b"M-SEARCH * HTTP/1.1\r\nMAN: ssdp:discover\r\n\r\n",  # no ST
        b'M-SEARCH * HTTP/1.1\r\nST: ssdp:all\r\nMAN: "ssdp:nope"\r\n\r\n',
        b"NOTIFY * HTTP/1.1\r\nNT: upnp:rootdevice\r\nNTS: ssdp:alive\r\n\r\n",
    ],
)
def test_non_searches_are_not_searches(raw):
    assert parse_msearch(raw) is None


@pytest.mark.parametrize("mx", ["1e9", "\u00b2", "\u0661", "-1", "99999", ""])
def test_search_without_a_plain_number_for_mx_has_no_mx(mx):
    raw = f'M-SEARCH * HTTP/1.1\r\nST: ssdp:all\r\nMAN: "ssdp:discover"\r\nMX: {mx}\r\n\r\n'.encode()
    search = parse_msearch(raw)
    assert search is not None and search.mx is None


# ---------------------------------------------------------------- replies


def test_axis_reply():
    reply = parse_response(AXIS)
    assert reply is not None
    assert reply.get("server") == "Linux/2.6.35, UPnP/1.0, Portable SDK for UPnP devices/1.6.18"
    assert reply.get("st") == "urn:axis-com:service:BasicService:1"
    assert reply.get("usn") == "uuid:Upnp-BasicDevice-1_0-ACCC8E270AD8::urn:axis-com:service:BasicService:1"
    assert reply.get("location") == "http://192.168.1.102:45895/rootdesc1.xml"
    assert reply.get("ext") == ""


def test_lower_case_headers_and_bare_line_feeds():
    reply = parse_response(HUAWEI)
    assert reply is not None
    assert (reply.get("server"), reply.get("st")) == (
        "Linux UPnP/1.0 Huawei-ATP-IGD",
        "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
    )
    assert reply.get("location") == "http://192.168.100.1:37215/rootDesc.xml"


def test_header_injection_is_dropped_and_a_foreign_location_is_never_fetchable():
    reply = parse_response((DATA / "header-injection.bin").read_bytes())
    assert reply is not None
    assert "x-injected" not in reply.headers and "server" not in reply.headers
    assert all(" " not in name for name in reply.headers)
    assert reply.get("location") == "http://198.51.100.7/steal.xml"  # the CR-smuggling first one was dropped
    assert fetchable_location(reply.get("location"), {"10.0.0.5"}) is None
    assert reply.get("usn") == "uuid:1234::upnp:rootdevice"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"HTTP/1.1 404 Not Found\r\nST: x\r\n\r\n",
        b"\x00\x01\x02",
        b"NOTIFY * HTTP/1.1\r\nNT: upnp:rootdevice\r\n\r\n",
        b"HTTP/1.1\r\n\r\n",
        b"HTTP/1.1 200 OK\x00\r\nST: x\r\n\r\n",
        b"garbage 200\r\n\r\n",
    ],
)
def test_non_replies_are_rejected(raw):
    assert parse_response(raw) is None


def test_size_and_header_bounds():
    assert parse_response(AXIS + b"X" * MAX_DATAGRAM) is None
    headers = b"".join(b"H%d: v\r\n" % i for i in range(MAX_HEADERS + 20))
    many = b"HTTP/1.1 200 OK\r\n" + headers + b"ST: late\r\n\r\n"
    reply = parse_response(many)
    assert reply is not None and len(reply.headers) == MAX_HEADERS and "st" not in reply.headers
    long_value = parse_response(b"HTTP/1.1 200 OK\r\nSERVER: " + b"s" * 5000 + b"\r\n\r\n")
    assert long_value is not None and len(long_value.get("server")) == 1024


@pytest.mark.parametrize(
    ("location", "allowed", "ok"),
    [
        ("http://10.0.0.5:49152/rootDesc.xml", {"10.0.0.5"}, True),
        ("http://10.0.0.5/d.xml", {"10.0.0.6"}, False),
        ("https://10.0.0.5/d.xml", {"10.0.0.5"}, False),
        ("file:///etc/passwd", {"10.0.0.5"}, False),
        ("http://user:pw@10.0.0.5/d.xml", {"10.0.0.5"}, False),
        ("http://camera.local/d.xml", {"10.0.0.5"}, False),
        ("http://[fe80::1]/d.xml", {"10.0.0.5"}, False),
        ("http://10.0.0.5:99999/d.xml", {"10.0.0.5"}, False),
        ("http://10.0.0.5:0/d.xml", {"10.0.0.5"}, False),
        ("http://10.0.0.5.evil.example/d.xml", {"10.0.0.5"}, False),
        ("", {"10.0.0.5"}, False),
    ],
)
def test_only_the_answering_host_or_a_target_is_fetched(location, allowed, ok):
    assert (fetchable_location(location, allowed) == location) is ok


# ---------------------------------------------------------------- descriptions


def test_axis_description_root_device_fields():
    assert parse_description(AXIS_DESC) == UpnpDevice(
        device_type="urn:schemas-upnp-org:device:Basic:1",
        friendly_name="AXIS M1014 - ACCC8E270AD8",
        manufacturer="AXIS",
        model_name="AXIS M1014",
        model_number="M1014",
        model_description="AXIS M1014 Fixed Network Camera",
        serial="ACCC8E270AD8",
        udn="uuid:Upnp-BasicDevice-1_0-ACCC8E270AD8",
    )


@pytest.mark.parametrize(
    "name", ["billion-laughs-rootdesc.xml", "external-entity-rootdesc.xml", "truncated-rootdesc.xml"]
)
def test_hostile_descriptions_are_rejected(name):
    assert parse_description((DATA / name).read_bytes()) is None


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"<root/>",
        b"<root><device/></root>",
        b"<html><body>hi</body></html>",
        b"<root><device><manufacturer>  </manufacturer></device></root>",
        AXIS,
    ],
)
def test_non_descriptions_are_rejected(raw):
    assert parse_description(raw) is None


def test_oversized_description_is_refused():
    big = AXIS_DESC.replace(b"</root>", b"<!--" + b"x" * MAX_DESCRIPTION + b"--></root>")
    assert parse_description(big) is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096))
def test_random_bytes_never_raise(raw):
    assert parse_response(raw) is None or isinstance(parse_response(raw).headers, dict)
    parse_msearch(raw)
    assert parse_description(raw) is None or isinstance(parse_description(raw), UpnpDevice)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_inputs_never_raise(data):
    raw = mutated(
        data,
        data.draw(st.sampled_from([AXIS, HUAWEI, AXIS_DESC, build_msearch("ssdp:all", 1)])),
        [
            b"\r",
            b"\n",
            b"\r\n\r\n",
            b":",
            b"\x00",
            b"<",
            b"&lol;",
            b"<!DOCTYPE x>",
            b"\xff",
            b"LOCATION: http://1.2.3.4/\r\n",
            b"MX: \xc2\xb2\r\n",
        ],
    )
    reply = parse_response(raw)
    if reply is not None:
        fetchable_location(reply.get("location"), {"10.0.0.5"})
    parse_msearch(raw)
    parse_description(raw)


# ---------------------------------------------------------------- lab responder


def _lab_identity(profile: str) -> UpnpIdentity:
    from scanner.lab.sim.runtime import profiles

    dev = SimDevice("d", "10.99.0.9", "ac:cc:8e:27:0a:d8", "nd-unused", profile)
    return upnp_identity(dev, dev.fill(profiles()[profile]["ssdp"]))


def test_responder_answers_per_search_target():
    axis = _lab_identity("axis-ipc")
    udn = "uuid:Upnp-BasicDevice-1_0-ACCC8E270AD8"
    all_sts = [parse_response(r).get("st") for r in axis.answers("ssdp:all")]
    assert all_sts == [
        "upnp:rootdevice",
        udn,
        "urn:schemas-upnp-org:device:Basic:1",
        "urn:axis-com:service:BasicService:1",
    ]
    [root] = [parse_response(r) for r in axis.answers("upnp:rootdevice")]
    assert (root.get("usn"), root.get("location")) == (
        f"{udn}::upnp:rootdevice",
        "http://10.99.0.9:49152/rootDesc.xml",
    )
    assert [parse_response(r).get("usn") for r in axis.answers(udn)] == [udn]
    assert len(axis.answers("urn:axis-com:service:BasicService:1")) == 1
    assert axis.answers("urn:schemas-upnp-org:device:InternetGatewayDevice:1") == []


def test_responder_description_round_trips_the_profile():
    huawei = _lab_identity("huawei-cpe")
    desc = parse_description(huawei.description())
    assert desc is not None
    assert (desc.manufacturer, desc.model_name, desc.friendly_name, desc.device_type) == (
        "Huawei Technologies Co., Ltd.",
        "HG8245H",
        "HG8245H",
        "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
    )
    assert desc.udn and desc.udn.startswith("uuid:")


# ---------------------------------------------------------------- probe without a network
