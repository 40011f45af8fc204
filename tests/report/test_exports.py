"""The inventory exports, each checked by its consumer's schema: OCSF (the schema files of ocsf/ocsf-schema),
ECS (ECS 9.4.0's field list), CycloneDX 1.6 (the official JSON schema via cyclonedx-python-lib) and NetBox
(the fields of its device import form). Fixtures: the sample report (every status, a hostile device, a
waived one) and the heard-hosts report."""

from __future__ import annotations

import csv
import io
import ipaddress
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from paths import DATA_DIR
from report_fixtures import heard_report, sample_report

from scanner.report import render
from scanner.results import ScanReport

REPORTS = {"sample": sample_report, "heard": heard_report}


def _lines(text: str) -> list[dict[str, Any]]:
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def _hosts(report: ScanReport) -> int:
    return len(report.devices) + len(report.heard)


# --- OCSF -----------------------------------------------------------------------------------------

OCSF = DATA_DIR / "ocsf"


def _ocsf(path: str) -> dict[str, Any]:
    return json.loads((OCSF / path).read_text(encoding="utf-8"))


DICTIONARY = _ocsf("dictionary.json")
COMPILED = {"category_uid", "class_uid", "type_uid"}  # enums the schema server generates: checked by formula


def _attributes(kind: str, name: str) -> dict[str, dict[str, Any]]:
    """A class's or object's attributes with those of everything it extends (the child wins)."""
    paths = {
        "base_event": "events/base_event.json",
        "discovery": "events/discovery/discovery.json",
        "inventory_info": "events/discovery/inventory_info.json",
    }
    doc = _ocsf(paths[name] if kind == "event" else f"objects/{name}.json")
    parent = doc.get("extends")
    merged = _attributes(kind, parent) if parent and parent != "object" else {}  # "object": the root
    for key, spec in doc.get("attributes", {}).items():
        if key != "$include":
            merged[key] = {**merged.get(key, {}), **spec}
    return merged


def _check_ocsf(value: Any, attributes: dict[str, dict[str, Any]], where: str) -> None:
    missing = [
        k for k, spec in attributes.items() if spec.get("requirement") == "required" and k not in value
    ]
    assert not missing, f"{where}: required {missing}"
    for key, item in value.items():
        assert key in attributes, f"{where}.{key} is not an OCSF attribute here"
        kind = DICTIONARY["attributes"][key]["type"]
        # the schema compiles an attribute's enum as the dictionary's (0 Unknown, 99 Other) plus the class's own
        enum = {**DICTIONARY["attributes"][key].get("enum", {}), **attributes[key].get("enum", {})}
        if enum and key not in COMPILED:
            assert str(item) in enum, f"{where}.{key} = {item!r} not in {sorted(enum)}"
        if kind in ("integer_t", "long_t", "timestamp_t"):
            assert isinstance(item, int) and not isinstance(item, bool), f"{where}.{key}"
        elif kind in ("string_t", "hostname_t"):
            assert isinstance(item, str) and item, f"{where}.{key}"
        elif kind == "ip_t":
            ipaddress.ip_address(item)
        elif kind == "mac_t":
            assert re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", item), f"{where}.{key}"
        elif kind == "object":
            assert isinstance(item, dict)
        else:  # an object type, e.g. device, metadata, product
            _check_ocsf(item, _attributes("object", kind), f"{where}.{key}")


@pytest.mark.parametrize("name", REPORTS)
def test_ocsf_events_follow_the_device_inventory_info_class(name: str) -> None:
    report = REPORTS[name]()
    events = _lines(render(report, "ocsf"))
    assert len(events) == _hosts(report)
    discovery = next(
        c for c in _ocsf("categories.json")["attributes"].values() if c["caption"] == "Discovery"
    )
    for event in events:
        _check_ocsf(event, _attributes("event", "inventory_info"), "event")
        assert (
            event["class_uid"]
            == discovery["uid"] * 1000 + _ocsf("events/discovery/inventory_info.json")["uid"]
        )
        assert event["type_uid"] == event["class_uid"] * 100 + event["activity_id"]
    covered = next(e for e in events if e["unmapped"]["ndaa"]["status"] == "covered")
    assert covered["severity_id"] == 4 and covered["device"]["type_id"] == 7  # a Hikvision camera: IOT
    assert covered["message"].startswith("Hikvision")


# --- ECS ------------------------------------------------------------------------------------------

ECS = json.loads((DATA_DIR / "ecs" / "ecs_flat_v9.4.0.json").read_text(encoding="utf-8"))


def _leaves(doc: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in doc.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and path != "labels":
            out += _leaves(value, path + ".")
        else:
            out.append((path, value))
    return out


def _check_ecs_value(path: str, kind: str, value: Any) -> None:
    if kind == "ip":
        ipaddress.ip_address(value)
    elif kind == "date":
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    elif kind == "long":
        assert isinstance(value, int), path
    elif kind == "object":  # labels: keyword values only
        assert all(isinstance(v, str) for v in value.values()), path
    else:  # keyword, match_only_text, constant_keyword
        assert isinstance(value, str), path


@pytest.mark.parametrize("name", REPORTS)
def test_ecs_documents_use_only_ecs_fields_with_their_types_and_allowed_values(name: str) -> None:
    report = REPORTS[name]()
    docs = _lines(render(report, "ecs"))
    assert len(docs) == _hosts(report)
    for doc in docs:
        for path, value in _leaves(doc):
            assert path in ECS, f"{path} is not an ECS 9.4.0 field"
            spec = ECS[path]
            items = value if isinstance(value, list) else [value]
            if isinstance(value, list):
                assert "array" in spec.get("normalize", []) or spec["type"] in ("keyword", "ip"), path
            for item in items:
                _check_ecs_value(path, spec["type"], item)
                if "allowed" in spec:
                    assert item in spec["allowed"], f"{path} = {item!r}"
        for category in doc["event"]["category"]:  # ECS: each category names the event types it expects
            assert set(doc["event"]["type"]) <= set(ECS["event.category"]["allowed"][category])
        for mac in doc["host"].get("mac", []):
            assert re.fullmatch(r"[0-9A-F]{2}(-[0-9A-F]{2}){5}", mac)  # ECS's RFC 7042 notation


# --- CycloneDX ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", REPORTS)
def test_cyclonedx_bom_validates_against_the_official_1_6_schema(name: str) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    report = REPORTS[name]()
    text = render(report, "cyclonedx")
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert error is None, error
    bom = json.loads(text)
    assert bom["specVersion"] == "1.6" and len(bom["components"]) == _hosts(report)
    assert all(c["type"] == "device" for c in bom["components"])
    assert len({c["bom-ref"] for c in bom["components"]}) == len(bom["components"])
    statuses = [
        p["value"] for c in bom["components"] for p in c["properties"] if p["name"] == "ndaa-scanner:status"
    ]
    assert len(statuses) == _hosts(report)


def test_the_same_scan_gives_the_same_bom_serial() -> None:
    report = sample_report().model_copy(update={"scan_id": "scan-42"})
    one, two = json.loads(render(report, "cyclonedx")), json.loads(render(report, "cyclonedx"))
    assert one["serialNumber"] == two["serialNumber"] and one["serialNumber"].startswith("urn:uuid:")


# --- NetBox ---------------------------------------------------------------------------------------

NETBOX = json.loads((DATA_DIR / "netbox" / "device_import.json").read_text(encoding="utf-8"))


def test_netbox_csv_is_what_the_device_import_form_accepts() -> None:
    report = sample_report()
    rows = list(csv.DictReader(io.StringIO(render(report, "netbox"))))
    assert len(rows) == len(report.devices)  # targets only: heard hosts are not CMDB rows
    header = list(rows[0])
    assert set(header) <= set(NETBOX["fields"]), set(header) - set(NETBOX["fields"])
    assert set(NETBOX["required"]) <= set(header)
    for row in rows:
        assert all(row[f] for f in NETBOX["required"]), row
        assert row["status"] in NETBOX["status_choices"]
        assert not row["description"].startswith(("=", "+", "-", "@"))
    names = [r["name"] for r in rows]
    assert len(set(names)) == len(names)  # NetBox refuses two devices of one name at a site


@pytest.mark.parametrize("fmt", ["ocsf", "ecs", "cyclonedx", "netbox"])
def test_hostile_device_strings_stay_escaped(fmt: str) -> None:
    text = render(sample_report(), fmt)
    assert "\x1b" not in text and "\u202e" not in text


def test_every_export_is_a_format_name_of_the_cli(tmp_path: Path) -> None:
    from scanner.report import FORMATS

    assert {"ocsf", "ecs", "cyclonedx", "netbox"} <= set(FORMATS)
