"""HTTP banners: the parsers on real titles, heads and vendor replies (and on random bytes), and the probe
against the lab's web server and hostile servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import socket
import time
import tracemalloc
import zlib
from ipaddress import IPv4Address
from typing import Any

import mmh3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from labtools import Handler, dripping, endless_body, endless_headers, garbage, run_served, serving, tolerant
from paths import DATA_DIR

from scanner.discovery.base import ProbeContext, ProbeResult, ProbeStatus
from scanner.discovery.http import HttpProbe
from scanner.discovery.options import ProbeOptions
from scanner.discovery.parsers.http import (
    build_request,
    dechunk,
    extract_title,
    favicon_hashes,
    icon_links,
    inflate,
    looks_like_html,
    looks_like_image,
    parse_head,
    same_host_url,
)
from scanner.discovery.parsers.vendor_endpoints import parse_isapi_device_info, parse_magicbox
from scanner.lab.sim.device import SimDevice
from scanner.lab.sim.http import WebApp, favicon
from scanner.lab.sim.https import server_context
from scanner.lab.sim.runtime import profiles

DATA = DATA_DIR / "banners"


# ---------------------------------------------------------------- titles, heads, links


@pytest.mark.parametrize(
    ("page", "title"),
    [
        (b"<html><head><title>NETSurveillance WEB</title></head>", "NETSurveillance WEB"),  # Xiongmai
        (b"<HTML><HEAD><TITLE>Web Viewer for Samsung DVR</TITLE>", "Web Viewer for Samsung DVR"),
        (b'<title id="t">\r\n   Hanwha\n Techwin  </title>', "Hanwha Techwin"),
        (b"<title>UniFi NVR: Software Portal</title>", "UniFi NVR: Software Portal"),
        (b"<title>Sony &amp; Network Camera&#33;</title>", "Sony & Network Camera!"),
        (b"<title>AXIS", "AXIS"),  # no closing tag: the rest, bounded
    ],
)
def test_title_of_real_pages(page: bytes, title: str) -> None:
    assert extract_title(page) == title


def test_title_decoded_with_the_declared_charset() -> None:
    page = '<meta charset="gb2312"><title>网络摄像机</title>'.encode("gb2312")
    assert extract_title(page) == "网络摄像机"
    latin = "<title>Caméra</title>".encode("latin-1")
    assert extract_title(latin, "text/html; charset=ISO-8859-1") == "Caméra"


@pytest.mark.parametrize(
    "page", [b"", b"<html><body>no title</body></html>", b"<title></title>", b"<title>  </title>", b"<title"]
)
def test_no_title(page: bytes) -> None:
    assert extract_title(page) is None


def test_icon_links_take_icon_rels_only() -> None:
    page = (
        b'<link rel="stylesheet" href="/a.css"><LINK REL="Shortcut Icon" HREF="/doc/images/favicon.ico">'
        b"<link rel=icon href=fav.png><link rel='apple-touch-icon' href='/t.png'>"
        b'<link href="/x" rel="icon">'
    )
    assert icon_links(page) == ["/doc/images/favicon.ico", "fav.png", "/x"]


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("/doc/page/login.asp", "http://10.0.0.5/doc/page/login.asp"),
        ("login.asp?_=1#top", "http://10.0.0.5/doc/login.asp?_=1"),
        ("https://10.0.0.5:443/", "https://10.0.0.5:443/"),
        ("http://10.0.0.6/", None),
        ("//evil.example/x", None),
        ("javascript:alert(1)", None),
        ("ftp://10.0.0.5/", None),
        ("http://10.0.0.5:99999/", None),
    ],
)
def test_same_host_url(ref: str, expected: str | None) -> None:
    assert same_host_url("http://10.0.0.5/doc/index.asp", ref) == expected


def test_head_of_a_hikvision_401() -> None:
    raw = (
        b"HTTP/1.1 401 Unauthorized\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\nServer: App-webs/\r\n"
        b"Content-Length: 178\r\nContent-Type: text/html\r\nConnection: close\r\n"
        b'WWW-Authenticate: Digest qop="auth", realm="IP Camera(C2183)", nonce="4e5468694e7a4136", '
        b'stale="FALSE"\r\n'
        b'WWW-Authenticate: Basic realm="IP Camera(C2183)"\r\n\r\n<!DOCTYPE html>'
    )
    head = parse_head(raw)
    assert head is not None
    assert (head.version, head.status, head.reason) == ("HTTP/1.1", 401, "Unauthorized")
    assert head.get("server") == "App-webs/"
    assert head.get_all("WWW-Authenticate") == [
        'Digest qop="auth", realm="IP Camera(C2183)", nonce="4e5468694e7a4136", stale="FALSE"',
        'Basic realm="IP Camera(C2183)"',
    ]


def test_head_folding_and_junk_lines() -> None:
    head = parse_head(b"HTTP/1.0 200 OK\nServer: uc-httpd\n 1.0.0\nnot a header\n\n")
    assert head is not None and head.get("Server") == "uc-httpd 1.0.0" and len(head.headers) == 1
    assert parse_head(b"SSH-2.0-OpenSSH\r\n\r\n") is None
    assert parse_head(b"HTTP/1.1 2000 OK\r\n\r\n") is None


def test_favicon_hashes_match_shodan_convention() -> None:
    data = bytes(range(256)) * 3  # long enough that base64 wraps at 76 characters
    b64 = base64.b64encode(data)
    wrapped = b"".join(b64[i : i + 76] + b"\n" for i in range(0, len(b64), 76))
    md5, mm = favicon_hashes(data)
    assert md5 == hashlib.md5(data).hexdigest()
    assert mm == str(mmh3.hash(wrapped))
    assert int(mm) < 2**31 and "\n" in wrapped.decode()


def test_looks_like_image() -> None:
    assert looks_like_image(favicon("x"))
    assert looks_like_image(b"\x89PNG\r\n\x1a\n....") and looks_like_image(b"GIF89a")
    assert looks_like_image(b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>')
    assert not looks_like_image(b"<title>x</title>") and not looks_like_image(b"")


def test_looks_like_html() -> None:
    assert looks_like_html(b"  <!DOCTYPE html><html>")
    assert looks_like_html(b"<HTML><body>")
    assert not looks_like_html(favicon("x"))
    assert not looks_like_html(b'<?xml version="1.0"?><svg/>')


def test_inflate_is_bounded() -> None:
    assert inflate(gzip.compress(b"<title>x</title>"), "gzip", 1024) == (b"<title>x</title>", True)
    bomb = gzip.compress(b"\0" * (8 << 20))
    body, complete = inflate(bomb, "gzip", 64 * 1024)
    assert len(body) == 64 * 1024 and not complete
    assert inflate(b"not gzip", "gzip", 1024) == (b"", False)
    assert inflate(b"abc", "br", 1024) == (b"", False)


def test_request_bytes() -> None:
    assert build_request("GET", "10.0.0.5", 80, "/cgi-bin/magicBox.cgi?action=getVendor", tls=False) == (
        b"GET /cgi-bin/magicBox.cgi?action=getVendor HTTP/1.1\r\nHost: 10.0.0.5\r\n"
        b"User-Agent: ndaa-scanner\r\nAccept: */*\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n"
    )
    post = build_request(
        "POST",
        "10.0.0.5",
        8080,
        "/onvif/device_service",
        tls=False,
        body=b"<x/>",
        headers=[("Content-Type", "application/soap+xml")],
    )
    assert post.startswith(b"POST /onvif/device_service HTTP/1.1\r\nHost: 10.0.0.5:8080\r\n")
    assert post.endswith(b"Content-Type: application/soap+xml\r\nContent-Length: 4\r\n\r\n<x/>")
    # a hostile Location cannot smuggle header lines or spaces into the request line
    smuggled = build_request("GET", "10.0.0.5", 443, "/a b\r\nX-Evil: 1", tls=True)
    assert smuggled.split(b"\r\n")[:2] == [b"GET /a%20b%0D%0AX-Evil:%201 HTTP/1.1", b"Host: 10.0.0.5"]


def test_dechunk() -> None:
    body = b"4\r\nWiki\r\n6;ext=1\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nX-Trailer: 1\r\n\r\n"
    assert dechunk(body, 1024) == (b"Wikipedia in \r\n\r\nchunks.", True)
    assert dechunk(body, 6) == (b"Wikipe", False)
    assert dechunk(body[:12], 1024) == (b"Wiki", False)  # the rest has not arrived
    assert dechunk(b"4\nWiki\n0\n\n", 1024) == (b"Wiki", True)  # bare LF framing
    assert dechunk(b"zz\r\nWiki\r\n", 1024) == (b"", False)
    assert dechunk(b"1_0\r\n" + b"x" * 16 + b"\r\n0\r\n\r\n", 1024) == (b"", False)  # int() would accept 1_0
    assert dechunk(b"FFFFFFFF\r\nabc", 1024) == (b"abc", False)


# ---------------------------------------------------------------- vendor endpoints


def test_isapi_device_info_of_a_real_camera() -> None:
    fields = dict(parse_isapi_device_info((DATA / "isapi_device_info_ds-2cd3t25d-i3.xml").read_bytes()))
    assert fields["xmlns"] == "http://www.hikvision.com/ver20/XMLSchema"
    assert fields["model"] == "DS-2CD3T25D-I3"
    assert fields["serialNumber"] == "DS-2CD3T25D-I320161028AACH666223403"
    assert fields["macAddress"] == "a4:14:37:c2:3d:97"
    assert fields["firmwareVersion"] == "V5.4.20"
    assert fields["deviceType"] == "IPCamera"
    assert fields["deviceID"].endswith("a41437c23d97")
    assert fields["systemContact"] == "Hikvision.China"


def test_isapi_device_info_older_namespace() -> None:
    fields = parse_isapi_device_info((DATA / "isapi_device_info_ver10_ds-2cd2a20f-is.xml").read_bytes())
    assert fields[0] == ("xmlns", "http://www.hikvision.com/ver10/XMLSchema")
    assert ("model", "DS-2CD2A20F-IS") in fields


@pytest.mark.parametrize(
    "body",
    [
        (DATA / "xml_bomb.xml").read_bytes(),
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><DeviceInfo>&e;</DeviceInfo>',
        b"<ResponseStatus><statusCode>4</statusCode></ResponseStatus>",
        b"<html><body>login</body></html>",
        b"<DeviceInfo><model>" + b"x" * (70 * 1024) + b"</model></DeviceInfo>",
    ],
)
def test_isapi_rejects_other_documents(body: bytes) -> None:
    assert parse_isapi_device_info(body) == []


def test_magicbox_lines() -> None:
    assert parse_magicbox(b"vendor=Dahua\r\n") == [("vendor", "Dahua")]
    assert parse_magicbox(b"type=IPC-HDW1431T1-S4\r\n") == [("type", "IPC-HDW1431T1-S4")]
    assert parse_magicbox(b"deviceType=IP4M-1041B\nprocessor=SSC327DE\nnot a pair\n") == [
        ("deviceType", "IP4M-1041B"),
        ("processor", "SSC327DE"),
    ]
    assert parse_magicbox(b"<html><title>vendor=Dahua</title></html>") == []
    assert parse_magicbox(b"Error\r\nBad Request!\r\n") == []


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096))
def test_parsers_never_raise_on_random_bytes(data: bytes) -> None:
    extract_title(data)
    extract_title(b"<title>" + data, "text/html; charset=" + data[:20].decode("latin-1"))
    icon_links(b"<link rel=icon href=" + data)
    parse_head(b"HTTP/1.1 200 OK\r\n" + data)
    parse_head(data)
    looks_like_html(data)
    looks_like_image(data)
    parse_isapi_device_info(data)
    parse_isapi_device_info(b'<DeviceInfo xmlns="x">' + data)
    parse_magicbox(data)
    inflate(data, "gzip", 4096)
    inflate(data, "deflate", 4096)
    dechunk(data, 4096)
    dechunk(b"4\r\nWiki\r\n" + data, 4096)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_same_host_url_never_raises(ref: str) -> None:
    url = same_host_url("http://10.0.0.5/", ref)
    assert url is None or url.startswith(("http://10.0.0.5", "https://10.0.0.5"))


# ---------------------------------------------------------------- the probe on loopback


async def probe(port: int | None, *, tls_port: int | None = None, timeout: float = 3.0) -> ProbeResult:
    options = ProbeOptions(ports={"http": (port,) if port else (), "https": (tls_port,) if tls_port else ()})
    ctx = ProbeContext(targets=[IPv4Address("127.0.0.1")], timeout=timeout, options=options)
    return await HttpProbe().run(ctx)


def seen(result: ProbeResult) -> set[tuple[str, str]]:
    return {(o.signal, o.value) for o in result.observations}


def lab_params(profile: str, mac: str = "58:50:ed:1f:e3:85") -> dict[str, Any]:
    dev = SimDevice("cam", "127.0.0.1", mac, "unused", profile)
    return dev.fill(dict(profiles()[profile]["http"]))


def test_probe_reads_the_lab_hikvision_camera() -> None:
    params = lab_params("hikvision-ipc")

    result = run_served(WebApp(params, "hikvision-ipc").handle, probe)
    md5, mm = favicon_hashes(favicon("hikvision-ipc"))
    serial = params["serial"]
    assert result.status == ProbeStatus.SUCCESS and result.received == 1
    assert seen(result) == {
        ("http.status", "200"),
        ("http.server", "App-webs/"),
        ("http.www_authenticate", params["realm"]),
        ("http.favicon.md5", md5),
        ("http.favicon.mmh3", mm),
        ("isapi.device_info", "xmlns=http://www.hikvision.com/ver20/XMLSchema"),
        ("isapi.device_info", "deviceName=IP CAMERA"),
        ("isapi.device_info", "deviceID=aa85c000-6324-11b3-819e-5850ed1fe385"),
        ("isapi.device_info", "deviceDescription=IPCamera"),
        ("isapi.device_info", "deviceLocation=hangzhou"),
        ("isapi.device_info", "systemContact=Hikvision.China"),
        ("isapi.device_info", "model=DS-2CD2385G1-I"),
        ("isapi.device_info", f"serialNumber={serial}"),
        ("isapi.device_info", "macAddress=58:50:ed:1f:e3:85"),
        ("isapi.device_info", "firmwareVersion=V5.6.2"),
        ("isapi.device_info", "firmwareReleasedDate=build 190701"),
        ("isapi.device_info", "deviceType=IPCamera"),
    }
    assert all(o.ip == "127.0.0.1" and o.probe == "http" and o.port for o in result.observations)


def test_probe_reads_magicbox_and_the_realm_of_a_protected_action() -> None:
    params = lab_params("dahua-ipc", "08:ed:ed:44:55:66")

    found = seen(run_served(WebApp(params, "dahua-ipc").handle, probe))
    assert ("dahua.cgi", "vendor=Dahua") in found
    assert ("http.www_authenticate", params["realm"]) in found  # getDeviceType and ISAPI answer 401
    assert params["realm"].startswith('Digest realm="Login to 4M0747EPAA')
    assert not any(s == "http.server" for s, _ in found)  # the profile sends no Server header


def test_redirects_are_recorded_and_followed_on_the_same_host_only() -> None:
    requests: list[str] = []
    elsewhere: list[bytes] = []

    @tolerant
    async def chain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = (await reader.readuntil(b"\r\n\r\n")).split(b" ")[1].decode()
        requests.append(line)
        hops = {"/": "/a", "/a": "/b", "/b": "/c", "/c": "/d"}
        if line in hops:
            writer.write(
                f"HTTP/1.1 302 Found\r\nLocation: {hops[line]}\r\nContent-Length: 0\r\n"
                "Connection: close\r\n\r\n".encode()
            )
        else:
            writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()

    async def other_host(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        elsewhere.append(await reader.read(100))
        writer.close()

    async def scenario() -> tuple[ProbeResult, ProbeResult]:
        async with serving(chain) as port:
            first = await probe(port)
        async with serving(other_host, host="127.0.0.2") as other_port:
            params = {"redirect": f"http://127.0.0.2:{other_port}/login", "title": "x"}
            async with serving(WebApp(params).handle) as port:
                second = await probe(port)
        return first, second

    chained, offsite = asyncio.run(scenario())
    assert {v for s, v in seen(chained) if s == "http.location"} == {"/a", "/b", "/c"}
    assert [r for r in requests if r in ("/", "/a", "/b", "/c", "/d")] == ["/", "/a", "/b"]
    assert any(s == "http.location" and v.startswith("http://127.0.0.2:") for s, v in seen(offsite))
    assert elsewhere == []
    assert not any(s == "http.title" for s, _ in seen(offsite))


def test_title_and_icon_link_after_a_same_host_redirect() -> None:
    params = {
        "server": "DNVRS-Webs",
        "redirect": "/doc/page/login.asp",
        "title": "Login",
        "favicon_path": "/doc/images/favicon.ico",
    }

    found = seen(run_served(WebApp(params, "nvr").handle, probe))
    md5, mm = favicon_hashes(favicon("nvr"))
    assert {
        ("http.status", "302"),
        ("http.location", "/doc/page/login.asp"),
        ("http.title", "Login"),
        ("http.server", "DNVRS-Webs"),
        ("http.favicon.md5", md5),
        ("http.favicon.mmh3", mm),
    } <= found
    assert ("http.status", "200") in found


def test_https_port_with_a_self_signed_certificate() -> None:
    params = lab_params("axis-ipc", "ac:cc:8e:27:0a:d8")
    https = profiles()["axis-ipc"]["https"]
    context = server_context(https["subject"], https["issuer"])

    async def scenario() -> tuple[ProbeResult, int]:
        async with serving(WebApp(params, "axis-ipc").handle, ssl=context) as port:
            return await probe(None, tls_port=port), port

    result, port = asyncio.run(scenario())
    assert ("http.title", "AXIS") in seen(result)
    assert ("http.www_authenticate", params["realm"]) in seen(result)
    assert {o.port for o in result.observations} == {port}


def test_closed_ports_give_no_response() -> None:
    async def scenario() -> ProbeResult:
        async with serving(WebApp({}).handle) as port:
            pass  # closed again: nothing listens there now
        return await probe(port)

    result = asyncio.run(scenario())
    assert result.status == ProbeStatus.NO_RESPONSE and result.observations == []


def test_no_hosts_is_skipped() -> None:
    result = asyncio.run(HttpProbe().run(ProbeContext(targets=[])))
    assert result.status == ProbeStatus.SKIPPED


# ---------------------------------------------------------------- hostile servers


endless = endless_body(
    b"HTTP/1.1 200 OK\r\nServer: endless\r\nContent-Type: text/html\r\n\r\n",
    b"<title>endless</title>",
    b"A" * 65536,
)


drip = dripping(b"HTTP/1.1 200 OK\r\nServer: slow" + b"w" * 1000)


huge_headers = endless_headers(b"HTTP/1.1 200 OK", b"X-Pad", b"p" * 1000, 200_000)


@pytest.mark.parametrize(
    ("handler", "status", "kept"),
    [
        (endless, ProbeStatus.SUCCESS, {("http.server", "endless"), ("http.title", "endless")}),
        (drip, ProbeStatus.PARTIAL, set()),  # still dripping when the budget ends
        (huge_headers, ProbeStatus.NO_RESPONSE, set()),
        (garbage(256 * 64), ProbeStatus.NO_RESPONSE, set()),
    ],
)
def test_hostile_servers_end_in_bounded_time(
    handler: Handler, status: ProbeStatus, kept: set[tuple[str, str]]
) -> None:
    start = time.monotonic()
    result = run_served(handler, lambda port: probe(port, timeout=1.5))
    assert time.monotonic() - start < 2.5
    assert result.status == status
    assert kept <= seen(result)


def one_reply(reply: bytes) -> Handler:
    """A server that answers every request with ``reply`` and closes."""

    @tolerant
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(reply)
        await writer.drain()

    return handler


@pytest.mark.parametrize(
    ("reply", "title"),
    [
        (
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"7\r\n<title>\r\nF\r\nchunked</title>\r\n0\r\n\r\n",
            "chunked",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s"
            % (len(gzip.compress(b"<title>zipped</title>")), gzip.compress(b"<title>zipped</title>")),
            "zipped",
        ),
        (b"HTTP/1.0 200 OK\nServer: old\n\n<title>until close</title>", "until close"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n<title>cut at ten</title>", "cut at ten"[:3]),
    ],
)
def test_body_framings(reply: bytes, title: str) -> None:
    assert ("http.title", title) in seen(run_served(one_reply(reply), probe))


endless_chunks = endless_body(
    b"HTTP/1.1 200 OK\r\nServer: chunky\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"16\r\n<title>chunks</title>\r\n",
    b"8000\r\n" + b"c" * 0x8000 + b"\r\n",
)


def test_endless_chunked_body_is_capped() -> None:
    start = time.monotonic()
    result = run_served(endless_chunks, probe)
    assert time.monotonic() - start < 1.0
    assert {("http.server", "chunky"), ("http.title", "chunks")} <= seen(result)


def test_xml_bomb_from_isapi_is_refused() -> None:
    bomb = (DATA / "xml_bomb.xml").read_bytes()

    @tolerant
    async def bomber(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            path = (await reader.readuntil(b"\r\n\r\n")).split(b" ")[1]
            body = bomb if path.startswith(b"/ISAPI/") else b"<title>bomb</title>"
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()

    start = time.monotonic()
    result = run_served(bomber, probe)
    assert time.monotonic() - start < 2.0
    assert ("http.title", "bomb") in seen(result)
    assert not any(o.signal == "isapi.device_info" for o in result.observations)


# ---------------------------------------------------------------- compression bombs, loss, slow peers

BOMB_SIZE = 48 << 20  # bytes of zeros once inflated; compressed, ~47 KB (gzip) or ~47 KB (deflate)


def bomb_replies() -> list[tuple[str, bytes]]:
    """A page whose body inflates to BOMB_SIZE bytes, in each framing and coding a server may use."""
    zeros = b"\0" * BOMB_SIZE
    gz, deflated = gzip.compress(zeros, 9), zlib.compress(zeros, 9)
    head = b"HTTP/1.1 200 OK\r\nServer: bomber\r\nContent-Type: text/html\r\n"
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(gz[i : i + 4096]), gz[i : i + 4096]) for i in range(0, len(gz), 4096)
    )
    return [
        ("gzip, length", head + b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(gz) + gz),
        (
            "deflate, length",
            head + b"Content-Encoding: deflate\r\nContent-Length: %d\r\n\r\n" % len(deflated) + deflated,
        ),
        (
            "gzip, chunked",
            head + b"Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n",
        ),
        ("gzip, until close", head + b"Content-Encoding: gzip\r\n\r\n" + gz),
    ]


@pytest.mark.parametrize(("framing", "reply"), bomb_replies(), ids=[f for f, _ in bomb_replies()])
def test_compression_bomb_is_inflated_to_the_cap_only(framing: str, reply: bytes) -> None:
    requests: list[bytes] = []

    @tolerant
    async def bomber(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(reply)
        await writer.drain()

    tracemalloc.start()
    start = time.monotonic()
    try:
        result = run_served(bomber, probe)
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - start < 2.0
    assert peak < 16 << 20, f"{framing}: {peak / 2**20:.1f} MiB at peak for a {BOMB_SIZE >> 20} MiB bomb"
    assert ("http.server", "bomber") in seen(result) and result.status == ProbeStatus.SUCCESS
    assert requests and all(b"Accept-Encoding: identity\r\n" in r for r in requests)  # never asked for it


def syn_dropping_listener() -> tuple[socket.socket, socket.socket]:
    """A listening socket whose accept queue is full, so the kernel drops the next SYN it gets (a real lost
    SYN on loopback: the client retransmits it after ~1 s); and the connection that fills the queue."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    filler = socket.create_connection(listener.getsockname(), timeout=1)
    return listener, filler


def test_a_lost_syn_costs_a_second_not_the_banner() -> None:
    params = lab_params("hikvision-ipc")

    async def scenario() -> tuple[ProbeResult, float]:
        listener, filler = syn_dropping_listener()
        port = listener.getsockname()[1]
        start = time.monotonic()
        try:
            task = asyncio.create_task(probe(port, timeout=6.0))
            await asyncio.sleep(0.3)  # the probe's first SYN was dropped by now
            server = await asyncio.start_server(WebApp(params, "hikvision-ipc").handle, sock=listener)
            try:
                result = await task
            finally:
                server.close()
        finally:
            filler.close()
        return result, time.monotonic() - start

    result, took = asyncio.run(scenario())
    assert ("http.server", "App-webs/") in seen(result) and result.status == ProbeStatus.SUCCESS
    assert took > 0.9  # the connect waited for the kernel's SYN retransmission


def test_a_request_without_a_reply_is_sent_once_more() -> None:
    hits: list[str] = []

    @tolerant
    async def forgetful(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        path = (await reader.readuntil(b"\r\n\r\n")).split(b" ")[1].decode()
        hits.append(path)
        if hits.count(path) == 1:
            return  # hangs up without a byte of reply, the first time only
        writer.write(b"HTTP/1.1 200 OK\r\nServer: second-try\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()

    result = run_served(forgetful, probe)
    assert ("http.server", "second-try") in seen(result)
    assert hits.count("/") == 2  # the first GET / got no reply and was sent once more, not more


def test_a_host_out_of_time_makes_the_result_partial_with_a_note() -> None:
    @tolerant
    async def tarpit(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        for byte in b"HTTP/1.1 200 OK\r\nServer: tarpit\r\n":  # one byte every 2 s
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(2)

    async def scenario() -> ProbeResult:
        async with serving(tarpit) as port:
            options = ProbeOptions(ports={"http": (port,), "https": ()}, host_timeout=1.0)
            ctx = ProbeContext(targets=[IPv4Address("127.0.0.1")], timeout=5.0, options=options)
            return await HttpProbe().run(ctx)

    start = time.monotonic()
    result = asyncio.run(scenario())
    assert time.monotonic() - start < 1.5  # the host's slot ends at its own 1 s limit, not the 5 s budget
    assert result.status == ProbeStatus.PARTIAL
    assert result.notes == ["1 of 1 hosts not finished: out of time (1 s per host, 5 s in all)"]
