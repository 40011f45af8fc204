"""The §889 verdict on devices built from real observations (docs/PROTOCOLS.md, docs/COVERED-ENTITIES.md)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from paths import DATA_DIR

from scanner.discovery.dhip import dhip_reply
from scanner.discovery.parsers.dhip import build_reply
from scanner.discovery.request_reply import Reply
from scanner.discovery.sadp import sadp_reply
from scanner.identify.models import Status, Verdict
from scanner.identify.verdict import identify
from scanner.observations import Device, Observation

SADP_HIKVISION = [  # DS-2CD2385G1-I ProbeMatch, ref 28488762960
    ("sadp", "sadp.reply", "DS-2CD2385G1-I"),
    ("sadp", "sadp.DeviceType", "141945"),
    ("sadp", "sadp.DeviceDescription", "DS-2CD2385G1-I"),
    ("sadp", "sadp.DeviceSN", "DS-2CD2385G1-I20200414AAWRE33842150"),
    ("sadp", "sadp.CommandPort", "8000"),
    ("sadp", "sadp.MAC", "58-50-ed-1f-e3-85"),
    ("sadp", "sadp.SoftwareVersion", "V5.6.2build 190701"),
    ("sadp", "sadp.DSPVersion", "V7.3 build 190626"),
    ("sadp", "sadp.DetailOEMCode", "1"),
]
ONVIF_HIKVISION = [
    ("wsd", "wsd.types", "dn:NetworkVideoTransmitter tds:Device"),
    ("wsd", "wsd.scope", "onvif://www.onvif.org/hardware/DS-2CD2385G1-I"),
    ("wsd", "wsd.scope", "onvif://www.onvif.org/name/HIKVISION%20DS-2CD2385G1-I"),
    ("wsd", "wsd.scope", "onvif://www.onvif.org/location/city/hangzhou"),
    ("wsd", "onvif.name", "HIKVISION DS-2CD2385G1-I"),
    ("wsd", "onvif.hardware", "DS-2CD2385G1-I"),
]


def device(mac: str | None, *observations: tuple[str, str, str]) -> Device:
    obs = [Observation(signal=s, value=v, probe=p, ip="192.168.124.40", mac=mac) for p, s, v in observations]
    if mac:
        obs.insert(0, Observation(signal="mac", value=mac, probe="arp", ip="192.168.124.40", mac=mac))
    return Device(ip="192.168.124.40", mac=mac, observations=obs)


def said(probe: str, **fields: str) -> list[tuple[str, str, str]]:
    """What ``probe`` recorded: (probe, "<probe>.<field>", value) for each field, in order."""
    return [(probe, f"{probe}.{name}", value) for name, value in fields.items()]


def who(v: Verdict) -> tuple[Status, str | None, str | None, str | None, bool]:
    """(status, covered entity, maker, label, label mismatch): who the verdict says made the device."""
    return (v.status, v.covered_entity, v.vendor, v.brand, v.brand_mismatch)


def matched(verdict: Verdict) -> dict[str, bool]:
    return {e.matched: e.supports for e in verdict.evidence}


def test_hikvision_camera_sadp_oui_onvif() -> None:
    v = identify(device("58:50:ed:1f:e3:85", *SADP_HIKVISION, *ONVIF_HIKVISION))
    assert who(v) == (Status.COVERED, "Hikvision", "Hikvision", None, False)
    assert (v.model, v.serial, v.firmware, v.device_type) == (
        "DS-2CD2385G1-I",
        "DS-2CD2385G1-I20200414AAWRE33842150",
        "V5.6.2build 190701",
        "camera",
    )
    assert v.scope is not None and v.scope.startswith("FAR 52.204-25(a)(2)")
    assert v.confidence > 0.99
    ev = matched(v)
    assert ev["oui:58:50:ED Hangzhou Hikvision Digital Technology Co.,Ltd."] is True
    assert ev["sadp:sadp-reply"] is True and ev["onvif_scope:hikvision-onvif-name"] is True
    assert all(e.supports for e in v.evidence)


def test_dahua_dhip_vendor_private() -> None:
    dahua = {"DeviceClass": "IPC", "DeviceType": "IPC-HDW1431T1-S4", "Version": "2.800.0000000.13.R"}
    v = identify(device("08:ed:ed:11:22:33", *said("dhip", reply="yes", Vendor="Private", **dahua)))
    assert who(v) == (Status.COVERED, "Dahua", "Dahua", None, False)
    assert (v.model, v.firmware, v.device_type) == ("IPC-HDW1431T1-S4", "2.800.0000000.13.R", "camera")
    assert "dhip:dhip-vendor-private" in matched(v)
    assert "oui:08:ED:ED Zhejiang Dahua Technology Co., Ltd." in matched(v)


def test_intelbras_is_dahua_with_an_intelbras_label() -> None:
    firmware = {"DeviceType": "VIP-1230-D-G4", "Version": "2.800.00IB00C.0.T"}
    v = identify(device("58:10:8c:11:22:33", *said("dhip", reply="yes", Vendor="IntelBras", **firmware)))
    assert who(v) == (Status.COVERED, "Dahua", "Dahua", "Intelbras", True)
    assert "labelled Intelbras: rebrand of Dahua" in v.notes
    assert (v.model, v.firmware) == ("VIP-1230-D-G4", "2.800.00IB00C.0.T")
    assert matched(v)["oui:58:10:8C Intelbras"] is True  # the OEM's own OUI agrees with the label


def test_hiwatch_label_on_hikvision_firmware_behind_a_wifi_module_oui() -> None:
    sadp = said("sadp", reply="DS-2CD2385G1-I", DeviceDescription="DS-2CD2385G1-I")
    v = identify(device("20:f4:1b:a0:b1:c2", *sadp, ("wsd", "onvif.name", "HiWatch")))
    assert who(v) == (Status.COVERED, "Hikvision", "Hikvision", "HiWatch", True)
    assert "labelled HiWatch: rebrand of Hikvision" in v.notes
    oui = next(e for e in v.evidence if e.matched.startswith("oui:20:F4:1B"))
    assert oui.vendor is None and oui.certainty == 0.0  # Shenzhen Bilian: a module maker, says nothing


def test_ezviz_by_oui_only_is_likely_hikvision() -> None:
    v = identify(device("20:bb:bc:11:22:33"))
    assert (v.status, v.covered_entity, v.vendor, v.brand_mismatch) == (
        Status.LIKELY,
        "Hikvision",
        "EZVIZ",
        False,
    )
    assert 0 < v.confidence < 0.9


@pytest.mark.parametrize(
    ("mac", "entity"),
    [
        ("00:18:82:11:22:33", "Huawei"),
        ("00:15:eb:11:22:33", "ZTE"),
        ("64:69:bc:11:22:33", "Hytera"),
        ("9c:06:6e:11:22:33", "Hytera"),
    ],
)
def test_covered_entity_oui_only_is_likely(mac: str, entity: str) -> None:
    v = identify(device(mac))
    assert (v.status, v.covered_entity, v.vendor) == (Status.LIKELY, entity, entity)
    assert v.scope is not None


def test_zte_oui_and_telnet_banner_agree_so_covered() -> None:
    v = identify(device("00:15:eb:11:22:33", ("telnet", "telnet.banner", "ZXHN H108N\r\nLogin:")))
    assert (v.status, v.covered_entity, v.model, v.device_type) == (
        Status.COVERED,
        "ZTE",
        "ZXHN H108N",
        "gateway",
    )


def test_two_independent_medium_signals_make_covered() -> None:
    oui_only = identify(device("08:ed:ed:11:22:33"))
    both = identify(device("08:ed:ed:11:22:33", ("rtsp", "rtsp.server", "Rtsp Server/3.0")))
    assert oui_only.status is Status.LIKELY
    assert both.status is Status.COVERED and both.confidence > oui_only.confidence


def test_axis_is_not_covered() -> None:
    realm = ("http", "http.www_authenticate", 'Digest realm="AXIS_00408C112233"')
    upnp = [("ssdp", "upnp.manufacturer", "AXIS"), ("ssdp", "upnp.model_name", "AXIS M1014")]
    v = identify(device("00:40:8c:11:22:33", realm, *upnp))
    assert (v.status, v.covered_entity, v.vendor, v.brand) == (Status.NOT_COVERED, None, "Axis", None)
    assert v.model == "M1014" and v.device_type == "camera"


def test_hanwha_is_not_covered() -> None:
    v = identify(device("44:b4:23:11:22:33", ("http", "http.www_authenticate", 'Digest realm="iPolis"')))
    assert (v.status, v.covered_entity, v.vendor) == (Status.NOT_COVERED, None, "Hanwha Vision")


def test_uniview_is_not_covered_and_not_named_in_889() -> None:
    v = identify(device("48:ea:63:11:22:33"))
    assert (v.status, v.covered_entity, v.vendor) == (Status.NOT_COVERED, None, "Uniview")
    assert any("not named in §889" in n for n in v.notes)


def test_tivo_dvr_realm_is_never_covered() -> None:
    v = identify(device(None, ("http", "http.www_authenticate", 'Basic realm="TiVo DVR"')))
    assert (v.status, v.vendor, v.covered_entity) == (Status.NOT_COVERED, "TiVo", None)
    generic = identify(device(None, ("http", "http.www_authenticate", 'Basic realm="DVR"')))
    assert (generic.status, generic.vendor) == (Status.UNKNOWN, None)
    assert generic.evidence[0].matched == "www_authenticate:generic-camera-realms"


def test_xiongmai_uc_httpd_is_not_covered() -> None:
    v = identify(
        device(None, ("http", "http.server", "uc-httpd 1.0.0"), ("http", "http.title", "NETSurveillance WEB"))
    )
    assert (v.status, v.vendor, v.device_type) == (Status.NOT_COVERED, "Xiongmai", "dvr")


def test_honor_oui_is_not_covered_after_the_sale() -> None:
    v = identify(device("00:a3:07:11:22:33"))
    assert (v.status, v.vendor, v.covered_entity) == (Status.NOT_COVERED, "Honor", None)
    assert any("2020-11-17" in n for n in v.notes)
    before = identify(device("00:a3:07:11:22:33"), on_date=date(2020, 6, 1))  # Huawei's, §889 in force
    assert (before.status, before.covered_entity) == (Status.LIKELY, "Huawei")


def test_randomised_mac_alone_is_unknown() -> None:
    v = identify(device("da:a1:19:5e:00:01", ("mdns", "hostname", "iPhone")))
    assert (v.status, v.vendor, v.confidence) == (Status.UNKNOWN, None, 0.0)
    assert any(n.startswith("no OUI evidence") for n in v.notes)


def test_amcrest_oui_only_is_suspected_dahua() -> None:
    """Amcrest -> Dahua rests on community sources (unverified edge): suspected, never covered."""
    v = identify(device("00:65:1e:11:22:33"))
    assert (v.status, v.covered_entity, v.vendor, v.brand) == (Status.SUSPECTED, "Dahua", "Amcrest", None)
    assert any("Amcrest: rebrand of Dahua (unverified)" in n for n in v.notes)


def test_lorex_oui_notes_the_sale_and_dahua_firmware_still_decides() -> None:
    oui_only = identify(device("00:1f:54:11:22:33"))
    # after the sale a Lorex OUI alone may still be a Dahua-years unit: a review, never a clearance
    assert (oui_only.status, oui_only.covered_entity, oui_only.vendor) == (Status.SUSPECTED, "Dahua", "Lorex")
    assert any("2022-11" in n and "Skywatch" in n for n in oui_only.notes)
    assert any("units from before the ownership change are Dahua-built" in n for n in oui_only.notes)
    realm = (
        'Digest realm="Login to ND021811019863",qop="auth",nonce="211955164",'
        'opaque="9a206a55e922ee7900769ec61ae49bf0c1f30242"'
    )
    v = identify(device("00:1f:54:11:22:33", ("rtsp", "rtsp.www_authenticate", realm)))
    assert (v.status, v.covered_entity, v.vendor, v.brand, v.brand_mismatch, v.serial) == (
        Status.COVERED,
        "Dahua",
        "Dahua",
        "Lorex",
        True,
        "ND021811019863",
    )
    assert all(e.supports for e in v.evidence)  # the Lorex OUI does not count against Dahua
    in_2021 = identify(device("00:1f:54:11:22:33"), on_date=date(2021, 1, 1))
    assert (in_2021.status, in_2021.covered_entity) == (Status.LIKELY, "Dahua")


def test_huawei_oui_with_non_covered_banners_records_both() -> None:
    v = identify(
        device("00:18:82:11:22:33", ("http", "http.www_authenticate", 'Digest realm="AXIS_00408C112233"'))
    )
    assert (v.status, v.covered_entity) == (Status.SUSPECTED, "Huawei")
    ev = matched(v)
    assert ev["oui:00:18:82 HUAWEI TECHNOLOGIES CO.,LTD"] is True
    assert ev["www_authenticate:axis-realm"] is False
    assert any(n.startswith("conflicting evidence") for n in v.notes)


def test_cp_plus_label_with_dahua_scope_layout() -> None:
    v = identify(
        device(
            None,
            ("wsd", "wsd.scope", "onvif://www.onvif.org/name/CP_PLUS"),
            ("wsd", "wsd.scope", "onvif://www.onvif.org/hardware/CP-UNC-DA21PL3C-V3"),
            ("wsd", "wsd.scope", "onvif://www.onvif.org/extension/unique_identifier/1"),
        )
    )
    assert who(v) == (Status.LIKELY, "Dahua", "Dahua", "CP PLUS", True)
    assert v.model == "CP-UNC-DA21PL3C-V3"


def test_hisilicon_sdk_dvr_depends_on_policy() -> None:
    dvr = device(None, ("http", "http.server", "Cross Web Server"))
    assert identify(dvr).status is Status.NOT_COVERED
    opted_in = identify(dvr, hisilicon_covered=True)
    assert (opted_in.status, opted_in.covered_entity) == (Status.LIKELY, "Huawei")


def test_nothing_observed_is_unknown() -> None:
    v = identify(Device(ip="10.0.0.9"))
    assert v == Verdict()


def answer_device(answer: Reply, probe: str) -> Device:
    obs = [
        Observation(signal=s, value=v, probe=probe, ip=answer.responder, mac=answer.mac)
        for s, v in answer.fields
    ]
    return Device(ip=answer.responder, mac=answer.mac, observations=obs)


DATA = DATA_DIR


@pytest.mark.parametrize(
    ("capture", "brand", "model", "firmware", "device_type"),
    [
        ("dahua_ipc-hdw1431t1-s4", None, "IPC-HDW1431T1-S4", "2.800.0000000.13.R", "camera"),
        ("intelbras_mhdx-1016", "Intelbras", "MHDX 1016", "3.210.IB01.3", "dvr"),
        ("intelbras_vip-1230-d-g4", "Intelbras", "VIP-1230-D-G4", "2.800.00IB00C.0.T", "camera"),
    ],
)
def test_dhip_replies_through_the_probe_parser(
    capture: str, brand: str | None, model: str, firmware: str, device_type: str
) -> None:
    body = json.loads((DATA / "dhip" / f"{capture}.json").read_text())
    answer = dhip_reply(build_reply(body["mac"], body["params"]["deviceInfo"]), "192.0.2.1")
    assert answer is not None
    v = identify(answer_device(answer, "dhip"))
    assert who(v) == (Status.COVERED, "Dahua", "Dahua", brand, brand is not None)
    assert (v.model, v.firmware, v.device_type) == (model, firmware, device_type)


def test_sadp_replies_through_the_probe_parser() -> None:
    answer = sadp_reply((DATA / "sadp" / "probematch_ds-2cd2385g1-i.xml").read_bytes(), "192.0.2.1")
    assert answer is not None
    v = identify(answer_device(answer, "sadp"))
    assert (v.status, v.covered_entity, v.brand, v.model) == (
        Status.COVERED,
        "Hikvision",
        None,
        "DS-2CD2385G1-I",
    )
    oem = sadp_reply((DATA / "sadp" / "probematch_oem_one_line.xml").read_bytes(), "192.0.2.1")
    assert oem is not None
    v = identify(answer_device(oem, "sadp"))  # a fixture: OEMInfo names the label
    assert (v.status, v.vendor, v.brand, v.brand_mismatch) == (Status.COVERED, "Hikvision", "HiWatch", True)
    assert v.serial == "IPC-B120-D/W20220510AAWRJ12345678"


REALWORLD = DATA / "realworld"


def test_ezviz_sadp_reply_is_hikvision_labelled_ezviz() -> None:
    answer = sadp_reply((REALWORLD / "sadp" / "ezviz_cs-c6tc-32wfr.xml").read_bytes(), "192.0.2.1")
    assert answer is not None
    v = identify(answer_device(answer, "sadp"))
    assert who(v) == (Status.COVERED, "Hikvision", "Hikvision", "EZVIZ", True)
    assert (v.model, v.serial) == ("CS-C6TC-32WFR", "CS-C6TC-32WFR0120170327CCCH738231995")
    assert "labelled EZVIZ: rebrand of Hikvision" in v.notes
    full = answer_device(answer, "sadp")
    serial_only = [o for o in full.observations if o.signal not in ("sadp.DeviceDescription", "sadp.reply")]
    without_model = Device(ip=full.ip, mac=full.mac, observations=serial_only)
    assert identify(without_model).model == "CS-C6TC-32WFR"  # from the serial, without the '01' after it


def test_isapi_device_info_gives_serial_and_firmware() -> None:
    from scanner.discovery.parsers.vendor_endpoints import parse_isapi_device_info

    body = (REALWORLD / "banners" / "isapi_device_info_ds-2cd7a47fwd-xzs.xml").read_bytes()
    fields = parse_isapi_device_info(body)
    v = identify(device(None, *(("http", "isapi.device_info", f"{k}={x}") for k, x in fields)))
    assert (v.status, v.vendor, v.model, v.serial, v.firmware) == (
        Status.COVERED,
        "Hikvision",
        "DS-2CD7A47FWD-XZS",
        "DS-2CD7A47FWD-XZS20190228AACHC96234444",
        "V5.6.1",
    )


def test_huawei_oui_usn_alone_is_likely_and_with_a_huawei_mac_covered() -> None:
    value = "uuid:00e0fc37-2525-2828-2500-0C31DCD93368::urn:schemas-upnp-org:device:InternetGatewayDevice:1"
    usn = ("ssdp", "ssdp.usn", value)
    alone = identify(device(None, usn))
    assert (alone.status, alone.covered_entity, alone.vendor) == (Status.LIKELY, "Huawei", "Huawei")
    with_mac = identify(device("0c:31:dc:d9:33:68", usn))  # the Huawei OUI its UUID ends with
    assert (with_mac.status, with_mac.covered_entity) == (Status.COVERED, "Huawei")


@pytest.mark.parametrize(
    ("sys_descr", "entity", "status"),
    [
        ("Hikvision company products", "Hikvision", Status.LIKELY),
        ("ZTE Ethernet Switch  ZXR10 5250-52TM-H, Version: V2.05.11B23", "ZTE", Status.COVERED),
    ],
)
def test_snmp_sys_descr_names_the_maker(sys_descr: str, entity: str, status: Status) -> None:
    v = identify(device(None, ("snmp", "snmp.sys_descr", sys_descr)))
    assert (v.status, v.covered_entity, v.vendor) == (status, entity, entity)
