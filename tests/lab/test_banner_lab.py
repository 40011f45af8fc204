"""Banner probes inside a lab: the exact banners each simulated vendor shows over HTTP(S), TLS, RTSP and
ONVIF, a 50-device lab probed within a few seconds, and the optional nmap source."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime
from ipaddress import IPv4Address
from typing import Any

import pytest
from labtools import answer_http, answer_one_msearch, group, require_nmap, threads_serving

from scanner.discovery.base import ProbeContext, ProbeResult, ProbeStatus
from scanner.discovery.http import HttpProbe
from scanner.discovery.nmap_source import NmapSource
from scanner.discovery.onvif import OnvifProbe
from scanner.discovery.options import ProbeOptions
from scanner.discovery.parsers.http import favicon_hashes
from scanner.discovery.rtsp import RtspProbe
from scanner.discovery.tls import TlsProbe
from scanner.lab.netns import run_in_netns
from scanner.lab.sim.device import SimDevice
from scanner.lab.sim.http import favicon

Row = tuple[str, str, int]  # (signal, value, port) as published; {placeholders} are filled per device

DEVICES = [  # name, profile, MAC (the vendor's real OUI)
    ("hik", "hikvision-ipc", "58:50:ed:1f:e3:85"),
    ("dahua", "dahua-ipc", "08:ed:ed:44:55:66"),
    ("axis", "axis-ipc", "ac:cc:8e:27:0a:d8"),
    ("hanwha", "hanwha-ipc", "00:09:18:12:34:56"),
    ("xm", "xiongmai-dvr", "00:12:41:ab:cd:ef"),
    ("tivo", "tivo-dvr", "00:11:d9:01:02:03"),
    ("bosch", "bosch-ipc", "00:04:63:aa:bb:cc"),
    ("zte", "zte-router", "00:15:eb:10:20:30"),
]

HIK_REALM = (
    'Digest qop="auth", realm="IP Camera(E3385)", '
    'nonce="4e5468694e7a42694e7a4d364f4449354d7a6b354d513d3d", stale="FALSE"'
)
HIK_ISAPI = [
    "xmlns=http://www.hikvision.com/ver20/XMLSchema",
    "deviceName=IP CAMERA",
    "deviceID=aa85c000-6324-11b3-819e-{mac_hex}",
    "deviceDescription=IPCamera",
    "deviceLocation=hangzhou",
    "systemContact=Hikvision.China",
    "model=DS-2CD2385G1-I",
    "serialNumber=DS-2CD2385G1-I20200414AAWR{serial}",
    "macAddress={mac}",
    "firmwareVersion=V5.6.2",
    "firmwareReleasedDate=build 190701",
    "deviceType=IPCamera",
]
HIK_HTTP = [
    ("http.status", "200", 0),
    ("http.server", "App-webs/", 0),
    ("http.www_authenticate", HIK_REALM, 0),  # from the 401s of magicBox.cgi
    *(("isapi.device_info", field, 0) for field in HIK_ISAPI),
]
AXIS_REALM = 'Digest realm="AXIS_{MAC_hex}", nonce="{nonce32}", algorithm=MD5, qop="auth"'
AXIS_HTTP = [("http.status", "200", 0), ("http.title", "AXIS", 0), ("http.www_authenticate", AXIS_REALM, 0)]
HIK_SUBJECT = "CN=www.hikvision.com,OU=DVRNVR,O=HIKVISION,L=HangZhou,ST=ZheJiang,C=CN"
BOSCH_HTTP = [
    ("http.status", "200", 0),
    ("http.server", "VCS-VideoJet-Webserver", 0),
    ("http.www_authenticate", "Basic realm=\"Use 'live' as User Name for viewing video\"", 0),
]
DAHUA_REALM = 'Digest realm="Login to 4M0747EPAA{serial}", nonce="{nonce32}"'


def on(port: int, rows: list[Row]) -> list[Row]:
    return [(s, v, port) for s, v, _ in rows]


EXPECTED: dict[str, list[Row]] = {
    "hikvision-ipc": on(80, HIK_HTTP)
    + on(443, HIK_HTTP)
    + [
        ("x509.subject", HIK_SUBJECT, 443),
        ("x509.issuer", HIK_SUBJECT, 443),
        ("rtsp.status", "OPTIONS 200", 554),
        ("rtsp.status", "DESCRIBE 401", 554),
        (
            "rtsp.www_authenticate",
            'Digest realm="IP Camera(E3385)", nonce="8e1d5bdf2a0b7c3a", stale="FALSE"',
            554,
        ),
    ],
    "dahua-ipc": [
        ("http.status", "200", 80),
        ("http.www_authenticate", DAHUA_REALM, 80),
        ("dahua.cgi", "vendor=Dahua", 80),
        ("rtsp.status", "OPTIONS 200", 554),
        ("rtsp.status", "DESCRIBE 401", 554),
        ("rtsp.server", "Rtsp Server/3.0", 554),
        ("rtsp.www_authenticate", DAHUA_REALM, 554),
    ],
    "axis-ipc": on(80, AXIS_HTTP)
    + on(443, AXIS_HTTP)
    + [
        ("x509.subject", "CN=axis-{mac_hex},O=Axis Communications AB", 443),
        ("x509.issuer", "CN=Axis Communications AB Root CA,O=Axis Communications AB", 443),
        ("rtsp.status", "OPTIONS 200", 554),
        ("rtsp.status", "DESCRIBE 401", 554),
        ("rtsp.www_authenticate", 'Digest realm="AXIS_{MAC_hex}", nonce="{nonce32}"', 554),
    ],
    "hanwha-ipc": [
        ("http.status", "200", 80),
        ("http.title", "Hanwha Techwin", 80),
        ("http.www_authenticate", 'Digest realm="iPolis_{MAC_hex}", nonce="{nonce32}", qop="auth"', 80),
        ("rtsp.status", "OPTIONS 200", 554),
        ("rtsp.status", "DESCRIBE 401", 554),
        ("rtsp.www_authenticate", 'Digest realm="NET-i", nonce="{nonce32}"', 554),
    ],
    "xiongmai-dvr": [
        ("http.status", "200", 80),
        ("http.server", "uc-httpd 1.0.0", 80),
        ("http.title", "NETSurveillance WEB", 80),
    ],
    "tivo-dvr": [
        ("http.status", "401", 80),
        ("http.server", "tivo-httpd-1:20.7.4c.RC22-USC-11-746", 80),
        ("http.www_authenticate", 'Basic realm="TiVo DVR"', 80),
        ("http.title", "401 Unauthorized", 80),
    ],  # the 401 page's own title
    "bosch-ipc": on(80, BOSCH_HTTP)
    + on(443, BOSCH_HTTP)
    + [
        ("x509.subject", "CN={ip},O=Bosch Sicherheitssysteme GmbH,C=DE", 443),
        ("x509.issuer", "CN=Bosch ST Root CA,O=Bosch Sicherheitssysteme GmbH,C=DE", 443),
    ],
    "zte-router": [
        ("http.status", "401", 80),
        ("http.server", "Mini web server 1.0 ZTE corp 2005.", 80),
        ("http.www_authenticate", 'Basic realm="ZXHN H108L"', 80),
        ("http.title", "401 Unauthorized", 80),
    ],
}
ONVIF_PROFILES = {"hikvision-ipc", "dahua-ipc", "axis-ipc", "hanwha-ipc", "bosch-ipc"}
HTTPS_PROFILES = {"hikvision-ipc", "axis-ipc", "bosch-ipc"}


def expected_rows(dev: SimDevice) -> set[Row]:
    rows = {(s, dev.fill(v), p) for s, v, p in EXPECTED[dev.profile]}
    md5, mm = favicon_hashes(favicon(dev.profile))
    for port in (80, 443) if dev.profile in HTTPS_PROFILES else (80,):
        rows |= {("http.favicon.md5", md5, port), ("http.favicon.mmh3", mm, port)}
    if dev.profile in ONVIF_PROFILES:
        rows.add(("onvif.device_service", f"http://{dev.ip}:80/onvif/device_service", 80))
    return rows


def probe_all(targets: list[str], probes: list[Any], timeout: float) -> list[tuple[ProbeResult, float]]:
    """Run each probe in turn (inside the caller's namespace); (result, seconds) per probe."""

    async def go() -> list[tuple[ProbeResult, float]]:
        out = []
        for probe in probes:
            ctx = ProbeContext(targets=[IPv4Address(t) for t in targets], timeout=timeout)
            start = time.monotonic()
            result = await probe.run(ctx)
            out.append((result, time.monotonic() - start))
        return out

    return asyncio.run(go())


@pytest.mark.netns
def test_exact_banners_per_vendor(lab_factory: Any) -> None:
    lab = lab_factory(
        [
            {"name": n, "ip": f"10.99.0.{10 + i}", "mac": m, "profile": p}
            for i, (n, p, m) in enumerate(DEVICES)
        ]
    )
    devices = [SimDevice(d.name, d.ip, d.mac, "", d.profile) for d in lab.devices]
    runs = run_in_netns(
        lab.scanner_ns,
        probe_all,
        [d.ip for d in devices],
        [HttpProbe(), TlsProbe(), RtspProbe(), OnvifProbe()],
        10.0,
    )
    assert [r.status for r, _ in runs] == [ProbeStatus.SUCCESS] * 4
    observations = [o for r, _ in runs for o in r.observations]
    for dev in devices:
        mine = [o for o in observations if o.ip == dev.ip]
        got = {
            (o.signal, o.value, o.port)
            for o in mine
            if o.signal not in ("x509.serial", "x509.sha256", "onvif.datetime")
        }
        assert got == expected_rows(dev), dev.profile
        tls = [o for o in mine if o.signal in ("x509.serial", "x509.sha256")]
        assert len(tls) == (2 if dev.profile in HTTPS_PROFILES else 0)
        assert all(re.fullmatch(r"[0-9a-f]+", o.value) for o in tls)
        for o in (o for o in mine if o.signal == "onvif.datetime"):
            clock = datetime.strptime(o.value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            assert abs((datetime.now(UTC) - clock).total_seconds()) < 30


GROUPS = [  # 50 devices, each with HTTP; 40 with RTSP; 30 with HTTPS
    group("hik", 10, "10.99.0.10", "hikvision-ipc", "58:50:ed", "c0:56:e3"),
    group("dh", 10, "10.99.0.30", "dahua-ipc", "08:ed:ed", "3c:ef:8c"),
    group("axis", 10, "10.99.0.50", "axis-ipc", "ac:cc:8e", "00:40:8c"),
    group("hw", 10, "10.99.0.70", "hanwha-ipc", "00:09:18"),
    group("bosch", 10, "10.99.0.90", "bosch-ipc", "00:04:63"),
]


@pytest.mark.netns
def test_fifty_devices_within_a_few_seconds(lab_factory: Any) -> None:
    lab = lab_factory(groups=GROUPS)
    targets = [d.ip for d in lab.devices]
    runs = run_in_netns(lab.scanner_ns, probe_all, targets, [HttpProbe(), RtspProbe(), TlsProbe()], 10.0)
    (http, t_http), (rtsp, t_rtsp), (tls, t_tls) = runs
    print(f"\n50 devices: http {t_http:.2f} s, rtsp {t_rtsp:.2f} s, tls {t_tls:.2f} s")
    assert (http.status, http.received) == (ProbeStatus.SUCCESS, 50)
    assert (rtsp.status, rtsp.received) == (ProbeStatus.SUCCESS, 40)
    assert (tls.status, tls.received) == (ProbeStatus.SUCCESS, 30)
    assert {o.ip for o in http.observations if o.signal == "http.favicon.md5"} == set(targets)
    assert t_http + t_rtsp + t_tls < 3.0


# ---------------------------------------------------------------- optional nmap source


def test_nmap_absent_is_reported_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    ctx = ProbeContext(targets=[IPv4Address("127.0.0.1")])
    monkeypatch.setitem(sys.modules, "nmap", None)  # the package is not importable
    result = asyncio.run(NmapSource().run(ctx))
    assert result.status == ProbeStatus.ERROR and "python-nmap" in (result.error or "")
    monkeypatch.delitem(sys.modules, "nmap")
    require_nmap()
    monkeypatch.setattr("shutil.which", lambda _name: None)
    result = asyncio.run(NmapSource().run(ctx))
    assert result.status == ProbeStatus.ERROR and "nmap program" in (result.error or "")


def test_nmap_source_on_loopback() -> None:
    require_nmap()

    async def huawei_ssh(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-HUAWEI-1.5\r\n")  # recog Huawei SSH banner; nmap matches it at once
        await writer.drain()
        await reader.read()
        writer.close()

    async def scenario() -> tuple[ProbeResult, int]:
        server = await asyncio.start_server(huawei_ssh, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            ctx = ProbeContext(
                targets=[IPv4Address("127.0.0.1")], timeout=30, options=ProbeOptions(nmap_ports=str(port))
            )
            return await NmapSource().run(ctx), port
        finally:
            server.close()

    result, port = asyncio.run(scenario())
    assert result.status == ProbeStatus.SUCCESS and (result.sent, result.received) == (1, 1), result.error
    assert any(n.startswith(f"127.0.0.1: nmap service {port}/tcp ssh: Huawei") for n in result.notes)


def nmap_processes(marker: str) -> list[int]:
    """Pids of running nmap processes whose command line contains ``marker``."""
    from pathlib import Path

    pids = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"nmap") and any(marker.encode() in a for a in argv):
            pids.append(int(proc.name))
    return pids


def test_nmap_is_given_named_targets_only(monkeypatch: pytest.MonkeyPatch) -> None:
    require_nmap()
    from scanner.discovery import nmap_source

    given: list[list[str]] = []
    real = nmap_source.run_nmap

    async def recording(program: str, arguments: list[str], budget: float) -> Any:
        given.append(arguments)
        return await real(program, arguments, budget)

    monkeypatch.setattr(nmap_source, "run_nmap", recording)
    heard = {"127.0.0.1": None, "127.0.0.2": None}  # 127.0.0.2 answered multicast but is no target
    options = ProbeOptions(nmap_ports="9")
    named = ProbeContext(targets=[IPv4Address("127.0.0.1")], live_hosts=heard, timeout=10, options=options)
    result = asyncio.run(NmapSource().run(named))
    assert result.sent == 1 and given and given[0][-1] == "127.0.0.1"
    assert "127.0.0.2" not in given[0]
    only_heard = ProbeContext(
        targets=[IPv4Address("127.0.0.3")], live_hosts={"127.0.0.2": None}, options=options
    )
    assert asyncio.run(NmapSource().run(only_heard)).status == ProbeStatus.SKIPPED
    assert len(given) == 1  # nmap never ran for a host that was only heard


def test_cancelling_the_probe_kills_nmap() -> None:
    require_nmap()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # says nothing: nmap's version probes wait on it for many seconds
        writer.close()

    async def scenario() -> tuple[list[int], list[int], float]:
        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = str(server.sockets[0].getsockname()[1])
        try:
            ctx = ProbeContext(
                targets=[IPv4Address("127.0.0.1")], timeout=60, options=ProbeOptions(nmap_ports=port)
            )
            task = asyncio.create_task(NmapSource().run(ctx))
            running: list[int] = []
            for _ in range(50):  # wait until nmap is up (at most 5 s)
                await asyncio.sleep(0.1)
                if running := nmap_processes(port):
                    break
            start = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return running, nmap_processes(port), time.monotonic() - start
        finally:
            server.close()

    running, left, took = asyncio.run(scenario())
    assert running, "nmap never started"
    assert left == [] and took < 2.0


# ---------------------------------------------------------------- SSDP descriptions through the shared client


def test_ssdp_description_bomb_is_inflated_to_the_cap_only(lab_factory: Any) -> None:
    """A device answers M-SEARCH with two LOCATIONs: a gzip bomb (64 MiB of zeros, ~64 KB compressed,
    sent although never asked for) and a real description, gzip-compressed. The bomb costs at most the
    description cap; the compressed description is still read."""
    import gzip
    import socket
    import tracemalloc

    from scanner.discovery.ssdp import SsdpProbe
    from scanner.lab.netns import in_netns
    from scanner.targets import parse_targets

    lab = lab_factory([{"name": "bomber", "ip": "10.99.0.30", "mac": "02:00:00:00:00:30"}])
    with in_netns(lab.device_ns(0)):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        web = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    udp.bind(("10.99.0.30", 1900))
    web.bind(("10.99.0.30", 8080))
    web.listen(8)
    web.settimeout(5)
    udp.settimeout(5)
    bomb = gzip.compress(b"\0" * (64 << 20), 9)
    good = gzip.compress(
        b'<?xml version="1.0"?><root xmlns="urn:schemas-upnp-org:device-1-0"><device>'
        b"<manufacturer>Bomber Inc</manufacturer><modelName>BX-1</modelName></device></root>"
    )
    requests: list[bytes] = []

    locations = [b"http://10.99.0.30:8080" + path for path in (b"/bomb.xml", b"/good.xml")]

    def http(head: bytes) -> bytes:
        requests.append(head)
        body = bomb if b"/bomb.xml" in head else good  # the scanner hangs up once it has its cap
        return (
            b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Encoding: gzip\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )

    def scan() -> tuple[ProbeResult, int]:
        ctx = ProbeContext(targets=parse_targets(["10.99.0.30"]), interface="eth0", timeout=3.0)
        tracemalloc.start()
        try:
            result = asyncio.run(SsdpProbe().run(ctx))
            return result, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    with threads_serving([udp, web], answer_one_msearch(udp, locations), answer_http(web, http)):
        result, peak = run_in_netns(lab.scanner_ns, scan)
    found = {(o.signal, o.value) for o in result.observations}
    assert {("upnp.manufacturer", "Bomber Inc"), ("upnp.model_name", "BX-1")} <= found
    assert peak < 16 << 20, f"{peak / 2**20:.1f} MiB at peak for a 64 MiB bomb"
    assert result.duration < 2.0
    assert requests and not any(b"gzip" in r.lower() for r in requests)  # compression was never asked for
