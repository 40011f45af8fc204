"""A collection's report: every format shows where a device's MAC was learned; uplinks never do."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
from paths import DATA_DIR

from scanner.cli.collect_cmd import build_collect_report
from scanner.collect import snmp_tables as t
from scanner.collect.snmp_walk import AgentResult, SnmpAuth
from scanner.report import write_outputs

HIK, FAR = "58:50:ed:1f:e3:85", "08:ed:ed:00:00:99"
FORMATS = [
    "table",
    "table+evidence",
    "json",
    "jsonl",
    "csv",
    "markdown",
    "html",
    "sarif",
    "junit",
    "compliance",
]
PORTS_ONLY = ("table", "sarif", "junit", "compliance")  # they show switch ports, not the verdict's notes


def _report(answered: bool = True) -> object:
    r = AgentResult("10.0.0.2", 161, answered=answered)
    r.tables = t.Tables(sys_name="sw1")
    r.tables.port_ifindex = {3: 1003}
    r.tables.if_names = {1003: "Gi1/0/3"}
    r.tables.fdb = [t.FdbEntry(HIK, 3, 20), t.FdbEntry(FAR, 24, 20)]
    r.tables.fdb += [t.FdbEntry(f"02:00:00:00:00:{i:02x}", 24, 10) for i in range(30)]
    if not answered:
        r.errors.append("no answer to sysDescr/sysObjectID/sysName: timeout")
    return build_collect_report([r], ["10.0.0.2"], SnmpAuth(community="x"), datetime.now(UTC), 24, False)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_shows_the_switch_port_of_a_located_device(fmt: str, tmp_path: Path) -> None:
    name, _, evidence = fmt.partition("+")
    path = tmp_path / f"r.{name}"
    write_outputs(_report(), [f"{name}={path}"], evidence=bool(evidence))  # type: ignore[arg-type]
    text = path.read_text()
    assert "sw1 (10.0.0.2) port 3 Gi1/0/3 VLAN 20" in text
    assert not re.search(r"(?<!its )location: sw1 \(10\.0\.0\.2\) port 24", text)  # an uplink is never one
    if fmt in PORTS_ONLY:  # no uplink port at all
        assert "port 24 VLAN" not in text
    else:
        assert "seen through an uplink, not its location: sw1 (10.0.0.2) port 24 VLAN 20" in text


def test_sarif_with_switch_ports_is_still_valid(tmp_path: Path) -> None:
    path = tmp_path / "r.sarif"
    write_outputs(_report(), [f"sarif={path}"])  # type: ignore[arg-type]
    log = json.loads(path.read_text())
    schema = json.loads((DATA_DIR / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(schema).validate(log)
    [hik] = [r for r in log["runs"][0]["results"] if r["properties"]["mac"] == HIK]
    assert hik["properties"]["switchPorts"] == ["sw1 (10.0.0.2) port 3 Gi1/0/3 VLAN 20"]
    [far] = [r for r in log["runs"][0]["results"] if r["properties"]["mac"] == FAR]
    assert far["properties"]["switchPorts"] == []  # behind the uplink: no location


def test_report_of_a_collection_is_incomplete_when_an_agent_did_not_answer() -> None:
    report = _report(answered=False)
    assert report.complete is False and report.devices == []  # type: ignore[attr-defined]
    assert report.probes[0].status == "no-response"  # type: ignore[attr-defined]
    assert any("no answer" in n for n in report.notes)  # type: ignore[attr-defined]


def test_html_has_a_location_column_with_the_switch_port() -> None:
    from scanner.report import render

    page = render(_report(), "html")
    assert '<th scope="col">Location</th>' in page
    assert "<td>sw1 (10.0.0.2) port 3 Gi1/0/3 VLAN 20</td>" in page
