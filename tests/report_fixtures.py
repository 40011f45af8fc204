"""A hand-built, realistic ScanReport for the report-format tests (imported, not a conftest).

Values follow docs/PROTOCOLS.md: a real SADP ProbeMatch (DS-2CD2385G1-I, MAC 58-50-ed-1f-e3-85),
IEEE OUIs (Hikvision 58:50:ED, EZVIZ 64:F2:FB, Amcrest 9C:8E:CD, Dahua E0:50:8B, Axis AC:CC:8E,
Huawei 00:1E:10) and the Axis UPnP description from axis-js test mocks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from scanner.identify.models import Evidence, Status, Verdict
from scanner.observations import Observation
from scanner.results import DeviceReport, ProbeSummary, ScanReport

T0 = datetime(2024, 5, 14, 9, 30, 0, tzinfo=UTC)

# Everything a hostile device might put in a banner: markup, quotes, CSV separators, newlines,
# non-ASCII text, a terminal escape and a bidi override.
HOSTILE = '<script>alert(1)</script> "quotes", commas; new\nline ünïcødé 東京 \x1b[2J \u202eevil'
# Executes (sets data-pwned on <html>) if an HTML report ever lets it through unescaped.
HOSTILE_HTML = "<img src=x onerror=\"document.documentElement.setAttribute('data-pwned','1')\">"
FORMULA = '=HYPERLINK("http://attacker.example/","click")'
WAIVER = "Isolated lab VLAN 30, cannot route user data; CO approval 2024-03-01 (FAR 52.204-25(b))"


def _obs(
    signal: str, value: str, probe: str, ip: str, mac: str | None, port: int | None = None, dt: int = 0
) -> Observation:
    return Observation(
        signal=signal, value=value, probe=probe, ip=ip, mac=mac, port=port, seen_at=T0 + timedelta(seconds=dt)
    )


def _ev(
    probe: str, signal: str, value: str, matched: str, vendor: str | None, certainty: float, **extra: Any
) -> Evidence:
    return Evidence(
        probe=probe, signal=signal, value=value, matched=matched, vendor=vendor, certainty=certainty, **extra
    )


def hikvision_covered() -> DeviceReport:
    ip, mac = "192.168.1.64", "58:50:ed:1f:e3:85"
    return DeviceReport(
        ip=ip,
        mac=mac,
        probes=["arp", "http", "sadp"],
        observations=[
            _obs("mac", mac, "arp", ip, mac, dt=1),
            _obs("sadp.DeviceDescription", "DS-2CD2385G1-I", "sadp", ip, mac, 37020, dt=3),
            _obs("sadp.DeviceSN", "DS-2CD2385G1-I20200414AAWRE33842150", "sadp", ip, mac, 37020, dt=3),
            _obs("sadp.SoftwareVersion", "V5.6.2build 190701", "sadp", ip, mac, 37020, dt=3),
            _obs("http.server", "App-webs/", "http", ip, mac, 80, dt=9),
        ],
        verdict=Verdict(
            status=Status.COVERED,
            confidence=0.97,
            vendor="Hikvision",
            covered_entity="Hikvision",
            scope="FAR 52.204-25(a)(2): video surveillance equipment",
            device_type="camera",
            model="DS-2CD2385G1-I",
            serial="DS-2CD2385G1-I20200414AAWRE33842150",
            firmware="V5.6.2build 190701",
            evidence=[
                _ev(
                    "sadp",
                    "sadp.DeviceDescription",
                    "DS-2CD2385G1-I",
                    "fingerprints/sadp.toml:sadp-reply",
                    "Hikvision",
                    0.95,
                    port=37020,
                    note="only Hikvision-ecosystem firmware answers SADP",
                ),
                _ev(
                    "arp",
                    "mac",
                    mac,
                    "oui:58:50:ED Hangzhou Hikvision Digital Technology Co.,Ltd.",
                    "Hikvision",
                    0.6,
                ),
                _ev(
                    "http",
                    "http.server",
                    "App-webs/",
                    "fingerprints/http_server.toml:hik-app-webs",
                    "Hikvision",
                    0.6,
                    port=80,
                ),
            ],
        ),
    )


def ezviz_likely() -> DeviceReport:
    ip, mac = "192.168.1.71", "64:f2:fb:12:34:56"
    return DeviceReport(
        ip=ip,
        mac=mac,
        probes=["arp"],
        observations=[_obs("mac", mac, "arp", ip, mac, dt=1)],
        verdict=Verdict(
            status=Status.LIKELY,
            confidence=0.6,
            vendor="EZVIZ",
            covered_entity="Hikvision",
            scope="FAR 52.204-25(a)(2): subsidiary of Hikvision",
            evidence=[
                _ev(
                    "arp",
                    "mac",
                    mac,
                    "oui:64:F2:FB Hangzhou Ezviz Software Co.,Ltd.",
                    "EZVIZ",
                    0.6,
                    note="EZVIZ is a Hikvision subsidiary",
                )
            ],
            notes=["OUI only: confirm with a protocol probe"],
        ),
    )


def amcrest_suspected() -> DeviceReport:
    ip, mac = "192.168.1.80", "9c:8e:cd:0a:1b:2c"
    return DeviceReport(
        ip=ip,
        mac=mac,
        probes=["arp", "dhip", "ssdp"],
        hostnames=["amcrest-cam.local"],
        observations=[
            _obs("mac", mac, "arp", ip, mac, dt=1),
            _obs("dhip.DeviceType", "IP2M-841B", "dhip", ip, mac, 37810, dt=4),
            _obs("upnp.manufacturer", "Amcrest", "ssdp", ip, mac, 49152, dt=6),
        ],
        verdict=Verdict(
            status=Status.SUSPECTED,
            confidence=0.5,
            vendor="Dahua",
            brand="Amcrest",
            covered_entity="Dahua",
            device_type="camera",
            model="IP2M-841B",
            brand_mismatch=True,
            evidence=[
                _ev(
                    "dhip",
                    "dhip.DeviceType",
                    "IP2M-841B",
                    "fingerprints/dhip.toml:dhip-reply",
                    "Dahua",
                    0.7,
                    port=37810,
                ),
                _ev("arp", "mac", mac, "oui:9C:8E:CD Amcrest Technologies", "Amcrest", 0.6, brand="Amcrest"),
                _ev(
                    "ssdp",
                    "upnp.manufacturer",
                    "Amcrest",
                    "fingerprints/rebrands.toml:amcrest-dahua",
                    "Dahua",
                    0.5,
                    brand="Amcrest",
                    note="community source, unverified OEM edge",
                ),
            ],
            notes=["label says Amcrest, protocols say Dahua"],
        ),
    )


def axis_not_covered() -> DeviceReport:
    ip, mac = "192.168.1.90", "ac:cc:8e:27:0a:d8"
    return DeviceReport(
        ip=ip,
        mac=mac,
        probes=["arp", "ssdp"],
        observations=[
            _obs("mac", mac, "arp", ip, mac, dt=1),
            _obs("upnp.manufacturer", "AXIS", "ssdp", ip, mac, 49152, dt=5),
            _obs("upnp.model_name", "AXIS M1014", "ssdp", ip, mac, 49152, dt=5),
        ],
        verdict=Verdict(
            status=Status.NOT_COVERED,
            confidence=0.9,
            vendor="Axis",
            device_type="camera",
            model="AXIS M1014",
            serial="ACCC8E270AD8",
            evidence=[
                _ev(
                    "ssdp",
                    "upnp.manufacturer",
                    "AXIS",
                    "fingerprints/upnp.toml:axis",
                    "Axis",
                    0.8,
                    port=49152,
                ),
                _ev("arp", "mac", mac, "oui:AC:CC:8E Axis Communications AB", "Axis", 0.6),
            ],
        ),
    )


def randomised_unknown() -> DeviceReport:
    ip, mac = "192.168.1.120", "3a:1f:9c:44:e0:01"
    return DeviceReport(
        ip=ip,
        mac=mac,
        probes=["arp"],
        hostnames=["Pixel-7"],
        observations=[_obs("mac", mac, "arp", ip, mac, dt=2)],
        verdict=Verdict(notes=["locally administered (randomised) MAC: no OUI to look up"]),
    )


def dahua_waived() -> DeviceReport:
    ip, mac = "192.168.30.10", "e0:50:8b:01:02:03"
    return DeviceReport(
        ip=ip,
        mac=mac,
        probes=["arp", "dhip", "http"],
        observations=[
            _obs("mac", mac, "arp", ip, mac, dt=1),
            _obs("dhip.DeviceType", "DHI-NVR4108HS-4KS2", "dhip", ip, mac, 37810, dt=4),
        ],
        verdict=Verdict(
            status=Status.COVERED,
            confidence=0.95,
            vendor="Dahua",
            covered_entity="Dahua",
            scope="FAR 52.204-25(a)(2): video surveillance equipment",
            device_type="nvr",
            model="DHI-NVR4108HS-4KS2",
            serial="6G0AB12PAZ3F4D1",
            waived=True,
            waiver=WAIVER,
            evidence=[
                _ev(
                    "dhip",
                    "dhip.DeviceType",
                    "DHI-NVR4108HS-4KS2",
                    "fingerprints/dhip.toml:dhip-reply",
                    "Dahua",
                    0.95,
                    port=37810,
                ),
                _ev("arp", "mac", mac, "oui:E0:50:8B Zhejiang Dahua Technology Co., Ltd.", "Dahua", 0.6),
            ],
        ),
    )


def hostile_likely() -> DeviceReport:
    ip, mac = "192.168.1.200", "00:1e:10:de:ad:01"
    return DeviceReport(
        ip=ip,
        mac=mac,
        probes=["arp", "http"],
        hostnames=[HOSTILE_HTML, 'router,"lan"'],
        observations=[
            _obs("mac", mac, "arp", ip, mac, dt=1),
            _obs("http.server", HOSTILE, "http", ip, mac, 80, dt=7),
            _obs("http.title", HOSTILE_HTML, "http", ip, mac, 80, dt=7),
        ],
        verdict=Verdict(
            status=Status.LIKELY,
            confidence=0.6,
            vendor="Huawei",
            covered_entity="Huawei",
            scope="FAR 52.204-25(a)(1): telecommunications equipment",
            device_type="router",
            model=HOSTILE,
            serial=FORMULA,
            firmware="V200R010C10SPC700\r\n| pipe | `tick` *star*",
            evidence=[
                _ev("arp", "mac", mac, "oui:00:1E:10 HUAWEI TECHNOLOGIES CO.,LTD", "Huawei", 0.6),
                _ev(
                    "http",
                    "http.server",
                    HOSTILE,
                    "fingerprints/http_server.toml:none",
                    None,
                    0.1,
                    port=80,
                    supports=False,
                    note="banner names no vendor",
                ),
                _ev(
                    "http",
                    "http.title",
                    HOSTILE_HTML,
                    "fingerprints/http_title.toml:none",
                    None,
                    0.1,
                    port=80,
                    supports=False,
                ),
            ],
        ),
    )


def sample_report() -> ScanReport:
    """Seven devices, one per case the formats must handle; an incomplete scan (ARP lacked privileges)."""
    return ScanReport(
        scan_id="lab-2024-05-14T0930Z",
        tool_version="0.1.0",
        started_at=T0,
        finished_at=T0 + timedelta(seconds=72),
        complete=False,
        targets=["192.168.1.0/24", "192.168.30.0/28"],
        interface="eth0",
        probes=[
            ProbeSummary(probe="arp", status="success", duration=3.2),
            ProbeSummary(probe="sadp", status="success", duration=4.0),
            ProbeSummary(probe="dhip", status="success", duration=4.0),
            ProbeSummary(probe="ssdp", status="success", duration=5.1),
            ProbeSummary(probe="http", status="success", duration=11.7),
            ProbeSummary(probe="snmp", status="partial", duration=30.0, error="no reply within 30 s"),
        ],
        notes=["snmp timed out: SNMP-only devices may be missing"],
        oui_registry_date="2024-05-01",
        # Deliberately not in report order: formats must put covered devices first themselves.
        devices=[
            axis_not_covered(),
            randomised_unknown(),
            ezviz_likely(),
            hostile_likely(),
            amcrest_suspected(),
            hikvision_covered(),
            dahua_waived(),
        ],
    )


def large_report(n: int = 1000) -> ScanReport:
    """n devices cycling through the sample's seven, with distinct addresses (for timing)."""
    base = sample_report()
    devices = []
    for i in range(n):
        d = base.devices[i % len(base.devices)].model_copy(deep=True)
        d.ip = f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"
        d.mac = f"02:00:00:{i // 65536:02x}:{i // 256 % 256:02x}:{i % 256:02x}"
        devices.append(d)
    return base.model_copy(update={"devices": devices})


# Escape, C1 CSI, DEL, bidi override and isolate, a formula start and a line break: what a heard host's
# SADP reply (any multicast answer) might carry.
CONTROL_CHARS = "\x1b]0;pwned\x07\x9b31m\x7f\u202egnp.exe\u2066x\u2069\r\n"
HOSTILE_CONTROL = f"=cmd|' /C calc'!A0 {CONTROL_CHARS}end"


def hikvision_heard() -> DeviceReport:
    """A Hikvision NVR outside the targets that answered the SADP multicast inquiry (never probed further)."""
    ip, mac = "10.9.0.5", "58:50:ed:aa:bb:01"
    return DeviceReport(
        ip=ip,
        mac=mac,
        probes=["sadp"],
        observations=[
            _obs("sadp.DeviceDescription", "DS-7608NI-K2", "sadp", ip, mac, 37020, dt=3),
            _obs("sadp.MAC", "58-50-ed-aa-bb-01", "sadp", ip, mac, 37020, dt=3),
        ],
        verdict=Verdict(
            status=Status.COVERED,
            confidence=0.95,
            vendor="Hikvision",
            covered_entity="Hikvision",
            device_type="nvr",
            model="DS-7608NI-K2",
            evidence=[
                _ev(
                    "sadp",
                    "sadp.DeviceDescription",
                    "DS-7608NI-K2",
                    "fingerprints/sadp.toml:sadp-reply",
                    "Hikvision",
                    0.95,
                    port=37020,
                )
            ],
        ),
    )


def hostile_heard() -> DeviceReport:
    """A heard host whose every string is hostile: control characters, bidi, a formula."""
    ip, mac = "10.9.0.66", "00:1e:10:66:66:66"
    return DeviceReport(
        ip=ip,
        mac=mac,
        probes=["ssdp"],
        hostnames=[HOSTILE_CONTROL],
        observations=[_obs("upnp.model_name", HOSTILE_CONTROL, "ssdp", ip, mac, 1900, dt=4)],
        verdict=Verdict(
            status=Status.LIKELY,
            confidence=0.6,
            vendor="Huawei",
            covered_entity="Huawei",
            model=HOSTILE_CONTROL,
            serial=HOSTILE_CONTROL,
            firmware=CONTROL_CHARS,
            evidence=[
                _ev("ssdp", "upnp.model_name", HOSTILE_CONTROL, "fingerprints/upnp.toml:none", "Huawei", 0.6)
            ],
            notes=[HOSTILE_CONTROL],
        ),
    )


def heard_report(*, complete: bool = True) -> ScanReport:
    """One clean target (an Axis camera) and two flagged hosts heard outside the targets."""
    return ScanReport(
        scan_id="heard-2024-05-14",
        tool_version="0.1.0",
        started_at=T0,
        finished_at=T0 + timedelta(seconds=20),
        complete=complete,
        targets=["192.168.1.90"],
        interface="eth0",
        probes=[ProbeSummary(probe="sadp", status="success", duration=3.0)],
        oui_registry_date="2024-05-01",
        devices=[axis_not_covered()],
        heard=[hostile_heard(), hikvision_heard()],
    )
