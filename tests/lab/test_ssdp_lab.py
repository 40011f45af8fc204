"""SSDP probe against simulated devices in network namespaces (the parser and unit tests are in
tests/discovery/test_ssdp.py)."""

from __future__ import annotations

import socket

import pytest
from labtools import (
    WSD_MDNS_SSDP_LAB,
    answer_http,
    answer_one_msearch,
    assert_fleet_found_quickly,
    filled,
    fleet,
    probe_beside_peer,
    probe_whole_lab,
    require_binary,
    run_probe,
    threads_serving,
    values,
)

from scanner.discovery.base import ProbeStatus
from scanner.discovery.parsers.upnp import MAX_DESCRIPTION
from scanner.discovery.ssdp import SsdpProbe


@pytest.mark.netns
def test_mixed_lab_only_axis_and_huawei_answer_with_their_descriptions(lab_factory):
    lab = lab_factory(WSD_MDNS_SSDP_LAB)
    result = probe_whole_lab(lab, SsdpProbe())
    assert {o.ip for o in result.observations} == {"10.99.0.14", "10.99.0.15"}
    axis, huawei = filled(lab, "axis", "ssdp"), filled(lab, "huawei", "ssdp")
    assert values(result, "upnp.manufacturer") == {
        "10.99.0.14": [axis["manufacturer"]],
        "10.99.0.15": [huawei["manufacturer"]],
    }
    assert values(result, "upnp.model_name") == {
        "10.99.0.14": [axis["model_name"]],
        "10.99.0.15": [huawei["model_name"]],
    }
    assert values(result, "upnp.manufacturer")["10.99.0.14"] == ["AXIS"]
    assert values(result, "upnp.serial") == {"10.99.0.14": ["ACCC8E270AD8"]}
    assert values(result, "upnp.model_description") == {"10.99.0.14": [axis["model_description"]]}
    assert values(result, "ssdp.server") == {"10.99.0.14": [axis["server"]], "10.99.0.15": [huawei["server"]]}
    assert values(result, "ssdp.location") == {
        "10.99.0.14": ["http://10.99.0.14:49152/rootDesc.xml"],
        "10.99.0.15": ["http://10.99.0.15:49152/rootDesc.xml"],
    }
    assert "urn:axis-com:service:BasicService:1" in values(result, "ssdp.st")["10.99.0.14"]
    assert (
        "uuid:Upnp-BasicDevice-1_0-ACCC8E270AD8::urn:axis-com:service:BasicService:1"
        in values(result, "ssdp.usn")["10.99.0.14"]
    )
    assert {o.port for o in result.observations if o.signal.startswith("upnp.")} == {49152}
    assert result.duration < 2.0


@pytest.mark.netns
def test_locations_elsewhere_redirects_elsewhere_and_huge_bodies_are_not_taken(lab_factory):
    """A hostile device answers with LOCATIONs pointing at another host, redirecting there, and serving a
    body over the cap; the other host (not a target) must never be contacted."""
    from scanner.lab.netns import in_netns

    lab = lab_factory(
        [
            {"name": "evil", "ip": "10.99.0.30", "mac": "02:00:00:00:00:30"},
            {"name": "victim", "ip": "10.99.0.31", "mac": "02:00:00:00:00:31"},
        ]
    )
    with in_netns(lab.device_ns(0)):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        web = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with in_netns(lab.device_ns(1)):
        victim = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    udp.bind(("10.99.0.30", 1900))
    web.bind(("10.99.0.30", 8080))
    victim.bind(("10.99.0.31", 8080))
    for s in (web, victim):
        s.listen(8)
        s.settimeout(4)
    udp.settimeout(4)
    victim_hits: list[bytes] = []
    served: list[bytes] = []
    locations = [
        b"http://10.99.0.31:8080/desc.xml",
        b"http://10.99.0.30:8080/redirect",
        b"http://10.99.0.30:8080/huge",
    ]

    def evil_web(head: bytes) -> bytes:
        served.append(head.split(b" ")[1])
        if b"/redirect" in head:
            return (
                b"HTTP/1.1 302 Found\r\nLocation: http://10.99.0.31:8080/desc.xml\r\n"
                b"Content-Length: 0\r\nConnection: close\r\n\r\n"
            )
        body = (
            b"<root><device><manufacturer>"
            + b"A" * (MAX_DESCRIPTION + 10)
            + b"</manufacturer></device></root>"
        )
        return (
            b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body
        )  # the scanner hangs up once it has enough

    def victim_web(head: bytes) -> bytes:
        victim_hits.append(head)
        return b""

    bodies = [
        answer_one_msearch(udp, locations, b"evil"),
        answer_http(web, evil_web),
        answer_http(victim, victim_web),
    ]
    with threads_serving([udp, web, victim], *bodies):
        result = run_probe(lab, SsdpProbe(), ["10.99.0.30"])
    assert values(result, "ssdp.location") == {"10.99.0.30": [loc.decode() for loc in locations]}
    assert sorted(served) == [b"/huge", b"/redirect"]
    assert victim_hits == []
    assert not any(o.signal.startswith("upnp.") for o in result.observations)
    assert result.duration < 1.0  # the only target answered and its fetches ended: no wait for MX


@pytest.mark.netns
def test_fifty_upnp_devices_are_all_found_quickly(lab_factory):
    lab = lab_factory(groups=fleet(("axis", "ac:cc:8e", "axis-ipc"), ("hw", "00:e0:fc", "huawei-cpe")))
    assert_fleet_found_quickly(
        lab, SsdpProbe(), "upnp.model_name", lambda d: filled(lab, d.name, "ssdp")["model_name"]
    )


# ---------------------------------------------------------------- a peer nobody here wrote: MiniDLNA


@pytest.mark.netns
def test_minidlna_peer_is_found_with_its_description(lab_factory, tmp_path):
    """Debian's minidlna (a real UPnP media server: SSDP on 1900, description on 8200) inside a device
    namespace, with its config, database, log and pid file in a temporary directory."""

    minidlnad = require_binary("minidlnad")
    lab = lab_factory([{"name": "dlna", "ip": "10.99.0.41", "mac": "02:00:00:00:00:41"}])
    (tmp_path / "media").mkdir()
    conf = tmp_path / "minidlna.conf"
    conf.write_text(
        f"network_interface=eth0\nport=8200\nmedia_dir={tmp_path / 'media'}\ndb_dir={tmp_path}\n"
        f"log_dir={tmp_path}\nfriendly_name=ndaa lab DLNA peer\ninotify=no\nserial=12345678\n"
    )
    peer = [minidlnad, "-d", "-f", str(conf), "-P", str(tmp_path / "pid")]
    result = probe_beside_peer(lab, peer, "HTTP listening on port 8200", SsdpProbe(), ["10.99.0.0/24"])
    assert result.status == ProbeStatus.SUCCESS, result.error
    assert {o.ip for o in result.observations} == {"10.99.0.41"}
    assert values(result, "ssdp.location") == {"10.99.0.41": ["http://10.99.0.41:8200/rootDesc.xml"]}
    assert "urn:schemas-upnp-org:device:MediaServer:1" in values(result, "ssdp.st")["10.99.0.41"]
    assert values(result, "ssdp.server")["10.99.0.41"][0].endswith("UPnP/1.0 MiniDLNA/1.3.0")
    assert values(result, "upnp.manufacturer") == {"10.99.0.41": ["Justin Maggard"]}
    assert values(result, "upnp.model_name") == {
        "10.99.0.41": ["Windows Media Connect compatible (MiniDLNA)"]
    }
    assert values(result, "upnp.friendly_name") == {"10.99.0.41": ["ndaa lab DLNA peer"]}
    assert values(result, "upnp.serial") == {"10.99.0.41": ["12345678"]}
    assert {o.port for o in result.observations if o.signal.startswith("upnp.")} == {8200}
