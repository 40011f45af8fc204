"""mDNS probe against simulated devices in network namespaces (the parser and unit tests are in
tests/discovery/test_mdns.py)."""

from __future__ import annotations

import subprocess

import pytest
from labtools import (
    WSD_MDNS_SSDP_LAB,
    assert_fleet_found_quickly,
    filled,
    fleet,
    probe_beside_peer,
    probe_whole_lab,
    require_binary,
    run_probe,
    values,
)

from scanner.discovery.base import ProbeStatus
from scanner.discovery.mdns import (
    MAX_TXT,
    MdnsProbe,
)


@pytest.mark.netns
def test_mixed_lab_only_hikvision_and_axis_answer_with_names_and_txt(lab_factory):
    lab = lab_factory(WSD_MDNS_SSDP_LAB)
    result = probe_whole_lab(lab, MdnsProbe())
    hik, axis = filled(lab, "hik", "mdns"), filled(lab, "axis", "mdns")
    assert {o.ip for o in result.observations} == {"10.99.0.10", "10.99.0.14"}
    assert values(result, "mdns.service") == {
        "10.99.0.10": ["_CGI._tcp.local."],
        "10.99.0.14": ["_axis-video._tcp.local."],
    }
    assert values(result, "mdns.instance") == {
        "10.99.0.10": [hik["instance"]],
        "10.99.0.14": [axis["instance"]],
    }
    assert values(result, "mdns.instance")["10.99.0.14"] == ["AXIS M1014 - ACCC8E270AD8"]
    assert values(result, "mdns.txt") == {"10.99.0.10": ["path=/"], "10.99.0.14": ["macaddress=ACCC8E270AD8"]}
    assert values(result, "mdns.hostname") == {"10.99.0.10": [hik["host"]], "10.99.0.14": [axis["host"]]}
    assert all(o.port == 80 and o.probe == "mdns" for o in result.observations)
    assert result.duration < 2.0


@pytest.mark.netns
def test_types_found_only_by_enumeration_are_browsed_and_txt_is_bounded(lab_factory):
    txt = {f"key{i:02d}": f"value{i}" for i in range(MAX_TXT + 8)}
    lab = lab_factory(
        [
            {
                "name": "odd",
                "ip": "10.99.0.20",
                "mac": "ac:cc:8e:00:00:20",
                "profile": "axis-ipc",
                "params": {"mdns": {"type": "_ndaa-lab-test._tcp.local.", "txt": txt, "port": 8080}},
            }
        ]
    )
    result = run_probe(lab, MdnsProbe(), ["10.99.0.20"])
    assert values(result, "mdns.service") == {"10.99.0.20": ["_ndaa-lab-test._tcp.local."]}
    assert values(result, "mdns.instance") == {"10.99.0.20": ["AXIS M1014 - ACCC8E000020"]}
    assert len(values(result, "mdns.txt")["10.99.0.20"]) == MAX_TXT
    assert {o.port for o in result.observations} == {8080}


@pytest.mark.netns
def test_zeroconf_sockets_live_in_the_device_namespace(lab_factory):
    from scanner.lab.manager import state_dir

    lab = lab_factory([WSD_MDNS_SSDP_LAB[4]])
    pid = (state_dir(lab.name) / "sim.pid").read_text().strip()

    def sockets(netns: str | None) -> list[str]:
        cmd = (["ip", "netns", "exec", netns] if netns else []) + ["ss", "-H", "-uanp", "sport = :5353"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=True).stdout
        return sorted(line.split()[3] for line in out.splitlines() if f"pid={pid}," in line)

    assert sockets(lab.device_ns(0)) == ["0.0.0.0:5353", "10.99.0.14:5353"]
    assert sockets(None) == []


@pytest.mark.netns
def test_fifty_mdns_devices_are_all_resolved_quickly(lab_factory):
    lab = lab_factory(groups=fleet(("axis", "ac:cc:8e", "axis-ipc"), ("hik", "58:50:ed", "hikvision-ipc")))
    assert_fleet_found_quickly(
        lab, MdnsProbe(), "mdns.instance", lambda d: filled(lab, d.name, "mdns")["instance"]
    )


# ---------------------------------------------------------------- a peer nobody here wrote: avahi-daemon

AVAHI_CONF = """[server]
host-name=ndaa-avahi-peer
use-ipv4=yes
use-ipv6=no
allow-interfaces=eth0
enable-dbus=no
disallow-other-stacks=no
[publish]
publish-workstation=yes
publish-hinfo=no
"""
AVAHI_SERVICE = """<?xml version="1.0" standalone='no'?>
<service-group>
  <name>AXIS P1435-LE - B8A44F0A0B0C</name>
  <service><type>_axis-video._tcp</type><port>80</port><txt-record>macaddress=B8A44F0A0B0C</txt-record></service>
</service-group>
"""


@pytest.mark.netns
def test_avahi_daemon_peer_is_found(lab_factory, tmp_path):
    """Debian's avahi-daemon, with its own config and no D-Bus, inside a device namespace; its config and
    run directories are bind-mounted in a private mount namespace, so nothing on the host changes."""
    avahi = require_binary("avahi-daemon")
    lab = lab_factory([{"name": "avahi", "ip": "10.99.0.40", "mac": "b8:a4:4f:0a:0b:0c"}])
    etc, run = tmp_path / "etc", tmp_path / "run"
    (etc / "services").mkdir(parents=True)
    run.mkdir()
    (etc / "avahi-daemon.conf").write_text(AVAHI_CONF)
    (etc / "services" / "camera.service").write_text(AVAHI_SERVICE)
    script = (
        f"mount --bind {etc} /etc/avahi && mount --bind {run} /run && "
        f"exec {avahi} --no-drop-root --no-chroot --no-rlimits -f /etc/avahi/avahi-daemon.conf"
    )
    peer = ["unshare", "--mount", "sh", "-c", script]
    result = probe_beside_peer(lab, peer, "successfully established", MdnsProbe(), ["10.99.0.0/24"])
    assert result.status == ProbeStatus.SUCCESS, result.error
    assert {o.ip for o in result.observations} == {"10.99.0.40"}
    assert sorted(values(result, "mdns.service")["10.99.0.40"]) == [
        "_axis-video._tcp.local.",
        "_workstation._tcp.local.",
    ]
    assert "AXIS P1435-LE - B8A44F0A0B0C" in values(result, "mdns.instance")["10.99.0.40"]
    assert values(result, "mdns.txt") == {"10.99.0.40": ["macaddress=B8A44F0A0B0C"]}
    assert set(values(result, "mdns.hostname")["10.99.0.40"]) == {"ndaa-avahi-peer.local."}
