"""End to end: ONE real scan of the demo lab writes every report format at once (`-o FORMAT=PATH`) plus
the table on stdout; each file is then read by a real consumer (jsonschema, csv, xml.etree, headless
Chromium) and checked against the JSON report's devices."""

from __future__ import annotations

import csv
import json
import re
import secrets
import tomllib
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from browser import body_attr, dump_dom, require_chromium, statuses
from clirun import cli, lab_scan_args
from labtools import netns_available, require
from paths import REPO

pytestmark = pytest.mark.netns

REPO = REPO
REPORT_SCHEMA = REPO / "docs" / "report.schema.json"
SARIF_SCHEMA = REPO / "tests" / "data" / "sarif-schema-2.1.0.json"
FILE_FORMATS = ("json", "jsonl", "csv", "markdown", "html", "sarif", "junit", "compliance")
FLAGGED = {"covered", "likely", "suspected"}  # what SARIF and the compliance report list
FAILING_BY_DEFAULT = {"covered", "likely"}  # --fail-on likely, the documented default


@dataclass(frozen=True)
class LabScan:
    """One finished `ndaa-scan scan` of a demo lab copy: its exit code, stdout, stderr and files."""

    lab_macs: frozenset[str]
    returncode: int
    stdout: str
    stderr: str
    files: dict[str, Path]

    def text(self, fmt: str) -> str:
        return self.files[fmt].read_text(encoding="utf-8")


def demo_lab_copy(tmp: Path) -> tuple[Any, Path]:
    """The built-in demo lab under a unique name, and its TOML file (what ``lab_factory(builtin=…)`` does)."""
    from scanner.datafiles import labs_dir
    from scanner.lab.spec import parse_lab

    name = "t" + secrets.token_hex(3)
    text = (labs_dir() / "demo.toml").read_text(encoding="utf-8")
    text = re.sub(r'(?m)^name = "demo"$', f'name = "{name}"', text, count=1)
    spec = parse_lab(tomllib.loads(text), "demo copy")
    assert spec.name == name
    path = tmp / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return spec, path


@pytest.fixture(scope="module")
def lab_scan(tmp_path_factory: pytest.TempPathFactory) -> LabScan:
    require(netns_available())
    from scanner.lab.manager import lab_down, lab_up

    tmp = tmp_path_factory.mktemp("lab-reports")
    spec, lab_file = demo_lab_copy(tmp)
    files = {fmt: tmp / f"report.{fmt}" for fmt in FILE_FORMATS}
    outputs = (a for fmt, p in files.items() for a in ("-o", f"{fmt}={p}"))
    args = lab_scan_args(spec.scanner_ns, spec.subnet, "--no-history", "-f", "table", *outputs)
    try:
        status = lab_up(spec, lab_file)
        assert not status.failures, "lab responders failed:\n" + "\n".join(status.failures)
        proc = cli(*args)
    finally:
        lab_down(spec.name)
    return LabScan(frozenset(d.mac for d in spec.devices), proc.returncode, proc.stdout, proc.stderr, files)


@pytest.fixture(scope="module")
def report(lab_scan: LabScan) -> dict[str, Any]:
    return json.loads(lab_scan.text("json"))


@pytest.fixture(scope="module")
def devices(report: dict[str, Any]) -> list[dict[str, Any]]:
    return report["devices"]


def _validator(schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _macs(devices: list[dict[str, Any]], statuses: set[str] | None = None) -> set[str]:
    return {d["mac"] for d in devices if statuses is None or d["verdict"]["status"] in statuses}


def test_json_is_valid_complete_and_holds_every_lab_device(
    lab_scan: LabScan, report: dict[str, Any], devices: list[dict[str, Any]]
) -> None:
    _validator(json.loads(REPORT_SCHEMA.read_text(encoding="utf-8"))).validate(report)
    assert report["complete"] is True
    assert [p for p in report["probes"] if p["error"]] == []
    assert _macs(devices) == lab_scan.lab_macs
    assert _macs(devices, {"covered"}), "the demo lab has covered equipment"


def test_exit_code_is_1_and_stdout_holds_only_the_table(lab_scan: LabScan, report: dict[str, Any]) -> None:
    from scanner.report import render
    from scanner.results import ScanReport

    assert lab_scan.returncode == 1, lab_scan.stderr
    # stdout is a pipe: the table renders plain, exactly as it does from the same report
    assert lab_scan.stdout == render(ScanReport.model_validate(report), "table")
    for d in report["devices"]:
        assert d["ip"] in lab_scan.stdout
    assert not lab_scan.stdout.lstrip().startswith(("{", "<", "#", "status,"))


def test_jsonl_header_then_one_schema_valid_line_per_device(
    lab_scan: LabScan, report: dict[str, Any], devices: list[dict[str, Any]]
) -> None:
    schema = json.loads(REPORT_SCHEMA.read_text(encoding="utf-8"))
    device_schema = {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": "#/$defs/DeviceReport"}
    validator = _validator(device_schema)
    header, *lines = [json.loads(line) for line in lab_scan.text("jsonl").splitlines()]
    assert header["type"] == "scan" and header["scan_id"] == report["scan_id"] and "devices" not in header
    assert {s: n for s, n in header["counts"].items() if n} == Counter(
        d["verdict"]["status"] for d in devices
    )
    assert len(lines) == len(devices)
    for line in lines:
        assert line.pop("type") == "device"
        validator.validate(line)
    assert [(x["mac"], x["verdict"]["status"]) for x in lines] == [
        (d["mac"], d["verdict"]["status"]) for d in devices
    ]


def test_sarif_valid_with_one_result_per_flagged_device(
    lab_scan: LabScan, devices: list[dict[str, Any]]
) -> None:
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    log = json.loads(lab_scan.text("sarif"))
    jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER).validate(log)
    results = log["runs"][0]["results"]
    flagged = [d for d in devices if d["verdict"]["status"] in FLAGGED]
    assert len(results) == len(flagged)
    assert {r["properties"]["mac"] for r in results} == _macs(devices, FLAGGED)
    for r in results:
        assert r["level"] == ("error" if r["properties"]["status"] == "covered" else "warning")


def test_junit_failures_are_the_devices_failing_the_default_policy(
    lab_scan: LabScan, devices: list[dict[str, Any]]
) -> None:
    root = ET.fromstring(lab_scan.text("junit"))
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    failing = _macs(devices, FAILING_BY_DEFAULT)
    assert len(cases) == len(devices) == int(suite.get("tests", "-1"))
    assert int(root.get("failures", "-1")) == int(suite.get("failures", "-1")) == len(failing)
    assert int(suite.get("errors", "-1")) == 0  # a complete scan has no completeness error
    failed_names = [c.get("name", "") for c in cases if c.find("failure") is not None]
    assert {mac for mac in failing if any(mac in n for n in failed_names)} == failing
    assert len(failed_names) == len(failing)


def test_csv_reads_back_one_row_per_device(lab_scan: LabScan, devices: list[dict[str, Any]]) -> None:
    with lab_scan.files["csv"].open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(devices)
    assert [(r["ip"], r["mac"], r["status"], r["model"]) for r in rows] == [
        (d["ip"], d["mac"], d["verdict"]["status"], d["verdict"]["model"] or "") for d in devices
    ]


def test_markdown_names_every_device(lab_scan: LabScan, devices: list[dict[str, Any]]) -> None:
    text = lab_scan.text("markdown")
    assert [d["mac"] for d in devices if d["mac"] not in text] == []
    assert [d["ip"] for d in devices if d["ip"] not in text] == []


def test_compliance_lists_every_flagged_device_and_no_other(
    lab_scan: LabScan, devices: list[dict[str, Any]]
) -> None:
    text = lab_scan.text("compliance")
    for d in devices:
        v = d["verdict"]
        if v["status"] == "covered":
            assert d["ip"] in text and d["mac"] in text, d
            assert v["model"] is None or v["model"] in text, d
        elif v["status"] not in FLAGGED:
            assert d["mac"] not in text, d
    assert len(re.findall(r"(?m)^### Finding \d+:", text)) == len(_macs(devices, FLAGGED))


def test_html_in_headless_chromium_counts_every_device(
    lab_scan: LabScan, devices: list[dict[str, Any]], tmp_path: Path
) -> None:
    dom = dump_dom(require_chromium(), tmp_path, lab_scan.files["html"])
    assert body_attr(dom, "data-device-count") == str(len(devices))  # counted by the page's own script
    assert body_attr(dom, "data-visible-count") == str(len(devices))
    assert Counter(statuses(dom)) == Counter(d["verdict"]["status"] for d in devices)
    assert [d["mac"] for d in devices if d["mac"] not in dom] == []
