"""TLS certificates: the parser on certificates carrying real vendor subjects (docs/PROTOCOLS.md#banners) and on
junk, and the probe against TLS servers on 127.0.0.1, old and hostile ones included."""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import os
import ssl
import tempfile
import time
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st
from labtools import Handler, run_served, serving

from scanner.discovery.base import ProbeContext, ProbeResult, ProbeStatus
from scanner.discovery.options import ProbeOptions
from scanner.discovery.parsers.x509 import parse_certificate
from scanner.discovery.tls import HANDSHAKE_TIMEOUT, TlsProbe
from scanner.lab.sim.https import certificate_pem, server_context

REAL_NAMES = [  # (subject, issuer) as published
    ("CN=www.hikvision.com,OU=DVRNVR,O=HIKVISION,L=HangZhou,ST=ZheJiang,C=CN",) * 2,
    # the doorbell certificate published in OpenSSL order (C=CN, ST=ZJ, …); RFC 4514 reverses it
    ("CN=hikvision.com,OU=HZ,O=HIKVISION,L=HZ,ST=ZJ,C=CN",) * 2,
    (
        "OU=DAHUATECH,O=DAHUA,L=HANGZHOU,ST=ZHEJIANG,C=CN,CN=192.168.1.108",
        "O=DahuaTech,L=HangZhou,ST=ZheJiang,C=CN,CN=Product Root CA",
    ),
    (
        "CN=axis-accc8e270ad8,O=Axis Communications AB",
        "CN=Axis Communications AB Root CA,O=Axis Communications AB",
    ),
    (
        "CN=10.0.0.7,O=Bosch Sicherheitssysteme GmbH,C=DE",
        "CN=Bosch ST Root CA,O=Bosch Sicherheitssysteme GmbH,C=DE",
    ),
    ("CN=AVIGILON-CAMERA-1234,O=Avigilon Corporation",) * 2,
]


def der_of(pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize(("subject", "issuer"), REAL_NAMES)
def test_real_subjects_and_issuers_round_trip(subject: str, issuer: str) -> None:
    der = der_of(certificate_pem(subject, issuer)[0])
    info = parse_certificate(der)
    assert info is not None
    assert (info.subject, info.issuer) == (subject, issuer)
    assert info.sha256 == hashlib.sha256(der).hexdigest()
    assert info.serial == format(x509.load_der_x509_certificate(der).serial_number, "x")
    assert info.sans == ()


def test_subject_alternative_names() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name.from_rfc4514_string("CN=camera.ubnt.dev")
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(0x1A2B)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("camera.ubnt.dev"),
                    x509.IPAddress(ipaddress.IPv4Address("192.168.1.20")),
                    x509.UniformResourceIdentifier("https://camera.ubnt.dev/"),
                    x509.RFC822Name("ops@ubnt.dev"),
                ]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    info = parse_certificate(cert.public_bytes(serialization.Encoding.DER))
    assert info is not None
    assert info.sans == (
        "DNS:camera.ubnt.dev",
        "IP:192.168.1.20",
        "URI:https://camera.ubnt.dev/",
        "email:ops@ubnt.dev",
    )
    assert info.serial == "1a2b"


def test_junk_is_not_a_certificate() -> None:
    der = der_of(certificate_pem("CN=x", "CN=x")[0])
    assert parse_certificate(b"") is None
    assert parse_certificate(b"\x30\x82\xff\xff" + b"\0" * 32) is None
    assert parse_certificate(der[: len(der) // 2]) is None
    assert parse_certificate(der + b"\0" * (70 * 1024)) is None  # over the size cap


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048), st.integers(min_value=0, max_value=400), st.integers(0, 255))
def test_parser_never_raises(data: bytes, index: int, byte: int) -> None:
    parse_certificate(data)
    der = bytearray(der_of(certificate_pem("CN=fuzz", "CN=fuzz")[0]))
    der[index % len(der)] = byte  # one flipped byte in an otherwise valid certificate
    parse_certificate(bytes(der))


# ---------------------------------------------------------------- the probe on loopback


async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


async def probe(ports: list[int], timeout: float = 3.0) -> ProbeResult:
    ctx = ProbeContext(
        targets=[IPv4Address("127.0.0.1")], timeout=timeout, options=ProbeOptions(ports={"tls": tuple(ports)})
    )
    return await TlsProbe().run(ctx)


def test_probe_reads_the_lab_certificate() -> None:
    subject, issuer = REAL_NAMES[0]
    der = der_of(certificate_pem(subject, issuer)[0])

    async def scenario() -> tuple[ProbeResult, int]:
        async with serving(hang_up, ssl=server_context(subject, issuer)) as port:
            return await probe([port]), port

    result, port = asyncio.run(scenario())
    assert result.status == ProbeStatus.SUCCESS and (result.sent, result.received) == (1, 1)
    found = {(o.signal, o.value, o.port) for o in result.observations}
    assert found == {
        ("x509.subject", subject, port),
        ("x509.issuer", issuer, port),
        ("x509.serial", format(x509.load_der_x509_certificate(der).serial_number, "x"), port),
        ("x509.sha256", hashlib.sha256(der).hexdigest(), port),
    }


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_probe_reads_a_tls_1_0_only_server() -> None:
    cert, key = certificate_pem("CN=old-dvr", "CN=old-dvr")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    fd, path = tempfile.mkstemp(suffix=".pem")
    with os.fdopen(fd, "wb") as f:
        f.write(cert + key)
    context.load_cert_chain(path)
    os.unlink(path)
    try:
        context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1
        context.set_ciphers("ALL:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):
        pytest.skip("this OpenSSL cannot serve TLS 1.0")

    async def scenario() -> ProbeResult:
        async with serving(hang_up, ssl=context) as port:
            return await probe([port])

    found = {(o.signal, o.value) for o in asyncio.run(scenario()).observations}
    assert ("x509.subject", "CN=old-dvr") in found


async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(os.urandom(4096))
    await writer.drain()
    writer.close()


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()  # says nothing until the probe hangs up
    writer.close()


async def plain_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    await writer.drain()
    writer.close()


@pytest.mark.parametrize(
    ("handler", "limit"),
    [
        (garbage, 0.5),
        (plain_http, 0.5),
        (silent, HANDSHAKE_TIMEOUT + 0.5),  # the handshake's own time limit ends it, well inside the budget
    ],
)
def test_hostile_and_non_tls_servers_end_in_bounded_time(handler: Handler, limit: float) -> None:
    start = time.monotonic()
    result = run_served(handler, lambda port: probe([port], timeout=5.0))
    assert time.monotonic() - start < limit
    assert result.status == ProbeStatus.NO_RESPONSE and result.observations == []


def test_closed_port_and_no_hosts() -> None:
    async def scenario() -> ProbeResult:
        async with serving(hang_up) as port:
            pass
        return await probe([port])

    assert asyncio.run(scenario()).status == ProbeStatus.NO_RESPONSE
    assert asyncio.run(TlsProbe().run(ProbeContext(targets=[]))).status == ProbeStatus.SKIPPED
