"""mDNS / DNS-SD: TXT and name handling, and the probe in namespaces against python-zeroconf responders
(one simulator process serving every device)."""

from __future__ import annotations

import asyncio
import struct
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.discovery.base import Collector, ProbeContext, ProbeStatus
from scanner.discovery.mdns import (
    BROWSE_TYPES,
    ENUMERATION_TYPE,
    MAX_TXT,
    MdnsProbe,
    _Session,
    instance_label,
    pick_address,
    txt_entries,
)
from scanner.targets import parse_targets

# ---------------------------------------------------------------- pure helpers


def test_txt_entries_as_key_value_with_boolean_keys():
    assert txt_entries({b"macaddress": b"ACCC8E270AD8", b"path": b"/", b"flag": None}) == [
        "macaddress=ACCC8E270AD8",
        "path=/",
        "flag",
    ]
    assert txt_entries(None) == []
    assert txt_entries({b"": None}) == []  # avahi's empty TXT record


def test_txt_entries_are_bounded_and_never_raise_on_binary():
    props = {f"k{i}".encode(): b"\xff\xfe" + bytes([i]) for i in range(MAX_TXT + 10)}
    out = txt_entries(props)
    assert len(out) == MAX_TXT
    assert out[0] == "k0=\ufffd\ufffd\x00"


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.binary(max_size=40), st.one_of(st.none(), st.binary(max_size=300)), max_size=80))
def test_random_txt_records_never_raise(props):
    out = txt_entries(props)
    assert len(out) == len([k for k in list(props)[:MAX_TXT] if k])
    assert all(isinstance(e, str) and e for e in out)


def test_instance_label_strips_the_service_type():
    axis = "AXIS M1014 - ACCC8E270AD8"
    assert instance_label(f"{axis}._axis-video._tcp.local.", "_axis-video._tcp.local.") == axis
    assert instance_label("HIKVISION X._cgi._tcp.local.", "_CGI._tcp.local.") == "HIKVISION X"
    assert instance_label("odd.name.", "_http._tcp.local.") == "odd.name."


@pytest.mark.parametrize(
    ("addresses", "network", "ip"),
    [
        (["169.254.107.165", "128.223.10.14"], None, "128.223.10.14"),  # a camera also announcing link-local
        (
            ["10.1.0.5", "192.168.1.64"],
            "192.168.1.0/24",
            "192.168.1.64",
        ),  # on the scan interface's subnet first
        (["169.254.1.1"], "192.168.1.0/24", "169.254.1.1"),  # nothing better
        (["127.0.0.1", "not an address", "10.0.0.9"], None, "10.0.0.9"),
        ([], None, None),
    ],
)
def test_the_address_other_probes_reach_is_chosen(addresses, network, ip):
    from ipaddress import IPv4Network

    assert pick_address(addresses, IPv4Network(network) if network else None) == ip


def test_hostile_enumerated_types_are_not_browsed():
    """Type names from the network that our pattern or zeroconf's rules refuse start no browser."""
    from zeroconf import ServiceStateChange

    session = _Session(None, Collector("mdns", ProbeContext(targets=[])), 1)
    for name in (
        "_a--b._tcp.local.",
        "_-x._tcp.local.",
        "not a type",
        "_x._sctp.local.",
        "_" + "a" * 80 + "._tcp.local.",
    ):
        session._on_change(None, ENUMERATION_TYPE, name, ServiceStateChange.Added)
    assert session.browsers == []


def test_camera_types_are_browsed():
    camera_services = ("CGI", "axis-video", "rtsp", "http", "onvif", "psia", "workstation")
    assert {f"_{name}._tcp.local." for name in camera_services} == set(BROWSE_TYPES)


# ---------------------------------------------------------------- probe without a network


def test_no_interface_is_skipped():
    result = asyncio.run(MdnsProbe().run(ProbeContext(targets=parse_targets(["10.99.0.0/30"]))))
    assert result.status == ProbeStatus.SKIPPED
    assert result.observations == []


# ---------------------------------------------------------------- DNS decoding is python-zeroconf's: bounded


def _dns(question_name: bytes) -> bytes:
    """A one-question DNS response whose question name is ``question_name`` (header is 12 bytes)."""
    header = struct.pack("!6H", 0, 0x8400, 1, 0, 0, 0)
    return header + question_name + struct.pack("!HH", 12, 1)


@pytest.mark.parametrize(
    "name",
    [
        b"\xc0\x0c",  # a compression pointer to itself
        b"\xc0\x0e\xc0\x0c",  # two pointers to each other
        b"".join(struct.pack("!H", 0xC000 | (14 + 2 * i)) for i in range(4000)) + b"\0",  # a 4000-long chain
        b"\x3f" + b"a" * 63 + b"\xc0\x0c",  # a label, then a pointer back to it
    ],
)
def test_dns_compression_loops_and_chains_are_refused_quickly(name):
    from zeroconf import DNSIncoming

    start = time.perf_counter()
    msg = DNSIncoming(_dns(name))
    assert not msg.valid and msg.questions == []
    assert time.perf_counter() - start < 0.5


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=9000))
def test_random_dns_datagrams_never_raise(raw):
    from zeroconf import DNSIncoming

    msg = DNSIncoming(raw)
    assert isinstance(msg.valid, bool)
