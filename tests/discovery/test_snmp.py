"""SNMPv2c: our BER codec checked byte for byte against hand-built encodings (and scapy's, an independent
encoder, when installed), hostile input, and the probe against a UDP agent on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from ipaddress import IPv4Address
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from labtools import RecordingAgent

from scanner.discovery.base import ProbeContext, ProbeResult, ProbeStatus
from scanner.discovery.options import ProbeOptions
from scanner.discovery.parsers.snmp import (
    COUNTER64,
    GET_REQUEST,
    GET_RESPONSE,
    INTEGER,
    NO_SUCH_OBJECT,
    OCTET_STRING,
    OID,
    SYS_DESCR,
    SYS_OBJECT_ID,
    Message,
    VarBind,
    build_get,
    encode_message,
    encode_oid,
    parse_message,
    text_value,
)
from scanner.discovery.snmp import SnmpProbe

# GetRequest, SNMPv2c, community "public", request-id 1, sysDescr.0, laid out by hand from RFC 3416 / X.690:
GET_SYSDESCR_RID1 = bytes.fromhex(
    "30 26"  # SEQUENCE, 38 bytes
    " 02 01 01"  # version 1 = v2c
    " 04 06 70 75 62 6c 69 63"  # community "public"
    " a0 19"  # GetRequest-PDU, 25 bytes
    " 02 01 01 02 01 00 02 01 00"  # request-id 1, error-status 0, error-index 0
    " 30 0e 30 0c"  # varbind list, one varbind
    " 06 08 2b 06 01 02 01 01 01 00"  # OID 1.3.6.1.2.1.1.1.0
    " 05 00"
)  # NULL


def dahua_response(request_id: int = 0x12345678, community: bytes = b"public") -> bytes:
    """A GetResponse with the Dahua NVR values LibreNMS recorded (librenms@8d8c7a44 dahua-nvr.snmprec), by hand."""
    descr = b"DH-NVR4108HS-8P-4KS2"
    oid = bytes.fromhex("2b 06 01 04 01 bd aa 31 03 02 0a")  # 1.3.6.1.4.1.1004849.3.2.10; 1004849 -> bd aa 31
    vb1 = bytes.fromhex("06 08 2b 06 01 02 01 01 01 00") + bytes([0x04, len(descr)]) + descr
    vb2 = bytes.fromhex("06 08 2b 06 01 02 01 01 02 00") + bytes([0x06, len(oid)]) + oid
    binds = bytes([0x30, len(vb1)]) + vb1 + bytes([0x30, len(vb2)]) + vb2
    rid = request_id.to_bytes(4, "big", signed=True)
    pdu = bytes([0x02, 4]) + rid + bytes.fromhex("02 01 00 02 01 00") + bytes([0x30, len(binds)]) + binds
    head = bytes.fromhex("02 01 01") + bytes([0x04, len(community)]) + community
    body = head + bytes([0xA2, len(pdu)]) + pdu
    return bytes([0x30, len(body)]) + body


def test_get_request_matches_the_hand_built_encoding() -> None:
    assert build_get(b"public", 1, (SYS_DESCR,)) == GET_SYSDESCR_RID1


def test_get_request_matches_scapy() -> None:
    snmp = pytest.importorskip("scapy.layers.snmp")
    from scapy.asn1.asn1 import ASN1_OID

    theirs = snmp.SNMP(
        version=1,
        community=b"private",
        PDU=snmp.SNMPget(
            id=0x7FFFFFFF,
            varbindlist=[
                snmp.SNMPvarbind(oid=ASN1_OID(SYS_DESCR)),
                snmp.SNMPvarbind(oid=ASN1_OID(SYS_OBJECT_ID)),
            ],
        ),
    )
    assert build_get(b"private", 0x7FFFFFFF) == bytes(theirs)


def test_parse_a_real_shaped_response() -> None:
    msg = parse_message(dahua_response())
    assert msg is not None
    assert (msg.version, msg.community, msg.pdu_type) == (1, b"public", GET_RESPONSE)
    assert msg.request_id == 0x12345678
    assert [(b.oid, text_value(b.value)) for b in msg.varbinds] == [
        (SYS_DESCR, "DH-NVR4108HS-8P-4KS2"),
        (SYS_OBJECT_ID, "1.3.6.1.4.1.1004849.3.2.10"),
    ]


def test_long_lengths_and_other_types_round_trip() -> None:
    # shaped after the VRP sysDescr template of docs/PROTOCOLS.md#banners (version and model made up), > 127 bytes
    descr = (
        b"Huawei Versatile Routing Platform Software VRP (R) software, "
        b"Version 8.180 (CE6850EI V200R005C10SPC800) "
        b"Copyright (C) 2012-2018 Huawei Technologies Co., Ltd."
    )
    msg = Message(
        1,
        b"c" * 200,
        GET_RESPONSE,
        -5,
        0,
        0,
        (
            VarBind(SYS_DESCR, OCTET_STRING, descr),
            VarBind(SYS_OBJECT_ID, OID, "1.3.6.1.4.1.2011.2.239.12"),
            VarBind("1.3.6.1.2.1.1.3.0", COUNTER64, 2**64 - 1),
            VarBind("1.3.6.1.2.1.1.7.0", INTEGER, -129),
            VarBind("1.3.6.1.2.1.1.5.0", NO_SUCH_OBJECT, None),
        ),
    )
    raw = encode_message(msg)
    assert raw[:4] == bytes([0x30, 0x82]) + (len(raw) - 4).to_bytes(2, "big")  # long-form length
    decoded = parse_message(raw)
    assert decoded is not None
    assert decoded.varbinds[:4] == msg.varbinds[:4]
    assert decoded.varbinds[4].value == "noSuchObject" and text_value(decoded.varbinds[4].value) is None
    assert decoded.request_id == -5 and decoded.community == b"c" * 200


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        GET_SYSDESCR_RID1[:-1],  # truncated
        b"\x30\x80" + GET_SYSDESCR_RID1[2:],  # indefinite length
        b"\x30\x85\xff\xff\xff\xff\xff" + GET_SYSDESCR_RID1[2:],  # 5-byte length
        b"\x31" + GET_SYSDESCR_RID1[1:],  # not a SEQUENCE
        GET_SYSDESCR_RID1.replace(b"\xa0\x19", b"\x04\x19"),  # not a PDU
        GET_SYSDESCR_RID1.replace(b"\x01\x01\x01\x00\x05", b"\x01\x01\x01\x80\x05"),  # OID ends mid-arc
        b"\x30\x03\x02\x01",
    ],
)
def test_malformed_messages(raw: bytes) -> None:
    assert parse_message(raw) is None


def test_oid_encoding_rules() -> None:
    # 39165 = 2*128^2 + 49*128 + 125 -> 82 b1 7d (Hikvision's enterprise number)
    assert encode_oid("1.3.6.1.4.1.39165") == bytes.fromhex("06 08 2b 06 01 04 01 82 b1 7d")
    assert encode_oid("2.999.3") == bytes.fromhex("06 03 88 37 03")
    with pytest.raises(ValueError):
        encode_oid("1.40")


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=2048))
def test_decoder_never_raises(data: bytes) -> None:
    parse_message(data)
    parse_message(GET_SYSDESCR_RID1[:13] + data)


oids = st.lists(st.integers(min_value=0, max_value=2**32), min_size=1, max_size=20).map(
    lambda arcs: "1.3." + ".".join(map(str, arcs))
)


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=300),
    st.integers(min_value=-(2**31), max_value=2**31 - 1),
    st.lists(oids, max_size=8),
    st.binary(max_size=400),
)
def test_encode_then_decode_is_identity(community: bytes, rid: int, names: list[str], text: bytes) -> None:
    binds = tuple(VarBind(o, OCTET_STRING, text) for o in names)
    msg = Message(1, community, GET_RESPONSE, rid, 0, 0, binds)
    assert parse_message(encode_message(msg)) == msg


# ---------------------------------------------------------------- the probe against a loopback agent


class Agent(RecordingAgent):
    """Answers GetRequests for ``community`` like the Dahua NVR; can also send junk first."""

    def __init__(self, community: bytes, junk: bool = False) -> None:
        super().__init__()
        self.community, self.junk = community, junk

    def answer(self, data: bytes, addr: tuple[str, int], transport: asyncio.DatagramTransport) -> None:
        msg = parse_message(data)
        if msg is None or msg.pdu_type != GET_REQUEST or msg.community != self.community:
            return
        if self.junk:
            transport.sendto(b"\x30\x03garbage", addr)
            transport.sendto(dahua_response(msg.request_id + 1, self.community), addr)  # wrong id
            transport.sendto(dahua_response(msg.request_id, b"other"), addr)  # wrong community
        transport.sendto(dahua_response(msg.request_id, self.community), addr)


async def run_probe(agent: Agent, options: dict[str, Any], timeout: float = 2.0) -> ProbeResult:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: agent, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    try:
        ctx = ProbeContext(
            targets=[IPv4Address("127.0.0.1")],
            timeout=timeout,
            options=ProbeOptions(snmp_port=port, **options),
        )
        return await SnmpProbe().run(ctx)
    finally:
        transport.close()


@pytest.mark.parametrize("junk", [False, True])
def test_probe_reads_sys_descr_and_object_id(junk: bool) -> None:
    agent = Agent(b"s3cret-community", junk)
    start = time.monotonic()
    result = asyncio.run(run_probe(agent, {"snmp_community": "s3cret-community"}))
    assert time.monotonic() - start < 0.5  # ends as soon as every host answered
    assert result.status == ProbeStatus.SUCCESS and (result.sent, result.received) == (1, 1)
    assert {(o.signal, o.value) for o in result.observations} == {
        ("snmp.sys_descr", "DH-NVR4108HS-8P-4KS2"),
        ("snmp.sys_object_id", "1.3.6.1.4.1.1004849.3.2.10"),
    }
    assert not any("s3cret" in o.value for o in result.observations)


def test_without_a_community_nothing_is_sent() -> None:
    agent = Agent(b"public")
    result = asyncio.run(run_probe(agent, {}))
    assert result.status == ProbeStatus.SKIPPED and result.sent == 0
    assert agent.received == []


def test_wrong_community_is_asked_twice_then_given_up() -> None:
    agent = Agent(b"public")
    start = time.monotonic()
    result = asyncio.run(run_probe(agent, {"snmp_community": "private"}, timeout=0.6))
    assert time.monotonic() - start < 1.0
    assert result.status == ProbeStatus.NO_RESPONSE and result.observations == []
    assert len(agent.received) == 2 and result.sent == 2
