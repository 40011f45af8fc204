"""Two lists with dates: FAR 52.204-25 (what the verdict's status answers) and the FCC Covered List
(reported beside it, never merged into it), each membership with its own date, so a verdict can be
reproduced for any day (``identify(on_date=…)``, ``--as-of``)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from scanner.errors import DataError
from scanner.identify.entities import load_entities, read_entities
from scanner.identify.models import Status
from scanner.identify.verdict import identify
from scanner.observations import Device, Observation
from tests.paths import REPO

ENTITIES = REPO / "fingerprints" / "entities.toml"
VENDORS = REPO / "fingerprints" / "vendors.toml"
DJI_MAC = "34:d2:62:10:20:30"  # IEEE MA-L 34-D2-62: SZ DJI TECHNOLOGY CO.,LTD
HIKVISION_MAC = "58:50:ed:1f:e3:85"  # IEEE MA-L 58-50-ED: Hangzhou Hikvision Digital Technology
H3C_MAC = "00:be:d5:00:00:01"  # IEEE MA-L 00-BE-D5: New H3C Technologies Co., Ltd
SADP = [("sadp", "sadp.reply", "DS-2CD2385G1-I"), ("sadp", "sadp.DeviceDescription", "DS-2CD2385G1-I")]


def device(mac: str, *observations: tuple[str, str, str]) -> Device:
    obs = [Observation(signal="mac", value=mac, probe="arp", ip="10.9.0.5", mac=mac)]
    obs += [Observation(signal=s, value=v, probe=p, ip="10.9.0.5", mac=mac) for p, s, v in observations]
    return Device(ip="10.9.0.5", mac=mac, observations=obs)


def test_a_dji_device_is_on_the_fcc_list_and_not_covered_by_far_889() -> None:
    v = identify(device(DJI_MAC), on_date=date(2026, 12, 3))
    assert (v.status, v.vendor, v.covered_entity, v.lists) == (
        Status.NOT_COVERED,
        "DJI",
        None,
        ["fcc_covered"],
    )
    assert any(
        "DJI is not on FAR 52.204-25 on 2026-12-03; on fcc_covered since 2025-12-22" in n for n in v.notes
    )


def test_before_the_fcc_added_dji_it_is_on_no_list() -> None:
    v = identify(device(DJI_MAC), on_date=date(2025, 12, 21))
    assert (v.status, v.vendor, v.lists) == (Status.NOT_COVERED, "DJI", [])


@pytest.mark.parametrize(
    ("day", "status", "lists"),
    [
        (date(2026, 12, 3), Status.COVERED, ["far_889", "fcc_covered"]),
        (date(2020, 1, 15), Status.COVERED, ["far_889"]),  # before the FCC list was first published
        (date(2019, 8, 13), Status.COVERED, ["far_889"]),  # the day §889(a)(1)(A) took effect
        (date(2019, 8, 12), Status.NOT_COVERED, []),
    ],
)
def test_a_hikvision_camera_on_each_day(day: date, status: Status, lists: list[str]) -> None:
    v = identify(device(HIKVISION_MAC, *SADP), on_date=day)
    assert (v.status, v.lists) == (status, lists)
    assert v.vendor == "Hikvision"
    if status is Status.NOT_COVERED:
        assert v.covered_entity is None
        assert any(
            n.startswith("Hikvision is not on FAR 52.204-25 on 2019-08-12 (from 2019-08-13)") for n in v.notes
        )


def test_the_lists_and_categories_are_loaded_with_their_dates() -> None:
    data = load_entities()
    assert {lst.id: lst.effective for lst in data.lists} == {
        "far_889": "2019-08-13",
        "fcc_covered": "2021-03-12",
    }
    assert {(c.list, c.since) for c in data.categories} == {
        ("fcc_covered", "2025-12-22"),
        ("fcc_covered", "2026-03-23"),
    }


def _with(tmp_path: Path, old: str, new: str) -> Path:
    text = ENTITIES.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "entities.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_a_membership_of_an_undefined_list_is_a_data_error(tmp_path: Path) -> None:
    path = _with(
        tmp_path,
        '{ list = "fcc_covered", since = "2021-03-12"',
        '{ list = "fcc_coverd", since = "2021-03-12"',
    )
    with pytest.raises(
        DataError, match=r"entity #1 \(Huawei\): lists: 'fcc_coverd' is not a \[\[list\]\] id"
    ):
        read_entities(path, VENDORS)


def test_a_membership_before_its_list_took_effect_is_a_data_error(tmp_path: Path) -> None:
    path = _with(
        tmp_path,
        '{ list = "fcc_covered", since = "2021-03-12"',
        '{ list = "fcc_covered", since = "2020-01-01"',
    )
    with pytest.raises(DataError, match="since 2020-01-01, before the list took effect"):
        read_entities(path, VENDORS)


def test_h3c_is_not_covered_since_huawei_sold_its_stake() -> None:
    """The decision on H3C (formerly Huawei-3Com), with the edge's sources: not covered, and said why."""
    v = identify(device(H3C_MAC), on_date=date(2026, 12, 3))
    assert (v.status, v.vendor, v.covered_entity, v.lists) == (Status.NOT_COVERED, "H3C", None, [])
    assert any(n.startswith("H3C was divested by Huawei on 2007-12-31") for n in v.notes)
