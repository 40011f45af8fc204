"""Scan history in an embedded SQLite database.

One writer per scan, many scans and readers at once (WAL mode, ``busy_timeout``). The scan
streams each observation in as it arrives, each one its own committed transaction, so a
scan killed midway (even by SIGKILL) keeps everything it found; ``load_report`` rebuilds such
a scan's devices from those observations through an ``identify`` callback the caller passes
(this layer never imports identification). Durability is against the process dying, not the
machine losing power (``synchronous=NORMAL``). Schema: docs/HISTORY.md.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scanner.errors import DataError, UsageError
from scanner.identify.models import Status, Verdict
from scanner.observations import Observation
from scanner.results import DeviceReport, ProbeSummary, ScanReport

log = logging.getLogger("scanner.history")

BUSY_TIMEOUT_MS = 10_000
APP_DIR = "ndaa-scanner"
DB_NAME = "history.sqlite3"

_SCHEMA_V1 = """
CREATE TABLE scan (
    id                TEXT PRIMARY KEY,
    started_at        TEXT NOT NULL,
    finished_at       TEXT,
    state             TEXT NOT NULL CHECK (state IN ('unfinished', 'complete', 'incomplete')),
    reason            TEXT,
    devices_stored    INTEGER NOT NULL DEFAULT 0,
    targets           TEXT NOT NULL,
    interface         TEXT,
    tool_version      TEXT NOT NULL,
    probes            TEXT NOT NULL,
    notes             TEXT NOT NULL DEFAULT '[]',
    oui_registry_date TEXT
);
CREATE INDEX scan_started ON scan (started_at);
CREATE TABLE device (
    id             INTEGER PRIMARY KEY,
    scan_id        TEXT NOT NULL REFERENCES scan (id) ON DELETE CASCADE,
    ip             TEXT,
    mac            TEXT,
    status         TEXT NOT NULL,
    covered_entity TEXT,
    vendor         TEXT,
    brand          TEXT,
    model          TEXT,
    firmware       TEXT,
    serial         TEXT,
    waived         INTEGER NOT NULL DEFAULT 0,
    hostnames      TEXT NOT NULL,
    probes         TEXT NOT NULL,
    verdict        TEXT NOT NULL
);
CREATE INDEX device_scan ON device (scan_id);
CREATE INDEX device_mac ON device (mac);
CREATE TABLE observation (
    id        INTEGER PRIMARY KEY,
    scan_id   TEXT NOT NULL REFERENCES scan (id) ON DELETE CASCADE,
    device_id INTEGER REFERENCES device (id) ON DELETE SET NULL,
    seen_at   TEXT NOT NULL,
    probe     TEXT NOT NULL,
    signal    TEXT NOT NULL,
    value     TEXT NOT NULL,
    ip        TEXT,
    mac       TEXT,
    port      INTEGER
);
CREATE INDEX observation_scan ON observation (scan_id);
CREATE INDEX observation_device ON observation (device_id);
CREATE TABLE probe_summary (
    scan_id  TEXT NOT NULL REFERENCES scan (id) ON DELETE CASCADE,
    probe    TEXT NOT NULL,
    status   TEXT NOT NULL,
    duration REAL NOT NULL,
    error    TEXT,
    notes    TEXT NOT NULL,
    PRIMARY KEY (scan_id, probe)
);
"""

# Version 2: hosts heard outside the targets (ScanReport.heard) are stored as devices with heard = 1.
_SCHEMA_V2 = "ALTER TABLE device ADD COLUMN heard INTEGER NOT NULL DEFAULT 0"

# MIGRATIONS[n] takes the schema from user_version n to n + 1; append, never edit.
MIGRATIONS: tuple[str, ...] = (_SCHEMA_V1, _SCHEMA_V2)
SCHEMA_VERSION = len(MIGRATIONS)

_TABLES = frozenset({"scan", "device", "observation", "probe_summary"})
_LATEST = re.compile(r"latest(?:~(\d{1,9}))?")
_OBS_COLUMNS = "seen_at, probe, signal, value, ip, mac, port"

Identify = Callable[[list[Observation]], list[DeviceReport]]
_ObsKey = tuple[str, str, str, str, str | None, str | None, int | None]


def default_db_path() -> Path:
    """``$NDAA_SCAN_DB``, else ``${XDG_DATA_HOME:-~/.local/share}/ndaa-scanner/history.sqlite3``."""
    explicit = os.environ.get("NDAA_SCAN_DB")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".local" / "share"  # XDG: ignore relative
    return base / APP_DIR / DB_NAME


@dataclass(frozen=True)
class ScanRow:
    """One line of ``list_scans``: a scan's facts and its device counts by status."""

    id: str
    started_at: datetime
    finished_at: datetime | None
    state: str  # unfinished (still running, or killed) | complete | incomplete
    reason: str | None
    targets: list[str]
    interface: str | None
    tool_version: str
    observations: int
    counts: dict[str, int]

    @property
    def complete(self) -> bool:
        return self.state == "complete"

    def render(self) -> str:
        """One line for ``ndaa-scan history``."""
        if self.state == "unfinished":  # killed (or still running): no verdicts were stored
            counts = f"verdicts not stored (ndaa-scan report {self.id} identifies them)"
        else:
            counts = ", ".join(f"{status} {n}" for status, n in self.counts.items())
        from scanner.report._text import visible

        state = f"{self.state} ({visible(self.reason, 200)})" if self.reason else self.state
        targets = " ".join(visible(t, 100) for t in self.targets)
        return (
            f"{visible(self.id)}  {self.started_at:%Y-%m-%d %H:%M} UTC  {state:<10}  {targets}  "
            f"{counts}; {self.observations} observations"
        )


class HistoryStore:
    """The scan history database at ``path`` (default: ``default_db_path()``).

    ``readonly=True`` (``history``, ``diff``, ``report``) never creates or changes a file: a missing
    database, a directory, a file that is not SQLite or an SQLite file of another schema is a UsageError.
    """

    def __init__(self, path: Path | str | None = None, *, readonly: bool = False) -> None:
        self.path = Path(path) if path is not None else default_db_path()
        self.readonly = readonly
        self._lock = threading.Lock()
        self._db = self._open_readonly() if readonly else self._open()
        # A history read read-only is not migrated: version 1 has no heard column (and no heard hosts).
        self._heard_column = self._db.execute("PRAGMA user_version").fetchone()[0] >= 2

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- writing -------------------------------------------------------------

    def start_scan(
        self,
        targets: Sequence[str],
        interface: str | None,
        tool_version: str,
        probes: Sequence[str],
        *,
        started_at: datetime | None = None,
    ) -> str:
        """Record a new scan as unfinished; returns its id (``20261122-153400-ab12``, UTC)."""
        started = _utc(started_at or datetime.now(UTC))
        row = (_iso(started), json.dumps(list(targets)), interface, tool_version, json.dumps(list(probes)))
        with self._lock:
            for _attempt in range(8):
                scan_id = f"{started:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
                try:
                    self._db.execute(
                        "INSERT INTO scan (id, started_at, state, targets, interface, tool_version, probes)"
                        " VALUES (?, ?, 'unfinished', ?, ?, ?, ?)",
                        (scan_id, *row),
                    )
                    return scan_id
                except sqlite3.IntegrityError:
                    continue
        raise DataError(f"{self.path}: could not allocate a scan id")

    def add_observation(self, scan_id: str, obs: Observation) -> None:
        """Store one observation, committed before returning (one small write, no fsync)."""
        with self._lock:
            self._db.execute(
                f"INSERT INTO observation (scan_id, {_OBS_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (scan_id, *_obs_key(obs)),
            )

    def add_probe_summary(self, scan_id: str, summary: ProbeSummary) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO probe_summary VALUES (?, ?, ?, ?, ?, ?)",
                _summary_row(scan_id, summary),
            )

    def finish_scan(self, scan_id: str, report: ScanReport) -> None:
        """Store the report's devices, verdicts and probe summaries; the scan's state follows
        ``report.complete``. Observations already streamed are linked, missing ones added."""
        state = "complete" if report.complete else "incomplete"
        finished = _iso(report.finished_at or datetime.now(UTC))
        with self._lock, self._write():
            self._require(scan_id)
            self._db.execute("UPDATE observation SET device_id = NULL WHERE scan_id = ?", (scan_id,))
            self._db.execute("DELETE FROM device WHERE scan_id = ?", (scan_id,))
            self._db.execute("DELETE FROM probe_summary WHERE scan_id = ?", (scan_id,))
            self._db.executemany(
                "INSERT INTO probe_summary VALUES (?, ?, ?, ?, ?, ?)",
                [_summary_row(scan_id, p) for p in report.probes],
            )
            unlinked = self._observation_ids(scan_id)
            for device in report.devices:
                self._insert_device(scan_id, device, unlinked)
            for device in report.heard:
                self._insert_device(scan_id, device, unlinked, heard=True)
            self._db.execute(
                "UPDATE scan SET finished_at = ?, state = ?, devices_stored = 1, notes = ?,"
                " oui_registry_date = ? WHERE id = ?",
                (finished, state, json.dumps(report.notes), report.oui_registry_date, scan_id),
            )

    def mark_incomplete(self, scan_id: str, reason: str) -> None:
        """Record that the scan stopped early (interrupted, failed); a complete scan stays complete."""
        with self._lock, self._write():
            self._require(scan_id)
            self._db.execute(
                "UPDATE scan SET state = 'incomplete', reason = ?, finished_at = ?"
                " WHERE id = ? AND state != 'complete'",
                (reason, _iso(datetime.now(UTC)), scan_id),
            )

    def prune(self, keep: int) -> list[str]:
        """Delete all but the newest ``keep`` scans (with their devices and observations); returns the ids."""
        if keep < 0:
            raise UsageError(f"cannot keep {keep} scans")
        with self._lock, self._write():
            ids = [
                r[0]
                for r in self._db.execute(
                    "SELECT id FROM scan ORDER BY started_at DESC, id DESC LIMIT -1 OFFSET ?", (keep,)
                )
            ]
            self._db.executemany("DELETE FROM scan WHERE id = ?", [(i,) for i in ids])
        return ids

    # -- reading -------------------------------------------------------------

    def list_scans(self, limit: int = 20) -> list[ScanRow]:
        """The newest ``limit`` scans, newest first."""
        with self._lock, self._reading():
            rows = self._db.execute(
                "SELECT s.id, s.started_at, s.finished_at, s.state, s.reason, s.targets, s.interface,"
                " s.tool_version, (SELECT count(*) FROM observation o WHERE o.scan_id = s.id)"
                " FROM scan s ORDER BY s.started_at DESC, s.id DESC LIMIT ?",
                (max(0, limit),),
            ).fetchall()
            counts = self._counts([r[0] for r in rows])
        with self._reading():
            return [self._scan_row(r, counts) for r in rows]

    @staticmethod
    def _scan_row(r: sqlite3.Row, counts: dict[str, dict[str, int]]) -> ScanRow:
        return ScanRow(
            id=r[0],
            started_at=_dt(r[1]),
            finished_at=_dt_or_none(r[2]),
            state=r[3],
            reason=r[4],
            targets=json.loads(r[5]),
            interface=r[6],
            tool_version=r[7],
            observations=r[8],
            counts=counts.get(r[0]) or _zero_counts(),
        )

    def resolve(self, ref: str) -> str:
        """A scan id from an id, a unique id prefix, ``latest`` or ``latest~N`` (N scans before it)."""
        ref = ref.strip()
        if not ref:
            raise UsageError("empty scan reference")
        latest = _LATEST.fullmatch(ref)
        with self._lock, self._reading():
            if latest:
                back = int(latest.group(1) or 0)
                row = self._db.execute(
                    "SELECT id FROM scan ORDER BY started_at DESC, id DESC LIMIT 1 OFFSET ?", (back,)
                ).fetchone()
                if row is None:
                    total = self._db.execute("SELECT count(*) FROM scan").fetchone()[0]
                    raise UsageError(f"{ref}: {self.path} holds {total} scan(s)")
                return str(row[0])
            ids = [
                r[0]
                for r in self._db.execute(
                    "SELECT id FROM scan WHERE substr(id, 1, ?) = ? ORDER BY id LIMIT 6", (len(ref), ref)
                )
            ]
        if ref in ids:
            return ref
        if len(ids) == 1:
            return str(ids[0])
        if not ids:
            raise UsageError(f"no scan {ref!r} in {self.path}")
        shown = ", ".join(ids[:5]) + (", …" if len(ids) > 5 else "")
        raise UsageError(f"scan reference {ref!r} is ambiguous: {shown}")

    def load_report(self, scan_id: str, identify: Identify | None = None) -> ScanReport:
        """The stored report. A scan that never stored its devices (killed, or marked incomplete)
        gets them rebuilt by ``identify(observations)``, or none without it; ``complete`` is False."""
        with self._lock, self._reading():
            scan = self._require(scan_id)
            probes = [
                _summary(r)
                for r in self._db.execute(
                    "SELECT probe, status, duration, error, notes FROM probe_summary WHERE scan_id = ? ORDER BY rowid",
                    (scan_id,),
                )
            ]
            stored, heard = self._devices(scan_id) if scan["devices_stored"] else (None, [])
            observations = (
                []
                if stored is not None
                else [
                    o
                    for o in map(
                        _observation,
                        self._db.execute(
                            f"SELECT {_OBS_COLUMNS} FROM observation WHERE scan_id = ? ORDER BY id",
                            (scan_id,),
                        ),
                    )
                    if o
                ]
            )
            notes: list[str] = json.loads(scan["notes"])
            targets: list[str] = json.loads(scan["targets"])
            started_at, finished_at = _dt(scan["started_at"]), _dt_or_none(scan["finished_at"])
        if scan["reason"]:
            notes.append(f"scan incomplete: {scan['reason']}")
        if stored is not None:
            devices = stored
        elif identify is not None:
            devices, heard = _place(identify(observations), targets)
            notes.append(f"scan did not finish: devices rebuilt from {len(observations)} stored observations")
        else:
            devices = []
            notes.append(
                f"scan did not finish: {len(observations)} observations stored, devices not identified"
            )
        return ScanReport(
            scan_id=scan_id,
            tool_version=scan["tool_version"],
            started_at=started_at,
            finished_at=finished_at,
            complete=scan["state"] == "complete",
            targets=targets,
            interface=scan["interface"],
            probes=probes,
            notes=notes,
            oui_registry_date=scan["oui_registry_date"],
            devices=devices,
            heard=heard,
        )

    # -- internals -----------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        _create_private(self.path)
        # autocommit (isolation_level=None): each lone statement commits; _write() groups the rest
        db = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        try:
            db.row_factory = sqlite3.Row
            _set_up(db, self.path)
        except sqlite3.DatabaseError as exc:
            db.close()
            raise UsageError(f"{self.path}: not a usable scan history database: {exc}") from exc
        except BaseException:
            db.close()
            raise
        return db

    def _open_readonly(self) -> sqlite3.Connection:
        """Open an existing history for reading: nothing is created, no schema is written."""
        if not self.path.exists():
            raise UsageError(
                f"{self.path}: no scan history there (no scan was stored; --db or NDAA_SCAN_DB names another)"
            )
        if not self.path.is_file():
            raise UsageError(f"{self.path}: cannot open the scan history: not a regular file")
        try:
            with open(self.path, "rb") as handle:
                head = handle.read(16)
        except OSError as exc:
            raise UsageError(f"{self.path}: cannot open the scan history: {exc.strerror or exc}") from None
        if head != b"SQLite format 3\x00":
            raise UsageError(f"{self.path}: not a usable scan history database: not an SQLite file")
        # No -wal beside the file: no writer is running and none died mid-scan, so the file alone is the
        # whole history; open it immutable, which creates no -wal/-shm files (mode=ro would leave both).
        # With a -wal present (a scan running, or killed), read through it without creating anything new.
        wal = self.path.with_name(self.path.name + "-wal")
        uri = self.path.resolve().as_uri() + ("?mode=ro" if wal.exists() else "?mode=ro&immutable=1")
        try:
            db = sqlite3.connect(
                uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise UsageError(f"{self.path}: cannot open the scan history: {exc}") from None
        try:
            db.row_factory = sqlite3.Row
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            db.close()
            raise UsageError(f"{self.path}: not a usable scan history database: {exc}") from None
        if version > SCHEMA_VERSION:
            db.close()
            raise UsageError(
                f"{self.path}: history schema {version} is newer than this ndaa-scanner "
                f"understands ({SCHEMA_VERSION}); upgrade ndaa-scanner"
            )
        if version < 1 or not _TABLES.issubset(tables):
            db.close()
            raise UsageError(f"{self.path}: an SQLite database, but not an ndaa-scanner history")
        return db

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """A damaged database or a hand-edited row is the user's file gone bad: one line, exit 2."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            raise UsageError(f"{self.path}: damaged scan history: {exc}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"{self.path}: damaged scan history: {str(exc).splitlines()[0][:200]}") from None

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One transaction holding the write lock from its start (no upgrade deadlocks)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _require(self, scan_id: str) -> sqlite3.Row:
        row = self._db.execute("SELECT * FROM scan WHERE id = ?", (scan_id,)).fetchone()
        if row is None:
            raise UsageError(f"no scan {scan_id!r} in {self.path}")
        assert isinstance(row, sqlite3.Row)
        return row

    def _observation_ids(self, scan_id: str) -> dict[_ObsKey, list[int]]:
        out: dict[_ObsKey, list[int]] = {}
        for row in self._db.execute(
            f"SELECT id, {_OBS_COLUMNS} FROM observation WHERE scan_id = ? ORDER BY id DESC", (scan_id,)
        ):
            out.setdefault(tuple(row[1:]), []).append(row[0])
        return out

    def _insert_device(
        self, scan_id: str, device: DeviceReport, unlinked: dict[_ObsKey, list[int]], *, heard: bool = False
    ) -> None:
        v = device.verdict
        cur = self._db.execute(
            "INSERT INTO device (heard, scan_id, ip, mac, status, covered_entity, vendor, brand, model, firmware,"
            " serial, waived, hostnames, probes, verdict) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                int(heard),
                scan_id,
                device.ip,
                device.mac,
                v.status.value,
                v.covered_entity,
                v.vendor,
                v.brand,
                v.model,
                v.firmware,
                v.serial,
                int(v.waived),
                json.dumps(device.hostnames),
                json.dumps(device.probes),
                v.model_dump_json(),
            ),
        )
        device_id = cur.lastrowid
        link, new = [], []
        for obs in device.observations:
            key = _obs_key(obs)
            ids = unlinked.get(key)
            if ids:
                link.append((device_id, ids.pop()))
            else:
                new.append((scan_id, device_id, *key))
        self._db.executemany("UPDATE observation SET device_id = ? WHERE id = ?", link)
        self._db.executemany(
            f"INSERT INTO observation (scan_id, device_id, {_OBS_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            new,
        )

    def _devices(self, scan_id: str) -> tuple[list[DeviceReport], list[DeviceReport]]:
        """The scan's stored devices and, apart, its hosts heard outside the targets."""
        observations: dict[int, list[Observation]] = {}
        for row in self._db.execute(
            f"SELECT device_id, {_OBS_COLUMNS} FROM observation WHERE scan_id = ? AND device_id IS NOT NULL"
            " ORDER BY id",
            (scan_id,),
        ):
            obs = _observation(row[1:])
            if obs:
                observations.setdefault(row[0], []).append(obs)
        devices: list[DeviceReport] = []
        heard: list[DeviceReport] = []
        for r in self._db.execute("SELECT * FROM device WHERE scan_id = ? ORDER BY id", (scan_id,)):
            device = DeviceReport(
                ip=r["ip"],
                mac=r["mac"],
                hostnames=json.loads(r["hostnames"]),
                probes=json.loads(r["probes"]),
                verdict=Verdict.model_validate_json(r["verdict"]),
                observations=observations.get(r["id"], []),
            )
            (heard if self._heard_column and r["heard"] else devices).append(device)
        return devices, heard

    def _counts(self, scan_ids: list[str]) -> dict[str, dict[str, int]]:
        if not scan_ids:
            return {}
        out: dict[str, dict[str, int]] = {}
        marks = ",".join("?" * len(scan_ids))
        for scan_id, status, n in self._db.execute(
            f"SELECT scan_id, status, count(*) FROM device WHERE scan_id IN ({marks})"
            + (" AND heard = 0" if self._heard_column else "")
            + " GROUP BY scan_id, status",
            scan_ids,
        ):
            out.setdefault(scan_id, _zero_counts())[status] = n
        return out


def _set_up(db: sqlite3.Connection, path: Path) -> None:
    """WAL, pragmas and migrations. Two processes creating the same new database at once can get
    "database is locked" here without SQLite's busy handler waiting (the journal-mode switch): retried
    for up to the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")
            _migrate(db, path)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            if db.in_transaction:
                db.rollback()
            time.sleep(0.05)


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring the schema to SCHEMA_VERSION; two processes opening a new file at once are serialised."""
    if db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise UsageError(
                f"{path}: history schema {version} is newer than this ndaa-scanner "
                f"understands ({SCHEMA_VERSION}); upgrade ndaa-scanner"
            )
        if version == 0 and db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            raise UsageError(f"{path}: an SQLite database, but not an ndaa-scanner history")
        for step in range(version, SCHEMA_VERSION):
            for statement in MIGRATIONS[step].split(";"):
                if statement.strip():
                    db.execute(statement)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _create_private(path: Path) -> None:
    """Create the directory (0700) and the file (0600): history is an inventory of the network."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    except OSError as exc:
        raise UsageError(f"{path}: cannot open the scan history: {exc.strerror or exc}") from exc


def _utc(dt: datetime) -> datetime:
    return dt.astimezone(UTC)


def _iso(dt: datetime) -> str:
    return _utc(dt).isoformat()


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _dt_or_none(text: str | None) -> datetime | None:
    return _dt(text) if text else None


def _zero_counts() -> dict[str, int]:
    return {s.value: 0 for s in Status}


def _obs_key(obs: Observation) -> _ObsKey:
    return (_iso(obs.seen_at), obs.probe, obs.signal, obs.value, obs.ip, obs.mac, obs.port)


def _observation(row: Sequence[Any]) -> Observation | None:
    seen_at, probe, signal, value, ip, mac, port = row
    try:
        return Observation(
            seen_at=seen_at, probe=probe, signal=signal, value=value, ip=ip, mac=mac, port=port
        )
    except ValueError as exc:  # a row edited by hand: skip it, keep the rest
        log.warning("skipping unreadable stored observation: %s", exc)
        return None


def _summary_row(scan_id: str, s: ProbeSummary) -> tuple[object, ...]:
    return (scan_id, s.probe, s.status, s.duration, s.error, json.dumps(s.notes))


def _summary(row: sqlite3.Row) -> ProbeSummary:
    return ProbeSummary(probe=row[0], status=row[1], duration=row[2], error=row[3], notes=json.loads(row[4]))


def _no_resolving(name: str) -> list[Any]:
    raise OSError(f"{name}: a stored scan's targets are not resolved again")


def _place(devices: list[DeviceReport], targets: list[str]) -> tuple[list[DeviceReport], list[DeviceReport]]:
    """Rebuilt devices split as the live scan would have: hosts at a target address are devices, the
    others were heard. Targets that no longer parse (or none stored) leave every host a device."""
    from scanner.errors import UsageError
    from scanner.targets import Scope, load_targets

    try:  # stored targets are addresses (a name was recorded as the address scanned): nothing is resolved
        stored = load_targets(targets, max_hosts=1 << 24, resolver=_no_resolving)
        scope = Scope(targets=frozenset(stored.v4), ipv6=stored.v6)
    except (UsageError, ValueError):
        return devices, []
    placed: tuple[list[DeviceReport], list[DeviceReport]] = ([], [])
    for d in devices:
        where, _ = scope.place([*([d.ip] if d.ip else []), *(o.ip for o in d.observations if o.ip)])
        if where != "drop":
            placed[where == "heard"].append(d)
    return placed


def flagged_trend(store: HistoryStore, targets: list[str], limit: int = 12) -> list[tuple[str, int]]:
    """(start day, covered + likely devices) of the newest ``limit`` complete stored scans of exactly these
    targets, oldest first: the HTML report's trend chart."""
    wanted = sorted(targets)
    rows = [r for r in store.list_scans(limit=500) if r.complete and sorted(r.targets) == wanted][:limit]
    return [
        (f"{r.started_at:%Y-%m-%d %H:%M}", r.counts.get("covered", 0) + r.counts.get("likely", 0))
        for r in reversed(rows)
    ]
