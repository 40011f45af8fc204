"""HTML: one self-contained page (inline CSS and JS, no fetches) for people and auditors.

Summary counts, then every device (covered first) with its evidence and observations in an
expandable ``<details>``; sortable columns, a text and status filter; prints cleanly. Hosts heard outside
the targets follow in their own section and table (``#heard``), outside the counts, sorting and filter. Every
device string is HTML-escaped and the page's Content-Security-Policy admits only its own inline
script and style (by hash), so a hostile banner shows as text and could not run if it slipped through.
After its script runs, ``<body>`` carries ``data-device-count`` and ``data-visible-count``. A link can
open a view: ``report.html#status=flagged&q=hikvision&sort=confidence&dir=desc``.

``render_inventory`` is the same page for the central inventory of many sites (``ndaa-scan inventory -f
html``): a table of every site's latest scan and its counts, then one device table with a Site column.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import date, timedelta
from html import escape
from typing import TypedDict

from scanner.identify.models import Evidence, Status
from scanner.observations import Observation
from scanner.report._text import (
    DOCUMENT_PUNCTUATION,
    HEARD_SENTENCE,
    HEARD_TITLE,
    STATUS_TITLE,
    EvidenceStyle,
    flagged,
    format_evidence,
    heard_devices,
    maker,
    switch_ports,
    visible,
)
from scanner.results import DeviceReport, ScanReport

_CSS = """
:root{--covered:#b00020;--likely:#b35900;--suspected:#6a1b9a;--not-covered:#1b5e20;--unknown:#616161;
--line:#d0d7de;--bg2:#f6f8fa}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5rem;color:#1f2328}
h1{font-size:1.5rem;margin:0 0 .5rem}h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
dl.facts{display:grid;grid-template-columns:max-content auto;gap:.15rem 1rem;margin:0 0 1rem}
dl.facts dt{font-weight:600}dl.facts dd{margin:0}
.warning{border-left:4px solid var(--covered);background:#fdecea;padding:.5rem .75rem;margin:.5rem 0}
.cards{display:flex;flex-wrap:wrap;gap:.5rem;margin:1rem 0}
.card{border:1px solid var(--line);border-top:4px solid currentColor;border-radius:6px;padding:.4rem .9rem;
background:#fff;cursor:pointer;font:inherit;text-align:left;min-width:7.5rem}
.card b{display:block;font-size:1.6rem;line-height:1.1}
.covered{color:var(--covered)}.likely{color:var(--likely)}.suspected{color:var(--suspected)}
.not-covered{color:var(--not-covered)}.unknown{color:var(--unknown)}.total{color:#1f2328}
.controls{display:flex;flex-wrap:wrap;gap:1rem;align-items:center;margin:.5rem 0}
.controls input{min-width:22rem;padding:.3rem .5rem}.controls select{padding:.3rem}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid var(--line);padding:.35rem .5rem;text-align:left;vertical-align:top}
thead th{background:var(--bg2);white-space:nowrap}
#devices thead th{position:sticky;top:0;cursor:pointer;user-select:none}
thead th[aria-sort=ascending]::after{content:" \\25B2"}
thead th[aria-sort=descending]::after{content:" \\25BC"}
td.num{text-align:right}
code{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace;overflow-wrap:anywhere}
.badge{display:inline-block;font-weight:700;border:1px solid currentColor;border-radius:4px;padding:0 .35rem;
white-space:nowrap}
.sub{display:block;font-size:.8rem;color:var(--unknown)}
tbody.device>tr>td:first-child{border-left:4px solid transparent}
tbody.st-covered>tr>td:first-child{border-left-color:var(--covered)}
tbody.st-likely>tr>td:first-child{border-left-color:var(--likely)}
tbody.st-suspected>tr>td:first-child{border-left-color:var(--suspected)}
tbody.device>tr:first-child>td{border-bottom:0}
tr.detail>td{padding-top:0;font-size:.9rem}
td.host{min-width:9.5em;max-width:18rem;overflow-wrap:anywhere}td.mac code{white-space:nowrap}
details summary{cursor:pointer;color:#0969da}
ul.evidence{margin:.3rem 0;padding-left:1.1rem;max-width:75rem}ul.evidence li.against{color:#57606a}
.sign{font-weight:700}
table.obs{margin:.3rem 0;font-size:.85rem;width:auto}table.obs td,table.obs th{padding:.15rem .4rem}
.muted{color:#57606a}
footer{margin-top:2rem;color:#57606a;font-size:.85rem}
.charts{display:flex;flex-wrap:wrap;gap:1.5rem;margin:.5rem 0 1rem}.charts figure{margin:0}
.charts figcaption{font-weight:600;margin-bottom:.25rem}
#what-to-do{border-left:4px solid var(--covered);padding:.1rem .9rem;margin:1rem 0;background:var(--bg2)}
@media print{
body{margin:0;font-size:10pt}.controls{display:none}
#devices thead th{position:static}thead th::after{content:""!important}
tr{break-inside:avoid}tbody.device>tr:first-child{break-after:avoid}details summary{color:#1f2328}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
a{color:inherit;text-decoration:none}}
"""

_JS = """
(function(){
"use strict";
var body=document.body,table=document.getElementById("devices");
var rows=Array.prototype.slice.call(table.tBodies),filter=document.getElementById("filter");
var status=document.getElementById("status"),shown=document.getElementById("shown");
var texts=rows.map(function(r){return r.textContent.toLowerCase();});
body.setAttribute("data-device-count",String(rows.length));
function apply(){
  var q=filter.value.trim().toLowerCase(),s=status.value,n=0;
  rows.forEach(function(r,i){
    var st=r.getAttribute("data-status");
    var ok=(!s||st===s||(s==="flagged"&&r.hasAttribute("data-flagged")))&&(!q||texts[i].indexOf(q)!==-1);
    r.hidden=!ok;if(ok){n++;}
  });
  body.setAttribute("data-visible-count",String(n));
  shown.textContent="Showing "+n+" of "+rows.length+" devices";
}
function key(r,col){
  var c=r.rows[0].cells[col],k=c.getAttribute("data-sort");
  return k!==null?k:c.textContent.trim().toLowerCase();
}
var heads=Array.prototype.slice.call(table.tHead.rows[0].cells);
function sortBy(col,dir){
  heads.forEach(function(o){o.removeAttribute("aria-sort");});
  heads[col].setAttribute("aria-sort",dir===1?"ascending":"descending");
  var order=rows.map(function(r,i){return [key(r,col),i];});
  order.sort(function(a,b){return a[0]<b[0]?-dir:a[0]>b[0]?dir:a[1]-b[1];});
  order.forEach(function(p){table.appendChild(rows[p[1]]);});
}
heads.forEach(function(th,col){
  th.tabIndex=0;
  function toggle(){sortBy(col,th.getAttribute("aria-sort")==="ascending"?-1:1);}
  th.addEventListener("click",toggle);
  th.addEventListener("keydown",function(e){if(e.key==="Enter"||e.key===" "){e.preventDefault();toggle();}});
});
Array.prototype.forEach.call(document.querySelectorAll("button[data-filter]"),function(b){
  b.addEventListener("click",function(){status.value=b.getAttribute("data-filter");apply();});
});
filter.addEventListener("input",apply);status.addEventListener("change",apply);
var closed=[];
window.addEventListener("beforeprint",function(){
  closed=Array.prototype.filter.call(document.querySelectorAll("details"),function(d){return !d.open;});
  closed.forEach(function(d){d.open=true;});
});
window.addEventListener("afterprint",function(){closed.forEach(function(d){d.open=false;});closed=[];});
// A link can carry a view: #status=flagged&q=hikvision&sort=confidence&dir=desc
var view=new URLSearchParams(location.hash.slice(1));
filter.value=view.get("q")||"";
if(view.get("status")&&status.querySelector("option[value='"+view.get("status").replace(/[^a-z-]/g,"")+"']")){
  status.value=view.get("status");
}
var col=heads.map(function(h){return h.textContent.toLowerCase();}).indexOf(view.get("sort"));
if(col!==-1){sortBy(col,view.get("dir")==="desc"?-1:1);}
apply();
})();
"""


def _sha256(source: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode()


# Only this page's own style and script may apply; nothing may be fetched.
_CSP = (
    f"default-src 'none'; style-src '{_sha256(_CSS)}'; script-src '{_sha256(_JS)}'; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)


def _e(text: str | None, limit: int | None = None) -> str:
    """Device text for HTML: control characters made visible, then escaped (quotes too)."""
    return escape(visible(text, limit), quote=True)


def render(report: ScanReport, *, trend: list[tuple[str, int]] | None = None) -> str:
    """The page; ``trend``: (day, covered-or-likely devices) of the stored scans of the same targets,
    oldest first (the CLI passes it when a history exists), drawn as a small chart when it has 2 points."""
    devices = report.sorted_devices()
    title = "NDAA §889 scan report" + (f" {report.scan_id}" if report.scan_id else "")
    out = [
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        '<meta name="referrer" content="no-referrer">\n',
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n",
        f'<body data-device-count="" data-visible-count="">\n<header>\n<h1>{_e(title)}</h1>\n',
        _facts(report),
        "</header>\n",
        _cards(report),
        _charts(report, trend or []),
        _what_to_do(report),
        _controls(),
        _device_table(devices),
        _heard(report),
        _probes(report),
        f"<footer>Generated by ndaa-scanner {_e(report.tool_version)}. This page is self-contained: "
        "it loads nothing from the network.</footer>\n",
        f"<script>{_JS}</script>\n</body>\n</html>\n",
    ]
    return "".join(out)


def render_inventory(
    sites: list[InventorySite], devices: list[tuple[str, DeviceReport]], generated_at: str
) -> str:
    """The inventory page: each site's latest scan with its counts (all its devices, whatever filter the
    query had), then the devices listed (each with its site) in the page's one sortable, filterable table."""
    from scanner import __version__

    shown = ScanReport(tool_version=__version__, devices=[d for _, d in devices])
    title = "NDAA §889 inventory"
    out = [
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        '<meta name="referrer" content="no-referrer">\n',
        f"<title>{title}</title>\n<style>{_CSS}</style>\n</head>\n",
        f'<body data-device-count="" data-visible-count="">\n<header>\n<h1>{title}</h1>\n',
        f'<dl class="facts"><dt>Generated</dt><dd>{_e(generated_at)}</dd><dt>Sites</dt><dd>{len(sites)}</dd>'
        f"<dt>Devices listed</dt><dd>{len(devices)}</dd></dl>\n</header>\n",
        _site_table(sites),
        _cards(shown),
        _controls(),
        _device_table([d for _, d in devices], sites=[site for site, _ in devices]),
        f"<footer>Generated by ndaa-scanner {_e(__version__)}. This page is self-contained: "
        "it loads nothing from the network.</footer>\n",
        f"<script>{_JS}</script>\n</body>\n</html>\n",
    ]
    return "".join(out)


class InventorySite(TypedDict):
    """A site of the inventory document (``scanner.sites``): its latest scan and that scan's counts."""

    site: str
    scan_id: str | None
    started_at: str | None
    complete: bool
    counts: dict[str, int]


def _site_table(sites: list[InventorySite]) -> str:
    heads = ["Site", "Scan", "Started", "Complete", *(STATUS_TITLE[s] for s in Status), "Devices"]
    rows = []
    for s in sites:
        counts = [int(s["counts"].get(st.value, 0)) for st in Status]
        incomplete = "" if s["complete"] else ' class="warning"'
        rows.append(
            f'<tr data-site="{_e(s["site"])}"><th scope="row">{_e(s["site"])}</th><td><code>{_e(s["scan_id"])}</code></td>'
            f"<td>{_e(s['started_at'])}</td><td{incomplete}>{'yes' if s['complete'] else 'no'}</td>"
            + "".join(f'<td class="num">{n}</td>' for n in counts)
            + f'<td class="num">{sum(counts)}</td></tr>'
        )
    return (
        f'<section id="sites" aria-label="Sites"><h2>Sites ({len(sites)})</h2><table class="sites"><thead><tr>'
        + "".join(f'<th scope="col">{h}</th>' for h in heads)
        + f"</tr></thead><tbody>{''.join(rows)}</tbody></table></section>\n"
    )


def _facts(report: ScanReport) -> str:
    finished = report.finished_at.isoformat() if report.finished_at else "not recorded"
    facts = [
        ("Started", escape(report.started_at.isoformat())),
        ("Finished", escape(finished)),
        ("Targets", ", ".join(_e(t) for t in report.targets) or "none recorded"),
        ("Interface", _e(report.interface) or "default"),
        ("Scan complete", "yes" if report.complete else "<strong>no</strong>"),
        ("OUI registry date", _e(report.oui_registry_date) or "unknown"),
    ]
    out = ['<dl class="facts">'] + [f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts] + ["</dl>\n"]
    if not report.complete:
        out.append(
            '<p class="warning"><strong>Incomplete scan:</strong> some probes failed, '
            "so devices may be missing from this report.</p>\n"
        )
    problems = [f"{_e(p.probe)} {_e(p.status)}: {_e(p.error)}" for p in report.probes if p.error]
    problems += [_e(n) for n in report.notes]
    if problems:
        out.append('<ul class="notes">' + "".join(f"<li>{p}</li>" for p in problems) + "</ul>\n")
    return "".join(out)


def _cards(report: ScanReport) -> str:
    counts = report.counts()
    waived = sum(d.verdict.waived for d in report.devices)
    cards = [
        f'<button type="button" class="card {s.value}" data-filter="{s.value}"><b>{counts[s.value]}</b>'
        f"{STATUS_TITLE[s]}</button>"
        for s in Status
    ]
    cards.append(
        f'<button type="button" class="card total" data-filter=""><b>{len(report.devices)}</b>'
        f"All devices ({waived} waived)</button>"
    )
    return '<section class="cards" aria-label="Summary">' + "".join(cards) + "</section>\n"


# Chart colours: the status colours of the page, and one the page uses nowhere else for the entity bars
# (the screenshot test finds the entity chart by it).
CHART_FILL = {
    Status.COVERED: "#b00020",
    Status.LIKELY: "#b35900",
    Status.SUSPECTED: "#6a1b9a",
    Status.NOT_COVERED: "#1b5e20",
    Status.UNKNOWN: "#616161",
}
ENTITY_FILL = "#7a0019"
TREND_FILL = "#0a3069"
_BAR_W, _ROW_H = 260, 22


def _bars(rows: list[tuple[str, int, str]], chart_id: str, label: str) -> str:
    """A horizontal bar chart as inline SVG (no script, no fonts from anywhere): label, bar, count."""
    top = max((n for _, n, _ in rows), default=0) or 1
    height = _ROW_H * len(rows) + 4
    parts = [
        f'<svg id="{chart_id}" role="img" aria-label="{escape(label)}" width="{160 + _BAR_W + 50}" '
        f'height="{height}" viewBox="0 0 {160 + _BAR_W + 50} {height}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(label)}</title>"
    ]
    for i, (name, n, fill) in enumerate(rows):
        y = i * _ROW_H + 2
        width = round(_BAR_W * n / top) if n else 0
        parts.append(
            f'<text x="155" y="{y + 15}" text-anchor="end" font-size="13" fill="#1f2328">{name}</text>'
            f'<rect x="160" y="{y + 2}" width="{width}" height="{_ROW_H - 6}" fill="{fill}" data-count="{n}"/>'
            f'<text x="{160 + width + 6}" y="{y + 15}" font-size="13" fill="#1f2328">{n}</text>'
        )
    return "".join(parts) + "</svg>"


def _charts(report: ScanReport, trend: list[tuple[str, int]]) -> str:
    """Devices by status and by covered entity (and the trend of flagged devices over stored scans)."""
    counts = report.counts()
    status_rows = [(STATUS_TITLE[s], counts[s.value], CHART_FILL[s]) for s in Status]
    entities: dict[str, int] = {}
    for d in report.devices:
        if d.verdict.covered_entity and flagged(d):
            entities[d.verdict.covered_entity] = entities.get(d.verdict.covered_entity, 0) + 1
    entity_rows = [
        (_e(e), n, ENTITY_FILL) for e, n in sorted(entities.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    out = [
        '<section class="charts" aria-label="Charts">',
        "<figure><figcaption>Devices by status</figcaption>",
        _bars(status_rows, "chart-status", "Devices by status"),
        "</figure>",
    ]
    if entity_rows:
        out += [
            "<figure><figcaption>Covered, likely or suspected devices by entity</figcaption>",
            _bars(entity_rows, "chart-entity", "Flagged devices by covered entity"),
            "</figure>",
        ]
    if len(trend) >= 2:
        rows = [(_e(day), n, TREND_FILL) for day, n in trend[-12:]]
        out += [
            "<figure><figcaption>Covered or likely devices, stored scans of these targets</figcaption>",
            _bars(rows, "chart-trend", "Covered or likely devices over the stored scans"),
            "</figure>",
        ]
    return "".join(out) + "</section>\n"


def _what_to_do(report: ScanReport) -> str:
    """What the reader must do about what was found: FAR 52.204-25(d) reporting, with the deadline."""
    covered = [
        d
        for d in report.devices
        if d.verdict.status in (Status.COVERED, Status.LIKELY) and not d.verdict.waived
    ]
    suspected = sum(
        1 for d in report.devices if d.verdict.status is Status.SUSPECTED and not d.verdict.waived
    )
    waived = sum(1 for d in report.devices if d.verdict.waived)
    expired = sum(1 for d in report.devices if d.verdict.waiver_expired and not d.verdict.waived)
    found = (report.finished_at or report.started_at).date()
    deadline = _next_business_day(found)
    steps = []
    if covered:
        steps.append(
            f"<li><strong>Report within one business day</strong> (by {deadline.isoformat()}): "
            f"{len(covered)} covered or likely device(s) were identified. FAR 52.204-25(d) requires the "
            "contractor to report covered telecommunications equipment to the Contracting Officer (DoD "
            "contracts: https://dibnet.dod.mil), with what is known of each item: "
            "<code>-f compliance</code> writes that report.</li>"
            "<li><strong>Within ten business days</strong>, report the mitigation actions taken or planned, "
            "and isolate or replace the equipment.</li>"
        )
    if suspected:
        steps.append(
            f"<li>{suspected} suspected device(s) rest on an unverified rebrand: have a person confirm the "
            "maker (the evidence says what to check).</li>"
        )
    if expired:
        steps.append(f"<li>{expired} waiver(s) have expired: those devices count again until renewed.</li>")
    if waived:
        steps.append(f"<li>{waived} device(s) are waived: check the waivers are still valid.</li>")
    if not steps:
        steps.append(
            "<li>No covered, likely or suspected equipment was found among the targets: keep this "
            "report as the record of the inquiry.</li>"
        )
    if not report.complete:
        steps.append("<li>The scan is <strong>incomplete</strong>: rescan before relying on it.</li>")
    return (
        '<section id="what-to-do" aria-label="What to do"><h2>What to do</h2><ol>'
        + "".join(steps)
        + "</ol></section>\n"
    )


def _next_business_day(day: date) -> date:
    """The next Monday-to-Friday day after ``day`` (public holidays are not known here)."""
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _controls() -> str:
    options = "".join(f'<option value="{s.value}">{STATUS_TITLE[s]}</option>' for s in Status)
    return (
        '<div class="controls"><label>Filter <input id="filter" type="search" '
        'placeholder="IP, MAC, maker, model, evidence…" autocomplete="off"></label>'
        '<label>Status <select id="status"><option value="">All</option>'
        f'<option value="flagged">Covered, likely or suspected</option>{options}</select></label>'
        '<span id="shown" class="muted"></span></div>\n'
    )


_COLUMNS = (
    "Status",
    "IP",
    "MAC",
    "Location",
    "Maker",
    "Model",
    "Serial",
    "Firmware",
    "Type",
    "Entity",
    "Confidence",
)


def _heard(report: ScanReport) -> str:
    """Hosts heard outside the targets: their own section and table (not sorted, filtered or counted)."""
    heard = heard_devices(report)
    if not heard:
        return ""
    return (
        f'<section id="heard" aria-label="{HEARD_TITLE}"><h2>{HEARD_TITLE} ({len(heard)})</h2>\n'
        f'<p class="muted">{escape(HEARD_SENTENCE)}</p>\n'
        + _device_table(heard, table_id="heard-devices")
        + "</section>\n"
    )


def _device_table(
    devices: list[DeviceReport], table_id: str = "devices", *, sites: list[str] | None = None
) -> str:
    """One ``<tbody class="device">`` per device: its summary row, then a full-width row with its details;
    ``sites``: each device's site, in a first column (the inventory of many sites)."""
    out = [
        f'<table id="{table_id}">\n<thead><tr>',
        *(f'<th scope="col">{h}</th>' for h in (("Site",) if sites is not None else ()) + _COLUMNS),
        "</tr></thead>\n",
    ]
    if sites is not None:
        out += [_device_body(d, site) for d, site in zip(devices, sites, strict=True)]
    else:
        out += [_device_body(d) for d in devices]
    out.append("</table>\n")
    return "".join(out)


def _device_body(d: DeviceReport, site: str | None = None) -> str:
    v = d.verdict
    site_cell = f'<td class="site">{_e(site)}</td>' if site is not None else ""
    flag = ' data-flagged=""' if flagged(d) else ""
    waived = '<span class="sub">waived</span>' if v.waived else ""
    mismatch = '<span class="sub">brand mismatch</span>' if v.brand_mismatch else ""
    hostnames = "".join(
        f'<span class="sub">{_e(h, 80)}</span>' for h in [*([d.hostname] if d.hostname else []), *d.hostnames]
    )
    return (
        f'<tbody class="device st-{v.status.value}" data-status="{v.status.value}"{flag}><tr>{site_cell}'
        f'<td data-sort="{v.status.rank}">'
        f'<span class="badge {v.status.value}">{STATUS_TITLE[v.status]}</span>'
        f"{waived}</td>"
        f'<td class="host" data-sort="{_ip_key(d.ip)}">{_e(d.ip)}{hostnames}</td>'
        f'<td class="mac"><code>{_e(d.mac)}</code></td>'
        f"<td>{'<br>'.join(_e(p, 120) for p in switch_ports(d)[:4])}</td>"
        f"<td>{_e(maker(v))}{mismatch}</td><td>{_e(v.model, 80)}</td>"
        f"<td><code>{_e(v.serial, 60)}</code></td><td><code>{_e(v.firmware, 60)}</code></td>"
        f"<td>{_e(v.device_type)}</td>"
        f"<td>{_e(v.covered_entity)}</td>"
        f'<td class="num" data-sort="{v.confidence:09.6f}">{v.confidence:.2f}</td>'
        f'</tr>\n<tr class="detail"><td colspan="{len(_COLUMNS) + bool(site_cell)}">{_details(d)}</td></tr></tbody>\n'
    )


def _ip_key(ip: str | None) -> str:
    """Zero-padded dotted quad so IPs sort numerically as text; other strings after them."""
    parts = (ip or "").split(".")
    if len(parts) == 4 and all(p.isdigit() and len(p) <= 3 for p in parts):
        return ".".join(p.zfill(3) for p in parts)
    return "~" + _e(ip)


def _details(d: DeviceReport) -> str:
    v = d.verdict
    items = [_evidence_item(e) for e in v.evidence]
    codes = [("Serial", v.serial), ("Firmware", v.firmware)]
    extra = [f"<li>{k}: <code>{_e(val, 300)}</code></li>" for k, val in codes if val]
    extra += [f"<li>{k}: {_e(val, 500)}</li>" for k, val in (("Scope", v.scope), ("Waiver", v.waiver)) if val]
    extra += [f"<li>Note: {_e(n, 300)}</li>" for n in v.notes]
    summary = f"Evidence ({len(v.evidence)}) and observations ({len(d.observations)})"
    best = max((e for e in v.evidence if e.supports), key=lambda e: e.certainty, default=None)
    if best is not None:
        summary += (
            f'<span class="muted">: strongest {_e(best.probe)} <code>{_e(best.signal)}</code> = '
            f"<code>{_e(best.value, 80)}</code></span>"
        )
    return (
        f"<details><summary>{summary}</summary>"
        f'<ul class="evidence">{"".join(items) or "<li>No evidence.</li>"}{"".join(extra)}</ul>'
        f"{_observations(d.observations)}</details>"
    )


_HTML_EVIDENCE = EvidenceStyle(
    '<li class="{cls}"><span class="sign" title="{cls}">{sign}</span> {probe} <code>{signal}{port}</code> = '
    '<code>{value}</code>{target} ({certainty}); <span class="muted">matched <code>{matched}</code>{note}</span></li>',
    text=lambda text: _e(text, 300),
    code=_e,
    signs=("+", "\u2212"),
    note=" \u2014 {}",
    value_limit=500,
    **DOCUMENT_PUNCTUATION,
)


def _evidence_item(e: Evidence) -> str:
    return format_evidence(e, _HTML_EVIDENCE)


def _observations(observations: list[Observation]) -> str:
    if not observations:
        return ""
    rows = "".join(
        f"<tr><td>{_e(o.probe)}</td><td><code>{_e(o.signal)}</code></td><td>{o.port or ''}</td>"
        f"<td><code>{_e(o.value, 500)}</code></td><td>{escape(o.seen_at.isoformat())}</td></tr>"
        for o in observations
    )
    return (
        '<table class="obs"><thead><tr><th>Probe</th><th>Signal</th><th>Port</th><th>Value</th>'
        f"<th>Seen</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _probes(report: ScanReport) -> str:
    if not report.probes:
        return ""
    rows = "".join(
        f'<tr><td>{_e(p.probe)}</td><td>{_e(p.status)}</td><td class="num">{p.duration:.1f}</td>'
        f"<td>{_e(p.error)}</td></tr>"
        for p in report.probes
    )
    return (
        '<h2>Probes</h2><table class="probes"><thead><tr><th>Probe</th><th>Status</th><th>Seconds</th>'
        f"<th>Error</th></tr></thead><tbody>{rows}</tbody></table>\n"
    )
