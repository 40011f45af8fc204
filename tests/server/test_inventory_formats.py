"""The inventory in every report format (issue: "every report format, JSON rows carry site, the HTML with
per-site counts"): two sites pushed to a real server, the inventory read back once as JSON, then each
format rendered from it and parsed by its consumer's rules — every device row names its own site."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from browser import body_attr, dump_dom, require_chromium, statuses
from clirun import run_cli
from paths import DATA_DIR
from report_fixtures import sample_report
from test_server import inventory, push, store_scan, token

from scanner.report import render as render_report
from scanner.sites.inventory import FORMATS, render, site_reports

SITES = ("north", "south")


@pytest.fixture
def pushed(server: Any, tmp_path: Path) -> tuple[Any, str, dict[str, Any]]:
    """Two sites with the sample report each; (server, a reader token, the inventory document)."""
    proc = run_cli("server", "token", "create", "--reader", env={"NDAA_SERVER_DB": server.db_url})
    assert proc.returncode == 0, proc.stderr
    reader = proc.stdout.strip()
    for site in SITES:
        history = tmp_path / f"{site}.sqlite3"
        store_scan(history, sample_report())
        assert push(history, server.url, site, token(server.db_url, site)).returncode == 0
    doc = json.loads(inventory(server.url, reader, "-f", "json").stdout)
    assert [s["site"] for s in doc["sites"]] == list(SITES)
    return server, reader, doc


def per_site() -> Counter[str]:
    return Counter({site: len(sample_report().devices) for site in SITES})


def test_every_scan_format_is_an_inventory_format() -> None:
    from scanner.report import FORMATS as SCAN_FORMATS

    assert set(SCAN_FORMATS) <= set(FORMATS)


def test_html_has_per_site_counts_and_a_site_column(
    pushed: tuple[Any, str, dict[str, Any]], tmp_path: Path
) -> None:
    server, reader, doc = pushed
    proc = inventory(server.url, reader, "-f", "html")
    assert proc.returncode == 0, proc.stderr
    page = proc.stdout
    assert page.startswith("<!DOCTYPE html>")
    counts = sample_report().counts()
    for site in SITES:
        row = re.search(rf'<tr data-site="{site}">(.*?)</tr>', page)
        assert row, site
        cells = re.findall(r'<td class="num">(\d+)</td>', row.group(1))
        assert [int(c) for c in cells] == [*counts.values(), sum(counts.values())]
    sites_of_rows = re.findall(r'<tbody class="device[^"]*"[^>]*><tr><td class="site">([^<]*)</td>', page)
    assert Counter(sites_of_rows) == per_site()
    chromium = require_chromium()
    path = tmp_path / "inventory.html"
    path.write_text(page, encoding="utf-8")
    dom = dump_dom(chromium, tmp_path, path)  # the page's own script ran under its CSP
    total = str(sum(per_site().values()))
    assert body_attr(dom, "data-device-count") == total and body_attr(dom, "data-visible-count") == total
    assert statuses(dom)[0] == "covered" and len(statuses(dom)) == int(total)  # covered first


def test_markdown_device_rows_carry_their_site(pushed: tuple[Any, str, dict[str, Any]]) -> None:
    _, _, doc = pushed
    text = render(doc, "markdown")
    sites_part = text.split("## Sites", 1)[1].split("## Devices", 1)[0]
    for site in SITES:
        assert re.search(rf"^\| {site} \|", sites_part, re.M), site
    devices_part = text.split("## Devices", 1)[1].split("## Evidence", 1)[0]
    rows = [line for line in devices_part.splitlines() if re.match(r"\| \w+ \| \d+ \|", line)]
    assert Counter(line.split("|")[1].strip() for line in rows) == per_site()


def test_sarif_one_valid_run_per_site(pushed: tuple[Any, str, dict[str, Any]]) -> None:
    import jsonschema

    _, _, doc = pushed
    log = json.loads(render(doc, "sarif"))
    schema = json.loads((DATA_DIR / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(schema).validate(log)
    one_site = json.loads(render_report(sample_report(), "sarif"))["runs"][0]["results"]
    assert [run["properties"]["site"] for run in log["runs"]] == list(SITES)
    assert len({run["automationDetails"]["id"] for run in log["runs"]}) == len(SITES)
    for run, site in zip(log["runs"], SITES, strict=True):
        assert len(run["results"]) == len(one_site)
        assert {r["properties"]["site"] for r in run["results"]} == {site}


def test_junit_one_suite_per_site(pushed: tuple[Any, str, dict[str, Any]]) -> None:
    _, _, doc = pushed
    root = ET.fromstring(render(doc, "junit"))  # noqa: S314 - our own output, not untrusted input
    suites = root.findall("testsuite")
    assert [s.find("properties/property[@name='site']").get("value") for s in suites] == list(SITES)  # type: ignore[union-attr]
    complete = {s["site"]: s["complete"] for s in doc["sites"]}
    for suite, site in zip(suites, SITES, strict=True):
        cases = suite.findall("testcase")
        devices = [c for c in cases if c.get("classname", "").startswith(f"{site}.ndaa889.")]
        assert len(devices) == len(sample_report().devices)
        assert len(cases) == len(devices) + (not complete[site])  # an incomplete scan is one more case
        assert int(suite.get("failures", "-1")) == sum(c.find("failure") is not None for c in cases) > 0
    assert int(root.get("tests", "0")) == sum(per_site().values()) + sum(not c for c in complete.values())


def test_compliance_has_each_site_document(pushed: tuple[Any, str, dict[str, Any]]) -> None:
    _, _, doc = pushed
    text = render(doc, "compliance")
    parts = text.split("\n---\n\n")
    assert [p.splitlines()[0] for p in parts] == [f"# Site {s}" for s in SITES]
    for (_, report), part in zip(site_reports(doc), parts, strict=True):
        assert part.split("\n\n", 1)[1] == render_report(report, "compliance")


@pytest.mark.parametrize(("fmt", "site_of"), [
    ("ocsf", lambda e: e["unmapped"]["ndaa"]["site"]),
    ("ecs", lambda e: e["labels"]["ndaa_site"]),
])  # fmt: skip
def test_line_exports_mark_each_device(
    pushed: tuple[Any, str, dict[str, Any]], fmt: str, site_of: Any
) -> None:
    _, _, doc = pushed
    events = [json.loads(line) for line in render(doc, fmt).splitlines()]
    assert Counter(site_of(e) for e in events) == per_site()


def test_cyclonedx_one_valid_bom_with_each_site(pushed: tuple[Any, str, dict[str, Any]]) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    _, _, doc = pushed
    text = render(doc, "cyclonedx")
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert error is None, error
    components = json.loads(text)["components"]
    assert len({c["bom-ref"] for c in components}) == len(components)
    sites = [p["value"] for c in components for p in c["properties"] if p["name"] == "ndaa-scanner:site"]
    assert Counter(sites) == per_site()


def test_netbox_site_column_is_the_device_site(pushed: tuple[Any, str, dict[str, Any]]) -> None:
    _, _, doc = pushed
    rows = list(csv.DictReader(io.StringIO(render(doc, "netbox"))))
    assert Counter(r["site"] for r in rows) == per_site()
    for site in SITES:  # NetBox refuses two devices of one name at a site
        names = [r["name"] for r in rows if r["site"] == site]
        assert len(set(names)) == len(names)
