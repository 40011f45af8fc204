"""Which hosts the banner phase probes, and how long it may take."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

from scanner.observations import Observation
from scanner.scan import banner_budget, discovery_budget, live_hosts

TARGETS = [IPv4Address("10.0.0.5"), IPv4Address("10.0.0.6"), IPv4Address("10.0.9.7")]


def test_on_link_targets_need_a_discovery_answer_off_link_ones_are_all_probed():
    seen = [
        Observation(
            signal="mac", value="58:50:ed:00:00:01", probe="arp", ip="10.0.0.5", mac="58:50:ed:00:00:01"
        ),
        Observation(signal="sadp.reply", value="x", probe="sadp", ip="192.0.0.64"),
    ]
    live = live_hosts(seen, TARGETS, discovered=True, swept=IPv4Network("10.0.0.0/24"))
    # 10.0.0.6 was swept by ARP and did not answer: skipped; 10.0.9.7 is across a router: probed;
    # 192.0.0.64 announced itself (factory address): probed
    assert live == {"10.0.0.5": "58:50:ed:00:00:01", "192.0.0.64": None, "10.0.9.7": None}


def test_without_an_arp_sweep_every_target_is_probed():
    assert set(live_hosts([], TARGETS, discovered=True, swept=None)) == {str(t) for t in TARGETS}
    assert set(live_hosts([], TARGETS, discovered=False)) == {str(t) for t in TARGETS}


def test_banner_budget_grows_with_the_number_of_hosts():
    assert banner_budget(8.0, 50, 128) == 8.0
    assert banner_budget(8.0, 4000, 128) == 64.0


def test_discovery_budget_leaves_time_to_ask_every_target():
    assert discovery_budget(3.0, 254) == 3.0
    assert discovery_budget(3.0, 65536) > 65536 / 5000
