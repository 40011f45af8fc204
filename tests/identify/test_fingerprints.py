"""The fingerprint database: every shipped example, the self-test, and the self-test's own failures."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.datafiles import fingerprints_dir
from scanner.errors import DataError
from scanner.identify.fingerprints import (
    MAX_EXAMPLES,
    Fingerprint,
    explain,
    is_known_signal,
    load_database,
    load_vendor_names,
    self_test,
)

DB = load_database()
CASES = [(e, x) for e in DB.entries for x in e.examples]


def test_shipped_database_passes_its_self_test() -> None:
    report = self_test()
    assert report.failures == []
    assert report.ok
    assert (
        report.render()
        == f"{report.files} files, {report.entries} fingerprints, {report.examples} examples, 0 failures"
    )
    assert report.entries == len(DB.entries) and report.examples == len(CASES)


@pytest.mark.parametrize(
    ("entry", "example"), CASES, ids=[f"{e.file}:{e.entry_id}:{i}" for i, (e, _) in enumerate(CASES)]
)
def test_example_is_matched_first_by_its_own_entry(entry: Fingerprint, example) -> None:
    for signal in entry.signals:
        own_file = [hit for hit in DB.match(signal, example.value) if hit.file == entry.file]
        assert own_file, f"{example.value!r} does not match anything in {entry.file} as {signal}"
        assert own_file[0].entry_id == entry.entry_id
        for name, expected in example.captures.items():
            assert own_file[0].captures.get(name) == expected


def test_every_vendor_and_brand_is_in_vendors_toml() -> None:
    names = load_vendor_names()
    used = {e.vendor for e in DB.entries if e.vendor} | {e.brand for e in DB.entries if e.brand}
    assert used <= names, sorted(used - names)


def test_ids_are_unique_and_every_entry_cites_a_source() -> None:
    ids = [e.entry_id for e in DB.entries]
    assert len(ids) == len(set(ids))
    assert all(e.source.strip() for e in DB.entries)


def test_required_signals_are_covered() -> None:
    for signal in (
        "http.server",
        "http.www_authenticate",
        "rtsp.www_authenticate",
        "http.title",
        "http.favicon.md5",
        "http.favicon.mmh3",
        "x509.subject",
        "x509.issuer",
        "rtsp.server",
        "onvif.name",
        "wsd.scope",
        "sadp.reply",
        "dhip.reply",
        "dhip.Vendor",
        "ssdp.server",
        "upnp.manufacturer",
        "mdns.service",
        "snmp.sys_object_id",
        "snmp.sys_descr",
        "ssh.banner",
        "telnet.banner",
        "sip.user_agent",
        "isapi.device_info",
        "dahua.cgi",
    ):
        assert DB.entries_for(signal), signal


@pytest.mark.parametrize(
    ("oid", "vendor"),
    [
        ("1.3.6.1.4.1.39165.1.1", "Hikvision"),
        ("1.3.6.1.4.1.37496.2", "Dahua"),
        ("1.3.6.1.4.1.1004849.3.2.10", "Dahua"),
        ("1.3.6.1.4.1.2011.2.23.1", "Huawei"),
        ("1.3.6.1.4.1.3902.1", "ZTE"),
        ("1.3.6.1.4.1.40297.1.2.1", "Hytera"),
        ("1.3.6.1.4.1.46055", "Hytera"),
        ("1.3.6.1.4.1.58597.1", "Hytera"),
        ("1.3.6.1.4.1.368.4", "Axis"),
        ("1.3.6.1.4.1.36849.1", "Hanwha Vision"),
        ("1.3.6.1.4.1.46202", "Avigilon"),
        ("1.3.6.1.4.1.57501.1", "Panasonic i-PRO"),
    ],
)
def test_snmp_enterprise_numbers(oid: str, vendor: str) -> None:
    hit = DB.best("snmp.sys_object_id", oid)
    assert hit is not None and hit.vendor == vendor


@pytest.mark.parametrize("oid", ["1.3.6.1.4.1.20110", "1.3.6.1.4.1.3682.1", "1.3.6.1.4.1.391650"])
def test_enterprise_numbers_match_whole_arcs_only(oid: str) -> None:
    assert DB.best("snmp.sys_object_id", oid) is None


@pytest.mark.parametrize(
    ("signal", "value"),
    [
        ("http.www_authenticate", 'Basic realm="DVR"'),
        ("rtsp.www_authenticate", 'Basic realm="DVR"'),
        ("http.title", "DVR"),
        ("http.server", "Webs"),
    ],
)
def test_dvr_alone_identifies_nobody(signal: str, value: str) -> None:
    hits = DB.match(signal, value)
    assert hits and all(h.vendor is None for h in hits)


def test_tivo_dvr_realm_is_tivo_not_a_covered_maker() -> None:
    hit = DB.best("http.www_authenticate", 'Basic realm="TiVo DVR"')
    assert hit is not None and hit.vendor == "TiVo" and hit.entry_id == "tivo-dvr-realm"


def test_dhip_oem_tag_names_intelbras_as_brand_of_dahua() -> None:
    hit = DB.best("dhip.Version", "2.800.00IB00C.0.T")
    assert hit is not None and (hit.vendor, hit.brand, hit.captures["firmware"]) == (
        "Dahua",
        "Intelbras",
        "2.800.00IB00C.0.T",
    )


def test_match_returns_every_matching_file_best_first() -> None:
    hits = DB.match("wsd.scope", "onvif://www.onvif.org/name/HIKVISION%20DS-2CD2385G1-I")
    assert [h.ref for h in hits] == ["onvif_scope:hikvision-onvif-name"]
    assert hits[0].captures == {"model": "DS-2CD2385G1-I"}
    assert DB.match("no.such.signal", "x") == []
    assert DB.match("http.server", "nginx/1.24.0") == []


def test_explain() -> None:
    assert explain("http.server", "DNVRS-Webs") == DB.explain("http.server", "DNVRS-Webs")
    text = explain("http.server", "DNVRS-Webs")
    assert "http_server:hikvision-dnvrs-webs: Hikvision, certainty 0.90" in text
    assert "device type: nvr" in text and "source: rapid7/recog@14fa1a72:xml/http_servers.xml" in text
    assert "no match (" in explain("http.server", "nginx")
    assert "is not a known signal name" in explain("bogus", "x")
    assert "identifies no vendor" in explain("http.www_authenticate", 'Basic realm="camera"')


def test_known_signals() -> None:
    assert (
        is_known_signal("http.server") and is_known_signal("sadp.DeviceSN") and is_known_signal("dhip.Vendor")
    )
    assert not is_known_signal("sadp.") and not is_known_signal("http.nope")


@settings(max_examples=300, deadline=None)
@given(signal=st.sampled_from(sorted(DB.signals)), value=st.text(max_size=300))
def test_hostile_values_never_raise(signal: str, value: str) -> None:
    for hit in DB.match(signal, value):
        assert 0.0 <= hit.certainty <= 1.0


# --- gaps the real-world corpus exposed (tests/data/realworld) -----------------------------------


def test_ezviz_sadp_serial_keeps_the_model_whole_and_names_the_brand() -> None:
    ezviz = DB.best("sadp.DeviceSN", "CS-C6TC-32WFR0120170327CCCH738231995")
    assert ezviz is not None and (ezviz.vendor, ezviz.brand, ezviz.captures["model"]) == (
        "Hikvision",
        "EZVIZ",
        "CS-C6TC-32WFR",
    )
    hikvision = DB.best("sadp.DeviceSN", "DS-2CD2385G1-I20200414AAWRE33842150")
    assert hikvision is not None and (hikvision.entry_id, hikvision.brand) == ("sadp-device-sn", None)
    for model, brand in (("CS-C6TC-32WFR", "EZVIZ"), ("DS-2CD2385G1-I", None)):
        hit = DB.best("sadp.DeviceDescription", model)
        assert hit is not None and (hit.vendor, hit.brand) == ("Hikvision", brand)


@pytest.mark.parametrize(
    "usn",
    [
        "uuid:a9708184-a6c0-413a-bbac-11bcf7e30ece::upnp:rootdevice",  # OnHub UDN: no Huawei OUI
        "uuid:2b38c15c-cb68-df90-3701-00e0fc3dc9bb::upnp:rootdevice",  # 00e0fc only in the tail
        "uuid:00e0fc37-2525-2828-2500-0C31DCD933689::upnp:rootdevice",  # not a UUID (13-digit node)
        "uuid:roku:ecp:X01600CHVGD3",
    ],
)
def test_huawei_oui_usn_reads_only_the_uuid_head(usn: str) -> None:
    assert DB.best("ssdp.usn", usn) is None


def test_huawei_oui_usn_is_medium_evidence() -> None:
    usn = "uuid:00e0fc37-2525-2828-2500-0C31DCD93368::urn:schemas-upnp-org:device:InternetGatewayDevice:1"
    for value in (usn, usn.upper().replace("UUID:", "uuid:")):
        hit = DB.best("ssdp.usn", value)
        assert hit is not None and hit.vendor == "Huawei"
        assert 0.6 <= hit.certainty < 0.9  # alone it must not make a device covered


def test_isapi_firmware_version_info_is_not_the_firmware() -> None:
    hit = DB.best("isapi.device_info", "firmwareVersionInfo=B-R-H3-0")  # a real field beside firmwareVersion
    assert hit is None or "firmware" not in hit.captures


@pytest.mark.parametrize(
    ("value", "hit"),
    [
        ("ZTE Ethernet Switch  ZXR10 5250-52TM-H, Version: V2.05.11B23", True),
        ("AZXR10 5250", False),
        ("ZXR100", False),
    ],
)
def test_zxr10_sysdescr_is_a_whole_word(value: str, hit: bool) -> None:
    found = DB.best("snmp.sys_descr", value)
    assert (found is not None and found.vendor == "ZTE") is hit


def test_huawei_atp_igd_is_read_as_http_and_ssdp_server() -> None:
    value = "Linux UPnP/1.0 Huawei-ATP-IGD"
    for signal in ("http.server", "ssdp.server"):
        hit = DB.best(signal, value)
        assert hit is not None and (hit.vendor, hit.device_type) == ("Huawei", "gateway")


# --- the self-test catches broken data ----------------------------------------------------------

BROKEN = """
matches = ["http.server"]
description = "deliberately broken"

[[fingerprint]]
id = "greedy"
pattern = '^Acme'
description = "matches every Acme string, so it swallows the next entry's example"
vendor = "Axis"
source = "test"
examples = ["Acme"]

[[fingerprint]]
id = "swallowed"
pattern = '^Acme Pro$'
description = "its example is matched first by 'greedy'"
vendor = "Axis"
source = "test"
examples = ["Acme Pro"]

[[fingerprint]]
id = "no-match"
pattern = '^Widget/\\d+$'
description = "its example does not match its pattern"
vendor = "Axis"
source = "test"
examples = ["Widget/x"]

[[fingerprint]]
id = "wrong-capture"
pattern = '^Gizmo/(?P<firmware>\\d+)$'
description = "extracts 1, the example expects 2"
vendor = "Axis"
source = "test"
examples = [{ value = "Gizmo/1", firmware = "2" }]

[[fingerprint]]
id = "unknown-vendor"
pattern = '^Frob$'
description = "names a vendor vendors.toml does not list"
vendor = "Acme Surveillance"
source = "test"
examples = ["Frob"]

[[fingerprint]]
id = "bad-regex"
pattern = '^(unclosed'
description = "does not compile"
vendor = "Axis"
source = "test"
examples = ["(unclosed"]

[[fingerprint]]
id = "bad-capture-name"
pattern = '^Thing (?P<colour>\\w+)$'
description = "captures a field the verdict does not know"
vendor = "Axis"
certainty = 1.5
source = "test"
examples = ["Thing red"]
"""


@pytest.fixture
def broken_dir(tmp_path: Path) -> Path:
    shutil.copy(fingerprints_dir() / "vendors.toml", tmp_path / "vendors.toml")
    (tmp_path / "banners").mkdir()
    (tmp_path / "banners" / "broken.toml").write_text(BROKEN)
    (tmp_path / "banners" / "dupe.toml").write_text(
        'matches = ["http.server", "not.a.signal"]\ndescription = "x"\n[[fingerprint]]\nid = "greedy"\n'
        'pattern = \'^Dup$\'\ndescription = "a duplicate id"\nvendor = "Axis"\nsource = "t"\n'
        f"examples = [{', '.join(repr(f'Dup{i}') for i in range(MAX_EXAMPLES + 1))}]\n"
    )
    return tmp_path


def test_self_test_reports_each_kind_of_failure(broken_dir: Path) -> None:
    report = self_test(broken_dir)
    text = "\n".join(report.failures)
    assert not report.ok
    assert "(swallowed): example 'Acme Pro': matched first by 'greedy' for http.server" in text
    assert "(no-match): example 'Widget/x': does not match the entry's pattern" in text
    assert "(wrong-capture): example 'Gizmo/1': capture firmware is '1', expected '2'" in text
    assert "(unknown-vendor): vendor 'Acme Surveillance' is not in vendors.toml" in text
    assert "(bad-regex): bad regex: missing ), unterminated subpattern" in text
    assert "(bad-capture-name): capture 'colour' is not one of" in text
    assert "(bad-capture-name): certainty 1.5 is not in 0..1" in text
    assert "(greedy): duplicate id (also in broken.toml)" in text
    assert f"(greedy): {MAX_EXAMPLES + 1} examples (at most {MAX_EXAMPLES})" in text
    assert "dupe.toml: unknown signal 'not.a.signal'" in text
    assert report.render().endswith(f"{len(report.failures)} failures")


def test_loading_broken_data_raises_data_error_naming_file_entry_and_reason(broken_dir: Path) -> None:
    with pytest.raises(
        DataError,
        match=r"broken\.toml:\d+: fingerprint #\d+ \(unknown-vendor\): vendor 'Acme Surveillance' is not in vendors\.toml",
    ):
        load_database(broken_dir)


def test_schema_errors_name_the_file_and_entry(tmp_path: Path) -> None:
    shutil.copy(fingerprints_dir() / "vendors.toml", tmp_path / "vendors.toml")
    (tmp_path / "banners").mkdir()
    (tmp_path / "banners" / "x.toml").write_text(
        'matches = "http.server"\ndescription = "x"\n[[fingerprint]]\nid = "a"\npattern = "^a$"\n'
        'description = "no source, no examples"\nvendor = "Axis"\n'
    )
    with pytest.raises(DataError, match=r"x\.toml:3: fingerprint #1 \(a\): source: Field required"):
        load_database(tmp_path)
    (tmp_path / "banners" / "x.toml").write_text("matches = [")
    with pytest.raises(DataError, match=r"x\.toml:1: not valid TOML"):
        load_database(tmp_path)
