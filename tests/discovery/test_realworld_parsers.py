"""Real device replies (tests/data/realworld) through the protocol parsers.

Each folder's expect.toml says what the parser must return for each file; SOURCES.md says where the reply came
from. The replies are what devices really send: other prefixes and namespaces, CRLF or LF, spaced JSON, masked
bytes, typos, missing fields. Every corpus file must also leave every other parser unharmed (None/[]/no raise).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from paths import DATA_DIR

from scanner.discovery.parsers import dhip, http, rtsp, sadp, snmp, ssdp, upnp, vendor_endpoints, wsd, x509

REALWORLD = DATA_DIR / "realworld"
PROTOCOLS = ("sadp", "dhip", "wsd", "ssdp", "upnp", "mdns", "banners")


def expectations(folder: str, table: str = "item") -> list[dict[str, Any]]:
    return tomllib.loads((REALWORLD / folder / "expect.toml").read_text())[table]


def cases(folder: str, table: str = "item") -> list[Any]:
    return [
        pytest.param(e, id=e.get("file") or e.get("subject") or e["value"])
        for e in expectations(folder, table)
    ]


def reply(folder: str, item: dict[str, Any]) -> bytes:
    return (REALWORLD / folder / item["file"]).read_bytes()


def corpus_files() -> list[Path]:
    return sorted(p for p in REALWORLD.glob("*/*") if p.name not in ("SOURCES.md", "expect.toml"))


# --- the corpus is complete and documented ---------------------------------------------------------


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_reply_is_expected_and_sourced(path: Path) -> None:
    expect = (path.parent / "expect.toml").read_text()
    sources = (path.parent / "SOURCES.md").read_text()
    assert f'"{path.name}"' in expect, "no expect.toml entry"
    assert f"`{path.name}`" in sources, "no SOURCES.md row"


def test_corpus_covers_every_protocol_folder() -> None:
    counts = {p: sum(1 for f in corpus_files() if f.parent.name == p) for p in PROTOCOLS}
    assert all(counts.values()), counts


# --- SADP ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("item", cases("sadp"))
def test_sadp_probe_match(item: dict[str, Any]) -> None:
    fields = sadp.parse_probe_match(reply("sadp", item))
    assert fields is not None
    assert {k: fields.get(k) for k in item["fields"]} == item["fields"]
    assert len(fields) == item["field_count"]


# --- DHIP ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("item", cases("dhip"))
def test_dhip_notify_dev_info(item: dict[str, Any]) -> None:
    parsed = dhip.parse_reply(reply("dhip", item))
    assert parsed is not None
    assert parsed.mac == item["mac"]
    assert {k: parsed.info.get(k) for k in item["info"]} == item["info"]


# --- WS-Discovery ----------------------------------------------------------------------------------


@pytest.mark.parametrize("item", cases("wsd"))
def test_wsd_probe_matches(item: dict[str, Any]) -> None:
    matches = wsd.parse_probe_matches(reply("wsd", item))
    assert len(matches) == item["matches"]
    if not matches:
        return
    match = matches[0]
    params = wsd.scope_params(match.scopes)
    assert match.endpoint == item["endpoint"]
    assert list(match.types) == item["types"]
    assert len(match.scopes) == item["scope_count"]
    assert params.get("name", []) == item["names"]
    assert params.get("hardware", []) == item["hardware"]
    assert (wsd.match_mac(match) or "") == item["mac"]
    assert wsd.xaddr_ipv4(match) == item["ipv4"]


# --- SSDP / UPnP -----------------------------------------------------------------------------------


@pytest.mark.parametrize("item", cases("ssdp"))
def test_ssdp_reply_headers(item: dict[str, Any]) -> None:
    message = ssdp.parse_response(reply("ssdp", item))
    assert message is not None
    assert {k: message.get(k) for k in item["headers"]} == item["headers"]


@pytest.mark.parametrize("item", cases("upnp"))
def test_upnp_description(item: dict[str, Any]) -> None:
    device = upnp.parse_description(reply("upnp", item))
    assert device == upnp.UpnpDevice(**item["device"])


# --- mDNS ------------------------------------------------------------------------------------------


def resolved_services(data: bytes) -> list[tuple[str, str, Any]]:
    """(service type, instance name, ServiceInfo) for each PTR, resolved from the packet the way the mdns
    probe's zeroconf ServiceInfo resolves records it finds in the cache."""
    from zeroconf import DNSCache, DNSIncoming, DNSPointer, ServiceInfo

    message = DNSIncoming(data)
    assert message.valid
    cache = DNSCache()
    cache.async_add_records(message.answers())
    out = []
    for ptr in (r for r in message.answers() if isinstance(r, DNSPointer)):
        info = ServiceInfo(ptr.name, ptr.alias)
        assert info.load_from_cache(SimpleNamespace(cache=cache))
        out.append((ptr.name, ptr.alias, info))
    return out


@pytest.mark.parametrize("item", cases("mdns"))
def test_mdns_response(item: dict[str, Any]) -> None:
    from zeroconf import IPVersion

    from scanner.discovery.mdns import instance_label, txt_entries

    ((service, name, info),) = resolved_services(reply("mdns", item))
    assert service == item["service"]
    assert instance_label(name, service) == item["instance"]
    assert info.server == item["hostname"]
    assert info.port == item["port"]
    assert txt_entries(info.properties) == item["txt"]
    assert sorted(info.parsed_addresses(IPVersion.V4Only)) == sorted(item["ipv4"])


# --- banners ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("item", cases("banners", "rtsp"))
def test_rtsp_reply_head(item: dict[str, Any]) -> None:
    data = reply("banners", item)
    parsed = rtsp.parse_reply(data)
    assert parsed is not None
    assert (parsed.status, parsed.cseq) == (item["status"], item["cseq"])
    assert (parsed.server or "") == item["server"]
    assert list(parsed.www_authenticate) == item["www_authenticate"]
    if "public" in item:
        assert parsed.public == item["public"]
    assert parsed.content_length == 0


@pytest.mark.parametrize("item", cases("banners", "isapi"))
def test_isapi_device_info(item: dict[str, Any]) -> None:
    fields = dict(vendor_endpoints.parse_isapi_device_info(reply("banners", item)))
    assert {k: fields.get(k) for k in item["fields"]} == item["fields"]


@pytest.mark.parametrize("item", cases("banners", "onvif"))
def test_onvif_get_device_information(item: dict[str, Any]) -> None:
    answer = vendor_endpoints.parse_soap(reply("banners", item))
    assert answer is not None and answer.fault is None
    assert vendor_endpoints.device_information(answer) == item["fields"]


def snmprec(item: dict[str, Any]) -> dict[str, tuple[int, str]]:
    """OID -> (tag, value) of an snmprec file (LibreNMS snmpsim format: ``oid|tag|value``)."""
    out = {}
    for line in (REALWORLD / "banners" / item["file"]).read_text().splitlines():
        oid, tag, value = line.split("|", 2)
        out[oid] = (int(tag), value)
    return out


def get_response(records: dict[str, tuple[int, str]]) -> bytes:
    """An SNMPv2c GetResponse carrying sysDescr.0 and sysObjectID.0 as recorded, built with the parser's encoder."""
    binds = []
    for oid in (snmp.SYS_DESCR, snmp.SYS_OBJECT_ID):
        if oid in records:
            tag, text = records[oid]
            assert tag in (4, 6), f"snmprec tag {tag}"
            value: Any = text.encode() if tag == 4 else text
            binds.append(snmp.VarBind(oid, snmp.OCTET_STRING if tag == 4 else snmp.OID, value))
    return snmp.encode_message(
        snmp.Message(snmp.VERSION_2C, b"public", snmp.GET_RESPONSE, 4711, 0, 0, tuple(binds))
    )


@pytest.mark.parametrize("item", cases("banners", "snmp"))
def test_snmp_system_group(item: dict[str, Any]) -> None:
    message = snmp.parse_message(get_response(snmprec(item)))
    assert message is not None and message.pdu_type == snmp.GET_RESPONSE and message.request_id == 4711
    values = {b.oid: snmp.text_value(b.value) for b in message.varbinds}
    assert values.get(snmp.SYS_DESCR) == item["sys_descr"]
    assert values.get(snmp.SYS_OBJECT_ID, "") == item["sys_object_id"]


def certificate(subject: str, issuer: str | None = None) -> bytes:
    """A DER certificate with the given RFC 4514 subject and issuer (signed here; the names are the real ones)."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509 as cx509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        cx509.CertificateBuilder()
        .subject_name(cx509.Name.from_rfc4514_string(subject))
        .issuer_name(cx509.Name.from_rfc4514_string(issuer or subject))
        .public_key(key.public_key())
        .serial_number(0x1F2E3D)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize("item", cases("banners", "x509"))
def test_x509_subject_and_issuer(item: dict[str, Any]) -> None:
    info = x509.parse_certificate(certificate(item["subject"], item.get("issuer")))
    assert info is not None
    assert info.subject == item["subject"]
    assert info.issuer == item.get("issuer", item["subject"])
    assert info.serial == "1f2e3d"


# --- no parser is hurt by another protocol's real reply ---------------------------------------------

PARSERS = {
    "sadp": sadp.parse_probe_match,
    "dhip": dhip.parse_reply,
    "wsd": wsd.parse_probe_matches,
    "ssdp": ssdp.parse_response,
    "upnp": upnp.parse_description,
    "rtsp": rtsp.parse_reply,
    "http": http.parse_head,
    "isapi": vendor_endpoints.parse_isapi_device_info,
    "magicbox": vendor_endpoints.parse_magicbox,
    "soap": vendor_endpoints.parse_soap,
    "snmp": snmp.parse_message,
    "x509": x509.parse_certificate,
}
# Generic readers that rightly accept any HTTP-like head or any SOAP envelope: only "never raises" applies.
GENERIC = {"http", "soap"}
OWN = {
    "sadp": {"sadp"},
    "dhip": {"dhip"},
    "wsd": {"wsd"},
    "ssdp": {"ssdp"},
    "upnp": {"upnp"},
    "mdns": set(),
    "banners": {"rtsp", "isapi", "magicbox"},
}


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_foreign_parsers_refuse_a_real_reply(path: Path) -> None:
    """A reply of one protocol is nothing to another protocol's parser: empty, never an exception."""
    data = path.read_bytes()
    own = OWN[path.parent.name]
    for name, parse in PARSERS.items():
        result = parse(data)
        if name not in own and name not in GENERIC:
            assert not result, f"{name} parser accepted {path.name}: {result!r}"
