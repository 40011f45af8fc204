"""``ndaa-scan inventory``: the current inventory from the server (HTTP) or straight from PostgreSQL, in
the project's own report formats.

The inventory document (``db.inventory``, also the server's answer): ``sites`` (site, scan_id,
started_at, complete, counts by status) and ``devices`` (a DeviceReport each, plus ``site``,
``scan_id``, ``device_key`` and ``first_seen``). ``json`` prints it as it is; ``jsonl`` one device per
line; ``csv`` is the csv report with ``site``, ``device_key`` and ``first_seen`` columns in front; ``table``
is the table report of each site's devices under a heading naming the site. The other report formats are
scanner/report's own, each device marked with its site: ``html`` (a table of the sites' latest scans and
counts, then one device table with a Site column), ``markdown`` (the same), ``sarif`` (one run per site,
``properties.site`` on every result), ``junit`` (one testsuite per site, classnames start with it),
``compliance`` (each site's document under its name), ``ocsf`` (``unmapped.ndaa.site``), ``ecs``
(``labels.ndaa_site``), ``cyclonedx`` (one BOM, an ``ndaa-scanner:site`` property per component) and
``netbox`` (the import's ``site`` column).
"""

from __future__ import annotations

import csv
import io
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import datetime
from typing import Any

from scanner.errors import NdaaError, UsageError
from scanner.results import DeviceReport, ScanReport

INVENTORY_PATH = "/api/v1/inventory"
MAX_ANSWER = 1024 * 1024 * 1024
EXTRA_KEYS = ("site", "scan_id", "device_key", "first_seen")


def fetch(
    server: str,
    token: str,
    *,
    site: str | None,
    statuses: list[str],
    observations: bool = False,
    timeout: float = 120.0,
) -> Any:
    """The inventory document from ``server`` (GET, Bearer token)."""
    _check(server, token)
    query = [("site", site)] if site else []
    query += [("status", s) for s in statuses]
    query += [("observations", "1")] if observations else []
    return _get(
        server, token, INVENTORY_PATH + ("?" + urllib.parse.urlencode(query) if query else ""), timeout
    )


def get_json(server: str, token: str, path: str, timeout: float = 120.0) -> Any:
    """GET ``path`` of the server's API (Bearer token) as parsed JSON; one clear error otherwise."""
    _check(server, token)
    return _get(server, token, "/api/v1/" + path, timeout)


def _check(server: str, token: str) -> None:
    if not server.startswith(("http://", "https://")):
        raise UsageError(f"--server {server!r}: give an http:// or https:// URL")
    if not token:
        raise UsageError("no token: set NDAA_SERVER_TOKEN (a reader token or the site's push token)")


def _get(server: str, token: str, path: str, timeout: float) -> Any:
    """GET ``server`` + ``path`` with the Bearer token, no proxy, the answer bounded; NdaaError otherwise."""
    url = server.rstrip("/") + path
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    try:
        with opener.open(request, timeout=timeout) as response:
            return parse_json(response.read(MAX_ANSWER))
    except urllib.error.HTTPError as exc:
        raise NdaaError(
            f"{server} answered {exc.code}: {exc.read(2000).decode('utf-8', 'replace')}"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        raise NdaaError(f"{server}: {getattr(exc, 'reason', exc)}") from None


def parse_json(raw: bytes) -> Any:
    """A server's answer (the inventory: ~50 JSON containers a device) parsed with the cyclic garbage
    collector paused (``scanner.sites._gc``)."""
    from scanner.sites._gc import gc_paused

    with gc_paused():
        return json.loads(raw)


def render(doc: dict[str, Any], fmt: str, *, evidence: bool = False) -> str:
    if fmt == "json":
        return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    if fmt == "jsonl":
        return "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in doc["devices"])
    if fmt == "csv":
        return _csv(doc)
    if fmt == "table":
        return _table(doc, evidence)
    if fmt in _PER_SITE:
        return _PER_SITE[fmt](doc)
    raise UsageError(f"unknown inventory format {fmt!r} (choose from {', '.join(FORMATS)})")


def site_reports(doc: dict[str, Any]) -> list[tuple[dict[str, Any], ScanReport]]:
    """Each site of the inventory document with its latest scan as a ScanReport of the devices listed."""
    from scanner import __version__

    by_site: dict[str, list[DeviceReport]] = {}
    for row in doc["devices"]:
        by_site.setdefault(row["site"], []).append(_device(row))
    return [
        (
            s,
            ScanReport(
                scan_id=s["scan_id"],
                tool_version=__version__,
                started_at=datetime.fromisoformat(s["started_at"]),
                complete=bool(s["complete"]),
                devices=by_site.get(s["site"], []),
            ),
        )
        for s in doc["sites"]
    ]


def _html(doc: dict[str, Any]) -> str:
    from scanner.report import html

    devices = [(row["site"], _device(row)) for row in doc["devices"]]
    return html.render_inventory(doc["sites"], devices, doc["generated_at"])


def _markdown(doc: dict[str, Any]) -> str:
    from scanner.report import markdown

    sites = [(s["site"], report, s["counts"]) for s, report in site_reports(doc)]
    return markdown.render_inventory(sites, doc["generated_at"])


def _sarif(doc: dict[str, Any]) -> str:
    """One SARIF run per site (its automation id names the site); every result carries ``site``."""
    from scanner.report import sarif
    from scanner.report._text import json_safe

    runs = []
    for s, report in site_reports(doc):
        run = sarif.sarif_log(report)["runs"][0]
        run["automationDetails"] = {"id": f"ndaa-scanner/{s['site']}/"}
        run["properties"]["site"] = s["site"]
        for result in run["results"]:
            result.setdefault("properties", {})["site"] = s["site"]
        runs.append(run)
    log = {"$schema": sarif.SARIF_SCHEMA, "version": "2.1.0", "runs": runs}
    return json_safe(json.dumps(log, indent=2, ensure_ascii=False)) + "\n"


def _junit(doc: dict[str, Any]) -> str:
    from scanner.report import junit

    return junit.render_sites([(s["site"], report) for s, report in site_reports(doc)])


def _compliance(doc: dict[str, Any]) -> str:
    """The compliance document of each site's latest scan, one after the other, each under its site."""
    from scanner.report import compliance

    parts = [f"# Site {s['site']}\n\n{compliance.render(report)}" for s, report in site_reports(doc)]
    return "\n---\n\n".join(parts) if parts else "no site has pushed a scan yet\n"


def _lines(fmt: str, put_site: Callable[[dict[str, Any], str], None]) -> Callable[[dict[str, Any]], str]:
    """A one-JSON-document-per-line export (ocsf, ecs) of every site, ``put_site`` marking each document."""

    def render_lines(doc: dict[str, Any]) -> str:
        from scanner.report import render as render_report
        from scanner.report._text import json_safe

        out = []
        for s, report in site_reports(doc):
            for line in render_report(report, fmt).splitlines():
                event = json.loads(line)
                put_site(event, s["site"])
                out.append(json_safe(json.dumps(event, ensure_ascii=False)) + "\n")
        return "".join(out)

    return render_lines


def _ocsf_site(event: dict[str, Any], site: str) -> None:
    event["unmapped"]["ndaa"]["site"] = site


def _ecs_site(event: dict[str, Any], site: str) -> None:
    event["labels"]["ndaa_site"] = site


def _cyclonedx(doc: dict[str, Any]) -> str:
    """One BOM of every site's devices: each component's bom-ref starts with its site and it carries an
    ``ndaa-scanner:site`` property."""
    import uuid

    from scanner.report import cyclonedx
    from scanner.report._text import json_safe

    bom: dict[str, Any] | None = None
    components = []
    for s, report in site_reports(doc):
        site_bom = json.loads(cyclonedx.render(report))
        bom = bom or site_bom
        for c in site_bom["components"]:
            c["bom-ref"] = f"{s['site']}/{c['bom-ref']}"
            c.setdefault("properties", []).append({"name": cyclonedx.PREFIX + "site", "value": s["site"]})
            components.append(c)
    if bom is None:
        return (
            json_safe(json.dumps(json.loads(cyclonedx.render(_empty())), indent=2, ensure_ascii=False)) + "\n"
        )
    bom["serialNumber"] = uuid.uuid4().urn
    bom["metadata"]["timestamp"] = doc["generated_at"].replace("+00:00", "Z")
    bom["metadata"]["properties"] = [
        {"name": cyclonedx.PREFIX + "sites", "value": ", ".join(s["site"] for s in doc["sites"])}
    ]
    bom["components"] = components
    return json_safe(json.dumps(bom, indent=2, ensure_ascii=False)) + "\n"


def _netbox(doc: dict[str, Any]) -> str:
    """NetBox's device import of every site: the ``site`` column names each device's own site."""
    from scanner.report import netbox
    from scanner.report._text import csv_cell

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(netbox.COLUMNS)
    at = netbox.COLUMNS.index("site")
    for s, report in site_reports(doc):
        for row in list(csv.reader(io.StringIO(netbox.render(report))))[1:]:
            row[at] = csv_cell(s["site"])
            writer.writerow(row)
    return buf.getvalue()


def _empty() -> ScanReport:
    from scanner import __version__

    return ScanReport(tool_version=__version__)


_PER_SITE: dict[str, Callable[[dict[str, Any]], str]] = {
    "html": _html,
    "markdown": _markdown,
    "sarif": _sarif,
    "junit": _junit,
    "compliance": _compliance,
    "ocsf": _lines("ocsf", _ocsf_site),
    "ecs": _lines("ecs", _ecs_site),
    "cyclonedx": _cyclonedx,
    "netbox": _netbox,
}
FORMATS = ("table", "json", "jsonl", "csv", *_PER_SITE)


def _device(row: dict[str, Any]) -> DeviceReport:
    return DeviceReport.model_validate({k: v for k, v in row.items() if k not in EXTRA_KEYS})


def _csv(doc: dict[str, Any]) -> str:
    from scanner.report import csv_format
    from scanner.report._text import csv_cell

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(("site", "device_key", "first_seen", *csv_format.COLUMNS))
    for row in doc["devices"]:
        extra = [csv_cell(row["site"]), csv_cell(row["device_key"]), row.get("first_seen") or ""]
        writer.writerow([*extra, *csv_format._row(_device(row), csv_format.TARGET)])
    return buf.getvalue()


def _table(doc: dict[str, Any], evidence: bool) -> str:
    from scanner.report import table

    parts = []
    for s, report in site_reports(doc):
        counts = ", ".join(f"{n} {k}" for k, n in s["counts"].items() if n)
        head = f"== site {s['site']}: scan {s['scan_id']} of {s['started_at']} ({counts or 'no devices'})"
        if not s["complete"]:
            head += " — incomplete scan"
        parts.append(head + "\n" + table.render(report, evidence=evidence))
    return "\n".join(parts) if parts else "no site has pushed a scan yet\n"
