"""WSD probe against simulated devices in network namespaces (the parser and unit tests are in
tests/discovery/test_wsd.py)."""

from __future__ import annotations

import subprocess
import threading

import pytest
from labtools import (
    WSD_MDNS_SSDP_LAB,
    assert_fleet_found_quickly,
    filled,
    fleet,
    probe_whole_lab,
    run_probe,
    values,
    wsd_target,
)
from paths import DATA_DIR
from samples import WSD_HOSTILE as HOSTILE

from scanner.discovery.base import ProbeStatus
from scanner.discovery.parsers.wsd import (
    parse_probe,
)
from scanner.discovery.wsd import WsdProbe
from scanner.lab.sim.wsd import probe_matches

DATA = DATA_DIR / "wsd"


def scope_value(lab, name: str, key: str) -> str:
    """The URL-decoded value of the ``onvif://www.onvif.org/<key>/`` scope in device ``name``'s profile."""
    from urllib.parse import unquote

    prefix = f"onvif://www.onvif.org/{key}/"
    params = filled(lab, name, "wsd-peer" if name == "peer" else "wsd")
    return next(unquote(s[len(prefix) :]) for s in params["scopes"] if s.startswith(prefix))


@pytest.mark.netns
def test_mixed_lab_onvif_devices_and_the_wsdiscovery_peer_answer(lab_factory):
    lab = lab_factory(WSD_MDNS_SSDP_LAB)
    result = probe_whole_lab(lab, WsdProbe())
    assert {o.ip for o in result.observations} == {
        "10.99.0.10",
        "10.99.0.11",
        "10.99.0.12",
        "10.99.0.13",
        "10.99.0.16",
    }
    onvif = {d.ip: d.name for d in lab.devices if d.name in ("hik", "dahua", "cpplus", "unv", "peer")}
    assert values(result, "onvif.name") == {ip: [scope_value(lab, n, "name")] for ip, n in onvif.items()}
    hardware = {ip: [scope_value(lab, n, "hardware")] for ip, n in onvif.items()}
    assert values(result, "onvif.hardware") == hardware
    assert values(result, "onvif.name")["10.99.0.10"] == ["HIKVISION DS-2CD2385G1-I"]  # %20 decoded
    macs = {o.ip: o.value for o in result.observations if o.signal == "claimed.mac"}
    assert macs == {"10.99.0.10": "58:50:ed:1f:e3:85", "10.99.0.16": "44:19:b6:00:00:16"}
    assert values(result, "wsd.types")["10.99.0.16"] == ["dn:NetworkVideoTransmitter"]
    assert values(result, "wsd.endpoint")["10.99.0.10"] == ["urn:uuid:aa85c000-6324-11b3-819e-5850ed1fe385"]
    assert values(result, "wsd.endpoint")["10.99.0.16"] == ["urn:uuid:aa85c000-6324-11b3-819e-4419b6000016"]
    assert "onvif://www.onvif.org/extension/unique_identifier/1" in values(result, "wsd.scope")["10.99.0.12"]
    assert values(result, "wsd.xaddrs")["10.99.0.11"] == ["http://10.99.0.11/onvif/device_service"]
    assert all(len(v) == 1 for v in values(result, "wsd.endpoint").values())  # one endpoint, reported once
    assert result.duration < 2.0


@pytest.mark.netns
def test_wsdiscovery_peer_sockets_live_in_the_device_namespace(lab_factory):
    from scanner.lab.manager import state_dir

    lab = lab_factory([WSD_MDNS_SSDP_LAB[-1]])
    result = run_probe(lab, WsdProbe(), ["10.99.0.16"])  # unicast only: the peer must answer it
    assert values(result, "onvif.hardware") == {"10.99.0.16": ["DS-2CD2143G0-I"]}
    pid = (state_dir(lab.name) / "sim.pid").read_text().strip()

    def sim_sockets(netns: str | None) -> list[str]:
        cmd = (["ip", "netns", "exec", netns] if netns else []) + ["ss", "-H", "-uanp"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=True).stdout
        return [line.split()[3] for line in out.splitlines() if f"pid={pid}," in line]

    inside = sim_sockets(lab.device_ns(0))
    assert "0.0.0.0:3702" in inside and len(inside) >= 2  # the multicast listener and a reply socket
    assert all(a.rsplit(":", 1)[0] in ("0.0.0.0", "10.99.0.16") for a in inside), inside
    assert sim_sockets(None) == []  # nothing of the simulator in the root namespace


@pytest.mark.netns
def test_hostile_responder_does_not_break_the_probe(lab_factory):
    """A device answering every Probe with a fault, an entity bomb, a huge datagram and garbage, then a real
    reply: the probe reports the real one and nothing else."""
    import socket

    from scanner.lab.netns import in_netns

    lab = lab_factory([{"name": "evil", "ip": "10.99.0.30", "mac": "02:00:00:00:00:30"}])
    with in_netns(lab.device_ns(0)):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("10.99.0.30", 3702))
    sock.settimeout(5)
    junk = [(DATA / n).read_bytes() for n in HOSTILE] + [b"\xff" * 60000, b"<s:Envelope>" * 4000]

    def serve() -> None:
        try:
            data, addr = sock.recvfrom(65535)
        except TimeoutError:
            return
        probe = parse_probe(data)
        for raw in junk:
            sock.sendto(raw, addr)
        if probe:
            sock.sendto(probe_matches(wsd_target(), probe.message_id), addr)

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        result = run_probe(lab, WsdProbe(), ["10.99.0.30"])
    finally:
        server.join(5)
        sock.close()
    assert result.status == ProbeStatus.SUCCESS
    assert result.received >= 1
    assert any(n.startswith("ignored ") and "not replies" in n for n in result.notes), result.notes
    # the reply is about its UDP source; the XAddrs host is only a claim
    assert values(result, "onvif.name") == {"10.99.0.30": ["HIKVISION X"]}
    assert values(result, "claimed.ip") == {"10.99.0.30": ["10.99.0.9"]}
    assert values(result, "claimed.mismatch") == {"10.99.0.30": ["claims 10.99.0.9, sent from 10.99.0.30"]}
    assert result.duration < 0.5  # the only target answered: no wait for delayed multicast answers


@pytest.mark.netns
def test_fifty_onvif_devices_are_all_found_quickly(lab_factory):
    lab = lab_factory(groups=fleet(("cp", "e0:50:8b", "cpplus-ipc"), ("unv", "48:ea:63", "uniview-ipc")))
    assert_fleet_found_quickly(lab, WsdProbe(), "onvif.name", lambda d: scope_value(lab, d.name, "name"))
