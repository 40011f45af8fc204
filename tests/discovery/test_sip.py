"""SIP OPTIONS (RFC 3261 §11): the request, reply parsing on real agent names (fingerprints/banners/sip.toml)
and hostile bytes, and the probe against the lab's SIP agent and liars on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from ipaddress import IPv4Address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from labtools import RecordingAgent

from scanner.discovery.base import ProbeContext, ProbeResult, ProbeStatus
from scanner.discovery.options import ProbeOptions
from scanner.discovery.parsers.sip import build_options, parse_reply
from scanner.discovery.sip import MIN_BUDGET, SipProbe
from scanner.identify.fingerprints import load_database
from scanner.lab.sim.runtime import profiles
from scanner.lab.sim.sip import response


def test_options_request_has_what_rfc_3261_requires() -> None:
    raw = build_options("10.0.0.5", "10.0.0.2", 40000, "abc123", "deadbeef", "t1")
    lines = raw.decode().split("\r\n")
    assert lines[0] == "OPTIONS sip:10.0.0.5 SIP/2.0"
    assert "Via: SIP/2.0/UDP 10.0.0.2:40000;branch=z9hG4bKdeadbeef;rport" in lines
    assert {"Max-Forwards: 70", "CSeq: 1 OPTIONS", "Call-ID: abc123", "Content-Length: 0"} <= set(lines)
    assert "From: <sip:ndaa-scanner@10.0.0.2>;tag=t1" in lines and "To: <sip:10.0.0.5>" in lines
    assert raw.endswith(b"\r\n\r\n")


@pytest.mark.parametrize(
    ("raw", "agents"),
    [
        (
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.2:40000;branch=z9hG4bKx\r\nCall-ID: abc\r\n"
            b"CSeq: 1 OPTIONS\r\nUser-Agent: HUAWEI-EchoLife HG8121H/V3R018C00S110\r\n\r\n",
            ("HUAWEI-EchoLife HG8121H/V3R018C00S110",),
        ),
        (
            b"SIP/2.0 200 OK\r\ni: abc\r\ncseq:  1   OPTIONS\r\nserver: F660/V2.22.21P1T14S\r\n\r\n",
            ("F660/V2.22.21P1T14S",),
        ),
        (b"SIP/2.0 404 Not Found\nCall-ID: abc\nCSeq: 1 OPTIONS\n\n", ()),
    ],
)
def test_replies(raw: bytes, agents: tuple[str, ...]) -> None:
    reply = parse_reply(raw)
    assert reply is not None and reply.call_id == "abc" and reply.cseq == "1 OPTIONS"
    assert reply.agents == agents


def test_not_sip() -> None:
    assert parse_reply(b"HTTP/1.1 200 OK\r\n\r\n") is None
    assert parse_reply(b"SIP/3.0 200 OK\r\n\r\n") is None
    assert parse_reply(b"OPTIONS sip:x SIP/2.0\r\n\r\n") is None  # a request, not a response


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_parser_never_raises(data: bytes) -> None:
    parse_reply(data)
    parse_reply(b"SIP/2.0 200 OK\r\n" + data)


@pytest.mark.parametrize("profile", ["huawei-ont-sip", "zte-ont-sip"])
def test_lab_agents_answer_with_fingerprinted_names(profile: str) -> None:
    params = profiles()[profile]["sip"]
    request = build_options("10.0.0.5", "10.0.0.2", 40000, "abc", "b", "t")
    reply = parse_reply(response(request, params.get("server", ""), params.get("user_agent", ""), "x") or b"")
    assert reply is not None and reply.status == 200 and reply.call_id == "abc"
    hits = load_database().match("sip.user_agent", reply.agents[0])
    assert hits and hits[0].vendor in ("Huawei", "ZTE"), hits
    assert response(b"INVITE sip:10.0.0.5 SIP/2.0\r\n\r\n", "x", "", "t") is None


# ---------------------------------------------------------------- the probe on loopback


class Agent(RecordingAgent):
    """The lab's SIP agent; ``lies`` first sends replies that must not count."""

    def __init__(self, user_agent: str, lies: bool = False) -> None:
        super().__init__()
        self.user_agent, self.lies = user_agent, lies

    def answer(self, data: bytes, addr: tuple[str, int], transport: asyncio.DatagramTransport) -> None:
        reply = response(data, "", self.user_agent, "tag")
        if reply is None:
            return
        if self.lies:
            other = reply.replace(b"Call-ID: ", b"Call-ID: x")  # another call's answer
            transport.sendto(other.replace(b"HUAWEI", b"FORGED"), addr)
            transport.sendto(bytes(range(256)) * 4, addr)
            transport.sendto(reply.replace(b"CSeq: 1 OPTIONS", b"CSeq: 2 INVITE"), addr)
        transport.sendto(reply, addr)


async def run_sip(agent: asyncio.DatagramProtocol | None, timeout: float = 2.0) -> ProbeResult:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: agent or asyncio.DatagramProtocol(), local_addr=("127.0.0.1", 0)
    )
    port = transport.get_extra_info("sockname")[1]
    try:
        ctx = ProbeContext(
            targets=[IPv4Address("127.0.0.1")], timeout=timeout, options=ProbeOptions(ports={"sip": (port,)})
        )
        return await SipProbe().run(ctx)
    finally:
        transport.close()


@pytest.mark.parametrize("lies", [False, True])
def test_probe_reads_the_agent_name(lies: bool) -> None:
    agent = Agent("HUAWEI-EchoLife HG8121H/V3R018C00S110", lies)
    start = time.monotonic()
    result = asyncio.run(run_sip(agent))
    assert time.monotonic() - start < MIN_BUDGET  # ends as soon as every host answered, not at its budget
    assert [(o.signal, o.value, o.ip) for o in result.observations] == [
        ("sip.user_agent", "HUAWEI-EchoLife HG8121H/V3R018C00S110", "127.0.0.1")
    ]
    assert result.status == ProbeStatus.SUCCESS and (result.sent, result.received) == (1, 1)  # never re-asked
    request = agent.received[0].decode()
    assert (
        request.startswith("OPTIONS sip:127.0.0.1 SIP/2.0\r\n") and "Via: SIP/2.0/UDP 127.0.0.1:" in request
    )


def test_a_silent_host_is_asked_twice_then_given_up() -> None:
    agent = Agent("never")

    class Silent(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            agent.received.append(data)

    start = time.monotonic()
    result = asyncio.run(run_sip(Silent(), timeout=0.6))
    assert time.monotonic() - start < MIN_BUDGET  # its budget (0.6 s) and a loaded machine's lag
    assert result.status == ProbeStatus.NO_RESPONSE and result.observations == []
    assert len(agent.received) == 2 and result.sent == 2
    call_ids = {
        line for r in agent.received for line in r.decode().split("\r\n") if line.startswith("Call-ID:")
    }
    assert len(call_ids) == 1  # a retransmission: the same call


def test_nothing_to_do_sends_nothing_and_a_bad_interface_is_an_error() -> None:
    assert asyncio.run(SipProbe().run(ProbeContext(targets=[]))).status == ProbeStatus.SKIPPED
    result = asyncio.run(
        SipProbe().run(ProbeContext(targets=[IPv4Address("10.0.0.5")], interface="nd-no-such-if"))
    )
    assert result.status == ProbeStatus.ERROR and "nd-no-such-if" in (result.error or "") and result.sent == 0
