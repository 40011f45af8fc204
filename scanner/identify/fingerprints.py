"""The banner and protocol fingerprint database (recog-style, one TOML file per matched signal).

``fingerprints/banners/*.toml`` each declare ``matches`` (the signals they read) and a list of
``[[fingerprint]]`` entries: a Python regex, the vendor it identifies, how strongly (``certainty``),
named captures (``model``, ``firmware``, ``serial``, ``mac``) and real ``examples``. Loading validates
every file and raises ``DataError`` naming the file, the entry and the reason; ``self_test`` runs every
example the way recog's verifier does (each example must be matched first by its own entry).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from scanner.datafiles import fingerprints_dir, local_fingerprints_dir
from scanner.dataload import TomlFile, load_toml, read_toml, validate
from scanner.errors import DataError
from scanner.observations import PROTOCOL_FIELD_PREFIXES, SIGNALS

BANNERS_DIR = "banners"
LOCAL_PREFIX = "local."  # the file name of a user's own fingerprint in evidence: "local.<stem>:<id>"
VENDORS_FILE = "vendors.toml"
CAPTURE_NAMES = frozenset({"model", "firmware", "serial", "mac"})
DEVICE_TYPES = frozenset(
    {
        "camera",
        "thermal-camera",
        "nvr",
        "dvr",
        "doorbell",
        "access-control",
        "video-encoder",
        "router",
        "switch",
        "gateway",
        "ont",
        "modem",
        "phone",
        "radio",
        "repeater",
        "voip",
        "media-player",
    }
)
MAX_EXAMPLES = 20
MATCH_CACHE_SIZE = 1 << 13


def is_known_signal(signal: str) -> bool:
    """A name from ``SIGNALS``, or a protocol field signal ``sadp.<Field>`` / ``dhip.<Key>``."""
    if signal in SIGNALS:
        return True
    return any(signal.startswith(p) and len(signal) > len(p) for p in PROTOCOL_FIELD_PREFIXES)


# --- data file schema -------------------------------------------------------------------------


class Example(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    value: str

    @property
    def captures(self) -> dict[str, str]:
        return {k: str(v) for k, v in (self.model_extra or {}).items()}


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9.-]*$")
    pattern: str = Field(min_length=1)
    description: str = Field(min_length=1)
    vendor: str | None = None
    brand: str | None = None
    device_type: str | None = None
    certainty: float | None = None
    source: str = Field(min_length=1)
    note: str | None = None
    signals: list[str] | None = None  # a subset of the file's ``matches``; default: all of them
    examples: list[Example] = Field(min_length=1)

    @field_validator("examples", mode="before")
    @classmethod
    def _examples_as_tables(cls, v: Any) -> Any:
        if isinstance(v, list):
            return [{"value": x} if isinstance(x, str) else x for x in v]
        return v


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    matches: list[str] = Field(min_length=1)
    protocol: str | None = None
    description: str = Field(min_length=1)
    preference: float = Field(default=0.5, ge=0.0, le=1.0)  # certainty of entries that set none
    fingerprint: list[_Entry] = Field(min_length=1)

    @field_validator("matches", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v


# --- the compiled database --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FingerprintMatch:
    """One entry that matched one value. ``captures`` is shared between calls: do not mutate it."""

    entry_id: str
    file: str  # file stem, e.g. "www_authenticate"
    vendor: str | None
    brand: str | None
    device_type: str | None
    certainty: float
    captures: dict[str, str]
    description: str
    source: str
    note: str | None = None

    @property
    def ref(self) -> str:
        """'file:entry-id', the Evidence.matched form."""
        return f"{self.file}:{self.entry_id}"


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """One compiled entry."""

    entry_id: str
    file: str
    regex: re.Pattern[str]
    signals: tuple[str, ...]
    vendor: str | None
    brand: str | None
    device_type: str | None
    certainty: float
    description: str
    source: str
    note: str | None
    examples: tuple[Example, ...]
    where: str = ""  # "FILE:LINE: fingerprint #N (id)", for self-test messages

    def apply(self, value: str) -> FingerprintMatch | None:
        m = self.regex.search(value)
        if m is None:
            return None
        captures = {k: v.strip() for k, v in m.groupdict().items() if v and v.strip()}
        return FingerprintMatch(
            self.entry_id,
            self.file,
            self.vendor,
            self.brand,
            self.device_type,
            self.certainty,
            captures,
            self.description,
            self.source,
            self.note,
        )


class FingerprintDB:
    """Every fingerprint, indexed by signal; ``match`` is memoised on (signal, value)."""

    def __init__(self, entries: Iterable[Fingerprint], files: Iterable[str] = ()) -> None:
        self.entries: tuple[Fingerprint, ...] = tuple(entries)
        self.files: tuple[str, ...] = tuple(files)
        index: dict[str, list[Fingerprint]] = {}
        for entry in self.entries:
            for signal in entry.signals:
                index.setdefault(signal, []).append(entry)
        self._index = {s: tuple(es) for s, es in index.items()}
        self.signals = frozenset(self._index)
        self._cached = lru_cache(maxsize=MATCH_CACHE_SIZE)(self._match)

    def match(self, signal: str, value: str) -> list[FingerprintMatch]:
        """Every entry that matches ``value`` seen as ``signal``, best first."""
        if signal not in self.signals:
            return []
        return list(self._cached(signal, value))

    def best(self, signal: str, value: str) -> FingerprintMatch | None:
        """The best match, or None."""
        if signal not in self.signals:
            return None
        hits = self._cached(signal, value)
        return hits[0] if hits else None

    def explain(self, signal: str, value: str) -> str:
        """A human-readable account of what ``value`` seen as ``signal`` matches, entry by entry."""
        lines = [f"{signal} = {value!r}"]
        if not is_known_signal(signal):
            lines.append(f"  {signal!r} is not a known signal name")
            return "\n".join(lines)
        tried = self.entries_for(signal)
        hits = self.match(signal, value)
        if not hits:
            lines.append(f"  no match ({len(tried)} fingerprints read {signal})")
        for hit in hits:
            who = hit.vendor or "identifies no vendor"
            if hit.brand:
                who += f" (brand {hit.brand})"
            lines.append(f"  {hit.ref}: {who}, certainty {hit.certainty:.2f}")
            lines.append(f"    {hit.description}")
            if hit.device_type:
                lines.append(f"    device type: {hit.device_type}")
            if hit.captures:
                lines.append(
                    "    captures: " + ", ".join(f"{k}={v}" for k, v in sorted(hit.captures.items()))
                )
            if hit.note:
                lines.append(f"    note: {hit.note}")
            lines.append(f"    source: {hit.source}")
        return "\n".join(lines)

    def entries_for(self, signal: str) -> tuple[Fingerprint, ...]:
        return self._index.get(signal, ())

    def _match(self, signal: str, value: str) -> tuple[FingerprintMatch, ...]:
        """Each file's first hit (in file order, as the self-test checks), best first; then the rest."""
        firsts: list[FingerprintMatch] = []
        others: list[FingerprintMatch] = []
        files_hit: set[str] = set()
        for entry in self._index[signal]:
            hit = entry.apply(value)
            if hit is not None:
                (others if entry.file in files_hit else firsts).append(hit)
                files_hit.add(entry.file)
        firsts.sort(key=_by_certainty)
        others.sort(key=_by_certainty)
        return tuple(firsts + others)


def _by_certainty(hit: FingerprintMatch) -> float:
    return -hit.certainty


# --- loading ------------------------------------------------------------------------------------


@dataclass
class _Loaded:
    entries: list[Fingerprint] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    file_entries: dict[str, list[Fingerprint]] = field(default_factory=dict)  # file stem -> entries


class _VendorName(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1)


class _VendorsFile(BaseModel):
    model_config = ConfigDict(extra="allow")  # vendors.toml is shared; other keys belong to others

    vendor: list[_VendorName] = Field(min_length=1)


def load_vendor_names(data_dir: Path | None = None) -> frozenset[str]:
    """The canonical vendor names of ``vendors.toml``; DataError if it is broken."""
    return _vendor_names(data_dir or fingerprints_dir())


@cache
def _vendor_names(data_dir: Path) -> frozenset[str]:
    vendors = load_toml(data_dir / VENDORS_FILE, _VendorsFile, error=DataError)
    return frozenset(v.name for v in vendors.vendor)


def _load(data_dir: Path, local_dir: Path | None = None) -> _Loaded:
    """Read and compile every banner file, then the user's own (``local_dir``, files named ``local.<stem>``
    in evidence), collecting (not raising) every structural problem."""
    out = _Loaded()
    try:
        vendors = _vendor_names(data_dir)
    except DataError as exc:
        out.problems.append(str(exc))
        vendors = frozenset()
    seen_ids: dict[str, str] = {}
    _load_files(sorted((data_dir / BANNERS_DIR).glob("*.toml")), "", vendors, seen_ids, out)
    if not out.files and not out.problems:
        out.problems.append(f"{data_dir / BANNERS_DIR}: no fingerprint files")
    if local_dir is not None and local_dir.is_dir():
        _load_files(sorted(local_dir.glob("*.toml")), LOCAL_PREFIX, vendors, seen_ids, out)
    return out


def _load_files(
    paths: list[Path], prefix: str, vendors: frozenset[str], seen_ids: dict[str, str], out: _Loaded
) -> None:
    for path in paths:
        try:
            doc = read_toml(path, error=DataError)
            spec = validate(doc, _File, error=DataError)
        except DataError as exc:
            out.problems.append(str(exc))
            continue
        stem = prefix + path.stem
        out.files.append(stem)
        compiled = out.file_entries.setdefault(stem, [])
        out.problems += [f"{path}: unknown signal {s!r}" for s in spec.matches if not is_known_signal(s)]
        for index, entry in enumerate(spec.fingerprint):
            fp = _compile(doc, index, entry, spec, vendors, seen_ids, out.problems, stem)
            if fp is not None:
                compiled.append(fp)
                out.entries.append(fp)


def _compile(
    doc: TomlFile,
    index: int,
    entry: _Entry,
    spec: _File,
    vendors: frozenset[str],
    seen_ids: dict[str, str],
    problems_out: list[str],
    stem: str,
) -> Fingerprint | None:
    """One entry compiled (None if its regex does not compile); its problems appended to ``problems_out``."""
    problems = _entry_problems(entry, spec, vendors)
    if entry.id in seen_ids:
        problems.append(f"duplicate id (also in {seen_ids[entry.id]})")
    seen_ids.setdefault(entry.id, doc.path.name)
    regex = None
    try:
        regex = re.compile(entry.pattern)
    except re.error as exc:
        problems.append(f"bad regex: {exc}")
    if regex is not None:
        problems += [
            f"capture {g!r} is not one of {sorted(CAPTURE_NAMES)}"
            for g in regex.groupindex
            if g not in CAPTURE_NAMES
        ]
    where = doc.where("fingerprint", index)
    problems_out += [f"{where}: {p}" for p in problems]
    if regex is None:
        return None
    return Fingerprint(
        entry.id,
        stem,
        regex,
        tuple(entry.signals or spec.matches),
        entry.vendor,
        entry.brand,
        entry.device_type,
        spec.preference if entry.certainty is None else entry.certainty,
        entry.description,
        entry.source,
        "; ".join(filter(None, ("local fingerprint", entry.note)))
        if stem.startswith(LOCAL_PREFIX)
        else entry.note,
        tuple(entry.examples),
        where,
    )


def _entry_problems(entry: _Entry, spec: _File, vendors: frozenset[str]) -> list[str]:
    problems = _naming_problems(entry, vendors)
    if entry.device_type is not None and entry.device_type not in DEVICE_TYPES:
        problems.append(f"device_type {entry.device_type!r} is not one of {sorted(DEVICE_TYPES)}")
    if entry.certainty is not None and not 0.0 <= entry.certainty <= 1.0:
        problems.append(f"certainty {entry.certainty} is not in 0..1")
    if entry.signals is not None and not set(entry.signals) <= set(spec.matches):
        problems.append(
            f"signals {sorted(set(entry.signals) - set(spec.matches))} are not in the file's matches"
        )
    return problems + _example_problems(entry)


def _naming_problems(entry: _Entry, vendors: frozenset[str]) -> list[str]:
    problems = [
        f"{label} {name!r} is not in {VENDORS_FILE}"
        for label, name in (("vendor", entry.vendor), ("brand", entry.brand))
        if name is not None and name not in vendors
    ]
    if entry.vendor is None and entry.brand is not None:
        problems.append("brand without vendor")
    if entry.vendor is None and not entry.note:
        problems.append("an entry that identifies no vendor needs a note saying why it exists")
    return problems


def _example_problems(entry: _Entry) -> list[str]:
    problems = []
    if len(entry.examples) > MAX_EXAMPLES:
        problems.append(f"{len(entry.examples)} examples (at most {MAX_EXAMPLES})")
    values = [e.value for e in entry.examples]
    if len(set(values)) != len(values):
        problems.append("duplicate examples")
    for example in entry.examples:
        bad = set(example.captures) - CAPTURE_NAMES
        if bad:
            problems.append(f"example {example.value!r} expects unknown captures {sorted(bad)}")
    return problems


def load_database(data_dir: Path | None = None) -> FingerprintDB:
    """The compiled database (read once per directory): the shipped files, then the user's own
    (``local_fingerprints_dir()``, only with the shipped data); DataError on any broken file or entry."""
    if data_dir is not None:
        return _load_database(data_dir, None)
    return _load_database(fingerprints_dir(), local_fingerprints_dir())


@cache
def _load_database(data_dir: Path, local_dir: Path | None) -> FingerprintDB:
    loaded = _load(data_dir, local_dir)
    if loaded.problems:
        more = f" (and {len(loaded.problems) - 1} more problems)" if len(loaded.problems) > 1 else ""
        raise DataError(loaded.problems[0] + more)
    return FingerprintDB(loaded.entries, loaded.files)


# --- self-test ----------------------------------------------------------------------------------


@dataclass
class SelfTestReport:
    files: int = 0
    entries: int = 0
    examples: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def render(self) -> str:
        return (
            f"{self.files} files, {self.entries} fingerprints, {self.examples} examples, "
            f"{len(self.failures)} failures"
        )


def self_test(data_dir: Path | None = None) -> SelfTestReport:
    """Check every file, entry and example (recog's rules); report every failure, raise nothing."""
    loaded = (
        _load(data_dir, None) if data_dir is not None else _load(fingerprints_dir(), local_fingerprints_dir())
    )
    report = SelfTestReport(
        files=len(loaded.files), entries=len(loaded.entries), failures=list(loaded.problems)
    )
    for stem, entries in loaded.file_entries.items():
        for entry in entries:
            for example in entry.examples:
                report.examples += 1
                report.failures += _example_failures(stem, entries, entry, example)
    return report


def _example_failures(
    stem: str, file_entries: list[Fingerprint], entry: Fingerprint, example: Example
) -> list[str]:
    where = f"{entry.where}: example {example.value!r}"
    hit = entry.apply(example.value)
    if hit is None:
        return [f"{where}: does not match the entry's pattern"]
    failures = []
    for signal in entry.signals:
        first = next((e for e in file_entries if signal in e.signals and e.regex.search(example.value)), None)
        if first is not None and first is not entry:
            failures.append(f"{where}: matched first by {first.entry_id!r} for {signal}")
    for name, expected in example.captures.items():
        got = hit.captures.get(name)
        if got != expected:
            failures.append(f"{where}: capture {name} is {got!r}, expected {expected!r}")
    return failures


# --- explain ------------------------------------------------------------------------------------


def explain(signal: str, value: str) -> str:
    """``FingerprintDB.explain`` on the shipped database (``ndaa-scan fingerprints lookup``)."""
    return load_database().explain(signal, value)
