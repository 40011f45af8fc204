"""RTSP banners: requests and reply heads on real vendor strings (docs/PROTOCOLS.md#banners) and junk, and the
probe against the lab's RTSP server and hostile servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from ipaddress import IPv4Address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from labtools import Handler, dripping, endless_headers, garbage, run_served, serving, tolerant

from scanner.discovery.base import ProbeContext, ProbeResult, ProbeStatus
from scanner.discovery.http_client import WINDOW
from scanner.discovery.options import ProbeOptions
from scanner.discovery.parsers.http import head_end
from scanner.discovery.parsers.rtsp import build_request, parse_reply
from scanner.discovery.rtsp import RtspProbe
from scanner.lab.sim.device import SimDevice
from scanner.lab.sim.rtsp import RtspServer
from scanner.lab.sim.runtime import profiles


def test_requests_carry_cseq_and_user_agent() -> None:
    assert build_request("OPTIONS", "rtsp://10.0.0.5:554/", 1) == (
        b"OPTIONS rtsp://10.0.0.5:554/ RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: ndaa-scanner\r\n\r\n"
    )
    assert build_request("DESCRIBE", "rtsp://10.0.0.5:554/", 2) == (
        b"DESCRIBE rtsp://10.0.0.5:554/ RTSP/1.0\r\nCSeq: 2\r\nUser-Agent: ndaa-scanner\r\n"
        b"Accept: application/sdp\r\n\r\n"
    )


@pytest.mark.parametrize(
    ("raw", "status", "server", "realms"),
    [
        (
            b'RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\nWWW-Authenticate: Digest realm="Login to 4M0747EPAA1D284", '
            b'nonce="d0f2c4e6a8b0c2d4e6f8a0b2c4d6e8f0"\r\nServer: Rtsp Server/3.0\r\n\r\n',
            401,
            "Rtsp Server/3.0",
            ('Digest realm="Login to 4M0747EPAA1D284", nonce="d0f2c4e6a8b0c2d4e6f8a0b2c4d6e8f0"',),
        ),
        (
            b'RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\nWWW-Authenticate: Digest realm="IP Camera(C2875)", '
            b'nonce="a1b2c3", stale="FALSE"\r\nDate:  Mon, Jan 01 2024 00:00:00 GMT\r\n\r\n',
            401,
            None,
            ('Digest realm="IP Camera(C2875)", nonce="a1b2c3", stale="FALSE"',),
        ),
        (
            b"RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\nServer: Dahua Rtsp Server\r\n"
            b'WWW-Authenticate: Basic realm="device"\r\n\r\n',
            401,
            "Dahua Rtsp Server",
            ('Basic realm="device"',),
        ),
        (
            b"RTSP/1.0 200 OK\r\nServer: HiIpcam/V100R003 VodServer/1.0.0\r\nCseq: 1\r\n"
            b"Public: OPTIONS, DESCRIBE, SETUP, TEARDOWN, PLAY\r\n\r\n",
            200,
            "HiIpcam/V100R003 VodServer/1.0.0",
            (),
        ),
        (b"RTSP/1.0 200 OK\nCSeq: 1\nServer: Hipcam RealServer/V1.0\n\n", 200, "Hipcam RealServer/V1.0", ()),
    ],
)
def test_real_replies(raw: bytes, status: int, server: str | None, realms: tuple[str, ...]) -> None:
    reply = parse_reply(raw)
    assert reply is not None
    assert (reply.status, reply.server, reply.www_authenticate) == (status, server, realms)
    assert reply.cseq in (1, 2)


def test_reply_fields_and_ends() -> None:
    raw = b"RTSP/1.0 200 OK\r\nCSeq: 7\r\nContent-Length: 12\r\n\r\nv=0\r\ns=x\r\n\r\n"
    reply = parse_reply(raw)
    assert reply is not None and (reply.cseq, reply.content_length) == (7, 12)
    assert head_end(raw) == raw.index(b"v=0")
    assert head_end(b"RTSP/1.0 200 OK\r\nCSeq: 7\r\n") == -1
    assert parse_reply(b"HTTP/1.1 200 OK\r\n\r\n") is None
    assert parse_reply(b"RTSP/1.0 200 OK\r\nCSeq: \xb2\r\nContent-Length: 99999999999\r\n\r\n") is not None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096))
def test_parser_never_raises(data: bytes) -> None:
    parse_reply(data)
    parse_reply(b"RTSP/1.0 200 OK\r\n" + data)
    head_end(data)


# ---------------------------------------------------------------- the probe on loopback


async def probe(port: int, timeout: float = 3.0) -> ProbeResult:
    ctx = ProbeContext(
        targets=[IPv4Address("127.0.0.1")], timeout=timeout, options=ProbeOptions(ports={"rtsp": (port,)})
    )
    return await RtspProbe().run(ctx)


def lab_server(profile: str, mac: str) -> RtspServer:
    params = SimDevice("cam", "127.0.0.1", mac, "unused", profile).fill(dict(profiles()[profile]["rtsp"]))
    return RtspServer(params.get("server", ""), params.get("realm", ""), "127.0.0.1")


@pytest.mark.parametrize(
    ("profile", "mac"), [("dahua-ipc", "08:ed:ed:44:55:66"), ("hikvision-ipc", "58:50:ed:1f:e3:85")]
)
def test_probe_reads_the_lab_cameras(profile: str, mac: str) -> None:
    server = lab_server(profile, mac)

    async def scenario() -> tuple[ProbeResult, int]:
        async with serving(server.handle) as port:
            return await probe(port), port

    result, port = asyncio.run(scenario())
    expected = {
        ("rtsp.status", "OPTIONS 200"),
        ("rtsp.status", "DESCRIBE 401"),
        ("rtsp.www_authenticate", server.realm),
    }
    if server.server:
        expected.add(("rtsp.server", server.server))
    assert {(o.signal, o.value) for o in result.observations} == expected
    assert all(o.port == port and o.ip == "127.0.0.1" for o in result.observations)
    assert result.status == ProbeStatus.SUCCESS and result.received == 1


def test_body_of_the_first_reply_is_skipped() -> None:
    async def chatty(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 20\r\n\r\n")
        writer.write(b"RTSP/1.0 999 fake\r\n\r")  # the 20-byte body looks like a reply: it must be skipped
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"RTSP/1.0 404 Not Found\r\nCSeq: 2\r\nServer: chatty\r\n\r\n")
        await writer.drain()
        await reader.read()
        writer.close()

    found = {(o.signal, o.value) for o in run_served(chatty, probe).observations}
    assert found == {
        ("rtsp.status", "OPTIONS 200"),
        ("rtsp.status", "DESCRIBE 404"),
        ("rtsp.server", "chatty"),
    }


endless = endless_headers(b"RTSP/1.0 200 OK", b"X", b"h" * 500, 1_000_000)


drip = dripping(b"RTSP/1.0 200 OK\r\nServer: " + b"d" * 10_000)


@tolerant
async def huge_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nServer: big\r\nContent-Length: 999999999\r\n\r\n")
    while not reader.at_eof():
        writer.write(b"\0" * 65536)
        await writer.drain()


@pytest.mark.parametrize(
    ("handler", "limit", "found"),
    [
        (endless, 0.5, set()),
        (drip, WINDOW + 0.5, set()),
        (garbage(256 * 32), 0.5, set()),
        (huge_body, 0.5, {("rtsp.status", "OPTIONS 200"), ("rtsp.server", "big")}),
    ],
)
def test_hostile_servers_end_in_bounded_time(
    handler: Handler, limit: float, found: set[tuple[str, str]]
) -> None:
    start = time.monotonic()
    result = run_served(handler, lambda port: probe(port, timeout=5.0))
    assert time.monotonic() - start < limit
    assert {(o.signal, o.value) for o in result.observations} == found
    assert result.status == (ProbeStatus.SUCCESS if found else ProbeStatus.NO_RESPONSE)


def test_options_without_a_reply_is_tried_once_more() -> None:
    server = lab_server("hikvision-ipc", "58:50:ed:1f:e3:85")
    connections: list[int] = []

    async def forgetful(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        if len(connections) == 1:  # the first connection: the request is read, then a hang-up, no reply
            await reader.readuntil(b"\r\n\r\n")
            writer.close()
            return
        await server.handle(reader, writer)

    result = run_served(forgetful, probe)
    assert ("rtsp.status", "DESCRIBE 401") in {(o.signal, o.value) for o in result.observations}
    assert len(connections) == 2


def test_a_silent_server_is_tried_twice_within_one_window() -> None:
    connections: list[int] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        await reader.read()
        writer.close()

    start = time.monotonic()
    result = run_served(silent, lambda port: probe(port, timeout=10.0))
    assert WINDOW - 0.1 < time.monotonic() - start < WINDOW + 0.5  # one window for both tries
    assert len(connections) == 2 and result.status == ProbeStatus.NO_RESPONSE
