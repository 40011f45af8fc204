"""Server-first greetings: the SSH identification line, telnet negotiation and banner stripping, the FTP
greeting reply (RFC 4253 §4.2, RFC 854/855, RFC 959 §4.2) on real banners (fingerprints/banners/*.toml,
tests/data/realworld/banners/expect.toml) and hostile bytes, and the probe against the lab's servers and
hostile servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import struct
import time
from ipaddress import IPv4Address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from labtools import Handler, run_served, tolerant

from scanner.discovery import greeting as greeting_module
from scanner.discovery.base import ProbeContext, ProbeResult, ProbeStatus
from scanner.discovery.greeting import GreetingProbe
from scanner.discovery.http_client import WINDOW, Window
from scanner.discovery.options import ProbeOptions
from scanner.discovery.parsers.greeting import (
    DO,
    DONT,
    IAC,
    MAX_SSH_LINES,
    MAX_TELNET_DATA,
    MAX_TELNET_RAW,
    SB,
    SE,
    WILL,
    WONT,
    TelnetNegotiation,
    ftp_greeting,
    ssh_identification,
    telnet_text,
)
from scanner.discovery.passive import LINKTYPE_ETHERNET, PassiveAnalyzer
from scanner.identify.fingerprints import load_database
from scanner.lab.sim.greeting import TelnetServer
from scanner.lab.sim.hostile import DRIP_BANNER, GREETING_FLOODS
from scanner.lab.sim.runtime import profiles

VRP_TELNET = profiles()["huawei-vrp-router"]["telnet"]["banner"]
VRP_FTP = profiles()["huawei-vrp-router"]["ftp"]["greeting"]

# ---------------------------------------------------------------- SSH


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"SSH-2.0-HUAWEI-1.5\r\n", "SSH-2.0-HUAWEI-1.5"),
        (b"SSH-2.0-ZTE_SSH.2.0\n", "SSH-2.0-ZTE_SSH.2.0"),  # LF alone, as some servers end it
        (b"SSH-1.99-DOPRA-1.5\r\n", "SSH-1.99-DOPRA-1.5"),
        (
            b"Welcome\r\nauthorised use only\r\nSSH-2.0-HUAWEI-1.5\r\n",
            "SSH-2.0-HUAWEI-1.5",
        ),  # lines before it
        (b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3\r\n", "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3"),  # comments kept
        (b"SSH-2.0-HUAWEI-1.5\r\n\x00\x00\x01\x0c\x0a\x14", "SSH-2.0-HUAWEI-1.5"),  # KEXINIT after it
    ],
)
def test_ssh_identification_of_real_banners(data: bytes, expected: str) -> None:
    assert ssh_identification(data) == (expected, True)


def test_ssh_identification_waits_for_the_line_end_then_takes_the_tail_at_the_end() -> None:
    assert ssh_identification(b"SSH-2.0-HUA") == (None, False)
    assert ssh_identification(b"SSH-2.0-HUAWEI-1.5", ended=True) == ("SSH-2.0-HUAWEI-1.5", True)
    assert ssh_identification(b"", ended=True) == (None, True)
    assert ssh_identification(b"hello\r\n", ended=True) == (None, True)


def test_ssh_identification_is_bounded() -> None:
    chatty = b"".join(b"line %d\r\n" % i for i in range(MAX_SSH_LINES + 2)) + b"SSH-2.0-late\r\n"
    assert ssh_identification(chatty) == (None, True)  # too many lines first: not read past
    long_line = b"SSH-2.0-" + b"A" * 1000
    value, done = ssh_identification(long_line)  # an over-long line is cut at 255 bytes with its CR LF
    assert done and value is not None and len(value) == 253
    assert ssh_identification(b"x" * 9000) == (None, True)  # no line end in 8 KiB: given up


def test_ssh_identification_drops_control_characters() -> None:
    assert ssh_identification(b"SSH-2.0-evil\x1b[2J\x07\x00x\r\n") == ("SSH-2.0-evilx", True)


# ---------------------------------------------------------------- telnet


def test_every_request_is_refused_once_and_refusals_are_not_answered() -> None:
    telnet = TelnetNegotiation()
    busybox = bytes((IAC, DO, 1, IAC, DO, 31, IAC, WILL, 1, IAC, WILL, 3))
    assert telnet.feed(busybox) == bytes((IAC, WONT, 1, IAC, WONT, 31, IAC, DONT, 1, IAC, DONT, 3))
    assert telnet.feed(busybox) == b""  # asked again: already refused, no loop (RFC 854)
    assert telnet.feed(bytes((IAC, DONT, 5, IAC, WONT, 6))) == b""  # what we already do: no answer
    assert bytes(telnet.data) == b""


def test_negotiation_split_across_reads() -> None:
    telnet = TelnetNegotiation()
    out = b"".join(telnet.feed(bytes([b])) for b in bytes((IAC, DO, 24)) + b"F668\r\n\rLogin:")
    assert out == bytes((IAC, WONT, 24))
    assert telnet.text == "F668\r\n\rLogin:" and telnet.at_prompt


def test_strip_subnegotiation_escapes_nul_and_commands() -> None:
    telnet = TelnetNegotiation()
    data = (
        bytes((IAC, SB, 24, 1, IAC, IAC, 0x41, IAC, SE))  # SB TTYPE SEND with an escaped 255 inside: dropped
        + b"ZXHN H108N\r\0\n"  # CR NUL is a bare CR
        + bytes((IAC, 241, IAC, 249))  # NOP, GA
        + b"Login:"
        + bytes((IAC, IAC))  # the data byte 255
    )
    assert telnet.feed(data) == b""
    assert bytes(telnet.data) == b"ZXHN H108N\r\nLogin:\xff"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"F668\r\n\rLogin:", "F668\r\n\rLogin:"),
        (b"\r\n192.0.0.64 login: ", "192.0.0.64 login:"),
        (b"\x1b[2J\x1b[HWelcome Visiting Huawei Home Gateway\r\n", "Welcome Visiting Huawei Home Gateway"),
        (bytes(range(256)) * 4, None),  # binary garbage is no banner
        (b"\r\n\r\n", None),
    ],
)
def test_telnet_text(raw: bytes, expected: str | None) -> None:
    assert telnet_text(raw) == expected


def test_a_flood_gets_bounded_answers_and_bounded_data() -> None:
    telnet = TelnetNegotiation()
    sent = b""
    while not telnet.full:
        sent += telnet.feed(GREETING_FLOODS["iac-flood"])
    assert len(sent) == 2 * 256 * 3  # each (verb, option) refused once
    assert telnet.raw == MAX_TELNET_RAW and bytes(telnet.data) == b""
    text = TelnetNegotiation()
    while not text.full:
        text.feed(b"A" * 1000)
    assert len(text.data) == MAX_TELNET_DATA


@pytest.mark.parametrize("banner", [VRP_TELNET, "F668\r\n\rLogin:", "\r\n192.0.0.64 login: "])
def test_lab_telnet_banners_match_their_fingerprints(banner: str) -> None:
    telnet = TelnetNegotiation()
    telnet.feed(TelnetServer(banner.encode(), [1, 31], [1, 3], False).requests() + banner.encode())
    assert telnet.at_prompt
    assert telnet.text is not None
    matches = load_database().match("telnet.banner", telnet.text)
    assert matches and matches[0].vendor in ("Huawei", "ZTE", "Hikvision"), matches


# ---------------------------------------------------------------- FTP


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (VRP_FTP.encode() + b"\r\n", VRP_FTP),
        (b"220 AXIS P5534-E Network Camera 5.40.9 (Feb 10 2012) ready.\r\n", None),
        (b"220-Sony Network Camera SNC-EP520\r\n220 \r\n", "220-Sony Network Camera SNC-EP520\r\n220"),
        (b"120 Service ready in 1 minutes.\r\n220 FTP service ready.\r\n", None),
        (
            b"220-first\r\n inside\r\n221 not the end\r\n220 end\r\nUSER?",
            "220-first\r\n inside\r\n221 not the end\r\n220 end",
        ),
        (b"421 Too many users\r\n", None),
    ],
)
def test_ftp_greetings(data: bytes, expected: str | None) -> None:
    value, done = ftp_greeting(data)
    assert done
    assert value == (expected or data.decode().strip())


def test_ftp_greeting_waits_for_the_last_line() -> None:
    assert ftp_greeting(b"220-Warning: Ftp is not a secure protocol") == (None, False)
    assert ftp_greeting(b"220-Warning\r\n") == (None, False)
    assert ftp_greeting(b"220-Warning\r\n220 rea", ended=True) == ("220-Warning\r\n220 rea", True)
    assert ftp_greeting(b"SSH-2.0-x\r\n") == (None, True)  # not FTP
    assert ftp_greeting(b"", ended=True) == (None, True)


def test_ftp_greeting_is_bounded() -> None:
    endless = GREETING_FLOODS["endless-ftp"] * 100
    value, done = ftp_greeting(endless)
    assert done and value is not None and value.count("\r\n") < 40


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096))
def test_parsers_never_raise(data: bytes) -> None:
    for ended in (False, True):
        ssh_identification(data, ended=ended)
        ftp_greeting(data, ended=ended)
        ftp_greeting(b"220-" + data, ended=ended)
    telnet = TelnetNegotiation()
    answer = telnet.feed(data)
    assert len(answer) % 3 == 0 and all(answer[i] == IAC for i in range(0, len(answer), 3))
    assert {answer[i + 1] for i in range(0, len(answer), 3)} <= {WONT, DONT}  # only refusals, ever
    telnet_text(bytes(telnet.data))


# ---------------------------------------------------------------- the probe on loopback


async def probe(proto: str, port: int, timeout: float = 5.0) -> ProbeResult:
    others = {p: () for p in ("ssh", "telnet", "ftp") if p != proto}
    ctx = ProbeContext(
        targets=[IPv4Address("127.0.0.1")],
        timeout=timeout,
        options=ProbeOptions(ports={proto: (port,), **others}),
    )
    return await GreetingProbe().run(ctx)


def served(proto: str, handler: Handler, timeout: float = 5.0) -> ProbeResult:
    return run_served(handler, lambda port: probe(proto, port, timeout))


def greeter(greeting: bytes, received: list[bytes] | None = None) -> Handler:
    @tolerant
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(greeting)
        await writer.drain()
        data = await reader.read()
        if received is not None:
            received.append(data)

    return handler


@pytest.fixture
def long_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every conversation gets 30 s: a probe that waited for its window's end would take that long."""

    class Long(Window):
        @classmethod
        def after(cls, rtt: float, base: float = WINDOW) -> Window:
            return Window.after(rtt, LONG)

    monkeypatch.setattr(greeting_module, "Window", Long)
    assert greeting_module.Window.after(0.0).end - time.monotonic() > LONG - 1  # what the probe will use


LONG = 30.0


@pytest.mark.parametrize(
    ("proto", "greeting", "signal", "value"),
    [
        ("ssh", b"SSH-2.0-HUAWEI-1.5\r\n", "ssh.banner", "SSH-2.0-HUAWEI-1.5"),
        ("ftp", VRP_FTP.encode() + b"\r\n", "ftp.banner", VRP_FTP),
        ("telnet", b"F668\r\n\rLogin:", "telnet.banner", "F668\r\n\rLogin:"),
    ],
)
@pytest.mark.usefixtures("long_window")
def test_probe_records_the_greeting_and_sends_nothing(
    proto: str, greeting: bytes, signal: str, value: str
) -> None:
    received: list[bytes] = []
    start = time.monotonic()
    result = served(proto, greeter(greeting, received), timeout=LONG + 5)
    assert time.monotonic() - start < LONG / 3  # ended at the line end / the prompt, not the window
    assert [(o.signal, o.value, o.ip) for o in result.observations] == [(signal, value, "127.0.0.1")]
    assert result.status == ProbeStatus.SUCCESS and received == [b""]


def test_telnet_probe_refuses_and_gets_the_banner_of_a_waiting_server() -> None:
    server = TelnetServer(b"F668\r\n\rLogin:", [1, 31], [1, 3], wait_answers=True)
    result = served("telnet", server.handle)
    assert [o.value for o in result.observations] == ["F668\r\n\rLogin:"]
    assert sorted(server.answers) == sorted(
        bytes(x) for x in ((IAC, WONT, 1), (IAC, WONT, 31), (IAC, DONT, 1), (IAC, DONT, 3))
    )


@pytest.mark.usefixtures("long_window")
def test_telnet_banner_ends_after_an_idle_pause() -> None:
    start = time.monotonic()
    result = served("telnet", greeter(b"Welcome to AutoDome\r\n"), timeout=LONG + 5)
    assert [o.value for o in result.observations] == ["Welcome to AutoDome"]
    assert time.monotonic() - start < LONG / 3  # the idle pause, not the window


@tolerant
async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()


def flood(kind: str) -> Handler:
    @tolerant
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while not reader.at_eof():
            if kind == "drip":
                for byte in DRIP_BANNER * 100:
                    writer.write(bytes([byte]))
                    await writer.drain()
                    await asyncio.sleep(0.2)  # under the idle pause: the banner never ends
            writer.write(GREETING_FLOODS[kind])
            await writer.drain()

    return handler


@pytest.mark.parametrize(
    ("proto", "handler", "found"),
    [
        ("ssh", silent, None),
        ("ssh", flood("endless-lines"), None),
        ("ssh", flood("garbage"), None),
        ("telnet", silent, None),
        ("telnet", flood("iac-flood"), None),
        ("telnet", flood("garbage"), None),
        ("telnet", flood("drip"), "F668"),  # the prompt does not arrive within the window: cut there
        ("ftp", flood("endless-ftp"), "220-"),
        ("ftp", flood("garbage"), None),
        ("ftp", silent, None),
    ],
)
def test_hostile_greetings_end_within_one_window(proto: str, handler: Handler, found: str | None) -> None:
    start = time.monotonic()
    result = served(proto, handler, timeout=10.0)
    assert time.monotonic() - start < WINDOW + 1.5  # the window (2 s on loopback) and a loaded machine's lag
    values = [o.value for o in result.observations]
    if found is None:
        assert values == [] and result.status == ProbeStatus.NO_RESPONSE
    else:
        assert len(values) == 1 and values[0].startswith(found) and len(values[0]) <= 8192


def test_a_closed_port_costs_nothing() -> None:
    async def scenario() -> ProbeResult:
        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        return await probe("ssh", port)

    start = time.monotonic()
    result = asyncio.run(scenario())
    assert time.monotonic() - start < WINDOW and result.status == ProbeStatus.NO_RESPONSE  # no window waited


def test_nothing_to_do_sends_nothing() -> None:
    result = asyncio.run(GreetingProbe().run(ProbeContext(targets=[])))
    assert result.status == ProbeStatus.SKIPPED and (result.sent, result.observations) == (0, [])


# ---------------------------------------------------------------- passive analysis (import pcap, listen)


def _segment(sport: int, dport: int, payload: bytes, src: bytes = b"\x0a\0\0\x0a") -> bytes:
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 1000, 1, 5 << 4, 0x18, 65535, 0, 0) + payload
    head = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0, src, b"\x0a\0\0\x02")
    return b"\x02" * 6 + b"\x02\0\0\0\0\x01" + b"\x08\x00" + head + tcp


def test_passive_analysis_reads_ssh_and_ftp_greetings_from_the_server_side_only() -> None:
    analyzer = PassiveAnalyzer()
    frames = [
        _segment(22, 40000, b"SSH-2.0-HUAWEI-1.5\r\n"),
        _segment(21, 40001, VRP_FTP.encode() + b"\r\n"),
        _segment(40002, 22, b"SSH-2.0-OpenSSH_9.6\r\n", src=b"\x0a\0\0\x02"),  # a client's: not the server
        _segment(25, 40003, b"220 mail.example ESMTP\r\n"),  # SMTP's 220 is no FTP greeting
        _segment(22, 40004, b"SSH-2.0-HUAWEI-1.5\r\n"),  # the same again: recorded once
        _segment(21, 40005, bytes(range(256))),
    ]
    found = [
        (o.signal, o.value, o.ip, o.port, o.probe)
        for f in frames
        for o in analyzer.frame(f, LINKTYPE_ETHERNET, 1.0)
    ]
    assert found == [
        ("ssh.banner", "SSH-2.0-HUAWEI-1.5", "10.0.0.10", 22, "passive-ssh"),
        ("ftp.banner", VRP_FTP, "10.0.0.10", 21, "passive-ftp"),
    ]
