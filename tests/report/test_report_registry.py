"""The format registry: names, lazy import, option routing, output specs and writing."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from paths import REPO
from report_fixtures import sample_report

from scanner.errors import UsageError
from scanner.report import FORMATS, OutputSpec, parse_spec, render, write_outputs


def test_every_format_renders_the_sample() -> None:
    report = sample_report()
    for fmt in FORMATS:
        text = render(report, fmt)
        assert "192.168.1.64" in text, fmt


def test_unknown_format_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown report format 'pdf'"):
        render(sample_report(), "pdf")
    with pytest.raises(UsageError, match="choose from table, json"):
        parse_spec("xml=out.xml")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("json", OutputSpec("json", None)),
        ("JSON=-", OutputSpec("json", None)),
        ("sarif=out/scan.sarif", OutputSpec("sarif", Path("out/scan.sarif"))),
        ("csv=a=b.csv", OutputSpec("csv", Path("a=b.csv"))),
    ],
)
def test_parse_spec(spec: str, expected: OutputSpec) -> None:
    assert parse_spec(spec) == expected


def test_empty_path_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="empty path"):
        parse_spec("json=")


def test_options_reach_only_formats_that_take_them() -> None:
    report = sample_report()
    default = render(report, "junit")
    stricter = render(report, "junit", fail_statuses={"covered", "likely"})
    assert 'failures="1"' in default and 'failures="3"' in stricter
    # json takes no options: passing them changes nothing and raises nothing
    assert render(report, "json", fail_statuses={"likely"}, color=True) == render(report, "json")


def test_write_outputs_writes_files_and_one_stdout(tmp_path: Path) -> None:
    out = io.StringIO()
    written = write_outputs(
        sample_report(), ["markdown", f"json={tmp_path / 'r.json'}", f"csv={tmp_path / 'r.csv'}"], stdout=out
    )
    assert [w.fmt for w in written] == ["markdown", "json", "csv"]
    assert out.getvalue().startswith("# NDAA §889 scan report")
    assert len(json.loads((tmp_path / "r.json").read_text())["devices"]) == 7
    assert (tmp_path / "r.csv").read_bytes().count(b"\r\n") >= 8  # header + 7 rows, CRLF kept
    assert not list(tmp_path.glob(".*.tmp"))


def test_write_outputs_defaults_to_plain_table_on_non_tty() -> None:
    out = io.StringIO()
    write_outputs(sample_report(), [], stdout=out)
    assert out.getvalue().startswith("ndaa-scanner 0.1.0")
    assert "\x1b[" not in out.getvalue().replace("\\x1b[", "")


def test_two_stdout_formats_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="only one report format"):
        write_outputs(sample_report(), [f"json={tmp_path / 'a.json'}", "table", "csv"], stdout=io.StringIO())
    assert not (tmp_path / "a.json").exists()


def test_bad_spec_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        write_outputs(sample_report(), [f"json={tmp_path / 'a.json'}", "yaml=x"], stdout=io.StringIO())
    assert not (tmp_path / "a.json").exists()


def test_unwritable_path_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot write report"):
        write_outputs(sample_report(), [f"json={tmp_path / 'missing-dir' / 'r.json'}"], stdout=io.StringIO())


def test_importing_the_registry_is_light() -> None:
    code = (
        "import sys, scanner.report as r; heavy = {'rich', 'scanner.report.html', 'scanner.report.table'};"
        "print(sorted(heavy & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=True,
    )
    assert result.stdout.strip() == "[]"
