"""CSV read back with the csv module: hostile strings round-trip, formulas are defused."""

from __future__ import annotations

import csv
import io

from report_fixtures import FORMULA, HOSTILE, HOSTILE_HTML, SAMPLE_STATUS_ORDER, sample_report

from scanner.report import render
from scanner.report._text import visible
from scanner.report.csv_format import COLUMNS, defuse


def _rows() -> list[dict[str, str]]:
    text = render(sample_report(), "csv")
    assert text.endswith("\r\n")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_header_and_one_row_per_device_covered_first() -> None:
    rows = _rows()
    assert tuple(rows[0]) == COLUMNS
    assert [r["status"] for r in rows] == SAMPLE_STATUS_ORDER
    assert rows[0]["ip"] == "192.168.1.64" and rows[0]["mac"] == "58:50:ed:1f:e3:85"


def test_hostile_strings_keep_their_text_with_controls_escaped() -> None:
    hostile = next(r for r in _rows() if r["ip"] == "192.168.1.200")
    # markup, quotes, commas and unicode round-trip; newline, ESC and bidi override are shown as escapes
    assert hostile["model"] == HOSTILE.replace("\n", "\\n").replace("\x1b", "\\x1b").replace(
        "\u202e", "\\u202e"
    )
    assert hostile["model"] == visible(HOSTILE)
    assert hostile["firmware"] == "V200R010C10SPC700\\r\\n| pipe | `tick` *star*"
    assert hostile["hostnames"] == f'{HOSTILE_HTML}; router,"lan"'


def test_formula_cells_are_defused() -> None:
    hostile = next(r for r in _rows() if r["ip"] == "192.168.1.200")
    assert hostile["serial"] == "'" + FORMULA
    assert defuse("-1+1") == "'-1+1" and defuse("@SUM(A1)") == "'@SUM(A1)" and defuse("DS-2CD") == "DS-2CD"


def test_evidence_waiver_and_flags() -> None:
    rows = {r["ip"]: r for r in _rows()}
    hik = rows["192.168.1.64"]
    assert (
        hik["evidence"].splitlines()[0].startswith('[+] sadp sadp.DeviceDescription:37020 = "DS-2CD2385G1-I"')
    )
    assert len(hik["evidence"].splitlines()) == 3
    waived = rows["192.168.30.10"]
    assert waived["waived"] == "yes" and waived["waiver"].startswith("Isolated lab VLAN 30")
    assert rows["192.168.1.80"]["brand_mismatch"] == "yes" and rows["192.168.1.80"]["brand"] == "Amcrest"
    # evidence is one line per item: a banner's newline is shown as \n, not split
    assert len(rows["192.168.1.200"]["evidence"].splitlines()) == 3
