"""Hosts heard outside the targets: in every format, in their own section, never failing CI; and no
format lets a device's control or bidi characters through raw."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any
from xml.etree import ElementTree as ET

import jsonschema
import pytest
from labtools import strings_in
from paths import DATA_DIR, REPO
from report_fixtures import CONTROL_CHARS, HOSTILE_CONTROL, heard_report, sample_report

from scanner.identify.models import Status
from scanner.policy.fail_on import FailOn, exit_code, failing_devices
from scanner.report import FORMATS, render
from scanner.report._text import HEARD_TITLE, json_safe, visible
from scanner.results import ScanReport

TEXT_FORMATS = ("table", "csv", "markdown", "html", "junit", "compliance", "netbox")
JSON_FORMATS = ("json", "jsonl", "sarif", "ocsf", "ecs", "cyclonedx")
NDJSON_FORMATS = ("jsonl", "ocsf", "ecs")
# Anything a terminal, spreadsheet or editor could act on, other than line ends.
RAW_CONTROL = re.compile("[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def test_every_format_is_covered_here() -> None:
    assert set(TEXT_FORMATS + JSON_FORMATS) == set(FORMATS)


@pytest.mark.parametrize("fmt", TEXT_FORMATS + JSON_FORMATS)
def test_no_format_writes_a_control_or_bidi_character_raw(fmt: str) -> None:
    for report in (heard_report(), sample_report()):
        text = render(report, fmt)
        found = RAW_CONTROL.findall(text)
        assert not found, (fmt, found[:5])


@pytest.mark.parametrize("fmt", JSON_FORMATS)
def test_json_formats_escape_but_keep_the_exact_values(fmt: str) -> None:
    text = render(heard_report(), fmt)
    values: list[Any] = (
        [json.loads(line) for line in text.splitlines()] if fmt in NDJSON_FORMATS else [json.loads(text)]
    )
    assert any(HOSTILE_CONTROL in strings_in(v) for v in values)  # the exact value parses back
    assert "\\u009b" in text and "\\u202e" in text and "\\u007f" in text


def test_json_has_heard_beside_devices_and_validates() -> None:
    schema = json.loads((REPO / "docs" / "report.schema.json").read_text(encoding="utf-8"))
    data = json.loads(render(heard_report(), "json"))
    jsonschema.Draft202012Validator(schema).validate(data)
    assert [d["ip"] for d in data["devices"]] == ["192.168.1.90"]
    assert [d["ip"] for d in data["heard"]] == ["10.9.0.5", "10.9.0.66"]  # covered first
    back = ScanReport.model_validate(data)
    assert back.heard[1].verdict.model == HOSTILE_CONTROL


def test_jsonl_heard_lines_follow_the_devices() -> None:
    lines = [json.loads(line) for line in render(heard_report(), "jsonl").splitlines()]
    assert [line["type"] for line in lines] == ["scan", "device", "heard", "heard"]
    header = lines[0]
    assert "heard" not in header and "devices" not in header
    assert header["counts"]["not-covered"] == 1 and header["counts"]["covered"] == 0
    assert header["heard_counts"]["covered"] == 1 and header["heard_counts"]["likely"] == 1


def test_csv_marks_heard_rows_in_host_scope_and_escapes_device_text() -> None:
    rows = list(csv.DictReader(io.StringIO(render(heard_report(), "csv"), newline="")))
    assert [(r["ip"], r["host_scope"]) for r in rows] == [
        ("192.168.1.90", "target"),
        ("10.9.0.5", "heard"),
        ("10.9.0.66", "heard"),
    ]
    hostile = rows[2]
    assert hostile["model"] == "'" + visible(HOSTILE_CONTROL)  # escaped, then the formula defused
    assert "\\x1b]0;pwned\\x07\\x9b31m\\x7f\\u202egnp.exe\\u2066x\\u2069\\r\\n" in hostile["model"]
    assert hostile["firmware"] == visible(CONTROL_CHARS)
    assert hostile["hostnames"].startswith("'=cmd")


def test_table_has_a_separate_heard_section_after_the_counts() -> None:
    text = render(heard_report(), "table", evidence=True)
    head, _, heard = text.partition(HEARD_TITLE.upper())
    assert heard, text
    assert "192.168.1.90" in head and "10.9.0.5" not in head
    assert "10.9.0.5" in heard and "10.9.0.66" in heard and "(2: 1 covered, 1 likely covered)" in heard
    counts_row = next(line for line in head.splitlines() if line.strip().startswith("0"))
    assert counts_row.split() == ["0", "0", "0", "1", "0", "0"]  # heard hosts are not counted


def test_markdown_and_compliance_have_a_heard_section() -> None:
    md = render(heard_report(), "markdown")
    before, _, after = md.partition(f"## {HEARD_TITLE}")
    assert "10.9.0.5" not in before and "`10.9.0.5`" in after and "### H1. Covered (heard)" in after
    comp = render(heard_report(), "compliance")
    findings, _, heard = comp.partition(f"## {HEARD_TITLE}")
    assert "No covered, likely or suspected equipment was found." in findings
    assert "`10.9.0.5`" in heard and "`10.9.0.66`" in heard and "not findings" in heard


def test_html_heard_table_is_outside_the_device_table() -> None:
    page = render(heard_report(), "html")
    assert page.count('<table id="devices">') == 1 and page.count('<table id="heard-devices">') == 1
    devices = page[page.index('<table id="devices">') : page.index('<section id="heard"')]
    assert "10.9.0.5" not in devices and "192.168.1.90" in devices
    assert "10.9.0.5" in page[page.index('<section id="heard"') :]
    assert "\x1b" not in page and "\\x1b]0;pwned" in page


def test_sarif_heard_hosts_are_notes_not_results() -> None:
    log = json.loads(render(heard_report(), "sarif"))
    schema = json.loads((DATA_DIR / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(schema).validate(log)
    run = log["runs"][0]
    assert run["results"] == []  # a clean target: nothing for code scanning to alert on
    notes = [n for n in run["invocations"][0]["toolExecutionNotifications"] if "descriptor" in n]
    assert {n["level"] for n in notes} == {"note"} and len(notes) == 2
    assert all(n["message"]["text"].startswith(HEARD_TITLE) for n in notes)
    assert [h["ip"] for h in run["properties"]["heard"]] == ["10.9.0.5", "10.9.0.66"]
    assert run["properties"]["heardCounts"]["covered"] == 1


def _junit(report: ScanReport, **options: Any) -> ET.Element:
    return ET.fromstring(render(report, "junit", **options).encode())


def test_junit_heard_hosts_are_skipped_never_failures() -> None:
    root = _junit(heard_report(), fail_statuses=FailOn.SUSPECTED.fail_statuses)
    scan_suite, heard_suite = root.findall("testsuite")
    assert heard_suite.get("name") == f"ndaa-889 {HEARD_TITLE.lower()}"
    assert root.get("failures") == "0" and heard_suite.get("skipped") == "2"
    assert len(heard_suite.findall("testcase/skipped")) == 2 and not root.findall(".//failure")
    assert root.get("tests") == "3" and scan_suite.get("tests") == "1"


def test_junit_fail_on_heard_makes_them_failures() -> None:
    root = _junit(heard_report(), fail_statuses=FailOn.LIKELY.fail_statuses, fail_on_heard=True)
    assert root.get("failures") == "2" and len(root.findall(".//failure")) == 2


def test_heard_hosts_change_the_exit_code_only_when_asked() -> None:
    report = heard_report()
    assert exit_code(report, FailOn.LIKELY) == 0
    assert failing_devices(report, FailOn.SUSPECTED) == []
    assert exit_code(report, FailOn.LIKELY, fail_on_heard=True) == 1
    assert [d.ip for d in failing_devices(report, FailOn.LIKELY, fail_on_heard=True)] == [
        "10.9.0.5",
        "10.9.0.66",
    ]
    assert exit_code(report, FailOn.COVERED, fail_on_heard=True) == 1
    assert exit_code(report, FailOn.NEVER, fail_on_heard=True) == 0
    incomplete = heard_report(complete=False)
    assert exit_code(incomplete, FailOn.LIKELY) == 3  # a heard covered host does not turn 3 into 1
    assert exit_code(incomplete, FailOn.LIKELY, fail_on_heard=True) == 1
    waived = report.model_copy(deep=True)
    for d in waived.heard:
        d.verdict.waived = True
    assert exit_code(waived, FailOn.LIKELY, fail_on_heard=True) == 0
    assert all(d.verdict.status in {Status.COVERED, Status.LIKELY} for d in report.heard)


def test_json_safe_only_touches_what_it_must() -> None:
    text = json.dumps({"a": "x\u202ey\x9bz\x7f\u2028 東京 ünï"}, ensure_ascii=False)
    safe = json_safe(text)
    assert json.loads(safe) == json.loads(text)
    assert "東京 ünï" in safe and "\\u202e" in safe and "\\u009b" in safe and "\\u2028" in safe


def test_visible_escapes_astral_characters_unambiguously() -> None:
    assert visible("a\U000e0001b") == "a\\U000e0001b"  # a language tag (Cf), not "\\ue0001"
    assert visible("\u202e\u2066\u061c") == "\\u202e\\u2066\\u061c"
    assert visible("\x9b\x7f") == "\\x9b\\x7f"


def test_compact_table_has_the_heard_section_and_counts_only_the_targets() -> None:
    text = render(heard_report(), "table")
    head, _, heard = text.partition(HEARD_TITLE.upper())
    assert "192.168.1.90" in head and "10.9.0.5" not in head
    assert "10.9.0.5" in heard and "10.9.0.66" in heard
    assert "1 device(s): 1 not covered" in heard  # the summary counts the targets only
