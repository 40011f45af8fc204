"""Alerts for scheduled scans: when a scan, compared with the previous complete scan of the same targets
in the history, shows a covered or likely device that is new or changed, tell someone.

``--notify URL`` POSTs the alert as JSON (``application/json``, 10 s, http/https only, to the URL the user
named and nowhere else); ``--notify-cmd CMD`` runs CMD (split like a shell would, never through a shell)
with the same JSON on its standard input. Waived devices never alert. The first scan of a scope has no
previous scan: every covered/likely device in it is "appeared". A failed delivery is said on stderr and in
nothing else: it never changes the scan's exit code or its reports.

The message:

    {"tool": "ndaa-scanner", "version": …, "scan_id": …, "previous_scan_id": … | null, "targets": [...],
     "finished_at": …, "alerts": [{"change": "appeared" | "changed", "ip": …, "mac": …, "status": …,
     "covered_entity": …, "vendor": …, "brand": …, "model": …, "serial": …, "lists": [...],
     "changes": [{"field": …, "before": …, "after": …}], "evidence": "…"}]}
"""

from __future__ import annotations

import json
import shlex
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from scanner.errors import UsageError
from scanner.history.diff import diff_reports
from scanner.identify.models import Status
from scanner.results import DeviceReport, ScanReport

ALERT_STATUSES = (Status.COVERED, Status.LIKELY)
TIMEOUT = 10.0  # seconds for one delivery (HTTP request or command)
MAX_RESPONSE = 64 * 1024  # bytes of a receiver's reply read (and ignored)


@dataclass(frozen=True)
class Notifier:
    urls: tuple[str, ...] = ()
    command: str | None = None

    def __post_init__(self) -> None:
        for url in self.urls:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise UsageError(f"--notify {url!r}: give an http:// or https:// URL")
        if self.command is not None and not shlex.split(self.command):
            raise UsageError("--notify-cmd is empty")

    @property
    def active(self) -> bool:
        return bool(self.urls or self.command)

    def deliver(self, message: dict[str, Any]) -> list[str]:
        """Send ``message`` everywhere; one line per failure (empty when all went through)."""
        body = json.dumps(message, ensure_ascii=False).encode()
        failures = [f"--notify {url}: {why}" for url in self.urls if (why := _post(url, body))]
        if self.command is not None and (why := _run(self.command, body)):
            failures.append(f"--notify-cmd: {why}")
        return failures


def alert_message(new: ScanReport, previous: ScanReport | None) -> dict[str, Any] | None:
    """The alert for ``new`` against ``previous`` (same targets), or None when nothing calls for one."""
    alerts: list[dict[str, Any]] = []
    if previous is None:
        alerts = [_alert("appeared", d) for d in new.devices if _alerting(d)]
    else:
        diff = diff_reports(previous, new)
        alerts = [_alert("appeared", d) for d in diff.appeared if _alerting(d)]
        for c in diff.changed:
            if _alerting(c.after):
                changes = [{"field": f.field, "before": f.before, "after": f.after} for f in c.changes]
                alerts.append(_alert("changed", c.after, changes))
    if not alerts:
        return None
    return {
        "tool": "ndaa-scanner",
        "version": new.tool_version,
        "scan_id": new.scan_id,
        "previous_scan_id": previous.scan_id if previous else None,
        "targets": new.targets,
        "finished_at": (new.finished_at or new.started_at).isoformat(),
        "alerts": alerts,
    }


def _alerting(d: DeviceReport) -> bool:
    return d.verdict.status in ALERT_STATUSES and not d.verdict.waived


def _alert(change: str, d: DeviceReport, changes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    from scanner.report._export import strongest_evidence

    v = d.verdict
    return {
        "change": change,
        "ip": d.ip,
        "mac": d.mac,
        "status": v.status.value,
        "covered_entity": v.covered_entity,
        "vendor": v.vendor,
        "brand": v.brand,
        "model": v.model,
        "serial": v.serial,
        "lists": v.lists,
        "changes": changes or [],
        "evidence": strongest_evidence(v),
    }


def _post(url: str, body: bytes) -> str | None:
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked to be http(s) in Notifier
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "ndaa-scanner"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 - checked scheme
            response.read(MAX_RESPONSE)
            return None
    except urllib.error.HTTPError as exc:
        return f"the receiver answered {exc.code} {exc.reason}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        return f"not delivered ({reason})"


def _run(command: str, body: bytes) -> str | None:
    try:
        done = subprocess.run(  # noqa: S603 - the user's own command, split, never through a shell
            shlex.split(command), input=body, capture_output=True, timeout=TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
        return f"could not run it ({exc})"
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        return f"exited {done.returncode} {tail[0][:200]}".rstrip()
    return None


def previous_report(store: Any, report: ScanReport, *, search: int = 500) -> ScanReport | None:
    """The newest complete scan in ``store`` (a HistoryStore) before ``report`` with the same targets."""
    wanted = sorted(report.targets)
    for row in store.list_scans(limit=search):
        if row.id != report.scan_id and row.complete and sorted(row.targets) == wanted:
            loaded: ScanReport = store.load_report(row.id)
            return loaded
    return None
