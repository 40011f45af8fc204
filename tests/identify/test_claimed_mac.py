"""A MAC the device states about itself (SADP/DHIP MAC fields, ONVIF ``MAC/`` scope, WS-Discovery endpoint
UUID) is OUI evidence only when no MAC was seen on the wire (routed targets, imports), and weaker."""

from __future__ import annotations

from scanner.identify.models import Status
from scanner.identify.verdict import CLAIMED_MAC_FACTOR, OUI_CERTAINTY, identify
from scanner.observations import Device, Observation

IP = "10.20.0.7"
HIKVISION_MAC = "58:50:ed:1f:e3:85"  # IEEE MA-L 58-50-ED: Hangzhou Hikvision Digital Technology
AXIS_MAC = "ac:cc:8e:01:02:03"  # IEEE MA-L AC-CC-8E: Axis Communications AB


def routed(*observations: tuple[str, str, str], mac: str | None = None) -> Device:
    obs = [Observation(signal=s, value=v, probe=p, ip=IP, mac=mac) for p, s, v in observations]
    if mac:
        obs.insert(0, Observation(signal="mac", value=mac, probe="arp", ip=IP, mac=mac))
    return Device(ip=IP, mac=mac, observations=obs)


def test_a_claimed_mac_is_weaker_oui_evidence_when_no_mac_was_seen() -> None:
    v = identify(
        routed(
            ("wsd", "wsd.types", "dn:NetworkVideoTransmitter tds:Device"),
            ("wsd", "claimed.mac", HIKVISION_MAC),
        )
    )
    assert (v.status, v.covered_entity) == (Status.LIKELY, "Hikvision")
    (ev,) = [e for e in v.evidence if e.matched.startswith("oui:")]
    assert (ev.signal, ev.value, ev.probe) == ("claimed.mac", HIKVISION_MAC, "wsd")
    assert ev.certainty == round(OUI_CERTAINTY["high"] * CLAIMED_MAC_FACTOR, 3) < OUI_CERTAINTY["high"]
    assert ev.note and "claimed by the device" in ev.note


def test_a_mac_seen_on_the_wire_wins_over_any_claim() -> None:
    """A reply from an Axis camera that claims a Hikvision MAC (a spoofer, or a relabelled board)."""
    v = identify(routed(("sadp", "claimed.mac", HIKVISION_MAC), mac=AXIS_MAC))
    assert v.status == Status.NOT_COVERED
    assert all(e.signal != "claimed.mac" for e in v.evidence)


def test_claims_are_bounded_and_junk_is_ignored() -> None:
    claims = [("dhip", "claimed.mac", f"58:50:ed:00:00:{i:02x}") for i in range(50)]
    v = identify(routed(("dhip", "claimed.mac", "not a mac"), *claims))
    assert sum(1 for e in v.evidence if e.signal == "claimed.mac") == 2
    assert v.status == Status.LIKELY


def test_a_locally_administered_claim_is_no_evidence() -> None:
    v = identify(routed(("wsd", "claimed.mac", "02:11:22:33:44:55")))
    assert v.status == Status.UNKNOWN
    assert any("locally administered" in n for n in v.notes)
