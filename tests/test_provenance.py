"""Provenance stays self-contained: every citation in the repository can be checked by whoever clones it.

Two rules (fingerprints/README.md, "Provenance"):
* no tracked file cites the private research notes the project started from (their file names, or
  the directory they live in), only public sources or the project's own docs;
* every covered-entity and rebrand row's ``source`` contains a citation in one of the accepted forms
  (``SOURCE_RE``): a URL, ``owner/repo@commit:path``, an RFC, or a standard citation.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.paths import REPO

# The accepted citation forms, one alternative each (explained in fingerprints/README.md).
SOURCE_RE = re.compile(
    r"https?://[^\s;,()]+"  # a URL
    r"|[A-Za-z0-9][\w.-]*/[\w.-]+@[0-9a-f]{7,40}:[^\s;,()]+"  # owner/repo@commit:path
    r"|\bRFC ?\d{3,5}\b"  # an RFC
    r"|\bFAR \d{1,2}\.\d{3,4}(?:-\d+)?\b"  # a FAR part, section or clause
    r"|\b\d+ CFR \d+\.\d+\b"  # a CFR section
    r"|\bPub\. L\. \d+-\d+\b"  # a US public law
    r"|\bIEEE (?:MA-[LMS]|RA) registry of \d{4}-\d{2}\b"  # an IEEE registry, with its date
)

# Citations of the research notes: a notes file by name (``X.md``, ``X §1.2``, ``X section 1.2``,
# ``(X)`` for the two distinctive names) or their directory. Case-sensitive: the notes are upper case.
# The names are spelled in pieces so that this file does not cite them itself.
_FP, _MS, _DM, _ST = "FINGER" + "PRINTS", "MEASURE" + "MENTS", "DOM" + "AIN", "STY" + "LE"
_NOTES = f"(?:{_FP}|{_DM}|{_MS}|{_ST})"
OUTSIDE_RE = re.compile(
    rf"\b{_NOTES}\.md\b"
    rf"|\b{_NOTES} ?(?:§|section\b)"
    rf"|\b(?:{_FP}|{_MS})\b"
    r"|(?:\.\./|/work/)shared[/]"
    rf"|\bshared[/]{_NOTES}"
)

TEXT_LIMIT = 2_000_000  # bytes: larger tracked files are data blobs, not prose


def tracked_files() -> list[Path]:
    """The files git tracks; outside a git checkout (an sdist), every file but caches and virtualenvs."""
    git = shutil.which("git")
    if git and (REPO / ".git").exists():
        out = subprocess.run([git, "-C", str(REPO), "ls-files", "-z"], check=True, capture_output=True).stdout
        return [REPO / name for name in out.decode().split("\0") if name]
    skip = {".git", ".venv", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
    return [p for p in REPO.rglob("*") if p.is_file() and not skip.intersection(p.parts)]


def outside_citations(path: Path) -> list[str]:
    """``path:line: text`` for each line of a text file that cites the research notes."""
    if not path.is_file() or path.stat().st_size > TEXT_LIMIT:
        return []
    data = path.read_bytes()
    if b"\0" in data:
        return []
    text = data.decode("utf-8", errors="replace")
    rel = path.relative_to(REPO)
    return [
        f"{rel}:{n}: {line.strip()[:120]}"
        for n, line in enumerate(text.splitlines(), 1)
        if OUTSIDE_RE.search(line)
    ]


def test_no_tracked_file_cites_the_research_notes() -> None:
    files = tracked_files()
    assert len(files) > 100, "the file listing came back (nearly) empty"
    hits = [hit for path in files for hit in outside_citations(path)]
    assert hits == [], "cite the public source or docs/*.md instead:\n" + "\n".join(hits)


def _rows(name: str, tables: tuple[str, ...]) -> list[tuple[str, dict[str, object]]]:
    data = tomllib.loads((REPO / "fingerprints" / name).read_text(encoding="utf-8"))
    rows: list[tuple[str, dict[str, object]]] = []
    for table in tables:
        for i, row in enumerate(data.get(table, [])):
            label = str(row.get("id") or row.get("name") or row.get("brand"))
            rows.append((f"{name} [[{table}]] #{i} {label}", row))
    return rows


ROWS = _rows("entities.toml", ("list", "category", "entity", "organization")) + _rows(
    "rebrands.toml", ("edge",)
)
MEMBERSHIPS = [
    (f"{label} lists #{i} {m['list']}", m)
    for label, row in ROWS
    if "[[entity]]" in label
    for i, m in enumerate(row["lists"])  # type: ignore[arg-type]
]


def test_every_entity_and_rebrand_row_is_counted() -> None:
    tables = {label.split(" ")[1] for label, _ in ROWS}
    assert tables == {"[[list]]", "[[category]]", "[[entity]]", "[[organization]]", "[[edge]]"}
    # the five §889 entities and the two makers the FCC Covered List added on 2025-12-22
    assert sum(1 for label, _ in ROWS if "[[entity]]" in label) == 7
    assert len(MEMBERSHIPS) == 12  # five entities on both lists, two on the FCC list only


@pytest.mark.parametrize(("label", "membership"), MEMBERSHIPS, ids=[label for label, _ in MEMBERSHIPS])
def test_every_list_membership_cites_a_public_source(label: str, membership: dict[str, object]) -> None:
    source = membership.get("source")
    assert isinstance(source, str) and SOURCE_RE.search(source), f"{label}: {source!r}"


@pytest.mark.parametrize(("label", "row"), ROWS, ids=[label for label, _ in ROWS])
def test_row_cites_a_public_source(label: str, row: dict[str, object]) -> None:
    source = row.get("source")
    assert isinstance(source, str) and source.strip(), f"{label}: no source"
    assert SOURCE_RE.search(source), f"{label}: no URL, owner/repo@commit:path, RFC or standard: {source!r}"
    assert not OUTSIDE_RE.search(source), f"{label}: cites the research notes: {source!r}"


@pytest.mark.parametrize(
    "source",
    [
        "https://www.acquisition.gov/far/52.204-25",
        "nmap/nmap@db4aefdd:nmap-service-probes line 10282",
        "rapid7/recog@14fa1a7211e7fb5707c7a1b421a07d6c2cf4eec5:xml/http_servers.xml",
        "RFC 6763 section 9",
        "FAR 52.204-25(a)(1)",
        "2 CFR 200.216",
        "Pub. L. 115-232 §889",
        "IEEE MA-L registry of 2026-10: registrant only",
    ],
)
def test_source_re_accepts_each_form(source: str) -> None:
    assert SOURCE_RE.search(source)


@pytest.mark.parametrize(
    "source",
    [
        "scmp.com; seekingalpha",  # a site name is not a page
        "ref 28488762960",  # a research-index id, not checkable
        "nmap/nmap:nmap-service-probes",  # no commit
        "nmap/nmap@main:nmap-service-probes",  # a branch moves
        "IEEE MA-L registrant",  # no registry date
        "FAR",  # no section
        "Hikvision 2020 annual report",
    ],
)
def test_source_re_rejects_uncheckable_sources(source: str) -> None:
    assert not SOURCE_RE.search(source)


@pytest.mark.parametrize(
    "line",
    [
        'source = "' + "FINGER" + 'PRINTS.md §2 Hikvision (recog)"',
        "Measured here (../" + "shared" + "/" + "MEASURE" + "MENTS.md): 254 hosts",
        "(" + "DOM" + "AIN §4.3)",
        "bound to 0.0.0.0 cannot broadcast (" + "MEASURE" + "MENTS), so",
        "Values follow /work/" + "shared" + "/" + "notes",
    ],
)
def test_outside_re_catches_each_citation_shape(line: str) -> None:
    assert OUTSIDE_RE.search(line)


@pytest.mark.parametrize(
    "line",
    [
        "STATUS_STYLE: dict[Status, str] = {",
        "see docs/PROTOCOLS.md#sadp and docs/PERFORMANCE.md",
        "certificates shared across a product line",
        "the DOMAIN of a cookie",
    ],
)
def test_outside_re_leaves_ordinary_text_alone(line: str) -> None:
    assert not OUTSIDE_RE.search(line)


DOC_LINK_RE = re.compile(r"\bdocs/([A-Za-z0-9_-]+\.md)(?:#([a-z0-9-]+))?")


def heading_anchors(doc: Path) -> set[str]:
    """GitHub's anchors for a Markdown file's headings: lower case, punctuation dropped, spaces to '-'."""
    anchors = set()
    for line in doc.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def test_every_cited_doc_and_anchor_exists() -> None:
    """Code and data that point at docs/*.md#section point at a file and a heading that exist."""
    broken = []
    cited = 0
    for path in tracked_files():
        if path.suffix not in {".py", ".toml", ".md", ".xml", ".sh"} or not path.is_file():
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            for name, anchor in DOC_LINK_RE.findall(line):
                cited += 1
                doc = REPO / "docs" / name
                if not doc.is_file() or (anchor and anchor not in heading_anchors(doc)):
                    broken.append(
                        f"{path.relative_to(REPO)}:{n}: docs/{name}{'#' + anchor if anchor else ''}"
                    )
    assert cited > 20, "expected the code and data to cite the project's docs"
    assert broken == []


def test_heading_anchors_follow_github() -> None:
    doc = REPO / "docs" / "PERFORMANCE.md"
    assert {"arp-sweep", "libraries-and-data-packages", "sockets-and-namespaces"} <= heading_anchors(doc)
