"""JSON and JSON Lines, checked against the committed JSON Schema; the schema checked against the model."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from paths import REPO
from report_fixtures import HOSTILE, SAMPLE_STATUS_ORDER, sample_report

from scanner.report import render
from scanner.report.schema import render_schema
from scanner.results import DeviceReport, ScanReport

SCHEMA_PATH = REPO / "docs" / "report.schema.json"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def _validator(schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def test_committed_schema_is_current() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render_schema(), (
        "docs/report.schema.json is stale: run python -m scanner.report.schema > docs/report.schema.json"
    )


def test_json_report_validates_and_round_trips(schema: dict[str, Any]) -> None:
    report = sample_report()
    text = render(report, "json")
    data = json.loads(text)
    _validator(schema).validate(data)
    back = ScanReport.model_validate_json(text)
    assert [d.verdict.status.value for d in back.devices] == SAMPLE_STATUS_ORDER
    assert back.model_copy(update={"devices": report.sorted_devices()}) == back
    assert {d.verdict.model for d in back.devices} >= {HOSTILE}


def test_schema_rejects_a_broken_report(schema: dict[str, Any]) -> None:
    data = json.loads(render(sample_report(), "json"))
    data["devices"][0]["verdict"]["status"] = "maybe"
    errors = list(_validator(schema).iter_errors(data))
    assert errors and "maybe" in errors[0].message


def test_jsonl_header_then_one_valid_device_per_line(schema: dict[str, Any]) -> None:
    report = sample_report()
    lines = render(report, "jsonl").splitlines()
    assert len(lines) == 1 + len(report.devices)
    header = json.loads(lines[0])
    assert header["type"] == "scan" and "devices" not in header
    assert header["counts"] == report.counts() and header["complete"] is False
    device_schema = {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": "#/$defs/DeviceReport"}
    validator = _validator(device_schema)
    devices = [json.loads(line) for line in lines[1:]]
    for d in devices:
        assert d.pop("type") == "device"
        validator.validate(d)
    assert [DeviceReport.model_validate(d) for d in devices] == report.sorted_devices()
