"""The site agent: push every stored scan the server has not acknowledged yet.

Acknowledgements live beside the history database in ``HISTORY.pushed.sqlite3`` (server URL, site, scan
id, bundle id), written only after the server answered 201 or 200, so a push that fails — the server down,
restarting mid-push, the connection cut — leaves the scan pending for the next push, and a bundle the
server already holds (acknowledgement lost) is answered 200 and stored once. Unfinished scans (still
running, or killed before they finished) are left for later. Only outbound HTTP(S) connections; the token
goes only into the Authorization header, never into a log line or message.
"""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scanner.errors import NdaaError, UsageError
from scanner.history.store import HistoryStore, Identify
from scanner.sites.bundle import check_site, make_bundle

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

BUNDLES_PATH = "/api/v1/bundles"
MAX_ANSWER = 64 * 1024


class PushRefused(NdaaError):
    """The server refused the token or the site (exit 3)."""


@dataclass
class PushResult:
    sent: list[str] = field(default_factory=list)  # scan ids newly stored by the server
    known: list[str] = field(default_factory=list)  # scan ids the server already held
    pending: list[str] = field(default_factory=list)  # scan ids still to push (server unreachable)
    skipped: list[str] = field(default_factory=list)  # unfinished scans, left for later
    errors: list[str] = field(default_factory=list)


class AckStore:
    """Which scans a server acknowledged, in a small SQLite file beside the history."""

    def __init__(self, history: Path) -> None:
        self.path = history.with_name(history.name + ".pushed.sqlite3")
        self._db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS ack (server TEXT NOT NULL, site TEXT NOT NULL, scan_id TEXT NOT NULL,"
            " bundle_id TEXT NOT NULL, acked_at TEXT NOT NULL, PRIMARY KEY (server, site, scan_id))"
        )

    def acked(self, server: str, site: str) -> set[str]:
        rows = self._db.execute("SELECT scan_id FROM ack WHERE server = ? AND site = ?", (server, site))
        return {r[0] for r in rows}

    def ack(self, server: str, site: str, scan_id: str, bundle_id: str) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO ack VALUES (?, ?, ?, ?, ?)",
            (server, site, scan_id, bundle_id, datetime.now(UTC).isoformat()),
        )

    def close(self) -> None:
        self._db.close()


def push_pending(
    history: Path,
    server: str,
    site: str,
    token: str,
    *,
    identify: Identify | None = None,
    attempts: int = 5,
    backoff: float = 0.5,
    timeout: float = 30.0,
    only: str | None = None,
    signing_key: Ed25519PrivateKey | None = None,
    say: Callable[[str], None] = lambda _m: None,
) -> PushResult:
    """Push every stored scan of ``history`` not yet acknowledged by ``server`` for ``site``, oldest first
    (``only``: just that scan id). Each bundle is tried ``attempts`` times with exponential backoff; when
    the server stays unreachable the rest stay pending. A refused token or site raises PushRefused."""
    try:
        check_site(site)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if not token:
        raise UsageError("no push token: set NDAA_PUSH_TOKEN (from `ndaa-scan server token create SITE`)")
    base = server.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise UsageError(f"--server {server!r}: give an http:// or https:// URL")
    result = PushResult()
    acks = AckStore(history)
    try:
        with HistoryStore(history, readonly=True) as store:
            rows = sorted(store.list_scans(1_000_000), key=lambda r: (r.started_at, r.id))
            done = acks.acked(base, site)
            for row in rows:
                if (only is not None and row.id != only) or row.id in done:
                    continue
                if row.state == "unfinished":
                    result.skipped.append(row.id)
                elif result.pending:  # the server is unreachable: keep the order, try later
                    result.pending.append(row.id)
                else:
                    bundle = make_bundle(site, store.load_report(row.id, identify), signing_key)
                    body = bundle.model_dump_json().encode()
                    answer = _post(base + BUNDLES_PATH, body, token, attempts, backoff, timeout, say)
                    if _record(answer, row.id, result, base, site):
                        acks.ack(base, site, row.id, bundle.bundle_id)
    finally:
        acks.close()
    return result


def _record(answer: tuple[int, str], scan_id: str, result: PushResult, base: str, site: str) -> bool:
    """File the server's answer to one bundle in ``result``; True when the server holds it now."""
    status, text = answer
    if status in (200, 201):
        (result.sent if status == 201 else result.known).append(scan_id)
        return True
    if status in (401, 403):
        raise PushRefused(f"{base} refused the push for site {site!r}: {text}")
    if status == 0 or status >= 500 or status == 429:
        result.pending.append(scan_id)
        result.errors.append(f"{scan_id}: not sent, the server is unreachable ({text})")
    else:
        result.errors.append(f"{scan_id}: the server refused it ({status}: {text})")
    return False


def _post(
    url: str,
    body: bytes,
    token: str,
    attempts: int,
    backoff: float,
    timeout: float,
    say: Callable[[str], None],
) -> tuple[int, str]:
    """POST with retries on connection errors, 5xx and 429; (status, short answer); status 0: no answer."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # straight to the server
    status, answer = 0, ""
    for attempt in range(max(1, attempts)):
        if attempt:
            delay = min(30.0, backoff * 2 ** (attempt - 1))
            say(f"push: retry {attempt}/{attempts - 1} in {delay:.1f} s ({answer})")
            time.sleep(delay)
        request = urllib.request.Request(  # noqa: S310 - push_pending checked the scheme is http(s)
            url,
            data=body,
            method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with opener.open(request, timeout=timeout) as response:
                return int(response.status), _message(response.read(MAX_ANSWER))
        except urllib.error.HTTPError as exc:
            status, answer = exc.code, _message(exc.read(MAX_ANSWER))
            if status < 500 and status != 429:
                return status, answer
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            status, answer = 0, str(getattr(exc, "reason", exc))[:200]
    return status, answer


def _message(raw: bytes) -> str:
    try:
        doc: Any = json.loads(raw)
    except ValueError:
        return raw[:200].decode("utf-8", "replace")
    if isinstance(doc, dict) and "error" in doc:
        return str(doc["error"])[:300]
    return "ok"
