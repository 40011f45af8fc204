"""DHIP probe against simulated devices in network namespaces (the parser and unit tests are in
tests/discovery/test_dhip.py)."""

from __future__ import annotations

import os
import select
import socket
import threading

import pytest
from labtools import DHIP_HOSTILE, SADP_DHIP_LAB, by_ip, dhip_frame, fleet, probe_whole_lab, run_probe
from paths import DATA_DIR

from scanner.discovery.base import ProbeStatus
from scanner.discovery.dhip import DhipProbe
from scanner.discovery.sadp import SadpProbe
from scanner.lab.sim.device import SimDevice


@pytest.mark.netns
def test_only_dahua_firmware_answers(lab_factory):
    from scanner.lab.sim.runtime import profiles

    lab = lab_factory(SADP_DHIP_LAB)
    result = probe_whole_lab(lab, DhipProbe())
    devices = {d.name: d for d in lab.devices}
    expected = {name: profiles()[devices[name].profile]["dhip"] for name in ("dahua", "intelbras", "amcrest")}
    for key in ("DeviceType", "Vendor", "Version", "DeviceClass"):
        assert by_ip(result, f"dhip.{key}") == {devices[n].ip: p[key] for n, p in expected.items()}
    serials = by_ip(result, "dhip.SerialNo")
    for name, params in expected.items():
        dev = devices[name]
        sim = SimDevice(dev.name, dev.ip, dev.mac, "", dev.profile)
        assert serials[dev.ip] == sim.fill(params["SerialNo"])
    assert by_ip(result, "dhip.IPv4Address.IPAddress") == {devices[n].ip: devices[n].ip for n in expected}
    assert by_ip(result, "claimed.mac") == {devices[n].ip: devices[n].mac for n in expected}
    assert all(o.mac is None for o in result.observations)  # a MAC comes from ARP, never from a payload
    assert {o.ip for o in result.observations} == {devices[n].ip for n in expected}
    assert all(o.port == 37810 and o.probe == "dhip" for o in result.observations)


@pytest.mark.netns
@pytest.mark.parametrize(
    ("probe", "kind"),
    [(SadpProbe(), ("cam", "58:50:ed", "ezviz-cam")), (DhipProbe(), ("cam", "9c:8e:cd", "amcrest-ipc"))],
    ids=["sadp", "dhip"],
)
def test_fifty_responders_are_all_found_once(lab_factory, probe, kind):
    lab = lab_factory(groups=fleet(kind))
    budget = 3.0
    result = run_probe(lab, probe, ["10.99.0.0/24"], timeout=budget)
    assert result.status == ProbeStatus.SUCCESS, result.error
    assert by_ip(result, "claimed.mac") == {d.ip: d.mac for d in lab.devices}
    assert len([o for o in result.observations if o.signal == f"{probe.name}.reply"]) == 50
    assert result.received > 50  # every device answered several copies; they were merged
    assert result.duration < budget + 0.5


def _junk() -> dict[int, list[bytes]]:
    """What the hostile device sends back to every request, per port."""
    sadp_dir = DATA_DIR / "sadp"
    sadp = [
        (sadp_dir / n).read_bytes()
        for n in (
            "hostile_billion_laughs.xml",
            "hostile_external_entity.xml",
            "hostile_truncated.xml",
            "hostile_not_utf8.xml",
        )
    ]
    sadp += [b"<ProbeMatch>" + b"<a>" * 16000, os.urandom(60000), b"\0" * 65000, os.urandom(512)]
    dhip = list(DHIP_HOSTILE.values()) + [os.urandom(60000), dhip_frame(os.urandom(60000)), b"\xff" * 65000]
    return {37020: sadp, 37810: dhip}


def _hostile_device(
    netns: str, ip: str, ready: threading.Event, stop: threading.Event, sent: list[int]
) -> None:
    """Answer every SADP and DHIP request with garbage and oversized datagrams, 20 times over."""
    from scanner.lab.netns import enter_netns

    enter_netns(netns)
    junk = _junk()
    socks = {}
    for port, group in ((37020, "239.255.255.250"), (37810, "239.255.255.251")):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
        s.bind(("0.0.0.0", port))
        mreq = socket.inet_aton(group) + socket.inet_aton(ip)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        socks[s] = port
    ready.set()
    try:
        while not stop.is_set():
            readable, _, _ = select.select(list(socks), [], [], 0.05)
            for s in readable:
                _request, addr = s.recvfrom(65536)
                for _ in range(20):
                    for datagram in junk[socks[s]]:
                        try:
                            s.sendto(datagram, addr)
                            sent[0] += 1
                        except OSError:  # a full queue: drop, like a real flood would
                            pass
    finally:
        for s in socks:
            s.close()


@pytest.mark.netns
@pytest.mark.parametrize(
    ("probe", "good"), [(SadpProbe(), "hik"), (DhipProbe(), "dahua")], ids=["sadp", "dhip"]
)
def test_hostile_flood_does_not_hide_good_devices(lab_factory, probe, good):
    lab = lab_factory(
        [d for d in SADP_DHIP_LAB if d["name"] in ("hik", "dahua")]
        + [{"name": "evil", "ip": "10.99.0.66", "mac": "02:00:00:00:06:66", "profile": "host"}]
    )
    evil = next(i for i, d in enumerate(lab.devices) if d.name == "evil")
    ready, stop, sent = threading.Event(), threading.Event(), [0]
    thread = threading.Thread(
        target=_hostile_device, daemon=True, args=(lab.device_ns(evil), "10.99.0.66", ready, stop, sent)
    )
    thread.start()
    try:
        assert ready.wait(5)
        result = run_probe(lab, probe, ["10.99.0.0/24"], timeout=3.0)
    finally:
        stop.set()
        thread.join(5)
    assert sent[0] > 1000
    assert result.status == ProbeStatus.SUCCESS, result.error
    want = next(d for d in lab.devices if d.name == good)
    assert {o.ip for o in result.observations if o.signal.endswith(".reply")} == {want.ip}
    assert by_ip(result, "claimed.mac") == {want.ip: want.mac}
    assert any(n.startswith("ignored ") for n in result.notes)
    assert result.duration < 3.5
