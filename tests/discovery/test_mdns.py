"""mDNS / DNS-SD: TXT and name handling, and the probe in namespaces against python-zeroconf responders
(one simulator process serving every device)."""

from __future__ import annotations

import asyncio
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from labtools import WSD_MDNS_SSDP_LAB, filled, require_binary, run_probe, values, wait_for_line

from scanner.discovery.base import Collector, ProbeContext, ProbeStatus
from scanner.discovery.mdns import (
    BROWSE_TYPES,
    ENUMERATION_TYPE,
    MAX_TXT,
    MdnsProbe,
    _Session,
    instance_label,
    pick_address,
    txt_entries,
)
from scanner.targets import parse_targets

# ---------------------------------------------------------------- pure helpers


def test_txt_entries_as_key_value_with_boolean_keys():
    assert txt_entries({b"macaddress": b"ACCC8E270AD8", b"path": b"/", b"flag": None}) == [
        "macaddress=ACCC8E270AD8",
        "path=/",
        "flag",
    ]
    assert txt_entries(None) == []
    assert txt_entries({b"": None}) == []  # avahi's empty TXT record


def test_txt_entries_are_bounded_and_never_raise_on_binary():
    props = {f"k{i}".encode(): b"\xff\xfe" + bytes([i]) for i in range(MAX_TXT + 10)}
    out = txt_entries(props)
    assert len(out) == MAX_TXT
    assert out[0] == "k0=\ufffd\ufffd\x00"


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.binary(max_size=40), st.one_of(st.none(), st.binary(max_size=300)), max_size=80))
def test_random_txt_records_never_raise(props):
    out = txt_entries(props)
    assert len(out) == len([k for k in list(props)[:MAX_TXT] if k])
    assert all(isinstance(e, str) and e for e in out)


def test_instance_label_strips_the_service_type():
    axis = "AXIS M1014 - ACCC8E270AD8"
    assert instance_label(f"{axis}._axis-video._tcp.local.", "_axis-video._tcp.local.") == axis
    assert instance_label("HIKVISION X._cgi._tcp.local.", "_CGI._tcp.local.") == "HIKVISION X"
    assert instance_label("odd.name.", "_http._tcp.local.") == "odd.name."


@pytest.mark.parametrize(
    ("addresses", "network", "ip"),
    [
        (["169.254.107.165", "128.223.10.14"], None, "128.223.10.14"),  # a camera also announcing link-local
        (
            ["10.1.0.5", "192.168.1.64"],
            "192.168.1.0/24",
            "192.168.1.64",
        ),  # on the scan interface's subnet first
        (["169.254.1.1"], "192.168.1.0/24", "169.254.1.1"),  # nothing better
        (["127.0.0.1", "not an address", "10.0.0.9"], None, "10.0.0.9"),
        ([], None, None),
    ],
)
def test_the_address_other_probes_reach_is_chosen(addresses, network, ip):
    from ipaddress import IPv4Network

    assert pick_address(addresses, IPv4Network(network) if network else None) == ip


def test_hostile_enumerated_types_are_not_browsed():
    """Type names from the network that our pattern or zeroconf's rules refuse start no browser."""
    from zeroconf import ServiceStateChange

    session = _Session(None, Collector("mdns", ProbeContext(targets=[])), 1)
    for name in (
        "_a--b._tcp.local.",
        "_-x._tcp.local.",
        "not a type",
        "_x._sctp.local.",
        "_" + "a" * 80 + "._tcp.local.",
    ):
        session._on_change(None, ENUMERATION_TYPE, name, ServiceStateChange.Added)
    assert session.browsers == []


def test_camera_types_are_browsed():
    assert {
        "_CGI._tcp.local.",
        "_axis-video._tcp.local.",
        "_rtsp._tcp.local.",
        "_http._tcp.local.",
        "_onvif._tcp.local.",
        "_psia._tcp.local.",
        "_workstation._tcp.local.",
    } == set(BROWSE_TYPES)


# ---------------------------------------------------------------- probe without a network


def test_no_interface_is_skipped():
    result = asyncio.run(MdnsProbe().run(ProbeContext(targets=parse_targets(["10.99.0.0/30"]))))
    assert result.status == ProbeStatus.SKIPPED
    assert result.observations == []


def test_unknown_interface_is_an_error_not_an_exception():
    result = asyncio.run(MdnsProbe().run(ProbeContext(targets=[], interface="nd-no-such-if")))
    assert result.status == ProbeStatus.ERROR
    assert "nd-no-such-if" in (result.error or "")


# ---------------------------------------------------------------- namespaces


@pytest.mark.netns
def test_mixed_lab_only_hikvision_and_axis_answer_with_names_and_txt(lab_factory):
    lab = lab_factory(WSD_MDNS_SSDP_LAB)
    result = run_probe(lab, MdnsProbe(), ["10.99.0.0/24"])
    assert result.status == ProbeStatus.SUCCESS, result.error
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
    lab = lab_factory(
        groups=[
            {
                "name": "axis",
                "count": 25,
                "start_ip": "10.99.0.100",
                "ouis": ["ac:cc:8e"],
                "profile": "axis-ipc",
            },
            {
                "name": "hik",
                "count": 25,
                "start_ip": "10.99.0.150",
                "ouis": ["58:50:ed"],
                "profile": "hikvision-ipc",
            },
        ]
    )
    result = run_probe(lab, MdnsProbe(), ["10.99.0.0/24"], timeout=3.0)
    assert result.status == ProbeStatus.SUCCESS, result.error
    instances = values(result, "mdns.instance")
    assert instances == {d.ip: [filled(lab, d.name, "mdns")["instance"]] for d in lab.devices}
    print(f"\nmdns: {len(instances)} of 50 devices in {result.duration:.2f} s")
    assert result.duration < 2.5


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
    proc = subprocess.Popen(
        ["ip", "netns", "exec", lab.device_ns(0), "unshare", "--mount", "sh", "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_line(proc, "successfully established", 15)
        result = run_probe(lab, MdnsProbe(), ["10.99.0.0/24"])
    finally:
        proc.terminate()
        proc.wait(10)
    assert result.status == ProbeStatus.SUCCESS, result.error
    assert {o.ip for o in result.observations} == {"10.99.0.40"}
    assert sorted(values(result, "mdns.service")["10.99.0.40"]) == [
        "_axis-video._tcp.local.",
        "_workstation._tcp.local.",
    ]
    assert "AXIS P1435-LE - B8A44F0A0B0C" in values(result, "mdns.instance")["10.99.0.40"]
    assert values(result, "mdns.txt") == {"10.99.0.40": ["macaddress=B8A44F0A0B0C"]}
    assert set(values(result, "mdns.hostname")["10.99.0.40"]) == {"ndaa-avahi-peer.local."}
