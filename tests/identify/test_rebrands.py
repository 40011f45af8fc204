"""Brand -> maker edges: the shipped data, dates, negative edges, and broken files."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from scanner.datafiles import fingerprints_dir
from scanner.errors import DataError
from scanner.identify.fingerprints import load_vendor_names
from scanner.identify.rebrands import Relation, load_rebrands, maker_of

REBRANDS = load_rebrands()


def test_every_brand_and_maker_is_in_vendors_toml() -> None:
    names = load_vendor_names()
    used = {e.brand for e in REBRANDS.edges} | {e.maker for e in REBRANDS.edges if e.maker}
    assert used <= names, sorted(used - names)


@pytest.mark.parametrize(
    "brand", ["HiWatch", "HiLook", "EZVIZ", "LTS", "TruVision", "Hills", "Prama Hikvision"]
)
def test_hikvision_brands(brand: str) -> None:
    edge = maker_of(brand)
    assert edge is not None and edge.maker == "Hikvision" and not edge.negative


@pytest.mark.parametrize("brand", ["Amcrest", "IC Realtime", "Intelbras", "CP PLUS", "Q-See"])
def test_dahua_oem_brands_are_unverified(brand: str) -> None:
    edge = maker_of(brand)
    assert edge is not None and (edge.maker, edge.relation, edge.verified) == ("Dahua", Relation.OEM, False)


def test_annke_and_swann_are_suspected_only() -> None:
    annke = maker_of("ANNKE")
    assert annke is not None and not annke.verified and annke.confidence == "low"
    swann = REBRANDS.holding("Swann")
    assert {e.maker for e in swann} == {"Hikvision", "Dahua"} and not any(e.verified for e in swann)


def test_ezviz_is_a_verified_subsidiary() -> None:
    edge = maker_of("ezviz")  # case-insensitive
    assert edge is not None and edge.relation is Relation.SUBSIDIARY and edge.verified


def test_honor_is_huawei_before_the_sale_and_explicitly_not_after() -> None:
    before = maker_of("Honor", date(2020, 11, 16))
    after = maker_of("Honor", date(2020, 11, 17))
    assert before is not None and before.maker == "Huawei" and not before.negative
    assert after is not None and after.relation is Relation.DIVESTED and after.negative
    assert "2020-11-17" in after.describe()


def test_lorex_is_dahua_only_until_the_sale() -> None:
    assert maker_of("Lorex", date(2021, 6, 1)).maker == "Dahua"  # type: ignore[union-attr]
    assert maker_of("Lorex", date(2023, 1, 1)) is None
    (edge,) = REBRANDS.edges_for("Lorex")
    assert edge.until == date(2022, 11, 23) and "Skywatch" in (edge.note or "")


def test_imou_needs_review_after_the_sale_announcement() -> None:
    assert maker_of("Imou", date(2024, 1, 1)).verified  # type: ignore[union-attr]
    after = maker_of("Imou", date(2025, 6, 1))
    assert after is not None and not after.verified


def test_uniview_is_an_independent_look_alike() -> None:
    edge = maker_of("Uniview")
    assert edge is not None and edge.relation is Relation.INDEPENDENT and edge.maker is None
    assert "not named in §889" in edge.describe()


def test_unknown_brand() -> None:
    assert maker_of("Axis") is None and REBRANDS.edges_for("Nobody") == []


def test_describe() -> None:
    assert maker_of("HiWatch").describe().startswith("HiWatch: rebrand of Hikvision (unverified)")  # type: ignore[union-attr]


UNVERIFIED = 'verified = false\nconfidence = "low"\nsource = "t"'
BACKWARDS = "since = 2022-01-01\nuntil = 2021-01-01"


@pytest.mark.parametrize(
    ("edge", "message"),
    [
        (
            f'brand = "Acme"\nmaker = "Dahua"\nrelation = "oem"\n{UNVERIFIED}',
            r"rebrands\.toml:1: edge #1 \(Acme\): brand: 'Acme' is not in vendors\.toml",
        ),
        (
            f'brand = "Amcrest"\nrelation = "oem"\n{UNVERIFIED}',
            r"rebrands\.toml:1: edge #1 \(Amcrest\): maker is required",
        ),
        (
            f'brand = "Amcrest"\nmaker = "Dahua"\nrelation = "cousin"\n{UNVERIFIED}',
            r"relation: Input should be",
        ),
        (
            f'brand = "Lorex"\nmaker = "Dahua"\nrelation = "oem"\n{BACKWARDS}\n{UNVERIFIED}',
            r"since must be before until",
        ),
    ],
)
def test_broken_rebrands_raise_data_error(tmp_path: Path, edge: str, message: str) -> None:
    shutil.copy(fingerprints_dir() / "vendors.toml", tmp_path / "vendors.toml")
    (tmp_path / "rebrands.toml").write_text(f"[[edge]]\n{edge}\n")
    with pytest.raises(DataError, match=message):
        load_rebrands(tmp_path)


def _edge(brand: str, maker: str) -> str:
    return (
        f'[[edge]]\nbrand = "{brand}"\nmaker = "{maker}"\nrelation = "oem"\nverified = false\n'
        'confidence = "low"\nsource = "test"\n'
    )


@pytest.mark.parametrize(
    ("edges", "loop"),
    [
        (
            [("Amcrest", "Dahua"), ("Dahua", "Lorex"), ("Lorex", "Amcrest")],
            "Amcrest -> Dahua -> Lorex -> Amcrest",
        ),
        ([("EZVIZ", "EZVIZ")], "EZVIZ -> EZVIZ"),
    ],
)
def test_a_rebrand_cycle_is_a_data_error_naming_the_brands_and_the_file(
    tmp_path: Path, edges: list[tuple[str, str]], loop: str
) -> None:
    shutil.copy(fingerprints_dir() / "vendors.toml", tmp_path / "vendors.toml")
    path = tmp_path / "rebrands.toml"
    path.write_text("\n".join(_edge(b, m) for b, m in [("HiWatch", "Hikvision"), *edges]))
    with pytest.raises(DataError) as info:
        load_rebrands(tmp_path)
    assert str(path) in str(info.value) and f"rebrand cycle: {loop}" in str(info.value)


def test_chains_are_resolved_at_load_time() -> None:
    assert REBRANDS.chain("HiWatch") == ("Hikvision",)
    assert REBRANDS.chain("hiwatch") == ("Hikvision",)
    assert REBRANDS.chain("Hikvision") == ()
    assert REBRANDS.chain("No Such Brand") == ()
    for edge in REBRANDS.edges:
        assert edge.brand not in REBRANDS.chain(edge.brand)
