"""Real captured replies (tests/data/realworld) replayed byte for byte in a lab (scanner/lab/sim/replay.py):
the real SADP, DHIP, WS-Discovery and SSDP probes meet real bytes through real sockets.

One lab (192.168.0.0/16) holds one replay device per corpus reply; each probe runs once, multicast and
broadcast only (no targets), all four at the same time; then each device gets one unicast request and its
answer must be its files' bytes. The devices' lab addresses and MACs differ from the
ones inside the captured bytes, as they would for a NATed or misconfigured (or lying) device: every
reply is reported at its UDP source, and the addresses inside it (SADP/DHIP IPv4Address/MAC, the
WS-Discovery XAddrs host, the SSDP LOCATION host) are recorded as claimed.ip / claimed.mac. Lab MACs are
locally administered and never reported (these probes do not read L2); a verdict is checked with the real
device's MAC added as an ARP sweep of that device would report it. SSDP devices sit at their reply's
LOCATION host where the address is free, so the probe fetches the description the same capture pairs with.

Per corpus item: the observations over the wire equal what the probe's own conversion yields on the file's
bytes (tests/test_realworld_verdicts.py does that offline), and the verdict of the device they group into
equals the item's expect.toml verdict.
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
import tomllib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from labtools import check, netns_available, require
from paths import DATA_DIR

from scanner.discovery.base import Collector, ProbeContext, ProbeResult
from scanner.observations import Device, Observation, group_by_host

REALWORLD = DATA_DIR / "realworld"
SUBNET, SCANNER_IP = "192.168.0.0/16", "192.168.200.2"
OFFLINE_SOURCE = (
    "192.0.2.10"  # the UDP source expect.toml's answers assume (tests/test_realworld_verdicts.py)
)
PROBE_TIMEOUT = 3.0  # seconds; every probe ends well before (measured 1.30-1.35 s each)
PORTS = {"sadp": 37020, "dhip": 37810, "wsd": 3702, "ssdp": 1900}
Row = tuple[str, str, str | None, str | None, int | None]  # signal, value, ip, mac, port


@dataclass(frozen=True)
class Replay:
    """One replay device: its lab address, protocol, reply files and (SSDP) description file."""

    ip: str
    protocol: str
    files: tuple[str, ...]
    description: str = ""


def corpus(folder: str) -> list[dict[str, Any]]:
    return tomllib.loads((REALWORLD / folder / "expect.toml").read_text())["item"]


def replays() -> list[Replay]:
    """Every SADP, DHIP, WS-Discovery and SSDP reply of the corpus on its own device."""
    out = [
        Replay(f"192.168.200.{base + i}", folder, (f"{folder}/{item['file']}",))
        for folder, base in (("sadp", 10), ("dhip", 30), ("wsd", 50))
        for i, item in enumerate(corpus(folder))
    ]
    return out + [  # at the LOCATION host where free; the description is the same capture's
        Replay("192.168.86.1", "ssdp", ("ssdp/google_onhub_igd2.bin",), "upnp/google_onhub_rootdesc.xml"),
        Replay("192.168.1.1", "ssdp", ("ssdp/pfsense_miniupnpd.bin",), "upnp/pfsense_rootdesc.xml"),
        Replay(
            "192.168.3.1",
            "ssdp",
            ("ssdp/huawei_atp_igd_rootdevice.bin", "ssdp/huawei_atp_igd_internetgateway.bin"),
        ),  # one router, two replies
        Replay("192.168.0.4", "ssdp", ("ssdp/roku_ecp.bin",)),
        Replay("192.168.0.1", "ssdp", ("ssdp/sagemcom_fast3890v3.bin",)),
        Replay(
            "192.168.200.90", "ssdp", ("ssdp/huawei_igd_portable_sdk.bin",)
        ),  # LOCATION 192.168.1.1: taken
        Replay("192.168.200.91", "ssdp", ("ssdp/igd_portable_sdk_redsonic.bin",)),  # likewise
    ]


REPLAYS = replays()
LAB_MACS = {f"02:00:00:00:{i >> 8:02x}:{i & 0xFF:02x}" for i in range(len(REPLAYS))}


def serving(relative: str) -> Replay:
    """The device that replays (or serves) corpus file ``relative``."""
    return next(r for r in REPLAYS if relative in r.files or relative == r.description)


def lab_devices() -> list[dict[str, Any]]:
    out = []
    for i, r in enumerate(REPLAYS):
        params: dict[str, Any] = {"protocol": r.protocol, "file": list(r.files)}
        if r.description:
            params["description"] = r.description
        out.append(
            {
                "name": f"r{i}",
                "ip": r.ip,
                "mac": f"02:00:00:00:{i >> 8:02x}:{i & 0xFF:02x}",
                "profile": "replay",
                "params": {"replay": params},
            }
        )
    return out


# --- the lab and the four probe runs ------------------------------------------------------------------


def probes() -> dict[str, Any]:
    from scanner.discovery.dhip import DhipProbe
    from scanner.discovery.sadp import SadpProbe
    from scanner.discovery.ssdp import SsdpProbe
    from scanner.discovery.wsd import WsdProbe

    return {"sadp": SadpProbe(), "dhip": DhipProbe(), "wsd": WsdProbe(), "ssdp": SsdpProbe()}


def request(protocol: str) -> bytes:
    """The request the probe sends for ``protocol`` (an SSDP search for every target)."""
    from scanner.discovery.parsers import dhip, sadp, ssdp, wsd

    return {
        "sadp": lambda: sadp.build_inquiry("00000000-0000-0000-0000-000000000000"),
        "dhip": dhip.build_search,
        "wsd": lambda: wsd.build_probe(wsd.new_message_id()),
        "ssdp": lambda: ssdp.build_msearch("ssdp:all", 1),
    }[protocol]()


def ask_each() -> dict[Replay, list[bytes]]:
    """Every datagram each replay device sends back to one unicast request (at most 1 s per device)."""
    import socket

    out = {}
    for device in REPLAYS:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((SCANNER_IP, 0))
            s.settimeout(1.0)
            s.sendto(request(device.protocol), (device.ip, PORTS[device.protocol]))
            got = []
            while len(got) < len(device.files):
                try:
                    got.append(s.recv(65536))
                except TimeoutError:
                    break
            out[device] = got
    return out


@dataclass
class LabRun:
    results: dict[str, ProbeResult]  # protocol -> its probe's result
    datagrams: dict[Replay, list[bytes]]  # what each device answered one unicast request with


@pytest.fixture(scope="module")
def lab_run(tmp_path_factory: pytest.TempPathFactory) -> LabRun:
    """The four probes at once in the replay lab (multicast and broadcast from eth0), then one unicast
    request to each device."""
    require(netns_available())
    from scanner.lab.manager import lab_down, lab_up
    from scanner.lab.netns import run_in_netns
    from scanner.lab.spec import parse_lab, render_lab

    raw = {
        "lab": {"name": "t" + secrets.token_hex(3), "subnet": SUBNET, "scanner_ip": SCANNER_IP},
        "device": lab_devices(),
    }
    spec = parse_lab(raw, "replay lab")
    path = tmp_path_factory.mktemp("replay-lab") / f"{spec.name}.toml"
    path.write_text(render_lab(raw))

    # every replaying device is named: a description is fetched only from a replier that is a target
    named = [ipaddress.IPv4Address(d["ip"]) for d in raw["device"]]

    def run(probe: Any) -> ProbeResult:
        ctx = ProbeContext(targets=named, interface="eth0", timeout=PROBE_TIMEOUT)
        return asyncio.run(probe.run(ctx))

    try:
        status = lab_up(spec, path)
        assert not status.failures, "replay responders failed:\n" + "\n".join(status.failures)
        with ThreadPoolExecutor(len(PORTS)) as pool:
            futures = {
                name: pool.submit(run_in_netns, spec.scanner_ns, run, p) for name, p in probes().items()
            }
            results = {name: f.result() for name, f in futures.items()}
        return LabRun(results, run_in_netns(spec.scanner_ns, ask_each))
    finally:
        lab_down(spec.name)


@pytest.fixture
def wire(lab_run: LabRun) -> dict[str, ProbeResult]:
    return lab_run.results


# --- what the probe's own conversion yields offline on the same bytes ---------------------------------


def collector(probe: str) -> Collector:
    return Collector(probe, ProbeContext(targets=[]))


def offline(relative: str) -> list[Observation]:
    """The observations the probe's conversion makes of corpus file ``relative`` sent from its device."""
    from scanner.discovery.dhip import dhip_reply
    from scanner.discovery.parsers.ssdp import parse_response
    from scanner.discovery.parsers.upnp import parse_description
    from scanner.discovery.request_reply import record
    from scanner.discovery.sadp import sadp_reply
    from scanner.discovery.ssdp import description_signals, ssdp_reply
    from scanner.discovery.wsd import wsd_reply

    device, folder = serving(relative), relative.split("/", 1)[0]
    data = (REALWORLD / relative).read_bytes()
    col = collector("ssdp" if folder == "upnp" else folder)
    if folder in ("sadp", "dhip"):
        answer = (sadp_reply if folder == "sadp" else dhip_reply)(data, device.ip, PORTS[folder])
        assert answer is not None
        record(col, answer)
    elif folder == "wsd":
        reply = wsd_reply(data, device.ip)
        if reply is not None:
            record(col, reply)
    elif folder == "ssdp":
        reply = parse_response(data)
        assert reply is not None
        record(col, ssdp_reply(reply, device.ip))
    else:
        location = urlsplit(parse_response((REALWORLD / device.files[0]).read_bytes()).get("location"))
        parsed = parse_description(data)
        assert parsed is not None
        for signal, value in description_signals(parsed):
            col.add(signal, value, ip=location.hostname, port=location.port)
    return col.observations


def rows(observations: list[Observation]) -> list[Row]:
    return [(o.signal, o.value, o.ip, o.mac, o.port) for o in observations]


def device_files(device: Replay) -> list[str]:
    return list(device.files) + ([device.description] if device.description else [])


def expected_rows(device: Replay) -> set[Row]:
    """What one device's replies (and description) make offline; the probe reports each row once."""
    return {row for f in device_files(device) for row in rows(offline(f))}


def host(result: ProbeResult, ip: str) -> Device:
    found = [d for d in group_by_host(result.observations) if d.ip == ip]
    assert len(found) == 1, f"{len(found)} devices at {ip}"
    return found[0]


def items(*folders: str) -> list[Any]:
    """One param per corpus item some replay device sends or serves (the UPnP descriptions no captured
    SSDP reply of the same device points at are not replayed)."""
    served = {f for r in REPLAYS for f in device_files(r)}
    out = []
    for folder in folders:
        for item in corpus(folder):
            if f"{folder}/{item['file']}" not in served:
                continue
            reason = item.get("verdict", {}).get("xfail") or item.get("xfail")
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            out.append(pytest.param(folder, item, id=f"{folder}/{item['file']}", marks=marks))
    return out


# --- tests ---------------------------------------------------------------------------------------------


@pytest.mark.netns
@pytest.mark.parametrize("device", REPLAYS, ids=lambda r: f"{r.ip}:{r.files[0]}")
def test_replies_are_the_files_bytes(lab_run: LabRun, device: Replay) -> None:
    assert lab_run.datagrams[device] == [(REALWORLD / f).read_bytes() for f in device.files]


@pytest.mark.netns
@pytest.mark.parametrize("protocol", list(PORTS))
def test_the_probe_reports_exactly_the_replayed_replies(wire: dict[str, ProbeResult], protocol: str) -> None:
    result = wire[protocol]
    assert result.error is None, result.error
    devices = [r for r in REPLAYS if r.protocol == protocol]
    assert set(rows(result.observations)) == set().union(*(expected_rows(d) for d in devices))
    assert result.received > len(devices)  # devices answered every copy of every request ...
    counts = Counter(rows(result.observations))
    assert max(counts.values()) == 1, counts.most_common(3)  # ... and each was reported once
    assert not {o.mac for o in result.observations} & LAB_MACS


@pytest.mark.netns
@pytest.mark.parametrize(("folder", "item"), items("sadp", "dhip"))
def test_udp_discovery_reply_over_the_wire(
    wire: dict[str, ProbeResult], folder: str, item: dict[str, Any]
) -> None:
    """The answer sits at the UDP source; its IPv4Address and MAC are claims (none where they are masked)."""
    relative = f"{folder}/{item['file']}"
    device = serving(relative)
    claimed = item["answer"]
    at_ip = [o for o in wire[folder].observations if o.ip == device.ip]
    assert rows(at_ip) == rows(offline(relative))  # same fields, same values, same order
    found = host(wire[folder], device.ip)
    assert found.mac is None  # no MAC from a payload
    assert found.values("claimed.mac") == ([claimed["mac"]] if claimed["mac"] else [])
    assert found.values("claimed.ip") == ([claimed["ip"]] if claimed["ip"] != OFFLINE_SOURCE else [])
    check(with_real_mac(found, claimed["mac"]), item["verdict"])


@pytest.mark.netns
@pytest.mark.parametrize(("folder", "item"), items("wsd"))
def test_wsd_reply_over_the_wire(wire: dict[str, ProbeResult], folder: str, item: dict[str, Any]) -> None:
    """Matches sit at the UDP source whatever their XAddrs say (a claim); the captured RelatesTo does not
    name our Probe's MessageID and the match is kept anyway. A non-ONVIF reply is ignored."""
    relative = f"{folder}/{item['file']}"
    device = serving(relative)
    expected = rows(offline(relative))
    if item["matches"] == 0:
        assert expected == []
        assert device.ip not in {o.ip for o in wire["wsd"].observations}
        return
    at_ip = [o for o in wire["wsd"].observations if o.ip == device.ip]
    assert rows(at_ip) == expected
    found = host(wire["wsd"], device.ip)
    assert found.mac is None
    assert found.values("claimed.ip") == ([item["ipv4"]] if item["ipv4"] else [])
    assert found.values("claimed.mac") == ([item["mac"]] if item["mac"] else [])
    check(with_real_mac(found, item["mac"]), item["verdict"])


def with_real_mac(device: Device, mac: str) -> Device:
    """``device`` plus the real device's MAC (the one its captured payload gave), as ARP reports it."""
    if not mac:
        return device
    arp = Observation(signal="mac", value=mac, probe="arp", ip=device.ip, mac=mac)
    return Device(ip=device.ip, mac=mac, observations=[*device.observations, arp])


@pytest.mark.netns
@pytest.mark.parametrize(("folder", "item"), items("ssdp", "upnp"))
def test_ssdp_reply_over_the_wire(wire: dict[str, ProbeResult], folder: str, item: dict[str, Any]) -> None:
    """Replies sit at the UDP source; a LOCATION on the replying device is fetched and described there."""
    device = serving(f"{folder}/{item['file']}")
    at_ip = {row for row in rows(wire["ssdp"].observations) if row[2] == device.ip}
    assert at_ip == expected_rows(device)
    # the verdict over the whole device (its replies and description) must meet this item's expectation
    check(host(wire["ssdp"], device.ip), item["verdict"])


@pytest.mark.netns
def test_a_location_on_another_host_is_not_fetched(wire: dict[str, ProbeResult]) -> None:
    """huawei_igd_portable_sdk's LOCATION names 192.168.1.1, which is another device (pfSense) here."""
    device = serving("ssdp/huawei_igd_portable_sdk.bin")
    assert not any(o.signal.startswith("upnp.") for o in host(wire["ssdp"], device.ip).observations)
    pfsense = {o.port for o in host(wire["ssdp"], "192.168.1.1").observations if o.signal.startswith("upnp.")}
    assert pfsense == {2189}  # only pfSense's own LOCATION was fetched there


# --- the responder's rules, without a lab ---------------------------------------------------------------


def test_an_ssdp_search_gets_the_replies_for_its_target() -> None:
    from scanner.discovery.parsers.ssdp import build_msearch
    from scanner.lab.sim.replay import answers

    root = (REALWORLD / "ssdp" / "huawei_atp_igd_rootdevice.bin").read_bytes()
    igd = (REALWORLD / "ssdp" / "huawei_atp_igd_internetgateway.bin").read_bytes()
    replies = {
        st: answers("ssdp", [root, igd], build_msearch(st, 1))
        for st in (
            "ssdp:all",
            "upnp:rootdevice",
            "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
            "urn:schemas-upnp-org:device:MediaRenderer:1",
        )
    }
    assert list(replies.values()) == [[root, igd], [root], [igd], []]


@pytest.mark.parametrize("protocol", list(PORTS))
def test_only_the_protocols_own_request_is_answered(protocol: str) -> None:
    from scanner.lab.sim.replay import answers

    for other in PORTS:
        assert answers(protocol, [b"reply"], request(other)) == ([b"reply"] if other == protocol else [])
    assert answers(protocol, [b"reply"], b"") == []


@pytest.mark.parametrize(
    ("params", "error"),
    [
        (
            {
                "protocol": "ssdp",
                "file": "ssdp/pfsense_miniupnpd.bin",
                "description": "upnp/pfsense_rootdesc.xml",
            },
            "does not point at 10.0.0.9",
        ),
        (
            {
                "protocol": "sadp",
                "file": "sadp/ezviz_cs-c6tc-32wfr.xml",
                "description": "upnp/pfsense_rootdesc.xml",
            },
            "only for ssdp",
        ),
        ({"protocol": "rtsp", "file": "banners/rtsp_hikvision_c2875_options.bin"}, "unknown protocol"),
        ({"protocol": "sadp"}, "no file"),
    ],
)
def test_a_misconfigured_replay_device_fails_to_start(params: dict[str, Any], error: str) -> None:
    from scanner.lab.sim.device import SimDevice
    from scanner.lab.sim.replay import start

    device = SimDevice("r0", "10.0.0.9", "02:00:00:00:00:09", "nd-unused", "replay")
    with pytest.raises(ValueError, match=error):
        asyncio.run(start(device, params))
