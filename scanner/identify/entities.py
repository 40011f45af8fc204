"""Covered entities (NDAA FY2019 §889) and the organisations related to them, matched by name.

Data: ``fingerprints/entities.toml`` (entities, subsidiaries, affiliates, former subsidiaries, each
with its IEEE registrant names, source and confidence) and the ``ieee`` aliases in
``fingerprints/vendors.toml`` (registrant names of vendors that are not covered).

Names match exactly after ``normalise_org``, never by substring: "Shanghai Dahua Scale Factory" is
not Dahua and "Shenzhen Honor Electronic" is not Honor.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from scanner.datafiles import fingerprints_dir
from scanner.dataload import TomlFile, read_toml, validate
from scanner.errors import DataError
from scanner.identify.models import FAR_889

ENTITIES_FILE = "entities.toml"
VENDORS_FILE = "vendors.toml"
MAX_DATA_BYTES = 1 << 20

# Company-form words dropped from the end of a name. Dropped only at the end, and never the
# last word left, so "Technology Co., Ltd" stays "technology".
_FORM_WORDS = frozenset(
    {
        *(
            "co",
            "company",
            "corp",
            "corporation",
            "inc",
            "incorporated",
            "ltd",
            "limited",
            "llc",
            "lp",
            "plc",
        ),
        *("gmbh", "ag", "ab", "as", "sa", "spa", "srl", "bv", "nv", "oy", "kg", "kk"),
        *("pte", "pty", "pvt", "private", "sdn", "bhd", "technology", "technologies"),
    }
)
_NON_WORD = re.compile(r"[\W_]+")
_DATE = r"^\d{4}(-\d{2}(-\d{2})?)?$"


def normalise_org(name: str) -> str:
    """'ZHEJIANG DAHUA TECHNOLOGYCO.,LTD' -> 'zhejiang dahua', 'Naztec, Inc.' -> 'naztec'.

    Case-folds, decodes HTML entities, turns punctuation and spacing into single spaces, joins
    runs of single letters ('S.p.A.' -> 'spa'), splits words glued from two company-form words
    ('technologyco' -> 'technology co') and drops company-form words from the end.
    """
    text = unicodedata.normalize("NFKC", html.unescape(name)).casefold()
    words: list[str] = []
    letters = ""
    for word in _NON_WORD.sub(" ", text).split():
        if len(word) == 1:
            letters += word
            continue
        if letters:
            words.append(letters)
            letters = ""
        words.extend(_split_glued(word))
    if letters:
        words.append(letters)
    while len(words) > 1 and words[-1] in _FORM_WORDS:
        words.pop()
    return " ".join(words)


def _split_glued(word: str) -> list[str]:
    if word not in _FORM_WORDS:
        for i in range(2, len(word) - 1):
            if word[:i] in _FORM_WORDS and word[i:] in _FORM_WORDS:
                return [word[:i], word[i:]]
    return [word]


class CoveredList(BaseModel):
    """A list a device can be on (FAR 52.204-25, the FCC Covered List), with the date it took effect."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    name: str = Field(min_length=1)
    effective: str = Field(pattern=_DATE)
    source: str = Field(min_length=1)


class Membership(BaseModel):
    """An entity's place on one list, from ``since`` (and until ``until``, when it was taken off)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    list: str
    since: str = Field(pattern=_DATE)
    until: str | None = Field(default=None, pattern=_DATE)
    source: str = Field(min_length=1)

    def holds_on(self, day: date) -> bool:
        return _as_date(self.since) <= day and (self.until is None or day < _as_date(self.until))


class Category(BaseModel):
    """A whole category a list names, with no maker: information only, never a verdict."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    list: str
    since: str = Field(pattern=_DATE)
    name: str = Field(min_length=1)
    source: str = Field(min_length=1)
    note: str | None = None


class CoveredEntity(BaseModel):
    """An entity a list names (the five of §889, the FCC Covered List's makers), and what it covers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    legal_name: str
    clause: str
    scope: str
    source: str
    lists: list[Membership] = Field(min_length=1)

    def lists_on(self, day: date) -> list[Membership]:
        """The memberships in force on ``day``."""
        return [m for m in self.lists if m.holds_on(day)]


def _as_date(text: str) -> date:
    """'2021', '2021-03' or '2021-03-12' as the first day it names."""
    parts = [int(p) for p in text.split("-")]
    return date(parts[0], *(parts[1:] + [1, 1])[:2])


class Organization(BaseModel):
    """A covered entity or an organisation related to one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9-]+$")
    name: str
    entity: str | None = None  # the covered entity it relates to
    vendor: str  # a name in fingerprints/vendors.toml
    relation: Literal["entity", "subsidiary", "affiliate", "former-subsidiary", "former-affiliate"]
    covered: bool | Literal["review"]
    acquired: str | None = Field(default=None, pattern=_DATE)
    sold: str | None = Field(default=None, pattern=_DATE)
    ieee: list[str] = Field(default_factory=list)  # exact IEEE registrant strings
    source: str = Field(min_length=1)
    confidence: Literal["high", "medium", "low"]
    note: str | None = None

    @field_validator("covered", mode="before")
    @classmethod
    def _covered_value(cls, v: object) -> object:
        if v is not True and v is not False and v != "review":
            raise ValueError('must be true, false or "review"')
        return v

    @field_validator("name", "vendor", "source")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be blank")
        return v


class _EntitiesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lists: list[CoveredList] = Field(alias="list")  # the TOML tables are [[list]]
    category: list[Category] = Field(default_factory=list)
    entity: list[CoveredEntity]
    organization: list[Organization]


class _Vendor(BaseModel):
    model_config = ConfigDict(extra="allow")  # vendors.toml is shared; other keys belong to others

    name: str = Field(min_length=1)
    ieee: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class EntityMatch:
    """What a name matched in fingerprints/entities.toml."""

    vendor: str
    organization: str  # the matched row's name
    entity: str | None  # an [[entity]] name ("Hikvision", … "DJI") or None
    relation: str
    covered: bool | None  # None = needs review
    confidence: str
    source: str
    note: str | None
    scope: str | None  # the §889 scope of the entity, unless the row is not covered
    id: str = ""  # the row's id, for evidence: "entities.toml:<id>"


@dataclass(frozen=True)
class EntityData:
    """The loaded entity and vendor data, with name indexes."""

    lists: tuple[CoveredList, ...]
    categories: tuple[Category, ...]
    entities: tuple[CoveredEntity, ...]
    organizations: tuple[Organization, ...]
    by_name: dict[str, Organization]  # normalised row name or IEEE name -> row
    vendor_by_name: dict[str, str]  # normalised IEEE alias from vendors.toml -> vendor

    def entity(self, name: str | None) -> CoveredEntity | None:
        return next((e for e in self.entities if e.name == name), None)


def _check(doc: TomlFile, table: str, index: int, ok: bool, reason: str, field: str | None = None) -> None:
    if not ok:
        raise DataError(doc.entry(table, index, reason, field=field))


class _VendorsFile(BaseModel):
    model_config = ConfigDict(extra="allow")  # vendors.toml is shared; other keys belong to others

    vendor: list[_Vendor] = Field(default_factory=list)


def read_entities(entities_path: Path, vendors_path: Path) -> EntityData:
    """Read and cross-check both files; DataError naming the file, line, entry, field and reason."""
    vendors_doc = read_toml(vendors_path, max_bytes=MAX_DATA_BYTES, error=DataError)
    vendors = validate(vendors_doc, _VendorsFile, error=DataError).vendor
    doc = read_toml(entities_path, max_bytes=MAX_DATA_BYTES, error=DataError)
    data = validate(doc, _EntitiesFile, error=DataError)
    by_name = _organizations_by_name(doc, data, {v.name for v in vendors})
    vendor_by_name: dict[str, str] = {}
    for index, vendor in enumerate(vendors):
        for alias in vendor.ieee:
            key = normalise_org(alias)
            claimed = vendor_by_name.get(key) or (by_name[key].vendor if key in by_name else None)
            _check(
                vendors_doc,
                "vendor",
                index,
                claimed in (None, vendor.name),
                f"alias {alias!r} already names vendor {claimed!r}",
                field="ieee",
            )
            vendor_by_name[key] = vendor.name
    _check_lists(doc, data)
    return EntityData(
        tuple(data.lists),
        tuple(data.category),
        tuple(data.entity),
        tuple(data.organization),
        by_name,
        vendor_by_name,
    )


def _check_lists(doc: TomlFile, data: _EntitiesFile) -> None:
    """Every membership and category names a defined list; far_889 is defined; an entity is on a list
    no earlier than the list took effect."""
    effective = {lst.id: _as_date(lst.effective) for lst in data.lists}
    _check(doc, "list", 0, FAR_889 in effective, f"the list {FAR_889!r} must be defined", field="id")
    for index, entity in enumerate(data.entity):
        for m in entity.lists:
            _check(
                doc, "entity", index, m.list in effective, f"{m.list!r} is not a [[list]] id", field="lists"
            )
            _check(
                doc,
                "entity",
                index,
                m.list not in effective or _as_date(m.since) >= effective[m.list],
                f"on {m.list!r} since {m.since}, before the list took effect",
                field="lists",
            )
    for index, category in enumerate(data.category):
        _check(doc, "category", index, category.list in effective, f"{category.list!r} is not a [[list]] id")


def _organizations_by_name(
    doc: TomlFile, data: _EntitiesFile, vendor_names: set[str]
) -> dict[str, Organization]:
    """Normalised row name or IEEE name -> row, every row cross-checked against the entities and vendors."""
    entity_names = {e.name for e in data.entity}
    by_name: dict[str, Organization] = {}
    ids: set[str] = set()
    for index, row in enumerate(data.organization):
        _check(doc, "organization", index, row.id not in ids, "duplicate id", field="id")
        ids.add(row.id)
        _check(
            doc,
            "organization",
            index,
            row.vendor in vendor_names,
            f"{row.vendor!r} is not in {VENDORS_FILE}",
            field="vendor",
        )
        _check(
            doc,
            "organization",
            index,
            row.entity is None or row.entity in entity_names,
            f"{row.entity!r} is not an [[entity]] name",
            field="entity",
        )
        _check(
            doc,
            "organization",
            index,
            row.relation != "entity" or (row.entity is not None and row.vendor == row.entity),
            "a relation 'entity' row names its entity, and its vendor is that entity",
            field="relation",
        )
        for name in [row.name, *row.ieee]:
            key = normalise_org(name)
            other = by_name.get(key)
            _check(
                doc,
                "organization",
                index,
                other is None or other.id == row.id,
                f"{name!r} is also claimed by {other.id if other else ''!r}",
            )
            by_name[key] = row
    return by_name


@cache
def load_entities(path: Path | None = None) -> EntityData:
    """The shipped entity data (or the file at ``path``, with the shipped vendors.toml), read once."""
    root = fingerprints_dir()
    return read_entities(path or root / ENTITIES_FILE, root / VENDORS_FILE)


def covered_entities() -> list[CoveredEntity]:
    """Every entity a list names (the five of §889 and the FCC Covered List's makers), with clause,
    scope and list memberships."""
    return list(load_entities().entities)


def match_organization(org: str) -> EntityMatch | None:
    """The covered entity or related organisation ``org`` names, exactly after normalisation."""
    data = load_entities()
    row = data.by_name.get(normalise_org(org))
    if row is None:
        return None
    covered = None if row.covered == "review" else bool(row.covered)
    entity = data.entity(row.entity)
    return EntityMatch(
        vendor=row.vendor,
        organization=row.name,
        entity=row.entity,
        relation=row.relation,
        covered=covered,
        confidence=row.confidence,
        source=row.source,
        note=row.note,
        scope=entity.scope if entity is not None and covered is not False else None,
        id=row.id,
    )


def vendor_for_organization(org: str) -> str | None:
    """The vendor (a vendors.toml name) an IEEE registrant name identifies, covered or not."""
    data = load_entities()
    key = normalise_org(org)
    row = data.by_name.get(key)
    return row.vendor if row is not None else data.vendor_by_name.get(key)
