"""Target syntax without a network: IPv4 (unchanged), IPv6 addresses and prefixes (zones, enumeration
bounds, what is refused and how it is said), exclusions of both families, and the Scope's membership
for both. No name is resolved here: every test that has names passes its own resolver."""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv6Address, IPv6Network
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.errors import TargetError
from scanner.targets import Address, Net6, Scope, Targets6, TargetSet, load_targets, own_ipv6_addresses


def no_names(name: str) -> Sequence[Address]:
    raise AssertionError(f"no name should be resolved here: {name}")


def load(*texts: str, exclude: Sequence[str] = (), **kw: object) -> TargetSet:
    return load_targets(list(texts), exclude=list(exclude), resolver=no_names, **kw)  # type: ignore[arg-type]


def v4(t: TargetSet) -> list[str]:
    return [str(a) for a in t.v4]


def hosts6(t: TargetSet) -> list[str]:
    return sorted(str(h) for h in t.v6.hosts)


# ---------------------------------------------------------------- IPv4 is as it was


def test_ipv4_forms_and_lists_split_on_commas_and_spaces() -> None:
    t = load("10.0.0.0/30", "10.0.1.5-7,10.0.2.1-10.0.2.2 10.0.3.7")
    assert v4(t) == [
        "10.0.0.1",
        "10.0.0.2",
        "10.0.1.5",
        "10.0.1.6",
        "10.0.1.7",
        "10.0.2.1",
        "10.0.2.2",
        "10.0.3.7",
    ]
    assert t.texts == ("10.0.0.0/30", "10.0.1.5-7", "10.0.2.1-10.0.2.2", "10.0.3.7")
    assert not t.v6 and t.names == {}


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("10.0.0.0/33", "not a target"),
        ("10.0.0.300", "not a target"),
        ("10.0.1.5-300", "300 is not an octet"),
        ("10.0.1.9-10.0.1.5", "ends before it starts"),
        ("ban@na", "not a target"),
        ("10.0.0.1%eth0", "link-local addresses only"),
    ],
)
def test_malformed_ipv4_says_what_is_wrong(text: str, needle: str) -> None:
    with pytest.raises(TargetError, match=needle) as info:
        load(text)
    assert "Expected 4 octets" not in str(info.value)


def test_host_names_are_told_from_malformed_addresses() -> None:
    seen: list[str] = []

    def resolver(name: str) -> Sequence[Address]:
        seen.append(name)
        return [IPv4Address("10.0.0.9")]

    texts = ["cam1.example.net", "cam1.example.net.", "nvr_2.lab", "kamera.bücher.example", "localhost"]
    t = load_targets(texts, resolver=resolver)
    assert seen == texts and v4(t) == ["10.0.0.9"]
    for text in (
        "cam1..example.net",
        "-cam.example.net",
        "cam!.example.net",
        "10.0.0",
        "1.2.3.4.5",
        "x" * 64 + ".net",
    ):
        with pytest.raises(TargetError, match="not a target"):
            load_targets([text], resolver=resolver)
    assert seen == texts  # none of those was asked


def test_nmaps_octet_ranges_and_wildcards() -> None:
    assert v4(load("10.0.0-1.1-2")) == ["10.0.0.1", "10.0.0.2", "10.0.1.1", "10.0.1.2"]
    star = load("192.168.1.*")
    assert len(star.v4) == 256 and v4(star)[0] == "192.168.1.0" and v4(star)[-1] == "192.168.1.255"
    assert v4(load("10.0.1.5-7")) == ["10.0.1.5", "10.0.1.6", "10.0.1.7"]  # the last-octet form, as before
    with pytest.raises(TargetError, match="ends before it starts"):
        load("10.0.5-3.1")
    with pytest.raises(TargetError, match="over the limit of 65536"):
        load("10.*.*.*")
    with pytest.raises(TargetError, match="too many addresses"):
        load("*.*.*.*")


def test_the_ipv4_limit_counts_every_family() -> None:
    with pytest.raises(TargetError, match="over the limit of 10"):
        load("10.0.0.0/24", max_hosts=10)
    with pytest.raises(TargetError, match="more than 10 addresses"):
        load("10.0.0.1-8", "2001:db8::/126", max_hosts=10)  # 8 + 3


# ---------------------------------------------------------------- IPv6


def test_ipv6_addresses_with_and_without_a_zone() -> None:
    t = load("2001:db8::5", "fe80::1%lo", "[2001:db8::6]")
    assert hosts6(t) == ["2001:db8::5", "2001:db8::6", "fe80::1%lo"]
    assert t.v4 == ()
    assert t.zones() == {"lo"}
    assert any("IPv6 targets" in n and "2001:db8::5" in n for n in t.notes)


def test_small_prefixes_are_enumerated_without_the_subnet_router_anycast() -> None:
    assert hosts6(load("2001:db8::/126")) == ["2001:db8::1", "2001:db8::2", "2001:db8::3"]  # RFC 4291 §2.6.1
    assert hosts6(load("2001:db8::4/127")) == ["2001:db8::4", "2001:db8::5"]
    assert hosts6(load("fe80::/126%lo")) == ["fe80::1%lo", "fe80::2%lo", "fe80::3%lo"]


@pytest.mark.parametrize("text", ["fe80::/64%lo", "fe80::%lo/64"])
def test_a_link_local_segment_is_in_scope_never_enumerated(text: str) -> None:
    t = load(text)
    assert t.v6.hosts == frozenset()
    assert t.v6.networks == (Net6(IPv6Network("fe80::/64"), "lo"),)
    scope = Scope(targets=frozenset(), ipv6=t.v6)
    assert IPv6Address("fe80::abcd%lo") in scope
    assert IPv6Address("fe80::abcd") in scope  # a zone left out matches any
    assert IPv6Address("fe80::abcd%eth7") not in scope  # another link
    assert IPv6Address("fe80:0:0:1::abcd%lo") not in scope  # another prefix


def test_a_global_64_needs_hosts_named_in_it_and_is_never_swept() -> None:
    with pytest.raises(TargetError, match="never swept") as info:
        load("2001:db8::/64")
    message = str(info.value)
    assert "2^64" in message and "/112" in message and "\n" not in message
    t = load("2001:db8::/64", "2001:db8::10")
    assert hosts6(t) == ["2001:db8::10"]
    assert t.v6.networks == (Net6(IPv6Network("2001:db8::/64")),)
    scope = Scope(targets=frozenset(), ipv6=t.v6)
    assert IPv6Address("2001:db8::beef") in scope and IPv6Address("2001:db8:0:1::1") not in scope
    with pytest.raises(TargetError, match="never swept"):  # a host elsewhere does not open a /64
        load("2001:db8::/64", "2001:db8:1::10")


def test_the_smallest_unenumerated_prefix_follows_max_hosts() -> None:
    assert len(load("2001:db8::/120", max_hosts=256).v6.hosts) == 255
    with pytest.raises(TargetError, match=r"at most 256 addresses \(/120\)"):
        load("2001:db8::/119", max_hosts=256)


def test_the_interface_is_the_default_zone_of_link_local_addresses() -> None:
    with pytest.raises(TargetError, match="needs its interface: fe80::1%eth0"):
        load("fe80::1")
    assert hosts6(load("fe80::1", default_zone="lo")) == ["fe80::1%lo"]
    assert hosts6(load("fe80::1%eth1", default_zone="lo")) == ["fe80::1%eth1"]  # the address's own zone wins


def test_an_ipv4_mapped_address_is_an_ipv4_target() -> None:
    t = load("::ffff:10.0.0.9")
    assert v4(t) == ["10.0.0.9"] and not t.v6


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("2001:db8::1-5", "IPv6 ranges are not supported"),
        ("2001:db8::1-2001:db8::5", "IPv6 ranges are not supported"),
        ("2001:db8::1%eth0", "link-local addresses only"),
        ("ff02::1", "multicast address is not a target"),
        ("::1", "not a host on a network"),
        ("2001:db8::/129", "not an IPv6 address or prefix"),
        ("2001:db8::/x", "not a prefix length"),
        ("2001:db8:::1", "not an IPv6 address or prefix"),
        ("fe80::1%eth0%eth1", "two zones"),
        ("fe80::%eth0/64%eth1", "two zones"),
        ("[2001:db8::1]:80", "not an address and port"),
        ("fe80::1%a*b", "not an interface name"),
    ],
)
def test_what_ipv6_does_not_support_is_one_clear_line(text: str, needle: str) -> None:
    with pytest.raises(TargetError, match=needle) as info:
        load(text)
    assert "\n" not in str(info.value) and "octets" not in str(info.value)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789abcdef:./%-[],fe80lo ", min_size=1, max_size=40))
def test_no_target_text_ever_crashes_or_says_expected_4_octets(text: str) -> None:
    """Any text is targets or one TargetError line in the user's terms (never ipaddress's "Expected 4
    octets", the message IPv6 targets used to get)."""

    def unresolved(name: str) -> Sequence[Address]:
        raise OSError(-2, "Name or service not known")

    try:
        load_targets([text], resolver=unresolved, max_hosts=4096)
    except TargetError as exc:
        message = str(exc)
        assert "\n" not in message and "Expected 4 octets" not in message


# ---------------------------------------------------------------- exclusions


def test_exclusions_of_both_families_subtract_and_are_never_enumerated() -> None:
    t = load(
        "10.0.0.0/29",
        "fe80::/64%lo",
        "2001:db8::/126",
        exclude=["10.0.0.2-3", "10.0.0.0/8", "2001:db8::2", "fe80::66"],
        max_hosts=64,
    )
    assert v4(t) == []  # 10.0.0.0/8 removes every IPv4 target, yet is never enumerated
    assert hosts6(t) == ["2001:db8::1", "2001:db8::3"]
    scope = Scope(targets=frozenset(t.v4), ipv6=t.v6)
    assert IPv6Address("fe80::66%lo") not in scope and IPv6Address("fe80::67%lo") in scope
    assert t.exclude_texts == ("10.0.0.2-3", "10.0.0.0/8", "2001:db8::2", "fe80::66")


def test_exclusions_that_leave_nothing_are_a_usage_error() -> None:
    with pytest.raises(TargetError, match="removes every target"):
        load("2001:db8::5", "10.0.0.1", exclude=["2001:db8::/64", "10.0.0.0/24"])


# ---------------------------------------------------------------- scope


def test_scope_places_and_probes_both_families() -> None:
    v6 = Targets6(
        hosts=frozenset({IPv6Address("2001:db8::5"), IPv6Address("fe80::9%eth0")}),
        networks=(Net6(IPv6Network("fe80::/64"), "eth1"),),
        excluded=(Net6(IPv6Network("fe80::dead/128"), None),),
    )
    scope = Scope(
        targets=frozenset({IPv4Address("10.0.0.5")}),
        own=frozenset({IPv4Address("10.0.0.2"), IPv6Address("fe80::2")}),
        ipv6=v6,
        names={"2001:db8::5": "cam6.example.net"},
    )
    assert scope.place(["2001:db8::5"]) == ("device", "2001:db8::5")
    assert scope.place(["fe80::9%eth0"]) == ("device", "fe80::9%eth0")
    assert scope.place(["fe80::9%eth1"]) == ("device", "fe80::9%eth1")  # inside the eth1 segment
    assert scope.place(["fe80::9%eth2"]) == ("heard", None)
    assert scope.place(["fe80::dead%eth1"]) == ("heard", None)  # excluded
    assert scope.place(["fe80::2%eth1"]) == ("drop", None)  # the scanner itself, whatever the zone
    assert scope.place(["::1"]) == ("drop", None)
    assert scope.place(["10.9.9.9", "2001:db8::5"]) == ("device", "2001:db8::5")
    assert scope.place(["10.0.0.5", "2001:db8::5"]) == ("device", "10.0.0.5")
    assert scope.probeable(IPv6Address("2001:db8::5")) and scope.probeable(IPv4Address("10.0.0.5"))
    assert not scope.probeable(IPv6Address("fe80::2%eth1")) and not scope.probeable(
        IPv6Address("2001:db8::6")
    )
    assert scope.name_of("2001:db8::5") == "cam6.example.net" and scope.name_of("10.0.0.5") is None


def test_an_ipv4_only_scope_is_unchanged() -> None:
    scope = Scope(targets=frozenset({IPv4Address("10.0.0.5")}))
    assert IPv6Address("2001:db8::5") not in scope and "10.0.0.5" not in scope  # addresses, not text
    assert scope.place(["2001:db8::5"]) == ("heard", None)
    assert scope.place(["fe80::1%eth0", "10.0.0.5"]) == ("device", "10.0.0.5")


def test_the_scanners_own_ipv6_addresses_are_read_with_their_zones(tmp_path: Path) -> None:
    proc = tmp_path / "if_inet6"
    proc.write_text(
        "fd000000000000000000000000000002 04 40 00 82     eth0\n"
        "00000000000000000000000000000001 01 80 10 80       lo\n"
        "fe8000000000000000fc00fffe000001 04 40 20 80     eth0\n"
        "garbage line\n"
    )
    own = own_ipv6_addresses(str(proc))
    assert own == {IPv6Address("fd00::2"), IPv6Address("::1"), IPv6Address("fe80::fc:ff:fe00:1%eth0")}
    assert own_ipv6_addresses(str(tmp_path / "missing")) == frozenset()
    scope = Scope(
        targets=frozenset(), own=own, ipv6=Targets6(networks=(Net6(IPv6Network("fe80::/64"), "eth0"),))
    )
    assert scope.place(["fe80::fc:ff:fe00:1"]) == ("drop", None)  # the scanner itself, zone or not
    assert scope.place(["fe80::fc:ff:fe00:1%eth0"]) == ("drop", None)
    assert scope.place(["fe80::fc:ff:fe00:2%eth0"]) == ("device", "fe80::fc:ff:fe00:2%eth0")
