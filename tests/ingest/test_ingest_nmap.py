"""nmap -oX import: real nmap 7.93 output (scans of local servers, re-addressed), hostile XML, streaming."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paths import DATA_DIR

from scanner.errors import UsageError
from scanner.ingest.nmap_xml import MAX_HOST_ELEMENTS, read_nmap_xml, servicefp_signals
from scanner.ingest.stream import HostNote
from scanner.observations import Observation

DATA = DATA_DIR / "nmap"
HIKVISION_SUBJECT = "CN=www.hikvision.com,OU=DVRNVR,O=HIKVISION,L=HangZhou,ST=ZheJiang,C=CN"


def _read(source: object) -> tuple[list[Observation | HostNote], list[tuple[int, str]]]:
    problems: list[tuple[int, str]] = []
    items = list(read_nmap_xml(source, lambda line, message: problems.append((line, message))))  # type: ignore[arg-type]
    return items, problems


def _signals(items: list[Observation | HostNote], ip: str) -> set[tuple[str, str, int | None]]:
    return {(o.signal, o.value, o.port) for o in items if isinstance(o, Observation) and o.ip == ip}


def _notes(items: list[Observation | HostNote], ip: str) -> list[str]:
    return [n.text for n in items if isinstance(n, HostNote) and n.ip == ip]


def test_hikvision_host_becomes_the_expected_observations() -> None:
    items, problems = _read(DATA / "hikvision_lan.xml")

    assert problems == []
    assert _signals(items, "192.168.1.64") == {
        ("mac", "58:50:ed:1f:e3:85", None),
        ("arp.reply", "arp-response", None),
        ("http.server", "App-webs/", 80),
        ("http.title", "index", 80),
        ("http.favicon.md5", "b2ea9f7fcea831a4a63b213f41a8855b", 80),
        ("http.server", "App-webs/", 443),
        ("http.title", "index", 443),
        ("http.favicon.md5", "b2ea9f7fcea831a4a63b213f41a8855b", 443),
        ("x509.subject", HIKVISION_SUBJECT, 443),
        ("x509.issuer", HIKVISION_SUBJECT, 443),
        ("nmap.service", "Hikvision IP camera httpd", 80),  # nmap's own label of its match
        ("nmap.service", "Hikvision IP camera httpd", 443),
        ("rtsp.www_authenticate", 'Digest realm="IP Camera(C2183)", nonce="abc", stale="FALSE"', 554),
        # from the broadcast prescripts, joined to the host by address
        ("ssdp.server", "Linux/3.0.8, UPnP/1.0, Portable SDK for UPnP devices/1.6.18", None),
        ("ssdp.location", "http://192.168.1.64:49152/rootDesc.xml", None),
        ("http.server", "Linux/3.0.8, UPnP/1.0, Portable SDK for UPnP devices/1.6.18", None),
        ("upnp.friendly_name", "DS-2CD2043G0-I - E12345678", None),
        ("upnp.manufacturer", "Hikvision", None),
        ("upnp.model_description", "Hikvision IP Camera", None),
        ("upnp.model_name", "DS-2CD2043G0-I", None),
        ("upnp.model_number", "DS-2CD2043G0-I", None),
        ("wsd.xaddrs", "http://192.168.1.64/onvif/device_service", None),
        ("wsd.types", "Device dn:NetworkVideoTransmitter tds:Device", None),
    }
    assert _notes(items, "192.168.1.64") == [
        "nmap MAC vendor: Hangzhou Hikvision Digital Technology",
        "nmap service 80/tcp http: Hikvision IP camera httpd [webcam]",
        "nmap service 443/tcp ssl/http: Hikvision IP camera httpd [webcam]",
    ]
    camera = [o for o in items if isinstance(o, Observation) and o.ip == "192.168.1.64"]
    assert {(o.probe, o.mac, o.seen_at.isoformat()) for o in camera} == {
        ("nmap", "58:50:ed:1f:e3:85", "2026-11-22T15:44:32+00:00")
    }


def test_other_hosts_in_the_same_file() -> None:
    items, _ = _read(DATA / "hikvision_lan.xml")

    assert _signals(items, "192.168.1.1") == {
        ("mac", "00:e0:fc:12:34:56", None),
        ("arp.reply", "arp-response", None),
        ("hostname", "gateway.lan", None),
        ("ssh.banner", "SSH-2.0-HUAWEI-1.5", 22),
        ("nmap.service", "Huawei WAP sshd", 22),
    }
    assert _signals(items, "192.168.1.90") == {
        ("mac", "ac:cc:8e:01:02:03", None),
        ("arp.reply", "arp-response", None),
    }
    assert _signals(items, "192.168.1.91") == set()  # nmap marked it down
    # a broadcast answer from an address nmap has no <host> for comes last, IP only
    assert items[-2:] == [o for o in items if getattr(o, "ip", None) == "192.168.1.200"]
    assert {(o.signal, o.mac) for o in items[-2:]} == {("ssdp.server", None), ("ssdp.location", None)}  # type: ignore[union-attr]


def test_replies_stored_for_unrecognised_services_are_read() -> None:
    items, problems = _read(DATA / "unrecognised_services.xml")

    assert problems == []
    signals = _signals(items, "192.168.1.65")
    assert {
        ("http.server", "App-webs/", 18080),
        ("http.status", "200", 18080),
        ("http.title", "index", 18080),
        ("ssh.banner", "SSH-2.0-HUAWEI-1.5", 18022),
        ("x509.subject", HIKVISION_SUBJECT, 18443),
    } <= signals
    assert not any(signal == "http.title" and value == "Error response" for signal, value, _ in signals)


def test_servicefp_unescaping() -> None:
    fingerprint = (
        r'SF-Port8000-TCP:V=7.93%I=7%D=1/2%Time=1%P=x86_64-pc-linux-gnu%r(GetRequest,5A,"HTTP/1\.1'
        r"\x20401\x20Unauthorized\r\nWWW-Authenticate:\x20Basic\x20realm=\"Login\x20to\x204M0747EPAA1D284"
        r'\"\r\nLocation:\x20/doc/page/login\.asp\?_1\r\n\r\n")%r(RTSPRequest,20,"RTSP/1\.0\x20200\x20OK'
        r'\r\nServer:\x20Dahua\x20Rtsp\x20Server\r\n\r\n")%r(NULL,4,"\0\0\0\x10");'
    )

    assert servicefp_signals(fingerprint) == [
        ("http.www_authenticate", 'Basic realm="Login to 4M0747EPAA1D284"'),
        ("http.location", "/doc/page/login.asp?_1"),
        ("http.status", "401"),
        ("rtsp.server", "Dahua Rtsp Server"),
    ]


def test_ssl_cert_without_pem_uses_nmaps_table(tmp_path: Path) -> None:
    xml = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nmaprun>
<nmaprun scanner="nmap" start="1795362246" version="7.93" xmloutputversion="1.05">
<host><status state="up" reason="syn-ack" reason_ttl="0"/><address addr="10.1.2.3" addrtype="ipv4"/>
<ports><port protocol="tcp" portid="443"><state state="open" reason="syn-ack" reason_ttl="64"/>
<service name="https" product="lighttpd" method="probed" conf="10"/>
<script id="ssl-cert" output="Subject: ..."><table key="subject">
<elem key="commonName">axis-accc8e010203</elem><elem key="countryName">SE</elem>
<elem key="organizationName">Axis Communications AB, Lund</elem></table></script>
<script id="snmp-sysdescr"
 output="; AXIS P5534-E; PTZ Dome Network Camera; 5.40.9.2; Jun 19 2013&#xa;  System uptime: 1 day"/>
</port></ports></host></nmaprun>"""
    path = tmp_path / "axis.xml"
    path.write_text(xml)

    items, problems = _read(path)

    assert problems == []
    assert _signals(items, "10.1.2.3") == {
        ("x509.subject", r"CN=axis-accc8e010203,O=Axis Communications AB\, Lund,C=SE", 443),
        ("snmp.sys_descr", "; AXIS P5534-E; PTZ Dome Network Camera; 5.40.9.2; Jun 19 2013", 443),
        ("http.server", "lighttpd", 443),  # nmap's label stands in: no raw Server header in the file
        ("nmap.service", "lighttpd", 443),
    }


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("billion_laughs.xml", "internal subset"),
        ("xxe_external_entity.xml", "internal subset"),
        ("external_dtd.xml", "external DTD"),
    ],
)
def test_hostile_xml_is_rejected_with_one_line(name: str, reason: str) -> None:
    problems: list[tuple[int, str]] = []
    with pytest.raises(UsageError) as caught:
        list(read_nmap_xml(DATA / name, lambda line, message: problems.append((line, message))))

    message = str(caught.value)
    assert message.startswith(str(DATA / name)) and reason in message
    assert "\n" not in message and caught.value.__cause__ is None and caught.value.__suppress_context__
    assert problems == []


def test_entity_declaration_without_doctype_subset_trick_is_still_refused() -> None:
    xml = b'<?xml version="1.0"?>\n<!DOCTYPE nmaprun [<!ENTITY a "b">]>\n<nmaprun><host/></nmaprun>'
    with pytest.raises(UsageError, match="rejected"):
        list(read_nmap_xml(io.BytesIO(xml), lambda line, message: None))


def test_xml_that_is_not_nmap_output_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="not nmap XML output"):
        _read(DATA / "not_nmap.xml")


def test_interrupted_scan_keeps_the_hosts_before_the_cut() -> None:
    items, problems = _read(DATA / "interrupted_scan.xml")

    assert {o.ip for o in items} == {"192.168.1.64", "192.168.1.200"}  # type: ignore[union-attr]
    ((line, message),) = problems
    assert line == (DATA / "interrupted_scan.xml").read_text().count("\n") + 1  # the end of the file
    assert "interrupted scan" in message and "the 1 host(s) before it are kept" in message


def test_a_huge_host_is_cut_at_the_element_limit(tmp_path: Path) -> None:
    ports = "".join(
        f'<port protocol="tcp" portid="{p % 65536}"><state state="closed"/></port>'
        for p in range(MAX_HOST_ELEMENTS)
    )
    path = tmp_path / "huge.xml"
    path.write_text(
        '<?xml version="1.0"?><nmaprun>\n<host><status state="up" reason="arp-response"/>'
        '<address addr="10.9.9.9" addrtype="ipv4"/>'
        '<address addr="00:11:22:33:44:55" addrtype="mac"/>'
        f"<ports>{ports}</ports></host>\n"
        '<host><address addr="10.9.9.10" addrtype="ipv4"/>'
        '<status state="up" reason="arp-response"/>'
        "</host></nmaprun>"
    )

    items, problems = _read(path)

    assert problems == [
        (
            2,
            (
                f"<host> larger than {MAX_HOST_ELEMENTS} elements or 8388608 characters: "
                "the rest of it was skipped"
            ),
        )
    ]
    assert {(o.ip, o.signal) for o in items} == {  # type: ignore[union-attr]
        ("10.9.9.9", "mac"),
        ("10.9.9.9", "arp.reply"),
        ("10.9.9.10", "arp.reply"),
    }


class _CountingReader(io.RawIOBase):
    """A file object that counts the bytes handed out."""

    def __init__(self, data: bytes) -> None:
        self.inner = io.BytesIO(data)
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        chunk = self.inner.read(len(buffer))
        buffer[: len(chunk)] = chunk
        self.consumed += len(chunk)
        return len(chunk)


def test_hosts_are_yielded_before_the_file_is_read_to_the_end() -> None:
    host = (
        '<host endtime="1795362272"><status state="up" reason="arp-response"/>'
        '<address addr="10.0.{}.{}" addrtype="ipv4"/><ports><port protocol="tcp" portid="80">'
        '<state state="open"/><service name="http"/><script id="http-server-header" output="App-webs/">'
        "<elem>App-webs/</elem></script></port></ports></host>\n"
    )
    body = "".join(host.format(i // 250, i % 250) for i in range(5000))
    data = f'<?xml version="1.0"?>\n<!DOCTYPE nmaprun>\n<nmaprun>\n{body}</nmaprun>\n'.encode()
    source = _CountingReader(data)

    stream = read_nmap_xml(source, lambda line, message: None)  # type: ignore[arg-type]
    first = next(stream)

    assert isinstance(first, Observation) and first.ip == "10.0.0.0"
    assert source.consumed < len(data) / 4
    assert sum(1 for _ in stream) == 2 * 5000 - 1


def test_nmap_file_is_identified_host_by_host() -> None:
    from scanner.identify.models import Status
    from scanner.ingest.stream import device_reports

    problems: list[tuple[int, str]] = []
    reports = list(
        device_reports(
            DATA / "hikvision_lan.xml", "nmap-xml", lambda *p: problems.append(p), evidence_only=True
        )
    )

    assert problems == []
    by_ip = {d.ip: d for d in reports}
    assert set(by_ip) == {"192.168.1.64", "192.168.1.1", "192.168.1.90", "192.168.1.200"}
    camera = by_ip["192.168.1.64"]
    assert (camera.verdict.status, camera.verdict.covered_entity) == (Status.COVERED, "Hikvision")
    assert ("x509.subject", HIKVISION_SUBJECT) in {(e.signal, e.value) for e in camera.verdict.evidence}
    assert "nmap MAC vendor: Hangzhou Hikvision Digital Technology" in camera.verdict.notes
    cited = {(e.signal, e.value) for e in camera.verdict.evidence}
    assert camera.observations and all((o.signal, o.value) in cited for o in camera.observations)
    assert by_ip["192.168.1.1"].hostnames == ["gateway.lan"]
    assert by_ip["192.168.1.1"].verdict.covered_entity == "Huawei"
    assert by_ip["192.168.1.90"].verdict.status == Status.NOT_COVERED


_REAL = (DATA / "hikvision_lan.xml").read_bytes()


@settings(max_examples=150, deadline=None)
@given(
    st.integers(0, len(_REAL)),
    st.lists(st.tuples(st.integers(0, len(_REAL) - 1), st.binary(min_size=1, max_size=8)), max_size=4),
)
def test_damaged_nmap_xml_never_raises_anything_but_a_usage_error(
    cut: int, patches: list[tuple[int, bytes]]
) -> None:
    data = bytearray(_REAL[:cut])
    for at, junk in patches:
        data[at : at + len(junk)] = junk
    problems: list[tuple[int, str]] = []
    try:
        items = list(read_nmap_xml(io.BytesIO(bytes(data)), lambda *problem: problems.append(problem)))
    except UsageError as exc:
        assert "\n" not in str(exc)
        return
    assert all(isinstance(i, (Observation, HostNote)) for i in items)


def test_an_unknown_declared_encoding_is_a_usage_error(tmp_path):
    """Found by hypothesis: expat raises LookupError for encoding="U-F-8"."""
    from scanner.errors import UsageError
    from scanner.ingest.nmap_xml import read_nmap_xml

    bad = tmp_path / "bad.xml"
    bad.write_bytes(b'<?xml version="1.0" encoding="U-F-8"?><nmaprun></nmaprun>')
    with pytest.raises(UsageError, match="not readable XML"):
        list(read_nmap_xml(bad, lambda line, msg: None))


def _nmap_host(ip: str, body: str, mac: str = "") -> str:
    mac_el = f'<address addr="{mac}" addrtype="mac"/>' if mac else ""
    return f'<host><status state="up" reason="syn-ack"/><address addr="{ip}" addrtype="ipv4"/>{mac_el}{body}</host>'


def _port(portid: int, name: str, product: str, cpe: str = "") -> str:
    cpe_el = f"<cpe>{cpe}</cpe>" if cpe else ""
    return (
        f'<ports><port protocol="tcp" portid="{portid}"><state state="open" reason="syn-ack"/>'
        f'<service name="{name}" product="{product}" method="probed" conf="10">{cpe_el}</service></port></ports>'
    )


def _os(name: str, accuracy: int) -> str:
    return f'<os><osmatch name="{name}" accuracy="{accuracy}" line="1"/></os>'


def test_nmaps_own_labels_cpes_and_os_guesses_are_evidence(tmp_path: Path) -> None:
    """Hosts nmap itself labelled (no MAC: a routed scan) are identified from its labels, not left UNKNOWN."""
    from scanner.identify.models import Status
    from scanner.ingest.stream import device_reports

    hosts = [
        _nmap_host("10.0.0.1", _port(80, "http", "Hikvision IP camera httpd")),
        _nmap_host("10.0.0.2", _port(8000, "ipcam", "Hikvision IPCam control port")),
        _nmap_host("10.0.0.3", _port(80, "http", "Dahua webcam httpd")),
        _nmap_host("10.0.0.4", _port(22, "ssh", "Huawei VRP sshd", "cpe:/o:huawei:vrp")),
        _nmap_host("10.0.0.5", _os("3Com 4200G or Huawei Quidway S5600 switch", 96)),  # names two makers
        _nmap_host("10.0.0.6", _os("Huawei VRP 8.100", 85)),  # below 90 %: a note, not evidence
        _nmap_host("10.0.0.7", _port(21, "ftp", "AXIS 205 Network Video ftpd")),
        _nmap_host("10.0.0.8", _port(80, "http", "Hikvision IP camera httpd"), mac="58:50:ED:1F:E3:85"),
        _nmap_host("10.0.0.9", _os("Huawei CloudEngine CE6800 switch", 98)),
    ]
    path = tmp_path / "labels.xml"
    path.write_text(
        '<?xml version="1.0"?><!DOCTYPE nmaprun><nmaprun scanner="nmap" version="7.93">'
        + "".join(hosts)
        + "</nmaprun>"
    )
    reports = {d.ip: d for d in device_reports(path, "nmap-xml", lambda *p: None, evidence_only=False)}
    got = {ip: (d.verdict.status, d.verdict.covered_entity) for ip, d in reports.items()}

    assert got["10.0.0.1"] == (Status.LIKELY, "Hikvision")  # a label alone: likely, not covered
    assert got["10.0.0.2"] == (Status.LIKELY, "Hikvision")
    assert got["10.0.0.3"] == (Status.LIKELY, "Dahua")
    assert got["10.0.0.4"] == (Status.LIKELY, "Huawei")  # label and CPE are one source, counted once
    assert got["10.0.0.5"][0] in (Status.UNKNOWN, Status.NOT_COVERED)
    assert got["10.0.0.5"][1] is None
    assert got["10.0.0.6"] == (Status.UNKNOWN, None)
    assert got["10.0.0.7"][0] == Status.NOT_COVERED
    assert got["10.0.0.8"] == (Status.COVERED, "Hikvision")  # label + the Hikvision OUI: two sources agree
    assert got["10.0.0.9"] == (Status.LIKELY, "Huawei")  # an OS guess alone never makes "covered"
    label = next(e for e in reports["10.0.0.1"].verdict.evidence if e.signal == "nmap.service")
    assert (label.value, label.matched) == ("Hikvision IP camera httpd", "nmap:nmap-service-hikvision")


def test_telnet_banner_from_real_nmap_keeps_its_lines() -> None:
    """Real nmap (-sV --script banner) against a loopback telnet server that negotiates options first and
    then prints a ZTE F668 prompt (rapid7/recog telnet banner): banner.nse escapes the bytes and wraps its
    output at 75 characters (here inside the escape of a CR); the import undoes both and strips the
    negotiation, so the ONT is named by its telnet prompt."""
    import asyncio
    import contextlib
    import shutil
    import subprocess

    from labtools import require_nmap

    from scanner.identify.verdict import identify
    from scanner.observations import Device

    require_nmap()

    async def ont(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"\xff\xfd\x01\xff\xfd\x1f\xff\xfb\x01\xff\xfb\x03F668\r\n\rLogin: ")
        await writer.drain()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(reader.read(), 1)
        writer.close()

    async def scan() -> bytes:
        server = await asyncio.start_server(ont, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        nmap = shutil.which("nmap") or "nmap"
        argv = [nmap, "-n", "-Pn", "-sV", "--version-light", "--script", "banner", "-p", str(port)]
        proc = await asyncio.create_subprocess_exec(
            *argv, "-oX", "-", "127.0.0.1", stdout=subprocess.PIPE
        )  # loopback only: the server above
        out, _ = await asyncio.wait_for(proc.communicate(), 120)
        server.close()
        return out

    xml = asyncio.run(scan())
    assert b'id="banner"' in xml and b"\\x0D" in xml  # nmap's escaped form reached the file
    items, problems = _read(io.BytesIO(xml))
    assert problems == []
    banners = [o for o in items if isinstance(o, Observation) and o.signal == "telnet.banner"]
    assert [o.value for o in banners] == ["F668\r\n\rLogin:"]
    verdict = identify(Device(ip="127.0.0.1", observations=banners))
    # a telnet prompt alone is a strong but not a vendor-protocol signal: likely covered, by ZTE
    assert verdict.status.value in ("covered", "likely") and verdict.covered_entity == "ZTE", verdict
