"""Brand -> maker edges (``fingerprints/rebrands.toml``): subsidiaries, value brands, OEM labels and the
explicit negative edges (a divested brand, an independent look-alike), each with dates and a source."""

from __future__ import annotations

import enum
from datetime import date
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from scanner.datafiles import fingerprints_dir
from scanner.dataload import read_toml, validate
from scanner.errors import DataError
from scanner.identify.fingerprints import VENDORS_FILE, load_vendor_names

REBRANDS_FILE = "rebrands.toml"


class Relation(enum.StrEnum):
    BRAND = "brand"  # the maker's own label
    SUBSIDIARY = "subsidiary"  # a company the maker controls
    OEM = "oem"  # the maker builds it, another company sells it
    DIVESTED = "divested"  # negative: sold; from `since` not the maker's
    INDEPENDENT = "independent"  # negative: a separate company often mistaken for a covered maker


NEGATIVE = frozenset({Relation.DIVESTED, Relation.INDEPENDENT})


class RebrandEdge(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    brand: str
    maker: str | None = None
    relation: Relation
    since: date | None = None
    until: date | None = None
    verified: bool
    confidence: str = Field(pattern="^(high|medium|low)$")
    source: str = Field(min_length=1)
    note: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> RebrandEdge:
        if self.maker is None and self.relation is not Relation.INDEPENDENT:
            raise ValueError("maker is required unless relation = 'independent'")
        if self.since and self.until and self.since >= self.until:
            raise ValueError("since must be before until")
        return self

    @property
    def negative(self) -> bool:
        """True when the edge says the brand is NOT the maker's."""
        return self.relation in NEGATIVE

    def holds_on(self, day: date) -> bool:
        return (self.since is None or self.since <= day) and (self.until is None or day < self.until)

    def describe(self) -> str:
        """One line for a verdict note."""
        if self.relation is Relation.INDEPENDENT:
            text = f"{self.brand} is an independent company"
        elif self.relation is Relation.DIVESTED:
            text = f"{self.brand} was divested by {self.maker}" + (f" on {self.since}" if self.since else "")
        elif self.relation is Relation.SUBSIDIARY:
            text = f"{self.brand}: subsidiary of {self.maker}"
        else:
            text = f"{self.brand}: rebrand of {self.maker}"
        if not self.negative and self.since and self.until:
            text += f" ({self.since} to {self.until})"
        elif not self.negative and (self.since or self.until):
            text += f" (since {self.since})" if self.since else f" (until {self.until})"
        if not self.verified:
            text += " (unverified)"
        return text + (f": {self.note}" if self.note else "")


class RebrandCycle(ValueError):
    """The maker edges lead back to a brand they started from."""

    def __init__(self, brands: list[str]) -> None:
        super().__init__("rebrand cycle: " + " -> ".join(brands))
        self.brands = tuple(brands)


class Rebrands:
    """Every edge, looked up by brand (case-insensitive), with every brand's maker chain resolved.

    The chains follow the positive edges whatever their dates (an ended edge still says who built
    the units of its years), so a cycle in them is refused here, once, as ``RebrandCycle``.
    """

    def __init__(self, edges: list[RebrandEdge]) -> None:
        self.edges = tuple(edges)
        self._by_brand: dict[str, list[RebrandEdge]] = {}
        for edge in self.edges:
            self._by_brand.setdefault(edge.brand.casefold(), []).append(edge)
        self._chains = _chains(self.edges)

    def chain(self, brand: str) -> tuple[str, ...]:
        """Every maker ``brand`` leads to through positive edges (any date), nearest first."""
        return self._chains.get(brand.casefold(), ())

    def edges_for(self, brand: str) -> list[RebrandEdge]:
        """Every edge of ``brand`` whatever its dates, in file order."""
        return list(self._by_brand.get(brand.casefold(), ()))

    def holding(self, brand: str, on_date: date | None = None) -> list[RebrandEdge]:
        """The edges of ``brand`` that hold on ``on_date`` (default today), verified first."""
        day = on_date or date.today()
        edges = [e for e in self._by_brand.get(brand.casefold(), ()) if e.holds_on(day)]
        return sorted(edges, key=lambda e: not e.verified)

    def maker_of(self, brand: str, on_date: date | None = None) -> RebrandEdge | None:
        """The edge that says who makes ``brand`` on ``on_date`` (may be negative), or None."""
        edges = self.holding(brand, on_date)
        return edges[0] if edges else None


def _maker_graph(edges: tuple[RebrandEdge, ...]) -> tuple[dict[str, list[str]], dict[str, str]]:
    """(brand -> makers of its positive edges, casefolded key -> name as written)."""
    makers: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    for edge in edges:
        names.setdefault(edge.brand.casefold(), edge.brand)
        if edge.maker is None or edge.negative:
            continue
        names.setdefault(edge.maker.casefold(), edge.maker)
        up = makers.setdefault(edge.brand.casefold(), [])
        if edge.maker.casefold() not in up:
            up.append(edge.maker.casefold())
    return makers, names


def _chains(edges: tuple[RebrandEdge, ...]) -> dict[str, tuple[str, ...]]:
    """brand (casefolded) -> the makers its positive edges lead to, nearest first; RebrandCycle on a loop."""
    makers, names = _maker_graph(edges)
    done: dict[str, tuple[str, ...]] = {}

    def visit(key: str, path: list[str]) -> tuple[str, ...]:
        if key in path:
            raise RebrandCycle([names[k] for k in [*path[path.index(key) :], key]])
        if key not in done:
            reached = [
                name for maker in makers.get(key, ()) for name in (names[maker], *visit(maker, [*path, key]))
            ]
            done[key] = tuple(dict.fromkeys(reached))
        return done[key]

    for key in makers:
        visit(key, [])
    return done


def load_rebrands(data_dir: Path | None = None) -> Rebrands:
    """The rebrand edges (read once per directory); DataError naming the edge and the reason."""
    return _load(data_dir or fingerprints_dir())


class _RebrandsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    edge: list[RebrandEdge] = Field(default_factory=list)


@cache
def _load(data_dir: Path) -> Rebrands:
    doc = read_toml(data_dir / REBRANDS_FILE, error=DataError)
    edges = validate(doc, _RebrandsFile, error=DataError).edge
    vendors = load_vendor_names(data_dir)
    for index, edge in enumerate(edges):
        for role, name in (("brand", edge.brand), ("maker", edge.maker)):
            if name is not None and name not in vendors:
                raise DataError(doc.entry("edge", index, f"{name!r} is not in {VENDORS_FILE}", field=role))
    try:
        return Rebrands(edges)
    except RebrandCycle as exc:
        raise DataError(f"{doc.path}: {exc} (a brand cannot lead back to itself)") from None


def maker_of(brand: str, on_date: date | None = None) -> RebrandEdge | None:
    """Who makes ``brand`` on ``on_date`` (default today) per the shipped data; see ``Rebrands.maker_of``."""
    return load_rebrands().maker_of(brand, on_date)
