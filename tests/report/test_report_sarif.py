"""SARIF 2.1.0 checked with its JSON Schema (see data/sarif-schema-2.1.0.SOURCE.md) and for GitHub."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
from paths import DATA_DIR
from report_fixtures import WAIVER, sample_report

from scanner.report import render
from scanner.report.sarif import FINGERPRINT_KEY, device_uri
from scanner.results import DeviceReport

SCHEMA = DATA_DIR / "sarif-schema-2.1.0.json"


@pytest.fixture(scope="module")
def log() -> dict[str, Any]:
    return json.loads(render(sample_report(), "sarif"))


def _validator() -> jsonschema.Draft4Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)


def test_valid_against_the_sarif_schema(log: dict[str, Any]) -> None:
    _validator().validate(log)


def test_schema_catches_a_broken_log(log: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(log))
    broken["runs"][0]["results"][0]["level"] = "critical"
    del broken["runs"][0]["tool"]["driver"]["name"]
    messages = " ".join(e.message for e in _validator().iter_errors(broken))
    assert "'critical' is not one of" in messages and "'name' is a required property" in messages


def test_one_result_per_flagged_device_with_levels(log: dict[str, Any]) -> None:
    results = log["runs"][0]["results"]
    assert [(r["properties"]["status"], r["level"]) for r in results] == [
        ("covered", "error"),
        ("covered", "error"),
        ("likely", "warning"),
        ("likely", "warning"),
        ("suspected", "warning"),
    ]
    assert {r["properties"]["ip"] for r in results}.isdisjoint({"192.168.1.90", "192.168.1.120"})


def test_rules_per_status_and_entity_and_indexes_match(log: dict[str, Any]) -> None:
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [
        "ndaa889/covered/hikvision",
        "ndaa889/covered/dahua",
        "ndaa889/likely/hikvision",
        "ndaa889/likely/huawei",
        "ndaa889/suspected/dahua",
    ]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    for rule in rules:
        # GitHub reads these: severity as a numeric string, a precision and tags
        assert 0.0 < float(rule["properties"]["security-severity"]) <= 10.0
        assert rule["properties"]["precision"] in {"very-high", "high", "medium", "low"}
        assert rule["shortDescription"]["text"] and rule["help"]["text"] and rule["name"].isalnum()


def test_locations_fingerprints_and_waiver(log: dict[str, Any]) -> None:
    results = log["runs"][0]["results"]
    hik = results[0]
    loc = hik["locations"][0]
    assert loc["physicalLocation"]["artifactLocation"]["uri"] == "network://192.168.1.64/58:50:ed:1f:e3:85"
    assert loc["physicalLocation"]["region"]["startLine"] == 1
    assert loc["logicalLocations"][0] == {
        "name": "192.168.1.64",
        "kind": "resource",
        "fullyQualifiedName": "192.168.1.64 58:50:ed:1f:e3:85",
    }
    prints = [r["partialFingerprints"][FINGERPRINT_KEY] for r in results]
    assert len(set(prints)) == len(prints)
    assert prints == [
        r["partialFingerprints"][FINGERPRINT_KEY]
        for r in json.loads(render(sample_report(), "sarif"))["runs"][0]["results"]
    ]
    waived = [r for r in results if "suppressions" in r]
    assert len(waived) == 1 and waived[0]["suppressions"] == [{"kind": "external", "justification": WAIVER}]
    assert [e["signal"] for e in hik["properties"]["evidence"]] == [
        "sadp.DeviceDescription",
        "mac",
        "http.server",
    ]


def test_invocation_reports_incomplete_scan(log: dict[str, Any]) -> None:
    inv = log["runs"][0]["invocations"][0]
    assert inv["executionSuccessful"] is False
    assert inv["startTimeUtc"] == "2024-05-14T09:30:00Z" and inv["endTimeUtc"] == "2024-05-14T09:31:12Z"
    assert (
        inv["toolExecutionNotifications"][0]["message"]["text"] == "probe snmp partial: no reply within 30 s"
    )


def test_message_text_cannot_form_embedded_links(log: dict[str, Any]) -> None:
    hostile = next(r for r in log["runs"][0]["results"] if r["properties"]["ip"] == "192.168.1.200")
    text = hostile["message"]["text"]
    assert "\n" not in text and "\x1b" not in text
    assert "\\x1b\\[2J" in text  # '[' escaped, so no SARIF embedded link "[text](id)" can form


@pytest.mark.parametrize(
    ("ip", "mac", "uri"),
    [
        ("10.0.0.1", "02:00:00:00:00:01", "network://10.0.0.1/02:00:00:00:00:01"),
        ("fe80::1", None, "network://[fe80::1]/unknown-mac"),
        ("1.2.3.4/<x>", "aa:bb", "network://1.2.3.4%2F%3Cx%3E/aa:bb"),
    ],
)
def test_device_uri_is_a_valid_uri(ip: str, mac: str | None, uri: str) -> None:
    got = device_uri(DeviceReport(ip=ip, mac=None).model_copy(update={"mac": mac}))
    assert got == uri
    assert urlsplit(got).scheme == "network"
