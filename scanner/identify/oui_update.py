"""Rebuild the OUI registry from IEEE CSV files the user downloaded (nothing is downloaded here).

The result goes to the user's data directory (``oui.user_registry_path()``), never into the installed
package, and lookups prefer it to the shipped copy from then on. An update that would lose blocks of
covered entities, or most of a registry's blocks (a truncated or partial download), is refused with
the list of what would be lost unless forced.

The IEEE publishes one CSV per registry (oui.csv = MA-L, mam.csv = MA-M, oui36.csv = MA-S,
iab.csv = IAB), each headed ``Registry,Assignment,Organization Name,Organization Address``.
Every registry present in the given files replaces that registry wholesale; registries not
given are kept from the previous registry. ``scripts/build_oui.py`` shares the reading, merging
and writing code below.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import html
import io
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from scanner.datafiles import DATA_DIR_ENV, fingerprints_dir, package_dir
from scanner.dataload import read_text
from scanner.errors import DataError, UpdateRefused, UsageError
from scanner.identify.oui import (
    REGISTRY_BITS,
    OuiMatch,
    OuiRegistry,
    RegistryInUse,
    clear_cache,
    format_prefix,
    load_registry,
    parse_registry,
    read_registry,
    registry_in_use,
    shipped_registry_path,
    user_registry_path,
)

IEEE_HEADER = ["Registry", "Assignment", "Organization Name", "Organization Address"]
MAX_CSV_BYTES = 64 << 20  # the 2026 oui.csv is ~4 MB
MOST = 2  # an update that leaves less than 1/MOST of a registry's blocks is refused (a truncated CSV)


def clean_org(name: str) -> str:
    """The registrant as written, minus HTML entities the IEEE files sometimes carry ('R&amp;M AG')."""
    return html.unescape(name).strip()


def is_usable(match: OuiMatch) -> bool:
    """A block worth shipping: a named registrant and a universally administered unicast prefix.

    Blocks with the I/G or U/L bit set (IEEE CIDs, a few historical MA-L rows) can never
    match: lookups return None for such MACs.
    """
    first_octet = match.value >> (match.bits - 8)
    return bool(match.organization) and not first_octet & 0x03


def read_ieee_csv(path: Path) -> list[OuiMatch]:
    """Every usable row of one IEEE registry CSV; UsageError naming the file if it is not one.

    A prefix listed twice (the IEEE MA-L list has a few) keeps its first row.
    """
    text = read_text(path, max_bytes=MAX_CSV_BYTES, error=UsageError, what="IEEE CSV")
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: dict[tuple[int, int], OuiMatch] = {}
    try:
        header = next(reader, None)
        if header != IEEE_HEADER:
            raise UsageError(f"{path}: not an IEEE registry CSV: header must be {','.join(IEEE_HEADER)}")
        for row in reader:
            if not row:
                continue
            match = _csv_row(path, reader.line_num, row)
            if is_usable(match):
                rows.setdefault((match.bits, match.value), match)
    except csv.Error as exc:
        raise UsageError(f"{path}: line {reader.line_num}: not an IEEE registry CSV: {exc}") from None
    if not rows:
        raise UsageError(f"{path}: no assignments found")
    return list(rows.values())


def _csv_row(path: Path, line: int, row: list[str]) -> OuiMatch:
    if len(row) < 3:
        raise UsageError(f"{path}: line {line}: expected Registry,Assignment,Organization Name,…")
    registry, assignment, org = row[0].strip(), row[1].strip(), row[2]
    bits = REGISTRY_BITS.get(registry)
    if bits is None:
        raise UsageError(f"{path}: line {line}: unknown registry {registry!r}")
    if len(assignment) * 4 != bits or any(c not in "0123456789abcdefABCDEF" for c in assignment):
        raise UsageError(f"{path}: line {line}: {assignment!r} is not a {registry} assignment")
    return OuiMatch(format_prefix(int(assignment, 16), bits), bits, clean_org(org), registry)


def csv_source(path: Path, rows: list[OuiMatch]) -> str:
    """Provenance of one CSV: registry, name, size, digest and modification date."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    registries = "/".join(sorted({r.registry for r in rows}))
    modified = file_date(path)
    return f"IEEE {registries} CSV {path.name} ({len(rows)} blocks, sha256 {digest}…, modified {modified})"


def _replaced_csv_source(source: str, replaced: set[str]) -> bool:
    """Whether a ``csv_source`` line ('IEEE MA-L CSV oui.csv …') describes only registries now replaced."""
    head, marker, _rest = source.partition(" CSV ")
    return bool(marker) and head.startswith("IEEE ") and set(head[5:].split("/")) <= replaced


def file_date(path: Path) -> str:
    """The file's modification date (UTC), as YYYY-MM-DD."""
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).date().isoformat()


def replace_registries(base: Iterable[OuiMatch], new: Iterable[OuiMatch]) -> list[OuiMatch]:
    """``new`` plus the rows of ``base`` whose registry ``new`` does not contain."""
    new = list(new)
    replaced = {m.registry for m in new}
    return new + [m for m in base if m.registry not in replaced]


def render_registry(matches: Iterable[OuiMatch], date: str, sources: Iterable[str]) -> bytes:
    """The registry file: text rows sorted by prefix, gzip'd with mtime 0 (same input, same bytes)."""
    rows = sorted({(m.prefix, m.registry, m.organization) for m in matches})
    counts = dict.fromkeys(REGISTRY_BITS, 0)
    for i, (prefix, registry, _org) in enumerate(rows):
        counts[registry] += 1
        if i and rows[i - 1][0] == prefix:
            raise ValueError(f"{prefix} is assigned twice: {rows[i - 1][2]!r} and {rows[i][2]!r}")
    lines = [
        "# ndaa-scanner IEEE OUI registry. Generated, do not edit: see fingerprints/oui/README.md",
        f"# date: {date}",
        *(f"# source: {s}" for s in sources),
        "# counts: " + ", ".join(f"{k}={v}" for k, v in counts.items()),
        "# columns: prefix<TAB>registry<TAB>organization",
        *("\t".join(row) for row in rows),
    ]
    for line in lines:
        if "\n" in line or "\r" in line:
            raise ValueError(f"line break inside a registry row: {line!r}")
    raw = ("\n".join(lines) + "\n").encode("utf-8")
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=9, mtime=0) as gz:
        gz.write(raw)
    return out.getvalue()


def build_registry(
    matches: Iterable[OuiMatch], date: str, sources: Iterable[str], origin: str = "<new registry>"
) -> tuple[bytes, OuiRegistry]:
    """The registry file's bytes and the registry they load as (nothing written)."""
    data = render_registry(matches, date, sources)
    return data, parse_registry(gzip.decompress(data).decode("utf-8"), origin)


def write_registry(matches: Iterable[OuiMatch], path: Path, date: str, sources: Iterable[str]) -> OuiRegistry:
    """Write the registry atomically (temporary file, then rename) and return it as loaded."""
    data, registry = build_registry(matches, date, sources, str(path))
    _write_atomically(data, path)
    return registry


def _write_atomically(data: bytes, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class VendorChange:
    """How the blocks of one covered or related vendor changed."""

    vendor: str
    total: int
    added: tuple[str, ...]
    removed: tuple[str, ...]


@dataclass(frozen=True)
class UpdateSummary:
    """What an update wrote and what changed for the vendors the scanner cares about."""

    path: Path
    date: str
    sources: tuple[str, ...]
    counts: dict[str, int]
    total: int
    previous_date: str
    previous_total: int
    changes: tuple[VendorChange, ...]
    losses: tuple[str, ...] = ()  # what the update loses that a good IEEE download never does
    forced: bool = False  # written despite ``losses`` (--force)

    @property
    def older(self) -> bool:
        """The CSVs are dated before the registry they replaced: probably a stale download."""
        return self.date < self.previous_date

    def render(self) -> str:
        per_registry = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        lines = [
            f"OUI registry written to {self.path}",
            *([f"  written despite (--force): {loss}" for loss in self.losses] if self.forced else []),
            f"  date {self.date}: {self.total} blocks ({per_registry})",
            f"  previously {self.previous_total} blocks dated {self.previous_date}",
            *(["  warning: these files are older than the registry they replaced"] if self.older else []),
            *(f"  source: {s}" for s in self.sources),
            "Covered entities and related vendors (blocks, added, removed):",
        ]
        width = max((len(c.vendor) for c in self.changes), default=0)
        for c in self.changes:
            line = f"  {c.vendor:<{width}}  {c.total:>5}  +{len(c.added)} -{len(c.removed)}"
            if c.added:
                line += "  added " + _shortlist(c.added)
            if c.removed:
                line += "  removed " + _shortlist(c.removed)
            lines.append(line)
        return "\n".join(lines)


def _blocks(n: int) -> str:
    return f"{n} block" if n == 1 else f"{n} blocks"


def _shortlist(prefixes: tuple[str, ...], limit: int = 12) -> str:
    shown = " ".join(prefixes[:limit])
    return shown if len(prefixes) <= limit else f"{shown} … (+{len(prefixes) - limit} more)"


def tracked_prefixes(registry: OuiRegistry) -> dict[str, set[str]]:
    """Vendor -> prefixes of every organisation named in fingerprints/entities.toml."""
    from scanner.identify.entities import load_entities, normalise_org

    out: dict[str, set[str]] = {}
    for row in load_entities().organizations:
        prefixes = out.setdefault(row.vendor, set())
        for name in {normalise_org(n) for n in row.ieee}:
            prefixes.update(m.prefix for m in registry.prefixes_for(name))
    return out


def covered_vendors() -> frozenset[str]:
    """Vendors of entities.toml rows that are covered or under review (not the sold or unrelated ones)."""
    from scanner.identify.entities import load_entities

    return frozenset(row.vendor for row in load_entities().organizations if row.covered is not False)


def losses(previous: OuiRegistry, current: OuiRegistry, changes: Iterable[VendorChange]) -> tuple[str, ...]:
    """What ``current`` loses that a complete, newer IEEE download never does: blocks of covered
    entities (the IEEE does not take assignments back), or most of a registry's blocks (a truncated file)."""
    out = []
    covered = covered_vendors()
    for change in changes:
        if change.vendor in covered and change.removed:
            out.append(
                f"{change.vendor}: {_blocks(len(change.removed))} removed ({_shortlist(change.removed, 6)})"
            )
    before, after = previous.counts(), current.counts()
    for registry, count in before.items():
        if count and after.get(registry, 0) * MOST < count:
            out.append(f"{registry}: {after.get(registry, 0)} of {_blocks(count)} left")
    return tuple(out)


def summarise(previous: OuiRegistry, current: OuiRegistry, path: Path) -> UpdateSummary:
    before, after = tracked_prefixes(previous), tracked_prefixes(current)
    changes = tuple(
        VendorChange(
            vendor,
            len(after[vendor]),
            tuple(sorted(after[vendor] - before.get(vendor, set()))),
            tuple(sorted(before.get(vendor, set()) - after[vendor])),
        )
        for vendor in sorted(after, key=str.casefold)
    )
    return UpdateSummary(
        path=path,
        date=current.date,
        sources=tuple(current.sources),
        counts=current.counts(),
        total=len(current),
        previous_date=previous.date,
        previous_total=len(previous),
        changes=changes,
    )


def update_registry(csv_files: list[Path], dest: Path | None = None, *, force: bool = False) -> UpdateSummary:
    """Rebuild the registry from IEEE CSVs and write it to ``dest`` (default: ``user_registry_path()``).

    Registries in the CSVs replace the previous ones (the registry at ``dest`` if it exists, else the one
    in use); the summary lists the blocks added and removed for each covered or related vendor. An update
    that loses covered-entity blocks or most of a registry (``losses``) raises ``UpdateRefused`` naming
    what would be lost, unless ``force``. The installed package is never written to.
    """
    target = _destination(dest)
    fresh, sources, date = _read_csvs(csv_files)
    previous = _previous(target)
    merged = replace_registries(previous, fresh)
    seen = {m.registry for m in fresh}
    if {m.registry for m in merged} - seen:
        sources += [s for s in previous.sources if not _replaced_csv_source(s, seen)]
    data, current = build_registry(merged, date, sources, str(target))
    summary = summarise(previous, current, target)
    lost = losses(previous, current, summary.changes)
    if lost and not force:
        raise UpdateRefused(
            f"refusing to replace the OUI registry ({previous.date}, {len(previous)} blocks): the new one "
            f"loses what a complete IEEE download never does:\n"
            + "\n".join(f"  {loss}" for loss in lost)
            + "\nAre the CSV files complete? Pass --force to write it anyway."
        )
    try:
        _write_atomically(data, target)
    except OSError as exc:
        raise UsageError(f"{target}: cannot write the OUI registry: {exc.strerror or exc}") from None
    clear_cache()
    return replace(summary, losses=lost, forced=bool(lost))


def _previous(target: Path) -> OuiRegistry:
    """The registry an update replaces: the one at ``target``, else the one in use; a broken file at
    ``target`` is replaced on the shipped registry's basis (an update is how one repairs it)."""
    if not target.is_file():
        return load_registry()
    try:
        return read_registry(target)
    except DataError:
        return read_registry(shipped_registry_path())


def _destination(dest: Path | None) -> Path:
    target = Path(dest) if dest is not None else user_registry_path()
    resolved = target.expanduser().resolve()
    if any(resolved.is_relative_to(d) for d in (package_dir(), fingerprints_dir().resolve())):
        raise UsageError(f"{target}: updates never write into the installed package (use another --dest)")
    if resolved.is_dir():
        raise UsageError(f"{target}: is a directory (--dest names the registry file)")
    return target


def _read_csvs(csv_files: list[Path]) -> tuple[list[OuiMatch], list[str], str]:
    """Every usable row of the CSVs, one source line each, and the newest file date."""
    if not csv_files:
        raise UsageError("no IEEE CSV files given (oui.csv, mam.csv, oui36.csv, iab.csv)")
    fresh: list[OuiMatch] = []
    sources: list[str] = []
    dates: list[str] = []
    seen: set[str] = set()
    for path in map(Path, csv_files):
        rows = read_ieee_csv(path)
        clash = seen & {r.registry for r in rows}
        if clash:
            raise UsageError(f"{path}: registry {', '.join(sorted(clash))} given twice")
        seen.update(r.registry for r in rows)
        fresh.extend(rows)
        sources.append(csv_source(path, rows))
        dates.append(file_date(path))
    return fresh, sources, max(dates)


@dataclass(frozen=True)
class RegistryStatus:
    """``ndaa-scan fingerprints status``: which registry lookups use, its date and block counts."""

    in_use: RegistryInUse
    registry: OuiRegistry
    shipped: OuiRegistry | None  # the shipped copy, when an updated one is in use

    def render(self) -> str:
        origin = "updated by `fingerprints update`" if self.in_use.origin == "updated" else "shipped"
        lines = [
            f"OUI registry in use: {self.in_use.path} ({origin})",
            f"  {_describe(self.registry)}",
        ]
        if self.shipped is not None:
            lines.append(f"  shipped copy: {shipped_registry_path()}")
            lines.append(f"  {_describe(self.shipped)}")
            if self.shipped.date > self.registry.date:
                lines.append(
                    "  warning: the shipped copy is newer: run `fingerprints update` with newer CSVs"
                )
        else:
            lines.append(f"  updates go to {user_registry_path()} (${DATA_DIR_ENV} moves it)")
        return "\n".join(lines)


def _describe(registry: OuiRegistry) -> str:
    per_registry = ", ".join(f"{k} {v}" for k, v in registry.counts().items())
    return f"date {registry.date}: {len(registry)} blocks ({per_registry})"


def registry_status() -> RegistryStatus:
    in_use = registry_in_use()
    registry = load_registry()
    shipped = load_registry(shipped_registry_path()) if in_use.origin == "updated" else None
    return RegistryStatus(in_use, registry, shipped)
