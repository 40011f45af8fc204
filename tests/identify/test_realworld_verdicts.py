"""Real device replies (tests/data/realworld) -> the observations their probe emits -> identify() -> the verdict.

Observations are built with each probe's own conversion (sadp_reply/dhip_reply, wsd_reply and
request_reply.record, ssdp's reply_signals/description_signals, mdns's record_instance on the
ServiceInfo zeroconf loads from a cache holding the response, rtsp's record_reply and the banner HostRecorder,
the snmp SIGNAL_OF table), grouped into devices with group_by_host as a scan does, plus the device's real MAC
where one is known (as an ARP sweep adds it).
Expected verdicts are what the device really is (SOURCES.md); a case where the stack disagrees is kept as a
strict xfail whose reason names the gap.
"""

from __future__ import annotations

import tomllib
from types import SimpleNamespace
from typing import Any

import pytest
from labtools import check
from paths import DATA_DIR

from scanner.discovery.base import Collector, ProbeContext
from scanner.observations import Device, Observation, group_by_host

REALWORLD = DATA_DIR / "realworld"
SOURCE_IP = "192.0.2.10"  # the UDP source of a discovery reply, when the reply names no usable address
BANNER_IP = "192.0.2.40"  # the host a banner probe talked to


def load(folder: str) -> dict[str, Any]:
    return tomllib.loads((REALWORLD / folder / "expect.toml").read_text())


def cases(folder: str, table: str = "item") -> list[Any]:
    """One pytest param per entry that states a verdict; strict xfail where the entry names a known gap."""
    out = []
    for entry in load(folder)[table]:
        verdict = entry.get("verdict")
        if verdict is None:
            continue
        reason = verdict.get("xfail") or entry.get("xfail")
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        out.append(
            pytest.param(entry, id=entry.get("file") or entry.get("subject") or entry["value"], marks=marks)
        )
    return out


def collector(probe: str) -> Collector:
    return Collector(probe, ProbeContext(targets=[]))


def real_mac(col: Collector, ip: str, mac: str) -> None:
    """The device's MAC as the ARP sweep reports it."""
    col.add("mac", mac, ip=ip, mac=mac)


def only_device(observations: list[Observation]) -> Device:
    devices = group_by_host(observations)
    assert len(devices) == 1, [d.ip for d in devices]
    return devices[0]


# --- conversions: each probe's own rule from parsed reply to observations ---------------------------


def udp_answer_observations(probe: str, data: bytes, port: int, src: str = SOURCE_IP) -> list[Observation]:
    """What the probe emits for one SADP/DHIP datagram: every field about the reply's UDP source."""
    from scanner.discovery.dhip import dhip_reply
    from scanner.discovery.request_reply import record
    from scanner.discovery.sadp import sadp_reply

    answer = (sadp_reply if probe == "sadp" else dhip_reply)(data, src, port)
    assert answer is not None
    col = collector(probe)
    record(col, answer)
    return col.observations


def wsd_observations(data: bytes, src: str = SOURCE_IP) -> list[Observation]:
    """What the wsd probe emits for a ProbeMatches datagram (through its wsd_reply)."""
    from scanner.discovery.request_reply import record
    from scanner.discovery.wsd import wsd_reply

    col = collector("wsd")
    reply = wsd_reply(data, src)
    if reply is not None:
        record(col, reply)
    return col.observations


def ssdp_added(signals: list[tuple[str, str]], ip: str, port: int) -> list[Observation]:
    """What the ssdp probe adds for (signal, value) pairs about one address."""
    col = collector("ssdp")
    for signal, value in signals:
        col.add(signal, value, ip=ip, port=port)
    return col.observations


def ssdp_observations(data: bytes, src: str) -> list[Observation]:
    from scanner.discovery.parsers.ssdp import PORT, parse_response
    from scanner.discovery.ssdp import reply_signals

    reply = parse_response(data)
    assert reply is not None
    return ssdp_added(reply_signals(reply), src, PORT)


def upnp_observations(data: bytes, host: str, port: int) -> list[Observation]:
    from scanner.discovery.parsers.upnp import parse_description
    from scanner.discovery.ssdp import description_signals

    device = parse_description(data)
    assert device is not None
    return ssdp_added(description_signals(device), host, port)


def mdns_observations(data: bytes) -> list[Observation]:
    """What the mdns probe records for each instance of a response: the ServiceInfo zeroconf resolves from a
    cache holding the response (as the probe's resolver does, the records being complete), through the
    probe's record_instance."""
    from zeroconf import DNSCache, DNSIncoming, DNSPointer
    from zeroconf.asyncio import AsyncServiceInfo

    from scanner.discovery.mdns import record_instance

    message = DNSIncoming(data)
    cache = DNSCache()
    cache.async_add_records(message.answers())
    col = collector("mdns")
    for ptr in (r for r in message.answers() if isinstance(r, DNSPointer)):
        info = AsyncServiceInfo(ptr.name, ptr.alias)
        if info.load_from_cache(SimpleNamespace(cache=cache)):
            record_instance(col, info)
    assert col.observations, "the probe resolved nothing"
    return col.observations


def banner_recorder(probe: str) -> Any:
    from scanner.discovery.banner_base import HostRecorder

    return HostRecorder(collector(probe), BANNER_IP, None)


def rtsp_observations(data: bytes, method: str = "OPTIONS", port: int = 554) -> list[Observation]:
    """What the rtsp probe records for one reply head (its record_reply: status, Server, WWW-Authenticate)."""
    from scanner.discovery.parsers.rtsp import parse_reply
    from scanner.discovery.rtsp import record_reply

    reply = parse_reply(data)
    assert reply is not None
    rec = banner_recorder("rtsp")
    record_reply(rec, method, reply, port)
    return rec.col.observations


def isapi_observations(data: bytes, port: int = 80) -> list[Observation]:
    from scanner.discovery.parsers.vendor_endpoints import parse_isapi_device_info

    rec = banner_recorder("http")
    for key, value in parse_isapi_device_info(data):
        rec.add("isapi.device_info", f"{key}={value}", port)
    return rec.col.observations


def onvif_observations(data: bytes, port: int = 80) -> list[Observation]:
    from scanner.discovery.parsers.vendor_endpoints import device_information, parse_soap

    answer = parse_soap(data)
    assert answer is not None
    rec = banner_recorder("onvif")
    for signal, value in device_information(answer).items():
        rec.add(signal, value, port)
    return rec.col.observations


def snmp_observations(sys_descr: str, sys_object_id: str) -> list[Observation]:
    from scanner.discovery.parsers.snmp import SYS_DESCR, SYS_OBJECT_ID
    from scanner.discovery.snmp import SIGNAL_OF

    col = collector("snmp")
    for oid, value in ((SYS_DESCR, sys_descr), (SYS_OBJECT_ID, sys_object_id)):
        if value:
            col.add(SIGNAL_OF[oid], value, ip=BANNER_IP, port=161)
    return col.observations


def observations_of(relative: str, src: str = SOURCE_IP) -> list[Observation]:
    """The observations a scan gets from one corpus file sent from ``src``, by the folder's protocol."""
    path = REALWORLD / relative
    data, folder = path.read_bytes(), path.parent.name
    if folder in ("sadp", "dhip"):
        return udp_answer_observations(folder, data, 37020 if folder == "sadp" else 37810, src)
    if folder == "wsd":
        return wsd_observations(data, src)
    if path.name.startswith("rtsp_"):
        return rtsp_observations(data)
    if path.name.startswith("onvif_"):
        return onvif_observations(data)
    if path.name.startswith("isapi_"):
        return isapi_observations(data)
    raise AssertionError(f"no conversion for {relative}")


def claimed(device: Device) -> tuple[str, str]:
    """(claimed.ip, claimed.mac) of a device's observations ("" for a claim it does not make)."""
    ips, macs = device.values("claimed.ip"), device.values("claimed.mac")
    return (ips[0] if ips else SOURCE_IP, macs[0] if macs else "")


# --- discovery protocols -----------------------------------------------------------------------------


def replying_device(protocol: str, item: dict[str, Any]) -> Device:
    """The device a SADP or DHIP reply describes: the reply's UDP source; what the payload says of its
    address and MAC is a claim."""
    device = only_device(observations_of(f"{protocol}/{item['file']}"))
    assert (device.ip, device.mac) == (SOURCE_IP, None)
    assert claimed(device) == (item["answer"]["ip"], item["answer"]["mac"])
    return device


@pytest.mark.parametrize("item", cases("sadp"))
def test_sadp_reply_verdict(item: dict[str, Any]) -> None:
    check(replying_device("sadp", item), item["verdict"])


@pytest.mark.parametrize("item", cases("dhip"))
def test_dhip_reply_verdict(item: dict[str, Any]) -> None:
    device = replying_device("dhip", item)
    assert device.values("dhip.reply")  # the probe labels the answer with the model (or "yes")
    check(device, item["verdict"])


@pytest.mark.parametrize("item", cases("wsd"))
def test_wsd_reply_verdict(item: dict[str, Any]) -> None:
    observations = wsd_observations((REALWORLD / "wsd" / item["file"]).read_bytes())
    reply = only_device(observations)
    assert (reply.ip, reply.mac) == (SOURCE_IP, None)  # the reply's UDP source; no MAC from a payload
    assert claimed(reply) == (item["ipv4"] or SOURCE_IP, item["mac"])
    col = collector("arp")
    if item["mac"]:  # the real device's MAC (the one its payload gave), as the ARP sweep reports it
        real_mac(col, SOURCE_IP, item["mac"])
    check(only_device(observations + col.observations), item["verdict"])


@pytest.mark.parametrize("item", cases("ssdp"))
def test_ssdp_reply_verdict(item: dict[str, Any]) -> None:
    device = only_device(ssdp_observations((REALWORLD / "ssdp" / item["file"]).read_bytes(), SOURCE_IP))
    check(device, item["verdict"])


@pytest.mark.parametrize("item", cases("upnp"))
def test_upnp_description_verdict(item: dict[str, Any]) -> None:
    device = only_device(
        upnp_observations((REALWORLD / "upnp" / item["file"]).read_bytes(), SOURCE_IP, 52869)
    )
    check(device, item["verdict"])


@pytest.mark.parametrize("item", cases("mdns"))
def test_mdns_response_verdict(item: dict[str, Any]) -> None:
    observations = mdns_observations((REALWORLD / "mdns" / item["file"]).read_bytes())
    col = collector("arp")
    real_mac(col, observations[0].ip or "", item["real_mac"])
    device = only_device(observations + col.observations)
    check(device, item["verdict"])


def mdns_ip_cases() -> list[Any]:
    out = []
    for entry in load("mdns")["item"]:
        marks = [pytest.mark.xfail(strict=True, reason=entry["ip_xfail"])] if "ip_xfail" in entry else []
        out.append(pytest.param(entry, id=entry["file"], marks=marks))
    return out


@pytest.mark.parametrize("item", mdns_ip_cases())
def test_mdns_instance_is_reported_at_its_routable_address(item: dict[str, Any]) -> None:
    """A scan joins mDNS to the other probes by IP: the instance must be reported at the address they reach."""
    observations = mdns_observations((REALWORLD / "mdns" / item["file"]).read_bytes())
    assert {o.ip for o in observations} == {item["ip"]}


# --- banners -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("item", cases("banners", "rtsp"))
def test_rtsp_banner_verdict(item: dict[str, Any]) -> None:
    check(only_device(observations_of(f"banners/{item['file']}")), item["verdict"])


@pytest.mark.parametrize("item", cases("banners", "isapi"))
def test_isapi_device_info_verdict(item: dict[str, Any]) -> None:
    check(only_device(observations_of(f"banners/{item['file']}")), item["verdict"])


@pytest.mark.parametrize("item", cases("banners", "onvif"))
def test_onvif_device_information_verdict(item: dict[str, Any]) -> None:
    check(only_device(observations_of(f"banners/{item['file']}")), item["verdict"])


@pytest.mark.parametrize("item", cases("banners", "snmp"))
def test_snmp_system_group_verdict(item: dict[str, Any]) -> None:
    check(only_device(snmp_observations(item["sys_descr"], item["sys_object_id"])), item["verdict"])


@pytest.mark.parametrize("item", cases("banners", "x509"))
def test_tls_certificate_names_verdict(item: dict[str, Any]) -> None:
    rec = banner_recorder("tls")
    rec.add("x509.subject", item["subject"], 443)
    rec.add("x509.issuer", item.get("issuer", item["subject"]), 443)
    check(only_device(rec.col.observations), item["verdict"])


@pytest.mark.parametrize("item", cases("banners", "value"))
def test_banner_value_verdict(item: dict[str, Any]) -> None:
    rec = banner_recorder(item["signal"].split(".", 1)[0])
    rec.add(item["signal"], item["value"], 80)
    check(only_device(rec.col.observations), item["verdict"])


# --- one device, several replies ---------------------------------------------------------------------


def device_cases() -> list[Any]:
    entries = tomllib.loads((REALWORLD / "devices.toml").read_text())["device"]
    return [pytest.param(e, id=e["name"].split(" (")[0]) for e in entries]


@pytest.mark.parametrize("entry", device_cases())
def test_multi_reply_device_verdict(entry: dict[str, Any]) -> None:
    observations = [o for f in entry["files"] for o in observations_of(f, entry["ip"])]
    # The device's real MAC where the corpus knows it (its WS-Discovery payload), as the ARP sweep reports it.
    wsd_macs = {i["file"]: i.get("mac", "") for i in load("wsd")["item"]}
    col = collector("arp")
    for mac in {wsd_macs.get(f.removeprefix("wsd/"), "") for f in entry["files"]} - {""}:
        real_mac(col, entry["ip"], mac)
    observations += col.observations
    # Banner probes talk to the host at the address discovery found: put them there.
    observations = [
        o.model_copy(update={"ip": entry["ip"]}) if o.ip == BANNER_IP else o for o in observations
    ]
    device = only_device(observations)
    assert device.ip == entry["ip"]
    check(device, entry["verdict"])
