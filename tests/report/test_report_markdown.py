"""Markdown and the compliance report, parsed with markdown-it-py (CommonMark + GFM tables, raw HTML on)."""

from __future__ import annotations

from datetime import date

from markdown_it import MarkdownIt
from markdown_it.token import Token
from report_fixtures import HOSTILE, HOSTILE_HTML, sample_report

from scanner.report import render
from scanner.report._text import visible
from scanner.report.compliance import next_business_day


def _tokens(text: str) -> list[Token]:
    flat: list[Token] = []
    for tok in MarkdownIt("commonmark", {"html": True}).enable("table").parse(text):
        flat.append(tok)
        flat.extend(tok.children or [])
    return flat


def _table_rows(tokens: list[Token], header_first_cell: str) -> list[list[str]]:
    """Body rows (cell texts) of the table whose first header cell is ``header_first_cell``."""
    rows, row, in_table, cell = [], [], False, None
    for i, tok in enumerate(tokens):
        if tok.type == "table_open":
            header = next(t for t in tokens[i:] if t.type == "inline")
            in_table = header.content == header_first_cell
        elif in_table and tok.type in ("td_open", "th_open"):
            cell = tok.type
        elif in_table and tok.type == "inline" and cell:
            row.append(tok.content)
        elif in_table and tok.type == "tr_close":
            if cell == "td_open":
                rows.append(row)
            row, cell = [], None
        elif tok.type == "table_close":
            in_table = False
    return rows


def _no_html(tokens: list[Token]) -> None:
    assert not [t for t in tokens if t.type in ("html_inline", "html_block")]
    assert not [t for t in tokens if t.type == "link_open"]


def test_markdown_device_table_covered_first_and_parses_cleanly() -> None:
    tokens = _tokens(render(sample_report(), "markdown"))
    _no_html(tokens)
    rows = _table_rows(tokens, "#")
    assert [r[1] for r in rows] == [
        "Covered",
        "Covered (waived)",
        "Likely covered",
        "Likely covered",
        "Suspected",
        "Not covered",
        "Unknown",
    ]
    assert all(len(r) == 8 for r in rows)  # the hostile model's '|' did not split a cell
    counts = _table_rows(tokens, "Covered")
    assert counts == [["2", "2", "1", "1", "1", "1", "7"]]


def test_markdown_hostile_strings_are_literal_code() -> None:
    tokens = _tokens(render(sample_report(), "markdown"))
    codes = {t.content for t in tokens if t.type == "code_inline"}
    assert visible(HOSTILE) in codes and visible(HOSTILE_HTML) in codes
    assert "V200R010C10SPC700\\r\\n| pipe | `tick` *star*" in codes
    assert not [t for t in tokens if t.type == "em_open"]  # '*star*' stayed literal (we never emit emphasis)


def test_markdown_evidence_per_device() -> None:
    text = render(sample_report(), "markdown")
    section = text.split("### 1. Covered: `192.168.1.64` `58:50:ed:1f:e3:85`")[1].split("### 2.")[0]
    assert (
        "supports: sadp `sadp.DeviceDescription` port 37020 = `DS-2CD2385G1-I` → Hikvision (0.95)" in section
    )
    assert "**Waived:** Isolated lab VLAN 30" in text.split("### 2.")[1].split("### 3.")[0]


def test_compliance_has_the_far_fields_for_every_finding() -> None:
    text = render(sample_report(), "compliance")
    tokens = _tokens(text)
    _no_html(tokens)
    findings = text.split("### Finding ")[1:]
    assert len(findings) == 5  # covered x2, likely x2, suspected; not-covered and unknown are counted only
    fields = (
        "Covered entity",
        "Manufacturer",
        "Brand",
        "Model number",
        "Serial number / identifier",
        "Item description",
        "IP address",
        "MAC address",
        "Where found",
        "When found",
        "Waiver",
        "Mitigation",
    )
    for finding in findings:
        for field in fields:
            assert f"| {field} |" in finding, (field, finding[:60])
        assert "Evidence:" in finding
    hik = findings[0]
    assert "| Serial number / identifier | `DS-2CD2385G1-I20200414AAWRE33842150` |" in hik
    assert "| When found | 2024-05-14 09:30:01 UTC to 2024-05-14 09:30:09 UTC |" in hik
    assert "| Brand | Amcrest |" in findings[4] and "| Manufacturer | Dahua |" in findings[4]
    assert "waived" in findings[1].splitlines()[0]


def test_compliance_is_dated_and_states_completeness_and_oui_date() -> None:
    report = sample_report()
    text = render(report, "compliance")
    assert "**Report date:** 2024-05-14" in text
    assert "by **2024-05-15**" in text  # the scan was on a Tuesday
    assert "**INCOMPLETE**: snmp (partial: no reply within 30 s)" in text
    assert "**OUI registry date:** 2024-05-01" in text
    for field in ("Contract number", "Order number(s)", "Supplier name", "Supplier CAGE code"):
        assert f"| {field} |" in text
    complete = render(report.model_copy(update={"complete": True, "probes": [], "notes": []}), "compliance")
    assert "**Complete**" in complete and "INCOMPLETE" not in complete


def test_compliance_with_nothing_found() -> None:
    report = sample_report()
    clean = report.model_copy(
        update={
            "devices": [d for d in report.devices if d.verdict.status.value in ("not-covered", "unknown")],
            "complete": True,
        }
    )
    text = render(clean, "compliance")
    assert "No covered, likely or suspected equipment was found." in text
    assert "### Finding" not in text


def test_next_business_day_skips_weekends() -> None:
    assert next_business_day(date(2024, 5, 14)) == date(2024, 5, 15)  # Tue -> Wed
    assert next_business_day(date(2024, 5, 17)) == date(2024, 5, 20)  # Fri -> Mon
    assert next_business_day(date(2024, 5, 18)) == date(2024, 5, 20)  # Sat -> Mon
