"""SADP probe against simulated devices in network namespaces (the parser and unit tests are in
tests/discovery/test_sadp.py)."""

from __future__ import annotations

import asyncio

import pytest
from labtools import SADP_DHIP_LAB, by_ip, group, probe_whole_lab, run_probe

from scanner.discovery.base import ProbeContext, ProbeResult, ProbeStatus
from scanner.discovery.sadp import SadpProbe
from scanner.lab.sim.device import SimDevice
from scanner.targets import parse_targets


@pytest.mark.netns
def test_only_hikvision_firmware_answers(lab_factory):
    from scanner.lab.sim.runtime import profiles

    lab = lab_factory(SADP_DHIP_LAB)
    result = probe_whole_lab(lab, SadpProbe())
    models = by_ip(result, "sadp.DeviceDescription")
    assert models == {"10.99.0.10": "DS-2CD2385G1-I", "10.99.0.11": "IPC-B120-D/W"}
    hik = {d.name: d for d in lab.devices}["hik"]
    serial = SimDevice(hik.name, hik.ip, hik.mac, "", hik.profile).serial
    assert by_ip(result, "sadp.DeviceSN")["10.99.0.10"] == f"DS-2CD2385G1-I20200414AAWR{serial}"
    assert by_ip(result, "sadp.MAC") == {"10.99.0.10": "58-50-ed-1f-e3-85", "10.99.0.11": "bc-ad-28-11-22-33"}
    # the payload's MAC and address are claims about the sender; here they are true, so no mismatch
    assert by_ip(result, "claimed.mac") == {
        "10.99.0.10": "58:50:ed:1f:e3:85",
        "10.99.0.11": "bc:ad:28:11:22:33",
    }
    assert by_ip(result, "claimed.ip") == {"10.99.0.10": "10.99.0.10", "10.99.0.11": "10.99.0.11"}
    assert "claimed.mismatch" not in {o.signal for o in result.observations}
    assert by_ip(result, "sadp.SoftwareVersion") == {
        "10.99.0.10": profiles()["hikvision-ipc"]["sadp"]["SoftwareVersion"],
        "10.99.0.11": profiles()["hiwatch-ipc"]["sadp"]["SoftwareVersion"],
    }
    assert by_ip(result, "sadp.OEMInfo") == {"10.99.0.11": "HiWatch"}
    assert all(o.port == 37020 and o.probe == "sadp" and o.mac is None for o in result.observations)


@pytest.mark.netns
def test_a_spoofed_reply_claiming_another_camera_stays_with_its_sender(lab_factory):
    """A SADP reply from 10.99.0.30 claiming the Axis camera's IP and MAC is evidence about 10.99.0.30:
    the Axis camera's record gets nothing from it."""
    from scanner.discovery.arp import ArpProbe
    from scanner.identify.models import Status
    from scanner.identify.verdict import identify
    from scanner.lab.netns import run_in_netns
    from scanner.observations import group_by_host

    axis_ip, axis_mac = "10.99.0.15", "ac:cc:8e:27:0a:d8"
    lab = lab_factory(
        [
            {"name": "axis", "ip": axis_ip, "mac": axis_mac, "profile": "axis-ipc"},
            {
                "name": "spoof",
                "ip": "10.99.0.30",
                "mac": "02:00:00:00:00:30",
                "profile": "hikvision-ipc",
                "params": {"sadp": {"MAC": axis_mac.replace(":", "-"), "IPv4Address": axis_ip}},
            },
        ]
    )

    def go() -> list:
        ctx = ProbeContext(targets=parse_targets(["10.99.0.0/24"]), interface="eth0", timeout=2.0)

        async def both() -> list:
            return list(await asyncio.gather(ArpProbe().run(ctx), SadpProbe().run(ctx)))

        return asyncio.run(both())

    arp, sadp = run_in_netns(lab.scanner_ns, go)
    assert sadp.status == ProbeStatus.SUCCESS, sadp.error
    assert {o.ip for o in sadp.observations} == {"10.99.0.30"}
    claims = {o.signal: o.value for o in sadp.observations if o.signal.startswith("claimed.")}
    assert claims == {
        "claimed.ip": axis_ip,
        "claimed.mac": axis_mac,
        "claimed.mismatch": f"claims {axis_ip}, sent from 10.99.0.30",
    }
    devices = {d.ip: d for d in group_by_host(arp.observations + sadp.observations)}
    axis = devices[axis_ip]
    assert axis.mac == axis_mac
    assert {o.probe for o in axis.observations} == {"arp"}  # untouched by the spoofed reply
    assert identify(axis).status not in (Status.COVERED, Status.LIKELY, Status.SUSPECTED)
    spoof = devices["10.99.0.30"]
    assert spoof.mac == "02:00:00:00:00:30"  # its MAC is the one ARP saw, not the one it claims
    assert spoof.values("claimed.mac") == [axis_mac]


@pytest.mark.netns
def test_a_camera_on_its_factory_address_is_noted_unless_it_is_a_target(lab_factory):
    """A reply from outside the scanned segments is not a device (anyone can forge one); the note names
    its address. Scanning that address makes it a target, and then its reply counts."""
    lab = lab_factory(
        [
            {
                "name": "factory",
                "ip": "192.0.0.64",
                "mac": "58:50:ed:00:00:64",
                "profile": "hikvision-ipc",
                "routes": ["default"],
            },
            {"name": "onnet", "ip": "10.99.0.20", "mac": "58:50:ed:00:00:20", "profile": "hikvision-nvr"},
        ]
    )
    result = probe_whole_lab(lab, SadpProbe())
    assert {o.ip for o in result.observations if o.signal == "sadp.reply"} == {"10.99.0.20"}
    assert any("outside the scanned segments (192.0.0.64" in n for n in result.notes), result.notes
    result = run_probe(lab, SadpProbe(), ["10.99.0.0/24", "192.0.0.64"])
    assert {o.ip for o in result.observations if o.signal == "sadp.reply"} == {"10.99.0.20", "192.0.0.64"}
    assert by_ip(result, "claimed.mac")["192.0.0.64"] == "58:50:ed:00:00:64"


@pytest.mark.netns
def test_without_an_interface_only_the_targets_are_asked(lab_factory):
    from scanner.lab.netns import run_in_netns

    lab = lab_factory(groups=[group("cam", 3, "10.99.0.30", "ezviz-cam", "58:50:ed")])
    asked = lab.devices[1]

    def go(targets: list[str], interface: str | None) -> ProbeResult:
        ctx = ProbeContext(targets=parse_targets(targets), interface=interface, timeout=2.0)
        return asyncio.run(SadpProbe().run(ctx))

    result = run_in_netns(lab.scanner_ns, go, [asked.ip], None)  # unicast only: no group, no broadcast
    assert result.status == ProbeStatus.SUCCESS, result.error
    assert {o.ip for o in result.observations if o.signal == "sadp.reply"} == {asked.ip}
    assert result.sent == 2  # both inquiry types once: a target that answered is not asked again
    result = run_in_netns(lab.scanner_ns, go, ["10.98.0.5"], "eth0")  # no route to the target
    assert result.status == ProbeStatus.PARTIAL
    assert "10.98.0.5" in (result.error or "")
    assert {o.ip for o in result.observations if o.signal == "sadp.reply"} == {d.ip for d in lab.devices}


def test_a_device_that_replies_only_to_the_group_is_heard(lab_factory):
    """Some firmware copies its ProbeMatch to 239.255.255.250:37020 rather than the requester's port."""
    lab = lab_factory(
        [
            {
                "name": "grp",
                "ip": "10.99.0.10",
                "mac": "58:50:ed:00:00:10",
                "profile": "hikvision-nvr",
                "params": {"sadp": {"reply_to": "group"}},
            },
            {"name": "uni", "ip": "10.99.0.11", "mac": "58:50:ed:00:00:11", "profile": "hikvision-nvr"},
        ]
    )
    result = run_probe(lab, SadpProbe(), ["10.99.0.10", "10.99.0.11"])
    found = {o.ip for o in result.observations if o.signal == "sadp.reply"}
    assert found == {"10.99.0.10", "10.99.0.11"}
    assert not any("not replies" in n or "own addresses" in n for n in result.notes)  # our own inquiries
