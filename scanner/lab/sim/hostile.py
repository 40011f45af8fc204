"""Hostile simulated devices: real peers in the lab that answer the scanner with what a broken or malicious
device could send. Each is a responder like the others (one simulator process serves them all, except the
flooder's sender, sim/flood.py). What each sends, and why a scanner must survive it:

``bomb-http``   port(s) ``ports`` (default [80]) answer every request 200 with a decompression or entity bomb:
                ``kind = "gzip"``/``"deflate"`` (Content-Encoding, ``inflated_mb`` MiB once inflated, a few
                tens of KiB on the wire), ``"xml"`` (billion laughs, RFC-valid XML with nested entities:
                10^9 "lol" once expanded), ``"junk-headers"`` (10,000 header lines, a 1 MiB Server header,
                NUL and 0xFF bytes in header lines).
``bomb-ssdp``   an SSDP device (sim/ssdp.py parameters) whose description at LOCATION is a gzip (``kind``)
                bomb: ``Content-Encoding: gzip``, ``inflated_mb`` MiB of XML once inflated.
``tarpit``      ``ports`` (default [80, 554, 8000]) accept, then send one byte every ``interval`` seconds
                (default 3) for up to ``lifetime`` seconds, never a full response.
``junk-rtsp``   RTSP on 554 answering every request with 10,000 junk header lines and a 1 MiB header.
``spoof``       answers SADP, DHIP and WS-Discovery searches with replies that claim other addresses
                (``claims``: list of ``{ip, mac}``; ip ``"{scanner}"`` is the searcher's own address), and
                with ``forge_source`` set, also sends each from that forged IPv4 source (raw socket; only
                addresses outside the lab make sense: the scanner's kernel drops loopback and its own).
``dhip-liar``   answers DHIP searches with headers whose lengths lie (4 GiB body announced, a body longer
                than announced, a header size of 4 GiB).
``mdns-loop``   answers every mDNS query with DNS messages whose names are compression-pointer loops
                (a pointer to itself, a label then a pointer back, two names pointing at each other).
``greeting-flood``  server-first ports that greet without end: ``kinds`` maps each port to one of
                ``endless-lines`` (200-byte lines that never become an SSH identification), ``endless-ftp``
                (a multi-line ``220-`` reply that never ends), ``iac-flood`` (telnet IAC DO/WILL for every
                option, over and over, no data), ``garbage`` (every byte value, over and over) or ``drip``
                (a telnet login banner, one byte every ``interval`` seconds, default 0.2), each until the
                client hangs up or ``lifetime`` seconds (default 300) pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
import zlib
from functools import cache
from typing import Any

from scanner.discovery.parsers import dhip as dhip_parser
from scanner.discovery.parsers import sadp as sadp_parser
from scanner.discovery.parsers import ssdp as ssdp_parser
from scanner.discovery.parsers import wsd as wsd_parser
from scanner.lab.sim.device import SimDevice

log = logging.getLogger("scanner.lab.sim")

REQUEST_TIMEOUT = 5.0
MAX_REQUEST = 16 * 1024
MiB = 1024 * 1024
_servers: list[asyncio.Server] = []
_tasks: set[asyncio.Task[None]] = set()

# ---------------------------------------------------------------- bombs


@cache
def deflate_bomb(inflated_mb: int, wrapper: str = "gzip", prefix: bytes = b"") -> bytes:
    """``prefix`` then spaces up to ``inflated_mb`` MiB, compressed (``gzip`` or zlib ``deflate`` wrapper)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31 if wrapper == "gzip" else 15)
    out = [comp.compress(prefix)]
    chunk = b" " * MiB
    for _ in range(inflated_mb):
        out.append(comp.compress(chunk))
    out.append(comp.flush())
    return b"".join(out)


def billion_laughs(levels: int = 9) -> bytes:
    """The classic XML entity-expansion bomb: ``lol<levels>`` expands to 10**levels "lol"s."""
    ents = ['<!ENTITY lol "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, levels + 1)
    ]
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n'
        + "\n".join(ents)
        + f"\n]>\n<root><device><manufacturer>&lol{levels};</manufacturer></device></root>\n"
    ).encode()


def junk_headers(first_line: bytes, extra: list[bytes]) -> bytes:
    """A response head nobody should accept whole: 10,000 header lines, a 1 MiB one, NUL and 0xFF bytes."""
    lines = [first_line, *extra]
    lines += [b"X-Junk-%d: %s" % (i, b"j" * 64) for i in range(10_000)]
    lines.append(b"Server: " + b"A" * MiB)
    lines.append(b"X-Binary: \x00\xff\xfe\x00\r\x00")
    lines.append(b"\xff\xff\xff no colon here \x00")
    return b"\r\n".join(lines) + b"\r\n\r\n"


def http_response(kind: str, inflated_mb: int, server: str) -> bytes:
    if kind == "junk-headers":
        return junk_headers(b"HTTP/1.1 200 OK", [b"Content-Length: 2", b"Connection: close"]) + b"ok"
    headers = [("Server", server), ("Connection", "close")] if server else [("Connection", "close")]
    if kind in ("gzip", "deflate"):
        body = deflate_bomb(inflated_mb, kind, b'<?xml version="1.0"?><root><device><friendlyName>')
        headers += [("Content-Type", "text/xml"), ("Content-Encoding", kind)]
    elif kind == "xml":
        body = billion_laughs()
        headers.append(("Content-Type", "text/xml"))
    else:
        raise ValueError(f"bomb-http: unknown kind {kind!r}")
    headers.append(("Content-Length", str(len(body))))
    head = "HTTP/1.1 200 OK\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    return head.encode() + body


async def _answer_once(response: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read one request head (bounded), write ``response``, close."""
    try:
        with contextlib.suppress(asyncio.LimitOverrunError, asyncio.IncompleteReadError):
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT)
        writer.write(response)
        await asyncio.wait_for(writer.drain(), 30.0)
    except (OSError, TimeoutError):
        pass
    finally:
        writer.close()


async def _listen(dev: SimDevice, port: int, handler: Any) -> None:
    _servers.append(await asyncio.start_server(handler, sock=dev.tcp_listener(port), limit=MAX_REQUEST))


async def start_bomb_http(dev: SimDevice, params: dict[str, Any]) -> None:
    response = http_response(
        str(params.get("kind", "gzip")), int(params.get("inflated_mb", 64)), str(params.get("server", ""))
    )
    for port in params.get("ports", [80]):
        await _listen(dev, int(port), lambda r, w: _answer_once(response, r, w))


async def start_bomb_ssdp(dev: SimDevice, params: dict[str, Any]) -> None:
    from scanner.lab.sim import ssdp

    device = ssdp.upnp_identity(dev, params)
    kind = str(params.get("kind", "gzip"))
    prefix = device.description().split(b"<UDN>")[0]  # a real-looking start, then the padding
    body = deflate_bomb(int(params.get("inflated_mb", 64)), kind, prefix)
    response = (
        f'HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset="utf-8"\r\nContent-Encoding: {kind}\r\n'
        f"Content-Length: {len(body)}\r\nServer: {device.server}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    loop = asyncio.get_running_loop()
    multicast = dev.udp_socket(ssdp_parser.PORT, (ssdp_parser.GROUP,))
    unicast = dev.udp_socket(ssdp_parser.PORT, bind_any=False)
    await loop.create_datagram_endpoint(lambda: ssdp._Responder(device, True), sock=multicast)
    await loop.create_datagram_endpoint(lambda: ssdp._Responder(device, False), sock=unicast)
    await _listen(dev, ssdp.DESCRIPTION_PORT, lambda r, w: _answer_once(response, r, w))


# ---------------------------------------------------------------- tarpit and junk RTSP


async def _trickle(
    interval: float, lifetime: float, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    text = b"HTTP/1.1 200 OK\r\nServer: tarpit\r\n"
    try:
        for i in range(max(1, int(lifetime / interval))):
            await asyncio.sleep(interval)
            writer.write(text[i % len(text) : i % len(text) + 1])
            await asyncio.wait_for(writer.drain(), interval + 5)
    except (OSError, TimeoutError):
        pass
    finally:
        writer.close()


async def start_tarpit(dev: SimDevice, params: dict[str, Any]) -> None:
    interval = float(params.get("interval", 3.0))
    lifetime = float(params.get("lifetime", 300.0))
    for port in params.get("ports", [80, 554, 8000]):
        await _listen(dev, int(port), lambda r, w: _trickle(interval, lifetime, r, w))


async def _junk_rtsp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        for _ in range(4):
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT)
            cseq = b"0"
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"cseq:"):
                    cseq = line.split(b":", 1)[1].strip()[:16]
            writer.write(junk_headers(b"RTSP/1.0 200 OK", [b"CSeq: " + cseq, b"Public: OPTIONS, DESCRIBE"]))
            await asyncio.wait_for(writer.drain(), 30.0)
    except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def start_junk_rtsp(dev: SimDevice, params: dict[str, Any]) -> None:
    await _listen(dev, int(params.get("port", 554)), _junk_rtsp)


# ---------------------------------------------------------------- forged discovery replies


def sadp_reply(
    uuid_: str, types: str, mac: str, ip: str, serial: str, model: str = "DS-2CD2385G1-I"
) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\r\n'
        f"<ProbeMatch><Uuid>{uuid_}</Uuid>\r\n<Types>{types}</Types>\r\n<DeviceType>141945</DeviceType>\r\n"
        f"<DeviceDescription>{model}</DeviceDescription>\r\n<DeviceSN>{model}20200414AAWR{serial}</DeviceSN>\r\n"
        f"<CommandPort>8000</CommandPort>\r\n<HttpPort>80</HttpPort>\r\n<MAC>{mac.replace(':', '-')}</MAC>\r\n"
        f"<IPv4Address>{ip}</IPv4Address>\r\n<IPv4SubnetMask>255.255.255.0</IPv4SubnetMask>\r\n"
        "<SoftwareVersion>V5.6.2build 190701</SoftwareVersion>\r\n<Activated>true</Activated>\r\n</ProbeMatch>\r\n"
    ).encode()


def dhip_reply(mac: str, ip: str, serial: str) -> bytes:
    info = {
        "DeviceClass": "IPC",
        "DeviceType": "IPC-HDW1431T1-S4",
        "IPv4Address": {
            "DefaultGateway": "0.0.0.0",
            "DhcpEnable": False,
            "IPAddress": ip,
            "SubnetMask": "255.255.255.0",
        },
        "SerialNo": f"4M0747EPAA{serial}",
        "Vendor": "Private",
    }
    return dhip_parser.build_reply(mac, info)


def wsd_reply(relates_to: str, mac: str, ip: str) -> bytes:
    from scanner.lab.sim.wsd import Target, probe_matches

    target = Target(
        endpoint=f"urn:uuid:aa85c000-6324-11b3-819e-{mac.replace(':', '')}",
        types="dn:NetworkVideoTransmitter tds:Device",
        scopes=[
            "onvif://www.onvif.org/name/HIKVISION",
            f"onvif://www.onvif.org/MAC/{mac}",
            "onvif://www.onvif.org/hardware/DS-2CD2385G1-I",
        ],
        xaddrs=f"http://{ip}/onvif/device_service",
    )
    return probe_matches(target, relates_to)


def parse_search(port: int, data: bytes) -> tuple[str, ...] | None:
    """What a forged reply to the search ``data`` (come in on ``port``) must echo; None if not a search."""
    if port == sadp_parser.PORT:
        return sadp_parser.parse_inquiry(data)
    if port == dhip_parser.PORT:
        return () if dhip_parser.is_search(data) else None
    if port == wsd_parser.PORT:
        probe = wsd_parser.parse_probe(data)
        return (probe.message_id,) if probe else None
    return None


def forged_reply(port: int, search: tuple[str, ...], mac: str, ip: str, serial: str) -> bytes:
    """A reply to the parsed ``search`` on ``port`` claiming ``mac``/``ip``/``serial``."""
    if port == sadp_parser.PORT:
        return sadp_reply(search[0], search[1], mac, ip, serial)
    if port == dhip_parser.PORT:
        return dhip_reply(mac, ip, serial)
    return wsd_reply(search[0], mac, ip)


SEARCH_PORTS = (
    (sadp_parser.PORT, sadp_parser.GROUP),
    (dhip_parser.PORT, dhip_parser.GROUP),
    (wsd_parser.PORT, wsd_parser.GROUP),
)


def _udp_packet(src: str, dst: str, sport: int, dport: int, payload: bytes) -> bytes:
    """An IPv4+UDP datagram from a forged ``src`` (UDP checksum 0: none, allowed over IPv4)."""
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(udp),
        0,
        0x4000,
        64,
        socket.IPPROTO_UDP,
        0,
        socket.inet_aton(src),
        socket.inet_aton(dst),
    )
    return ip + udp


class _Spoofer(asyncio.DatagramProtocol):
    def __init__(
        self, dev: SimDevice, port: int, claims: list[dict[str, str]], raw: socket.socket | None
    ) -> None:
        self.dev, self.port, self.claims, self.raw = dev, port, claims, raw
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is None or addr[0] == self.dev.ip:
            return
        search = parse_search(self.port, data)
        if search is None:
            return
        for n, claim in enumerate(self.claims):
            ip = addr[0] if claim["ip"] == "{scanner}" else claim["ip"]
            mac = claim.get("mac", self.dev.mac)
            reply = forged_reply(self.port, search, mac, ip, f"{self.dev.serial[:6]}{n:03d}")
            self.transport.sendto(reply, addr)
            if self.raw is not None and claim.get("forge_source"):
                with contextlib.suppress(OSError):
                    self.raw.sendto(_udp_packet(ip, addr[0], self.port, addr[1], reply), (addr[0], 0))

    def error_received(self, exc: Exception) -> None:
        log.debug("spoof %s: %s", self.dev.name, exc)


async def start_spoof(dev: SimDevice, params: dict[str, Any]) -> None:
    claims = [dict(c) for c in params.get("claims", [])]
    raw = None
    if any(c.get("forge_source") for c in claims):
        with dev.in_netns():
            raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        raw.setblocking(False)
    loop = asyncio.get_running_loop()
    for port, group in SEARCH_PORTS:
        sock = dev.udp_socket(port, groups=(group,))
        await loop.create_datagram_endpoint(lambda p=port: _Spoofer(dev, p, claims, raw), sock=sock)  # type: ignore[misc]


# ---------------------------------------------------------------- DHIP with lying lengths


def lying_dhip(dev: SimDevice) -> list[bytes]:
    good = dhip_reply(dev.mac, dev.ip, dev.serial)
    body = good[dhip_parser.HEADER.size :]
    h = dhip_parser.HEADER
    return [
        h.pack(h.size, dhip_parser.MAGIC, 0, 0, 0xFFFFFFFF, 0, 0xFFFFFFFF, 0) + body,  # 4 GiB announced
        h.pack(h.size, dhip_parser.MAGIC, 0, 0, 10, 0, 10, 0) + body + b"\xff" * 4096,  # less than sent
        h.pack(0xFFFFFFFF, dhip_parser.MAGIC, 0, 0, len(body), 0, len(body), 0) + body,  # header size 4 GiB
        h.pack(h.size, dhip_parser.MAGIC, 0, 0, len(body), 0, 0x7FFFFFFF, 0)
        + body,  # the two lengths disagree
        h.pack(h.size, dhip_parser.MAGIC, 0, 0, 60000, 0, 60000, 0),  # header only
    ]


class _DhipLiar(asyncio.DatagramProtocol):
    def __init__(self, dev: SimDevice) -> None:
        self.replies = lying_dhip(dev)
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is not None and dhip_parser.is_search(data):
            for reply in self.replies:
                self.transport.sendto(reply, addr)


async def start_dhip_liar(dev: SimDevice, params: dict[str, Any]) -> None:
    sock = dev.udp_socket(dhip_parser.PORT, groups=(dhip_parser.GROUP,))
    await asyncio.get_running_loop().create_datagram_endpoint(lambda: _DhipLiar(dev), sock=sock)


# ---------------------------------------------------------------- mDNS compression loops

MDNS_GROUP, MDNS_PORT = "224.0.0.251", 5353


def looping_dns(ip: str) -> bytes:
    """A DNS response whose every name is a compression loop (RFC 1035 §4.1.4 pointers)."""

    def ptr(offset: int) -> bytes:
        return struct.pack("!H", 0xC000 | offset)

    def rr(name: bytes, rtype: int, rdata: bytes) -> bytes:
        return name + struct.pack("!HHIH", rtype, 0x8001, 120, len(rdata)) + rdata

    out = bytearray(struct.pack("!HHHHHH", 0, 0x8400, 0, 4, 0, 0))
    # 1: a name that is a pointer to itself, PTR to itself
    out += rr(ptr(12), 12, ptr(12))
    # 2: a label, then a pointer back to that label
    off = len(out)
    out += rr(b"\x01a" + ptr(off), 1, socket.inet_aton(ip))
    # 3: x -> y -> x, y living in the rdata
    off = len(out)
    out += rr(b"\x01x" + ptr(off + 4 + 10), 12, b"\x01y" + ptr(off))
    # 4: the DNS-SD enumeration name (plain) pointing at the self-loop
    out += rr(b"\x09_services\x07_dns-sd\x04_udp\x05local\x00", 12, ptr(12))
    return bytes(out)


class _MdnsLoop(asyncio.DatagramProtocol):
    def __init__(self, dev: SimDevice) -> None:
        self.dev, self.packet = dev, looping_dns(dev.ip)
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is None or addr[0] == self.dev.ip or len(data) < 12 or data[2] & 0x80:
            return  # ours, too short, or a response
        self.transport.sendto(self.packet, (MDNS_GROUP, MDNS_PORT))
        if addr[1] != MDNS_PORT:
            self.transport.sendto(self.packet, addr)


async def start_mdns_loop(dev: SimDevice, params: dict[str, Any]) -> None:
    sock = dev.udp_socket(MDNS_PORT, groups=(MDNS_GROUP,))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
    await asyncio.get_running_loop().create_datagram_endpoint(lambda: _MdnsLoop(dev), sock=sock)


# ---------------------------------------------------------------- endless server-first greetings

GREETING_FLOODS: dict[str, bytes] = {
    "endless-lines": b"x" * 198 + b"\r\n",
    "endless-ftp": b"220-" + b"w" * 194 + b"\r\n",
    "iac-flood": b"".join(bytes((255, verb, option)) for option in range(256) for verb in (253, 251)),
    "garbage": bytes(range(256)) * 8,
}
DRIP_BANNER = b"\xff\xfd\x01F668\r\n\rLogin:"  # a ZTE ONT's prompt (fingerprints/banners/telnet.toml)


async def _flood_greeting(
    kind: str, interval: float, lifetime: float, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Send the ``kind`` of endless greeting until the client hangs up or ``lifetime`` passes."""
    loop = asyncio.get_running_loop()
    end = loop.time() + lifetime
    hung_up = asyncio.ensure_future(reader.read())  # done at the client's EOF (or reset)
    try:
        i = 0
        while loop.time() < end and not hung_up.done():
            if kind == "drip":
                writer.write(DRIP_BANNER[i % len(DRIP_BANNER) : i % len(DRIP_BANNER) + 1])
                await asyncio.sleep(interval)
            else:
                writer.write(GREETING_FLOODS[kind])
            await asyncio.wait_for(writer.drain(), 30.0)
            i += 1
    except (OSError, TimeoutError):
        pass
    finally:
        hung_up.cancel()
        with contextlib.suppress(asyncio.CancelledError, OSError):
            await hung_up
        writer.close()


async def start_greeting_flood(dev: SimDevice, params: dict[str, Any]) -> None:
    interval = float(params.get("interval", 0.2))
    lifetime = float(params.get("lifetime", 300.0))
    for port, kind in dict(params.get("kinds", {})).items():
        if kind not in GREETING_FLOODS and kind != "drip":
            raise ValueError(f"greeting-flood: unknown kind {kind!r}")
        await _listen(dev, int(port), lambda r, w, k=kind: _flood_greeting(k, interval, lifetime, r, w))
