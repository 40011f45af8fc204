"""``ndaa-scan inventory``: the current inventory from the server (HTTP) or straight from PostgreSQL, in
the project's own report formats.

The inventory document (``db.inventory``, also the server's answer): ``sites`` (site, scan_id,
started_at, complete, counts by status) and ``devices`` (a DeviceReport each, plus ``site``,
``scan_id``, ``device_key`` and ``first_seen``). ``json`` prints it as it is; ``jsonl`` one device per
line; ``csv`` is the csv report with ``site``, ``device_key`` and ``first_seen`` columns in front; ``table``
is the table report of each site's devices under a heading naming the site.
"""

from __future__ import annotations

import csv
import io
import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from typing import Any

from scanner.errors import NdaaError, UsageError
from scanner.results import DeviceReport, ScanReport

FORMATS = ("table", "json", "jsonl", "csv")
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
            return json.loads(response.read(MAX_ANSWER))
    except urllib.error.HTTPError as exc:
        raise NdaaError(
            f"{server} answered {exc.code}: {exc.read(2000).decode('utf-8', 'replace')}"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        raise NdaaError(f"{server}: {getattr(exc, 'reason', exc)}") from None


def render(doc: dict[str, Any], fmt: str, *, evidence: bool = False) -> str:
    if fmt == "json":
        return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    if fmt == "jsonl":
        return "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in doc["devices"])
    if fmt == "csv":
        return _csv(doc)
    if fmt == "table":
        return _table(doc, evidence)
    raise UsageError(f"unknown inventory format {fmt!r} (choose from {', '.join(FORMATS)})")


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
    from scanner import __version__
    from scanner.report import table

    by_site: dict[str, list[DeviceReport]] = {}
    for row in doc["devices"]:
        by_site.setdefault(row["site"], []).append(_device(row))
    parts = []
    for s in doc["sites"]:
        counts = ", ".join(f"{n} {k}" for k, n in s["counts"].items() if n)
        head = f"== site {s['site']}: scan {s['scan_id']} of {s['started_at']} ({counts or 'no devices'})"
        if not s["complete"]:
            head += " — incomplete scan"
        report = ScanReport(
            scan_id=s["scan_id"],
            tool_version=__version__,
            started_at=datetime.fromisoformat(s["started_at"]),
            complete=bool(s["complete"]),
            devices=by_site.get(s["site"], []),
        )
        parts.append(head + "\n" + table.render(report, evidence=evidence))
    return "\n".join(parts) if parts else "no site has pushed a scan yet\n"
