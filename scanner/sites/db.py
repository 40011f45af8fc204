"""The central inventory in PostgreSQL (psycopg 3): schema and migrations, site tokens, bundle ingest
and the inventory queries. Imported only by ``server``, ``ndaa-scan server`` and ``inventory --db``.

Schema (version in ``schema_version``; migrations run in one transaction under an advisory lock, so two
servers starting at once on a new database do not race):

- ``site`` (name unique) — the scope of identity: the same IP at two sites is two devices;
- ``token`` (SHA-256 of a random 32-byte token, never the token; ``site_id`` NULL: a reader of every
  site that cannot push; ``revoked_at``);
- ``scan`` (one pushed bundle; ``UNIQUE (site_id, bundle_id)`` makes a repeated push store nothing;
  ``meta`` jsonb: the report without its devices);
- ``device`` (one row per device of a scan, written by one statement per bundle, ``_INGEST``: ``ip inet``,
  ``mac macaddr``, ``serial``, ``device_key`` — the MAC, else the serial, else the IP: how a device is followed across a site's
  scans — the verdict's columns the queries filter on, ``doc json``, the DeviceReport without its raw
  observations, and ``observations jsonb``, those observations: the inventory leaves them out unless asked,
  the verdict's evidence already cites what they showed).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import queue
import re
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row
from pydantic import TypeAdapter

from scanner.errors import UsageError
from scanner.identify.models import Status
from scanner.observations import Observation
from scanner.results import DeviceReport, ScanReport
from scanner.sites._gc import gc_paused
from scanner.sites.bundle import Bundle, check_site

SCHEMA_VERSION = 3
MIGRATIONS: dict[int, str] = {
    1: """
CREATE TABLE site (
    id         serial PRIMARY KEY,
    name       text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE token (
    id         serial PRIMARY KEY,
    site_id    integer REFERENCES site (id),
    hash       bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE TABLE scan (
    id          bigserial PRIMARY KEY,
    site_id     integer NOT NULL REFERENCES site (id),
    bundle_id   text NOT NULL,
    scan_id     text,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz,
    complete    boolean NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    devices     integer NOT NULL,
    meta        jsonb NOT NULL,
    UNIQUE (site_id, bundle_id)
);
CREATE INDEX scan_latest ON scan (site_id, complete DESC, started_at DESC, id DESC);
CREATE TABLE device (
    scan_pk        bigint NOT NULL REFERENCES scan (id) ON DELETE CASCADE,
    site_id        integer NOT NULL REFERENCES site (id),
    seen_at        timestamptz NOT NULL,
    heard          boolean NOT NULL,
    ip             inet,
    mac            macaddr,
    serial         text,
    device_key     text NOT NULL,
    status         text NOT NULL,
    covered_entity text,
    vendor         text,
    model          text,
    doc            jsonb NOT NULL,
    observations   jsonb NOT NULL
);
CREATE INDEX device_scan_status ON device (scan_pk, status);
CREATE INDEX device_identity ON device (site_id, device_key, seen_at);
CREATE INDEX device_ip ON device (ip);
CREATE INDEX device_mac ON device (mac);
""",
    # Ed25519 public key of a site (32 raw bytes): when set, that site's bundles must be signed by it
    2: """
ALTER TABLE site ADD COLUMN signing_key bytea CHECK (signing_key IS NULL OR length(signing_key) = 32);
ALTER TABLE scan ADD COLUMN signed boolean NOT NULL DEFAULT false;
""",
    # Ingest and inventory speed (benchmarks/bench_server.py): the inventory returns each device's document
    # verbatim and never looks inside it (the columns it filters on are extracted at ingest), so ``doc`` is
    # json (kept as written, no jsonb rebuild on output: ~15 µs a device); device rows are written only by
    # ingest, in their scan's transaction, with the scan id it just got, so the per-row foreign-key checks
    # go (prune deletes a scan's devices itself); no query looks devices up by ip or mac alone; a scan's
    # verdict counts (targets only) are written with it instead of counted over its devices on every read;
    # a token may expire (``token create --expires``).
    3: """
ALTER TABLE device ALTER COLUMN doc TYPE json USING doc::json;
ALTER TABLE device DROP CONSTRAINT device_scan_pk_fkey, DROP CONSTRAINT device_site_id_fkey;
DROP INDEX device_ip;
DROP INDEX device_mac;
ALTER TABLE scan ADD COLUMN counts jsonb;
UPDATE scan SET counts = coalesce((SELECT jsonb_object_agg(status, n) FROM (SELECT status, count(*) AS n
    FROM device d WHERE d.scan_pk = scan.id AND NOT d.heard GROUP BY status) c), '{}');
ALTER TABLE scan ALTER COLUMN counts SET NOT NULL;
ALTER TABLE token ADD COLUMN expires_at timestamptz;
""",
}
_MIGRATE_LOCK = 0x6E646161  # pg_advisory_xact_lock key ("ndaa")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
_MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")
_NUL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")
STATUS_ORDER = [s.value for s in sorted(Status, key=lambda s: s.rank)]
_DEVICES: TypeAdapter[list[DeviceReport]] = TypeAdapter(list[DeviceReport])
_OBSERVATION_LISTS: TypeAdapter[list[list[Observation]]] = TypeAdapter(list[list[Observation]])
_NO_OBSERVATIONS = {"__all__": {"observations"}}
# One statement stores a bundle (a data-modifying WITH runs to its end whatever the SELECT reads): the
# scan row, and when it is new (not a repeated push) every device: the devices go over as two JSON arrays
# (their documents without observations, and their observations: one pydantic dump each), which
# PostgreSQL splits (json_array_elements, jsonb_array_elements), zipped (ROWS FROM … WITH ORDINALITY)
# with text arrays sent in binary of the columns the queries filter on: the identity key, the inet/macaddr
# columns (NULL when not a valid address) and the verdict's status, serial, entity, vendor and model
# (reading these from each document in SQL cost PostgreSQL 25 ms more per 1,000 devices than Python's
# 7 ms building them: measured).
_INGEST = """
WITH new_scan AS (
    INSERT INTO scan (site_id, bundle_id, scan_id, started_at, finished_at, complete, devices, meta, signed,
                      counts)
    VALUES (%(site)s, %(bundle_id)s, %(scan_id)s, %(started)s, %(finished)s, %(complete)s, %(targets)s,
            %(meta)s::jsonb, %(signed)s, %(counts)s::jsonb)
    ON CONFLICT (site_id, bundle_id) DO NOTHING RETURNING id
), new_devices AS (
    INSERT INTO device (scan_pk, site_id, seen_at, heard, ip, mac, serial, device_key, status, covered_entity,
                        vendor, model, doc, observations)
    SELECT new_scan.id, %(site)s, %(started)s, t.n > %(targets)s, t.ip::inet, t.mac::macaddr, t.serial, t.key,
           t.status, t.entity, t.vendor, t.model, t.doc, t.obs
    FROM new_scan,
         ROWS FROM (json_array_elements(%(docs)s::json), jsonb_array_elements(%(obs)s::jsonb),
                    unnest(%(keys)b::text[]), unnest(%(ips)b::text[]), unnest(%(macs)b::text[]),
                    unnest(%(statuses)b::text[]), unnest(%(serials)b::text[]), unnest(%(entities)b::text[]),
                    unnest(%(vendors)b::text[]), unnest(%(models)b::text[]))
         WITH ORDINALITY AS t(doc, obs, key, ip, mac, status, serial, entity, vendor, model, n)
)
SELECT id FROM new_scan
"""


def connect(url: str) -> psycopg.Connection[Any]:
    """A connection to ``url`` (a libpq URL or key=value string); a usage error when that fails."""
    try:
        return psycopg.connect(url, connect_timeout=10)
    except psycopg.Error as exc:
        raise UsageError(f"cannot connect to the inventory database: {_first_line(exc)}") from None


def migrate(conn: psycopg.Connection[Any]) -> int:
    """Bring the schema to SCHEMA_VERSION (each step once, all in one transaction); returns the version."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATE_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
        version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            raise UsageError(
                f"inventory schema {version} is newer than this ndaa-scanner understands ({SCHEMA_VERSION})"
            )
        for step in range(version + 1, SCHEMA_VERSION + 1):
            conn.execute(MIGRATIONS[step].encode())
            conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (step,))
    return SCHEMA_VERSION


class Pool:
    """A fixed set of connections shared by the server's worker threads (checked out one at a time)."""

    def __init__(self, url: str, size: int) -> None:
        self._free: queue.Queue[psycopg.Connection[Any]] = queue.Queue()
        self._all = [connect(url) for _ in range(size)]
        for conn in self._all:
            self._free.put(conn)
        self.url = url

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        conn = self._free.get()
        try:
            if conn.closed or conn.broken:
                conn = connect(self.url)
            yield conn
        finally:
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.rollback()
            self._free.put(conn)

    def close(self) -> None:
        for conn in self._all:
            conn.close()


# -- tokens ------------------------------------------------------------------


def token_hash(token: str) -> bytes:
    """SHA-256 of the token: a random 32-byte secret needs no slow hash, and the table never holds it."""
    return hashlib.sha256(token.encode()).digest()


def create_token(
    conn: psycopg.Connection[Any], site: str | None, expires: timedelta | None = None
) -> tuple[int, str]:
    """A new token for ``site`` (created when new; None: a reader of every site), refused from ``expires``
    after now on (None: until revoked); returns (id, token)."""
    token = "ndaa_" + secrets.token_urlsafe(32)
    with conn.transaction():
        site_id = ensure_site(conn, site) if site is not None else None
        row = conn.execute(
            "INSERT INTO token (site_id, hash, expires_at) VALUES (%s, %s, now() + %s) RETURNING id",
            (site_id, token_hash(token), expires),
        ).fetchone()
    assert row is not None
    return int(row[0]), token


def ensure_site(conn: psycopg.Connection[Any], site: str) -> int:
    try:
        check_site(site)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    conn.execute("INSERT INTO site (name) VALUES (%s) ON CONFLICT (name) DO NOTHING", (site,))
    row = conn.execute("SELECT id FROM site WHERE name = %s", (site,)).fetchone()
    assert row is not None
    return int(row[0])


def revoke_tokens(conn: psycopg.Connection[Any], token_id: int | None, site: str | None) -> int:
    """Revoke one token by id, or every token of a site; returns how many were revoked now."""
    with conn.transaction():
        if token_id is not None:
            cur = conn.execute(
                "UPDATE token SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL", (token_id,)
            )
        else:
            cur = conn.execute(
                "UPDATE token SET revoked_at = now() FROM site WHERE token.site_id = site.id"
                " AND site.name = %s AND token.revoked_at IS NULL",
                (site,),
            )
        return cur.rowcount


def list_tokens(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            "SELECT t.id, s.name AS site, t.created_at, t.revoked_at, t.expires_at FROM token t"
            " LEFT JOIN site s ON s.id = t.site_id ORDER BY t.id"
        )
        .fetchall()
    )


@dataclass(frozen=True)
class Caller:
    """Who a valid token belongs to: a site's agent (push and read that site) or a reader (read all)."""

    token_id: int
    site_id: int | None
    site: str | None
    signing_key: bytes | None = None  # the site's Ed25519 public key: its bundles must be signed


def authenticate(conn: psycopg.Connection[Any], token: str) -> Caller | None:
    row = conn.execute(
        "SELECT t.id, t.site_id, s.name, s.signing_key FROM token t LEFT JOIN site s ON s.id = t.site_id"
        " WHERE t.hash = %s AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())",
        (token_hash(token),),
    ).fetchone()
    conn.rollback()  # leave the connection idle
    return Caller(int(row[0]), row[1], row[2], bytes(row[3]) if row[3] else None) if row else None


def set_signing_key(conn: psycopg.Connection[Any], site: str, key: bytes | None) -> None:
    """Require bundles of ``site`` to be signed by ``key`` (32 raw bytes), or no longer (None)."""
    with conn.transaction():
        site_id = ensure_site(conn, site)
        conn.execute("UPDATE site SET signing_key = %s WHERE id = %s", (key, site_id))


# -- ingest ------------------------------------------------------------------


def ingest(conn: psycopg.Connection[Any], site_id: int, bundle: Bundle, *, signed: bool = False) -> bool:
    """Store a bundle and its devices in one transaction; False when (site, bundle id) was already stored."""
    return store(conn, site_id, prepare(bundle, signed=signed))


def prepare(bundle: Bundle, *, signed: bool = False) -> dict[str, Any]:
    """The parameters of ``store``: all the CPU work of an ingest, no database (the server runs this one
    bundle at a time per process and the database round trip beside it)."""
    report = bundle.report
    everything = [*report.devices, *report.heard]
    return {
        "bundle_id": bundle.bundle_id,
        "scan_id": _text(report.scan_id),
        "started": report.started_at,
        "finished": report.finished_at,
        "complete": report.complete,
        "targets": len(report.devices),
        "meta": _json(report.model_dump_json(exclude={"devices", "heard"})),
        "signed": signed,
        "counts": json.dumps(report.counts()),
        "docs": _json(_DEVICES.dump_json(everything, exclude=_NO_OBSERVATIONS).decode()),
        "obs": _json(_OBSERVATION_LISTS.dump_json([d.observations for d in everything]).decode()),
        **_columns(everything),
    }


def _columns(devices: list[DeviceReport]) -> dict[str, list[str | None]]:
    """The device columns ``_INGEST`` takes as arrays, one pass over the devices."""
    cols: dict[str, list[str | None]] = {
        k: [] for k in ("keys", "ips", "macs", "statuses", "serials", "entities", "vendors", "models")
    }
    keys, ips, macs, statuses, serials, entities, vendors, models = cols.values()
    for d in devices:
        v = d.verdict
        keys.append(device_key(d))
        ips.append(_ip(d.ip))
        macs.append(_mac(d.mac))
        statuses.append(v.status.value)
        serials.append(_text(v.serial))
        entities.append(_text(v.covered_entity))
        vendors.append(_text(v.vendor))
        models.append(_text(v.model))
    return cols


def store(conn: psycopg.Connection[Any], site_id: int, prepared: dict[str, Any]) -> bool:
    """One statement, one round trip: the scan row, and its devices only when the scan row is new."""
    with conn.transaction():
        row = conn.execute(_INGEST, {**prepared, "site": site_id}).fetchone()
    return row is not None


_PRUNE = """
WITH ranked AS (
    SELECT id, row_number() OVER (PARTITION BY site_id ORDER BY started_at DESC, id DESC) AS newest
    FROM scan WHERE %(site)s::text IS NULL OR site_id = (SELECT id FROM site WHERE name = %(site)s)
), current AS (
    SELECT DISTINCT ON (site_id) id FROM scan ORDER BY site_id, complete DESC, started_at DESC, id DESC
), doomed AS (
    SELECT id FROM ranked WHERE newest > %(keep)s AND id NOT IN (SELECT id FROM current)
), gone_devices AS (
    DELETE FROM device WHERE scan_pk IN (SELECT id FROM doomed) RETURNING 1
), gone AS (
    DELETE FROM scan WHERE id IN (SELECT id FROM doomed) RETURNING 1
)
SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM gone_devices)
"""


def prune(conn: psycopg.Connection[Any], keep: int, site: str | None = None) -> tuple[int, int]:
    """Delete every scan of each site (or of ``site``) but its ``keep`` newest, and their devices, in one
    transaction; the scan the inventory shows for a site (its latest complete one) always stays. Returns
    (scans, devices) deleted. A device's ``first_seen`` is then the oldest scan kept that saw it."""
    if keep < 1:
        raise UsageError("--keep: at least 1 (the inventory needs each site's latest scan)")
    with conn.transaction():
        row = conn.execute(_PRUNE, {"keep": keep, "site": site}).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def signing_key_of(conn: psycopg.Connection[Any], site: str) -> bytes | None:
    """The site's Ed25519 public key, None when it has none (or is unknown)."""
    row = conn.execute("SELECT signing_key FROM site WHERE name = %s", (site,)).fetchone()
    return bytes(row[0]) if row and row[0] else None


def device_key(d: DeviceReport) -> str:
    """How a device is followed across one site's scans: its MAC, else its serial, else its IP."""
    mac = _mac(d.mac)
    if mac:
        return f"mac:{mac}"
    if d.verdict.serial:
        return f"serial:{_text(d.verdict.serial)}"
    if _ip(d.ip):
        return f"ip:{d.ip}"
    return "unknown:" + hashlib.sha256(d.model_dump_json().encode()).hexdigest()[:16]


def _ip(text: str | None) -> str | None:
    """The address for an ``inet`` column, None when it is not one (kept verbatim in ``doc``)."""
    if not text:
        return None
    if _IPV4.fullmatch(text):  # the usual case, without ipaddress's slower parse
        return text
    try:
        return str(ipaddress.ip_address(text.split("%", 1)[0]))
    except ValueError:
        return None


def _mac(text: str | None) -> str | None:
    return text.lower() if text and _MAC.fullmatch(text.lower()) else None


def _text(value: str | None) -> str | None:
    """PostgreSQL text holds no NUL character; device-supplied text may."""
    return value.replace("\x00", "\ufffd") if value else value


def _json(text: str) -> str:
    r"""jsonb refuses ``\u0000``; a hostile device's NUL becomes U+FFFD."""
    return _NUL_ESCAPE.sub(r"\1\\ufffd", text) if "\\u0000" in text else text


# -- queries -----------------------------------------------------------------

_LATEST = """
WITH latest AS (
    SELECT DISTINCT ON (s.site_id) s.id, s.site_id, s.scan_id, s.started_at, s.complete, s.counts
    FROM scan s {site_filter}
    ORDER BY s.site_id, s.complete DESC, s.started_at DESC, s.id DESC
)
"""


def inventory(
    conn: psycopg.Connection[Any],
    *,
    site: str | None = None,
    statuses: Sequence[str] = (),
    site_id: int | None = None,
    observations: bool = False,
) -> dict[str, Any]:
    """The current inventory document (see ``inventory_json``)."""
    text = inventory_json(conn, site=site, statuses=statuses, site_id=site_id, observations=observations)
    doc: dict[str, Any] = json.loads(text)
    return doc


def inventory_json(
    conn: psycopg.Connection[Any],
    *,
    site: str | None = None,
    statuses: Sequence[str] = (),
    site_id: int | None = None,
    observations: bool = False,
) -> str:
    """The current inventory as JSON text: for every site (or one), the devices of its latest complete scan
    (its latest scan when none is complete), covered first; each device row carries ``site``, ``scan_id``,
    ``device_key`` and ``first_seen`` (the earliest stored scan of that site that saw the same device);
    its raw ``observations`` only when asked. PostgreSQL writes the device rows' JSON itself: nothing is
    parsed and serialised again here."""
    with gc_paused():  # ~20 k rows and their strings at once
        return _inventory_json(conn, site=site, statuses=statuses, site_id=site_id, observations=observations)


def _inventory_json(
    conn: psycopg.Connection[Any],
    *,
    site: str | None,
    statuses: Sequence[str],
    site_id: int | None,
    observations: bool,
) -> str:
    for s in statuses:
        if s not in STATUS_ORDER:
            raise UsageError(f"unknown status {s!r} (choose from {', '.join(STATUS_ORDER)})")
    params: dict[str, Any] = {"site": site, "site_id": site_id, "statuses": list(statuses)}
    filters = []
    if site is not None:
        filters.append("s.site_id = (SELECT id FROM site WHERE name = %(site)s)")
    if site_id is not None:
        filters.append("s.site_id = %(site_id)s")
    latest = _LATEST.format(site_filter=("WHERE " + " AND ".join(filters)) if filters else "")
    with conn.cursor(row_factory=dict_row) as cur:
        sites = cur.execute(
            latest  # noqa: S608 - constant SQL fragments; every value is a parameter
            + "SELECT l.site_id, site.name AS site, l.scan_id, l.started_at, l.complete, l.counts"
            " FROM latest l JOIN site ON site.id = l.site_id ORDER BY site.name",
            params,
        ).fetchall()
    status_filter = " AND d.status = ANY(%(statuses)s)" if statuses else ""
    conn.execute("SET LOCAL work_mem = '64MB'")  # the sort of a large inventory stays in memory
    # PostgreSQL selects and sorts; Python writes each row's few keys before the stored document (text
    # functions over every ~1 kB document cost PostgreSQL more than the whole query otherwise: measured)
    rows = conn.execute(
        latest  # noqa: S608 - constant SQL fragments; every value is a parameter
        + "SELECT l.site_id, d.device_key, (SELECT min(d2.seen_at) FROM device d2 WHERE d2.site_id = d.site_id"
        " AND d2.device_key = d.device_key), d.doc::text"
        + (", d.observations::text" if observations else "")
        + " FROM latest l JOIN device d ON d.scan_pk = l.id"
        " WHERE NOT d.heard" + status_filter + " ORDER BY array_position(%(sites)s::int[], l.site_id),"
        " array_position(%(order)s::text[], d.status), d.ip NULLS LAST, d.device_key",
        {**params, "order": STATUS_ORDER, "sites": [e["site_id"] for e in sites]},
    ).fetchall()
    conn.rollback()
    prefix = {}
    for entry in sites:
        prefix[entry.pop("site_id")] = (
            f'{{"site":{json.dumps(entry["site"], ensure_ascii=False)},'
            f'"scan_id":{json.dumps(entry["scan_id"], ensure_ascii=False)},"device_key":'
        )
        entry["started_at"] = _iso(entry["started_at"])
        entry["counts"] = {k: int(entry["counts"].get(k, 0)) for k in STATUS_ORDER}
    seen: dict[datetime | None, str] = {None: "null"}
    devices = []
    for row in rows:
        first = row[2]
        if first not in seen:
            seen[first] = f'"{first.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")}+00:00"'
        obs = f',"observations":{row[4]}' if observations else ""
        devices.append(f'{prefix[row[0]]}{_json_string(row[1])},"first_seen":{seen[first]}{obs},{row[3][1:]}')
    head = json.dumps({"generated_at": _iso(datetime.now(UTC)), "sites": sites}, ensure_ascii=False)
    return head[:-1] + ', "devices": [' + ",\n".join(devices) + "]}"


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=2)


_json_string = json.encoder.encode_basestring  # json.dumps of one str, without its per-call setup

_REF = re.compile(r"latest(?:~(\d{1,6}))?")


def list_scans(conn: psycopg.Connection[Any], site: str, limit: int = 20) -> list[dict[str, Any]]:
    """A site's stored scans, newest first, with their verdict counts (targets only)."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT s.scan_id, s.bundle_id, s.started_at, s.finished_at, s.complete, s.received_at, s.signed,"
            " s.counts"
            " FROM scan s JOIN site ON site.id = s.site_id WHERE site.name = %s"
            " ORDER BY s.started_at DESC, s.id DESC LIMIT %s",
            (site, max(0, limit)),
        ).fetchall()
    conn.rollback()
    for r in rows:
        for k in ("started_at", "finished_at", "received_at"):
            r[k] = _iso(r[k])
        r["counts"] = {k: int(r["counts"].get(k, 0)) for k in STATUS_ORDER}
    return rows


def load_report(conn: psycopg.Connection[Any], site: str, ref: str) -> ScanReport:
    """A stored scan of ``site`` as the ScanReport that was pushed: ``ref`` is its scan id, a unique
    prefix of it, ``latest`` or ``latest~N``."""
    latest = _REF.fullmatch(ref.strip())
    base = "SELECT s.id, s.scan_id, s.meta FROM scan s JOIN site ON site.id = s.site_id WHERE site.name = %s"
    if latest:
        rows = conn.execute(
            base + " ORDER BY s.started_at DESC, s.id DESC LIMIT 1 OFFSET %s",
            (site, int(latest.group(1) or 0)),
        ).fetchall()
    else:
        rows = conn.execute(
            base + " AND starts_with(s.scan_id, %s) ORDER BY s.scan_id LIMIT 6", (site, ref.strip())
        ).fetchall()
        exact = [r for r in rows if r[1] == ref.strip()]
        rows = exact or rows
    if len(rows) != 1:
        conn.rollback()
        what = "no" if not rows else "more than one"
        raise UsageError(f"{what} stored scan {ref!r} of site {site!r}")
    scan_pk, _scan_id, meta = rows[0]
    devices = conn.execute(
        "SELECT heard, doc, observations FROM device WHERE scan_pk = %s ORDER BY heard, ip NULLS LAST, device_key",
        (scan_pk,),
    ).fetchall()
    conn.rollback()
    doc = dict(meta)
    doc["devices"] = [{**d, "observations": o} for heard, d, o in devices if not heard]
    doc["heard"] = [{**d, "observations": o} for heard, d, o in devices if heard]
    return ScanReport.model_validate(doc)
