"""Entity and vendor names: exact matching after normalisation; data checked against the registry."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from scanner.datafiles import fingerprints_dir
from scanner.errors import DataError
from scanner.identify.entities import (
    covered_entities,
    load_entities,
    match_organization,
    normalise_org,
    read_entities,
    vendor_for_organization,
)
from scanner.identify.oui import load_registry

ENTITIES = fingerprints_dir() / "entities.toml"
VENDORS = fingerprints_dir() / "vendors.toml"
SCOPE_A2 = (
    "video surveillance and telecommunications equipment for public safety, security of government"
    " facilities, physical security surveillance of critical infrastructure"
    " and other national security purposes"
)


@pytest.fixture(scope="module")
def registry_names() -> set[str]:
    return {m.organization for m in load_registry()}


@pytest.mark.parametrize(
    ("name", "normalised"),
    [
        ("ZHEJIANG DAHUA TECHNOLOGYCO.,LTD", "zhejiang dahua"),
        ("Zhejiang Dahua Technology Co., Ltd.", "zhejiang dahua"),
        ("Hytera Communications Co .,ltd", "hytera communications"),
        ("Hytera Communications Corporation Limited", "hytera communications"),
        ("zte corporation", "zte"),
        ("Hangzhou Hikvision Digital Technology Company", "hangzhou hikvision digital"),
        ("R&amp;M AG", "rm"),
        ("Dell'Orto S.P.A.", "dell orto"),
        ("Technology Co., Ltd", "technology"),
        ("  Ubiquiti\u00a0Inc ", "ubiquiti"),
        ("", ""),
    ],
)
def test_normalise_org(name, normalised):
    assert normalise_org(name) == normalised


# ---- positive matches ------------------------------------------------------------------------------


def test_every_listed_name_matches_its_own_row():
    for row in load_entities().organizations:
        for name in [row.name, *row.ieee]:
            match = match_organization(name)
            assert match is not None and match.id == row.id, name


@pytest.mark.parametrize(
    ("name", "row"),
    [
        ("ZHEJIANG DAHUA TECHNOLOGYCO.,LTD", "dahua"),
        ("Zhejiang Dahua Technology Co.,Ltd", "dahua"),
        ("Hytera Communications Co .,ltd", "hytera"),
        ("Hytera Communications Co.,ltd", "hytera"),  # Wireshark's respelling
        ("Hytera Communications Corporation", "hytera"),  # the §889 name
        ("zte corporation", "zte"),
        ("ZTE Corp.", "zte"),
        ("Shanghai Zte Technologies Co.,Ltd", "shanghai-zte"),
        ("HUAWEI TECHNOLOGIES CO.,LTD", "huawei"),
        ("Huawei Technologies Company", "huawei"),
        ("Hangzhou Hikvision Digital Technology Company", "hikvision"),
        ("hangzhou huacheng network technology co., ltd", "huacheng"),
        ("Hangzhou Ezviz Software Co.,Ltd.", "ezviz"),
        ("Hisilicon Technologies Co., Ltd", "hisilicon"),
    ],
)
def test_spelling_variants_match(name, row):
    match = match_organization(name)
    assert match is not None and match.id == row


# ---- traps -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "Shanghai Dahua Scale Factory",
        "JOREX LOREX INDIA",
        "Jorex Lorex India Private Limited",
        "Aztech",
        "Aztech Electronics Pte Ltd",
        "Aztech Associates Inc.",
        "Naztec",
        "Naztec, Inc.",
        "Kaztek",
        "Kaztek Systems",
        "Shenzhen Honor Electronic",
        "Shenzhen Honor Electronic Co.,Ltd",
        "ZTEC Instruments, Inc.",
        "ANHUI WANZTEN P&T CO., LTD",
        "Prama India Private Limited",
        "SHENZHEN HUACHUANG SHIDAI TECHNOLOGYCO.,LTD",
        "Hikari Co.,Ltd.",
        "Hangzhou",
        "Zhejiang",
        "Zhejiang Uniview Technologies Co.,Ltd.",
        "",
    ],
)
def test_confusable_names_do_not_match(name):
    assert match_organization(name) is None


def test_registry_names_that_match_are_exactly_the_listed_ones(registry_names):
    listed = {n for row in load_entities().organizations for n in row.ieee}
    matched = {name for name in registry_names if match_organization(name) is not None}
    assert matched == listed


# ---- data checked against the registry ---------------------------------------------------------------


def test_every_ieee_name_exists_in_the_registry(registry_names):
    for row in load_entities().organizations:
        missing = [n for n in row.ieee if n not in registry_names]
        assert not missing, f"{row.id}: {missing} not in the registry"


def test_every_vendor_alias_exists_in_the_registry(registry_names):
    data = load_entities()
    assert len(data.vendor_by_name) >= 40
    vendors = tomllib.loads(VENDORS.read_text(encoding="utf-8"))["vendor"]
    missing = [(v["name"], a) for v in vendors for a in v.get("ieee", []) if a not in registry_names]
    assert not missing


def test_covered_entities_with_their_scope():
    entities = {e.name: e for e in covered_entities()}
    far_889 = {name for name, e in entities.items() if any(m.list == "far_889" for m in e.lists)}
    assert far_889 == {"Huawei", "ZTE", "Hytera", "Hikvision", "Dahua"}  # §889 still names these five
    assert set(entities) - far_889 == {"DJI", "Autel Robotics"}  # on the FCC Covered List only
    assert entities["Huawei"].clause == entities["ZTE"].clause == "FAR 52.204-25(a)(1)"
    assert entities["ZTE"].scope == "telecommunications equipment, any use"
    for name in ("Hytera", "Hikvision", "Dahua"):
        assert entities[name].clause == "FAR 52.204-25(a)(2)" and entities[name].scope == SCOPE_A2


def test_covered_rows_carry_the_entity_scope():
    match = match_organization("Hangzhou Ezviz Software Co.,Ltd.")
    assert (match.vendor, match.entity, match.relation, match.covered) == (
        "EZVIZ",
        "Hikvision",
        "subsidiary",
        True,
    )
    assert match.scope == SCOPE_A2 and match.source and match.confidence == "high"
    huawei = match_organization("Huawei Device Co., Ltd.")
    assert huawei.covered is True and huawei.scope == "telecommunications equipment, any use"


@pytest.mark.parametrize(
    ("name", "covered", "relation"),
    [
        ("Honor Device Co., Ltd.", False, "former-subsidiary"),
        ("Lorex Technology Inc.", False, "former-subsidiary"),
        ("Hisilicon Technologies Co., Ltd", False, "subsidiary"),
        ("Hangzhou Huacheng Network Technology Co.,Ltd", None, "subsidiary"),
        ("Nubia Technology Co.,Ltd.", None, "affiliate"),
        ("Norsat International Inc.", True, "subsidiary"),
        ("Sepura Limited", True, "subsidiary"),
    ],
)
def test_status_of_related_organisations(name, covered, relation):
    match = match_organization(name)
    assert (match.covered, match.relation) == (covered, relation)
    assert match.note, "rows that are not plainly covered explain themselves"
    assert (match.scope is None) == (covered is False)


def test_rows_needing_review_or_not_covered_have_notes():
    for row in load_entities().organizations:
        if row.covered is not True or row.confidence == "low":
            assert row.note, row.id


def test_vendor_for_organization():
    assert vendor_for_organization("Axis Communications AB") == "Axis"
    assert vendor_for_organization("SAMSUNG TECHWIN CO.,LTD") == "Hanwha Vision"
    assert vendor_for_organization("Hanwha Vision VietNam") == "Hanwha Vision"
    assert vendor_for_organization("Zhejiang Uniview Technologies Co., Ltd.") == "Uniview"
    assert vendor_for_organization("Ubiquiti Inc") == "Ubiquiti"
    assert vendor_for_organization("LT SECURITY INC") == "LTS"
    assert vendor_for_organization("Apple, Inc.") == "Apple"
    assert vendor_for_organization("Hangzhou Ezviz Software Co.,Ltd.") == "EZVIZ"
    assert vendor_for_organization("Honor Device Co., Ltd.") == "Honor"
    assert vendor_for_organization("Jorex Lorex India Private Limited") is None
    assert vendor_for_organization("Shenzhen Honor Electronic Co.,Ltd") is None
    assert vendor_for_organization("Cisco-Linksys, LLC") is None


# ---- broken data -----------------------------------------------------------------------------------

GOOD_ROW = """
[[organization]]
id = "{id}"
name = "{name}"
entity = "Dahua"
vendor = "{vendor}"
relation = "{relation}"
covered = {covered}
ieee = [{ieee}]
source = "unit test"
confidence = "{confidence}"
"""


def _entities_file(tmp_path: Path, *rows: dict[str, str], extra: str = "") -> Path:
    head = ENTITIES.read_text(encoding="utf-8").split("\n[[organization]]\n")[0] + "\n"
    defaults = {
        "name": "Test Org",
        "vendor": "Dahua",
        "relation": "subsidiary",
        "covered": "true",
        "ieee": "",
        "confidence": "high",
    }
    body = "".join(GOOD_ROW.format(**{**defaults, **row}) for row in rows)
    path = tmp_path / "entities.toml"
    path.write_text(head + body + extra, encoding="utf-8")
    return path


def test_a_minimal_file_loads(tmp_path):
    data = read_entities(_entities_file(tmp_path, {"id": "test-org"}), VENDORS)
    assert [o.id for o in data.organizations] == ["test-org"] and len(data.entities) == 5


@pytest.mark.parametrize(
    ("rows", "entry", "reason"),
    [
        ([{"id": "a", "vendor": "Dahuaa"}], "organization #1 (a): vendor", "'Dahuaa' is not in vendors.toml"),
        ([{"id": "a", "confidence": "certain"}], "organization #1 (a): confidence", "Input should be"),
        (
            [{"id": "a", "covered": '"maybe"'}],
            "organization #1 (a): covered",
            'must be true, false or "review"',
        ),
        ([{"id": "a"}, {"id": "a", "name": "Other"}], "organization #2 (a): id", "duplicate id"),
        (
            [{"id": "a"}, {"id": "b", "name": "TEST ORG CO., LTD."}],
            "organization #2 (b)",
            "also claimed by 'a'",
        ),
        (
            [{"id": "a", "relation": "entity", "vendor": "Lorex"}],
            "organization #1 (a): relation",
            "relation 'entity'",
        ),
        ([{"id": "Bad Id"}], "organization #1 (Bad Id): id", "pattern"),
    ],
)
def test_broken_entities_file_names_file_line_entry_field_and_reason(tmp_path, rows, entry, reason):
    path = _entities_file(tmp_path, *rows)
    with pytest.raises(DataError) as info:
        read_entities(path, VENDORS)
    message = str(info.value)
    line = path.read_text(encoding="utf-8").splitlines().index("[[organization]]", 0) + 1
    line += 0 if entry.startswith("organization #1") else GOOD_ROW.count("\n")
    assert message.startswith(f"{path}:{line}: {entry}: "), message
    assert reason in message


def test_unknown_keys_and_bad_toml_are_data_errors(tmp_path):
    path = _entities_file(tmp_path, {"id": "a"}, extra='colour = "red"\n')
    with pytest.raises(DataError, match=re.escape(f"{path}:") + r"\d+: organization #1 \(a\): colour: Extra"):
        read_entities(path, VENDORS)
    path.write_text("[[organization]\n", encoding="utf-8")
    with pytest.raises(DataError, match=re.escape(f"{path}:1: not valid TOML")):
        read_entities(path, VENDORS)
    with pytest.raises(DataError, match="cannot read"):
        read_entities(tmp_path / "missing.toml", VENDORS)


def test_vendor_alias_claimed_twice_is_a_data_error(tmp_path):
    vendors = tmp_path / "vendors.toml"
    vendors.write_text(
        VENDORS.read_text(encoding="utf-8")
        + '[[vendor]]\nname = "Fake"\nieee = ["Zhejiang Dahua Technology Co.,Ltd"]\n',
        encoding="utf-8",
    )
    with pytest.raises(DataError, match=re.escape(f"{vendors}:") + r"\d+: vendor #\d+ \(Fake\): ieee: alias"):
        read_entities(ENTITIES, vendors)
