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


Obs = tuple[str, str, str, "int | None", int]  # (signal, value, probe, port, seconds after T0)
Hw = tuple["str | None", ...]  # (device_type, model, serial, firmware), None where unknown
SURVEILLANCE = "FAR 52.204-25(a)(2): video surveillance equipment"
SADP_REPLY, DHIP_REPLY = "fingerprints/sadp.toml:sadp-reply", "fingerprints/dhip.toml:dhip-reply"
# the order the formats list the sample's devices in (covered first)
SAMPLE_STATUS_ORDER = ["covered", "covered", "likely", "likely", "suspected", "not-covered", "unknown"]


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


def _oui_ev(mac: str, org: str, vendor: str, **extra: Any) -> Evidence:
    """An OUI lookup's evidence: ``org`` is the IEEE organisation of ``mac``'s first three octets."""
    return _ev("arp", "mac", mac, f"oui:{mac[:8].upper()} {org}", vendor, 0.6, **extra)


def _verdict(
    status: Status,
    confidence: float,
    vendor: str,
    entity: str | None,
    evidence: list[Evidence],
    hw: Hw,
    **extra: Any,
) -> Verdict:
    fields = dict(zip(("device_type", "model", "serial", "firmware"), hw, strict=False))
    given = {k: v for k, v in fields.items() if v is not None}
    return Verdict(
        status=status,
        confidence=confidence,
        vendor=vendor,
        covered_entity=entity,
        evidence=evidence,
        **given,
        **extra,
    )


def _device(
    ip: str, mac: str, probes: list[str], obs: list[Obs], verdict: Verdict, **extra: Any
) -> DeviceReport:
    """A device whose observations all came from ``ip``/``mac``; with the "arp" probe, its MAC observation
    comes first (``arp_dt`` seconds after T0, 1 unless said)."""
    arp: list[Obs] = [("mac", mac, "arp", None, extra.pop("arp_dt", 1))] if "arp" in probes else []
    observations = [_obs(s, v, probe, ip, mac, port, dt) for s, v, probe, port, dt in arp + obs]
    return DeviceReport(ip=ip, mac=mac, probes=probes, observations=observations, verdict=verdict, **extra)


def hikvision_covered() -> DeviceReport:
    ip, mac = "192.168.1.64", "58:50:ed:1f:e3:85"
    hw = ("camera", "DS-2CD2385G1-I", "DS-2CD2385G1-I20200414AAWRE33842150", "V5.6.2build 190701")
    sadp = "only Hikvision-ecosystem firmware answers SADP"
    evidence = [
        _ev("sadp", "sadp.DeviceDescription", hw[1], SADP_REPLY, "Hikvision", 0.95, port=37020, note=sadp),
        _oui_ev(mac, "Hangzhou Hikvision Digital Technology Co.,Ltd.", "Hikvision"),
        _ev(
            "http",
            "http.server",
            "App-webs/",
            "fingerprints/http_server.toml:hik-app-webs",
            "Hikvision",
            0.6,
            port=80,
        ),
    ]
    sadp_fields = ("sadp.DeviceDescription", "sadp.DeviceSN", "sadp.SoftwareVersion")
    obs: list[Obs] = [(f, v, "sadp", 37020, 3) for f, v in zip(sadp_fields, hw[1:], strict=True)]
    verdict = _verdict(Status.COVERED, 0.97, "Hikvision", "Hikvision", evidence, hw, scope=SURVEILLANCE)
    return _device(
        ip, mac, ["arp", "http", "sadp"], [*obs, ("http.server", "App-webs/", "http", 80, 9)], verdict
    )


def ezviz_likely() -> DeviceReport:
    ip, mac = "192.168.1.71", "64:f2:fb:12:34:56"
    ev = _oui_ev(mac, "Hangzhou Ezviz Software Co.,Ltd.", "EZVIZ", note="EZVIZ is a Hikvision subsidiary")
    scope, notes = "FAR 52.204-25(a)(2): subsidiary of Hikvision", ["OUI only: confirm with a protocol probe"]
    verdict = _verdict(Status.LIKELY, 0.6, "EZVIZ", "Hikvision", [ev], (), scope=scope, notes=notes)
    return _device(ip, mac, ["arp"], [], verdict)


def amcrest_suspected() -> DeviceReport:
    ip, mac = "192.168.1.80", "9c:8e:cd:0a:1b:2c"
    edge, note = "fingerprints/rebrands.toml:amcrest-dahua", "community source, unverified OEM edge"
    evidence = [
        _ev("dhip", "dhip.DeviceType", "IP2M-841B", DHIP_REPLY, "Dahua", 0.7, port=37810),
        _oui_ev(mac, "Amcrest Technologies", "Amcrest", brand="Amcrest"),
        _ev("ssdp", "upnp.manufacturer", "Amcrest", edge, "Dahua", 0.5, brand="Amcrest", note=note),
    ]
    notes = ["label says Amcrest, protocols say Dahua"]
    label = {"brand": "Amcrest", "brand_mismatch": True}
    verdict = _verdict(
        Status.SUSPECTED, 0.5, "Dahua", "Dahua", evidence, ("camera", "IP2M-841B"), **label, notes=notes
    )
    obs: list[Obs] = [
        ("dhip.DeviceType", "IP2M-841B", "dhip", 37810, 4),
        ("upnp.manufacturer", "Amcrest", "ssdp", 49152, 6),
    ]
    return _device(ip, mac, ["arp", "dhip", "ssdp"], obs, verdict, hostnames=["amcrest-cam.local"])


def axis_not_covered() -> DeviceReport:
    ip, mac = "192.168.1.90", "ac:cc:8e:27:0a:d8"
    evidence = [
        _ev("ssdp", "upnp.manufacturer", "AXIS", "fingerprints/upnp.toml:axis", "Axis", 0.8, port=49152),
        _oui_ev(mac, "Axis Communications AB", "Axis"),
    ]
    hw = ("camera", "AXIS M1014", "ACCC8E270AD8")
    obs: list[Obs] = [
        ("upnp.manufacturer", "AXIS", "ssdp", 49152, 5),
        ("upnp.model_name", hw[1], "ssdp", 49152, 5),
    ]
    return _device(
        ip, mac, ["arp", "ssdp"], obs, _verdict(Status.NOT_COVERED, 0.9, "Axis", None, evidence, hw)
    )


def randomised_unknown() -> DeviceReport:
    ip, mac = "192.168.1.120", "3a:1f:9c:44:e0:01"
    verdict = Verdict(notes=["locally administered (randomised) MAC: no OUI to look up"])
    return _device(ip, mac, ["arp"], [], verdict, hostnames=["Pixel-7"], arp_dt=2)


def dahua_waived() -> DeviceReport:
    ip, mac = "192.168.30.10", "e0:50:8b:01:02:03"
    hw = ("nvr", "DHI-NVR4108HS-4KS2", "6G0AB12PAZ3F4D1")
    evidence = [
        _ev("dhip", "dhip.DeviceType", hw[1], DHIP_REPLY, "Dahua", 0.95, port=37810),
        _oui_ev(mac, "Zhejiang Dahua Technology Co., Ltd.", "Dahua"),
    ]
    waived = {"waived": True, "waiver": WAIVER}
    verdict = _verdict(Status.COVERED, 0.95, "Dahua", "Dahua", evidence, hw, scope=SURVEILLANCE, **waived)
    return _device(ip, mac, ["arp", "dhip", "http"], [("dhip.DeviceType", hw[1], "dhip", 37810, 4)], verdict)


def hostile_likely() -> DeviceReport:
    ip, mac = "192.168.1.200", "00:1e:10:de:ad:01"
    firmware = "V200R010C10SPC700\r\n| pipe | `tick` *star*"
    against: dict[str, Any] = {"port": 80, "supports": False}
    evidence = [
        _oui_ev(mac, "HUAWEI TECHNOLOGIES CO.,LTD", "Huawei"),
        _ev(
            "http",
            "http.server",
            HOSTILE,
            "fingerprints/http_server.toml:none",
            None,
            0.1,
            **against,
            note="banner names no vendor",
        ),
        _ev("http", "http.title", HOSTILE_HTML, "fingerprints/http_title.toml:none", None, 0.1, **against),
    ]
    scope = "FAR 52.204-25(a)(1): telecommunications equipment"
    verdict = _verdict(
        Status.LIKELY, 0.6, "Huawei", "Huawei", evidence, ("router", HOSTILE, FORMULA, firmware), scope=scope
    )
    obs: list[Obs] = [("http.server", HOSTILE, "http", 80, 7), ("http.title", HOSTILE_HTML, "http", 80, 7)]
    return _device(ip, mac, ["arp", "http"], obs, verdict, hostnames=[HOSTILE_HTML, 'router,"lan"'])


def scan_report(
    scan_id: str,
    seconds: int,
    targets: list[str],
    probes: list[ProbeSummary],
    devices: list[DeviceReport],
    **extra: Any,
) -> ScanReport:
    """A report of a scan on eth0 that started at T0 and took ``seconds``, with the 2024-05 OUI registry."""
    return ScanReport(
        scan_id=scan_id,
        tool_version="0.1.0",
        started_at=T0,
        finished_at=T0 + timedelta(seconds=seconds),
        targets=targets,
        interface="eth0",
        probes=probes,
        oui_registry_date="2024-05-01",
        devices=devices,
        **extra,
    )


def sample_report() -> ScanReport:
    """Seven devices, one per case the formats must handle; an incomplete scan (ARP lacked privileges)."""
    durations = {"arp": 3.2, "sadp": 4.0, "dhip": 4.0, "ssdp": 5.1, "http": 11.7}
    probes = [ProbeSummary(probe=p, status="success", duration=d) for p, d in durations.items()]
    probes.append(ProbeSummary(probe="snmp", status="partial", duration=30.0, error="no reply within 30 s"))
    # Deliberately not in report order: formats must put covered devices first themselves.
    devices = [axis_not_covered(), randomised_unknown(), ezviz_likely(), hostile_likely()]
    devices += [amcrest_suspected(), hikvision_covered(), dahua_waived()]
    targets = ["192.168.1.0/24", "192.168.30.0/28"]
    notes = ["snmp timed out: SNMP-only devices may be missing"]
    return scan_report("lab-2024-05-14T0930Z", 72, targets, probes, devices, complete=False, notes=notes)


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


def banner_batch(n: int = 10_000) -> list[Observation]:
    """``n`` distinct HTTP Server banners from as many addresses in 10.0.0.0/16 (the history store's
    write test and benchmarks/bench_hot_paths.py)."""
    return [
        Observation(
            signal="http.server",
            value=f"App-webs/{i}",
            probe="http",
            ip=f"10.0.{i // 250}.{i % 250 + 1}",
            port=80,
        )
        for i in range(n)
    ]


# Escape, C1 CSI, DEL, bidi override and isolate, a formula start and a line break: what a heard host's
# SADP reply (any multicast answer) might carry.
CONTROL_CHARS = "\x1b]0;pwned\x07\x9b31m\x7f\u202egnp.exe\u2066x\u2069\r\n"
HOSTILE_CONTROL = f"=cmd|' /C calc'!A0 {CONTROL_CHARS}end"


def hikvision_heard() -> DeviceReport:
    """A Hikvision NVR outside the targets that answered the SADP multicast inquiry (never probed further)."""
    ip, mac = "10.9.0.5", "58:50:ed:aa:bb:01"
    model = "DS-7608NI-K2"
    ev = _ev("sadp", "sadp.DeviceDescription", model, SADP_REPLY, "Hikvision", 0.95, port=37020)
    verdict = _verdict(Status.COVERED, 0.95, "Hikvision", "Hikvision", [ev], ("nvr", model))
    obs: list[Obs] = [
        ("sadp.DeviceDescription", model, "sadp", 37020, 3),
        ("sadp.MAC", "58-50-ed-aa-bb-01", "sadp", 37020, 3),
    ]
    return _device(ip, mac, ["sadp"], obs, verdict)


def hostile_heard() -> DeviceReport:
    """A heard host whose every string is hostile: control characters, bidi, a formula."""
    ip, mac = "10.9.0.66", "00:1e:10:66:66:66"
    ev = _ev("ssdp", "upnp.model_name", HOSTILE_CONTROL, "fingerprints/upnp.toml:none", "Huawei", 0.6)
    hw = (None, HOSTILE_CONTROL, HOSTILE_CONTROL, CONTROL_CHARS)
    verdict = _verdict(Status.LIKELY, 0.6, "Huawei", "Huawei", [ev], hw, notes=[HOSTILE_CONTROL])
    obs: list[Obs] = [("upnp.model_name", HOSTILE_CONTROL, "ssdp", 1900, 4)]
    return _device(ip, mac, ["ssdp"], obs, verdict, hostnames=[HOSTILE_CONTROL])


def heard_report(*, complete: bool = True) -> ScanReport:
    """One clean target (an Axis camera) and two flagged hosts heard outside the targets."""
    probes = [ProbeSummary(probe="sadp", status="success", duration=3.0)]
    heard = [hostile_heard(), hikvision_heard()]
    return scan_report(
        "heard-2024-05-14", 20, ["192.168.1.90"], probes, [axis_not_covered()], complete=complete, heard=heard
    )
