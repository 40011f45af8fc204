"""--sample N: which addresses of each /24 the liveness sweep asks first, and what is left for later."""

from __future__ import annotations

from ipaddress import IPv4Address

from scanner.discovery.liveness import SAMPLE_FIRST, sample_targets
from scanner.targets import parse_targets


def hosts(text: str) -> list[IPv4Address]:
    return list(parse_targets([text], 1 << 17))


def test_gateways_and_factory_addresses_come_first_then_an_even_spread() -> None:
    first, rest = sample_targets(hosts("10.0.0.0/24"), 8)
    octets = [int(a) & 0xFF for a in first]
    assert octets[: len(SAMPLE_FIRST)] == list(SAMPLE_FIRST)
    assert len(octets) == len(set(octets)) == 8
    spread = sorted(octets[len(SAMPLE_FIRST) :])
    assert spread[1] - spread[0] > 64  # the two others are far apart, not neighbours
    assert sorted(first + rest[int(IPv4Address("10.0.0.0")) >> 8]) == hosts("10.0.0.0/24")


def test_every_slash24_gets_its_own_sample_and_nothing_is_lost_or_doubled() -> None:
    targets = hosts("10.1.0.0/22")
    first, rest = sample_targets(targets, 3)
    assert len(first) == 4 * 3
    assert [int(a) & 0xFF for a in first[:3]] == [1, 254, 64]
    # a /22's hosts: 10.1.0.1-10.1.3.254, so its first and last /24 hold 255 of them, the others 256
    assert [len(r) for r in rest.values()] == [255 - 3, 256 - 3, 256 - 3, 255 - 3]
    together = first + [a for r in rest.values() for a in r]
    assert sorted(together) == sorted(targets) and len(together) == len(set(together))


def test_a_partial_slash24_samples_only_its_targets() -> None:
    targets = hosts("10.2.3.10-20")  # none of the preferred addresses is a target
    first, rest = sample_targets(targets, 4)
    assert len(first) == 4 and set(first) <= set(targets)
    assert sorted(first + next(iter(rest.values()))) == targets


def test_a_sample_as_large_as_the_slash24_asks_everything_first() -> None:
    targets = hosts("10.3.0.1-5")
    first, rest = sample_targets(targets, 16)
    assert sorted(first) == targets
    assert list(rest.values()) == [[]]


def test_sample_of_one_asks_the_gateway() -> None:
    first, _rest = sample_targets(hosts("10.4.0.0/23"), 1)
    assert first == [IPv4Address("10.4.0.1"), IPv4Address("10.4.1.1")]


def test_spread_asks_every_kind_of_every_address_once_a_block_apart() -> None:
    from scanner.discovery.liveness import spread

    addresses = [f"10.0.0.{i}" for i in range(1, 11)]
    kinds = (None, 80, 443)
    order = list(spread(addresses, kinds, 4))
    assert sorted(order, key=str) == sorted(((a, k) for a in addresses for k in kinds), key=str)
    assert len(order) == len(set(order))
    position = {job: i for i, job in enumerate(order)}
    for a in addresses:  # each kind of one address comes after the previous, about a block of steps later
        gaps = [position[(a, kinds[k + 1])] - position[(a, kinds[k])] for k in range(len(kinds) - 1)]
        assert all(2 <= g <= 3 * 4 * len(kinds) for g in gaps), (a, gaps)


def test_spread_with_one_kind_keeps_the_order() -> None:
    from scanner.discovery.liveness import spread

    addresses = [f"10.0.0.{i}" for i in range(1, 6)]
    assert list(spread(addresses, (None,), 2)) == [(a, None) for a in addresses]
