"""`ndaa-scan server`, `ndaa-scan push` and `ndaa-scan inventory`: many sites, one inventory (docs/SITES.md).

starlette, uvicorn and psycopg (the ``server`` extra) are imported inside the commands only."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from scanner.cli.options import DbOpt

if TYPE_CHECKING:
    from datetime import timedelta

    from scanner.results import ScanReport

server_app = typer.Typer(
    help="The central inventory server on PostgreSQL (needs the 'server' extra).",
    invoke_without_command=True,
)
token_app = typer.Typer(help="Site tokens: create, list, revoke.", no_args_is_help=True)
server_app.add_typer(token_app, name="token")

PgDbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="NDAA_SERVER_DB",
        help="PostgreSQL database: postgresql://user@host/dbname (or $NDAA_SERVER_DB, which keeps a password "
        "out of the process list).",
    ),
]
SiteOpt = Annotated[str, typer.Option("--site", help="This site's name (the token's site).")]
TOKEN_ENV = "NDAA_PUSH_TOKEN"  # noqa: S105 - the name of the variable, not a token
READ_TOKEN_ENV = "NDAA_SERVER_TOKEN"  # noqa: S105 - a variable name
SIGN_KEY_ENV = "NDAA_SIGN_KEY"
SignKeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--sign-key",
        envvar=SIGN_KEY_ENV,
        help="Sign every bundle with this Ed25519 private key (from `ndaa-scan keygen`; or $NDAA_SIGN_KEY).",
    ),
]


def register(app: typer.Typer) -> None:
    app.add_typer(server_app, name="server")
    app.command()(push)
    app.command()(inventory)
    app.command("export-bundle")(export_bundle)
    app.command()(keygen)


def _need_db(url: str | None) -> str:
    from scanner.errors import UsageError

    if not url:
        raise UsageError("--db postgresql://… (or NDAA_SERVER_DB) is needed")
    if not url.startswith(("postgresql://", "postgres://")) and "=" not in url:
        raise UsageError("--db: give a PostgreSQL URL, postgresql://user@host/dbname")
    return url


def _extra() -> None:
    from scanner.errors import UsageError

    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise UsageError("the server needs the 'server' extra: pip install 'ndaa-scanner[server]'") from None


@server_app.callback()
def server(
    ctx: typer.Context,
    db: PgDbOpt = None,
    listen: Annotated[str, typer.Option("--listen", help="HOST:PORT to listen on.")] = "127.0.0.1:8443",
    tls_cert: Annotated[Path | None, typer.Option("--tls-cert", help="TLS certificate (PEM).")] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="TLS private key (PEM).")] = None,
    pool: Annotated[int, typer.Option("--pool", min=1, max=64, help="Database connections per worker.")] = 4,
    workers: Annotated[
        int, typer.Option("--workers", min=1, max=64, help="Server processes (one core each).")
    ] = 1,
) -> None:
    """Run the server: agents push scan bundles, `inventory` reads the current inventory. Schema
    migrations are applied at start. Without TLS, listen on loopback or behind a TLS proxy."""
    if ctx.invoked_subcommand is not None:
        return
    from scanner.cli.common import err
    from scanner.errors import UsageError

    url = _need_db(db)
    _extra()
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise UsageError(f"--listen {listen!r}: give HOST:PORT, e.g. 127.0.0.1:8443")
    if (tls_cert is None) != (tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together")
    from scanner.sites.server import serve

    scheme = "https" if tls_cert else "http"
    err(f"server: listening on {scheme}://{host.strip('[]')}:{port}")
    with contextlib.suppress(KeyboardInterrupt):  # SIGTERM/SIGINT, once in-flight requests finished
        serve(
            url,
            host.strip("[]"),
            int(port),
            tls_cert=str(tls_cert) if tls_cert else None,
            tls_key=str(tls_key) if tls_key else None,
            pool_size=pool,
            workers=workers,
        )
    err("server: stopped")


@token_app.command("create")
def token_create(
    site: Annotated[str | None, typer.Argument(help="The site this token pushes for.")] = None,
    db: PgDbOpt = None,
    reader: Annotated[
        bool, typer.Option("--reader", help="A token that reads every site's inventory and cannot push.")
    ] = False,
    expires: Annotated[
        str | None,
        typer.Option("--expires", help="Refused after this long: 90d, 12w, 36h (default: until revoked)."),
    ] = None,
) -> None:
    """Print a new token (only its SHA-256 is stored: keep the printed token, it is shown once)."""
    from scanner.cli.common import err
    from scanner.errors import UsageError

    if (site is None) == (not reader):
        raise UsageError("give a SITE, or --reader for a token that reads every site")
    lifetime = _duration(expires) if expires is not None else None
    url = _need_db(db)
    _extra()
    from scanner.sites import db as pg

    with pg.connect(url) as conn:
        pg.migrate(conn)
        token_id, token = pg.create_token(conn, site, lifetime)
    until = f", expires in {expires}" if expires else ""
    err(f"token {token_id} for {'site ' + repr(site) if site else 'reading every site'}{until}")
    typer.echo(token)


@token_app.command("list")
def token_list(db: PgDbOpt = None) -> None:
    """Every token: id, site, created, revoked (never the token)."""
    url = _need_db(db)
    _extra()
    from scanner.sites import db as pg

    with pg.connect(url) as conn:
        pg.migrate(conn)
        for row in pg.list_tokens(conn):
            revoked = f" revoked {row['revoked_at']:%Y-%m-%d %H:%M}" if row["revoked_at"] else ""
            revoked += f" expires {row['expires_at']:%Y-%m-%d %H:%M}" if row["expires_at"] else ""
            site = row["site"] or "(reader)"
            typer.echo(f"{row['id']:>5}  {site}  created {row['created_at']:%Y-%m-%d %H:%M}{revoked}")


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int | None, typer.Argument(help="The token's id (see `token list`).")] = None,
    site: Annotated[str | None, typer.Option("--site", help="Revoke every token of this site.")] = None,
    db: PgDbOpt = None,
) -> None:
    """Revoke a token (or all of a site's): the server refuses it from the next request on."""
    from scanner.cli.common import err
    from scanner.errors import UsageError

    if (token_id is None) == (site is None):
        raise UsageError("give a token id, or --site SITE")
    url = _need_db(db)
    _extra()
    from scanner.sites import db as pg

    with pg.connect(url) as conn:
        pg.migrate(conn)
        n = pg.revoke_tokens(conn, token_id, site)
    err(f"{n} token(s) revoked")
    if n == 0:
        raise typer.Exit(1)


def _duration(text: str) -> timedelta:
    """'90d' / '12w' / '36h' / '90' (days) -> a timedelta; a usage error otherwise."""
    import re
    from datetime import timedelta

    from scanner.errors import UsageError

    match = re.fullmatch(r"\s*(\d{1,6})\s*([hdw]?)\s*", text.lower())
    if not match or int(match.group(1)) == 0:
        raise UsageError(
            f"--expires {text!r}: give a positive number of hours, days or weeks (36h, 90d, 12w)"
        )
    hours = {"h": 1, "d": 24, "w": 24 * 7, "": 24}[match.group(2)]
    return timedelta(hours=int(match.group(1)) * hours)


@server_app.command("prune")
def prune(
    keep: Annotated[int, typer.Option("--keep", min=1, help="Scans kept per site (the newest).")],
    site: Annotated[str | None, typer.Option("--site", help="Only this site.")] = None,
    db: PgDbOpt = None,
) -> None:
    """Delete each site's scans but its newest --keep ones (and their devices); the scan the inventory shows
    for a site, its latest complete one, always stays."""
    from scanner.cli.common import err

    url = _need_db(db)
    _extra()
    from scanner.sites import db as pg

    with pg.connect(url) as conn:
        pg.migrate(conn)
        scans, devices = pg.prune(conn, keep, site)
    err(f"pruned {scans} scan(s) and their {devices} device row(s)")


@server_app.command("site-key")
def site_key(
    site: Annotated[str, typer.Argument(help="The site.")],
    public_key: Annotated[
        Path | None, typer.Argument(help="Its Ed25519 public key (FILE.pub from `ndaa-scan keygen`).")
    ] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Accept unsigned bundles again.")] = False,
    db: PgDbOpt = None,
) -> None:
    """Require every bundle of SITE to carry an Ed25519 signature by this key (pushes without it: 403)."""
    from scanner.cli.common import err
    from scanner.errors import UsageError
    from scanner.sites.bundle import public_key_bytes

    if (public_key is None) != remove:
        raise UsageError("give the site's public key file, or --remove")
    try:
        key = public_key_bytes(str(public_key)) if public_key is not None else None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{public_key}: {exc}") from None
    url = _need_db(db)
    _extra()
    from scanner.sites import db as pg

    with pg.connect(url) as conn:
        pg.migrate(conn)
        pg.set_signing_key(conn, site, key)
    err(f"site {site!r}: {'bundles must be signed by that key' if key else 'unsigned bundles accepted'}")


def keygen(
    path: Annotated[Path, typer.Argument(help="Where to write the private key (FILE.pub: the public key).")],
) -> None:
    """Make an Ed25519 key pair for signing this site's bundles: keep FILE at the site (`push --sign-key`),
    give FILE.pub to the server (`ndaa-scan server site-key SITE FILE.pub`)."""
    from scanner.cli.common import err
    from scanner.errors import UsageError
    from scanner.sites.bundle import keygen as make_keys

    try:
        pub = make_keys(str(path))
    except FileExistsError:
        raise UsageError(f"{path} exists: never overwritten (a site's key)") from None
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror or exc}") from None
    err(f"private key {path} (mode 0600), public key {pub}")


@server_app.command("import")
def server_import(
    files: Annotated[list[Path], typer.Argument(help="Bundle files written by `ndaa-scan export-bundle`.")],
    db: PgDbOpt = None,
) -> None:
    """Store bundles carried over from an air-gapped site (the site is created when new); a bundle already
    stored is left as it is. Exit 0 when every file was stored or already there."""
    from scanner.cli.common import err
    from scanner.errors import UsageError

    url = _need_db(db)
    _extra()
    from pydantic import ValidationError

    from scanner.sites import db as pg
    from scanner.sites.bundle import MAX_BUNDLE_BYTES, Bundle, verify

    bundles = []
    for path in files:
        try:
            with path.open("rb") as f:
                raw = f.read(MAX_BUNDLE_BYTES + 1)
        except OSError as exc:
            raise UsageError(f"{path}: {exc.strerror or exc}") from None
        if len(raw) > MAX_BUNDLE_BYTES:
            raise UsageError(f"{path}: larger than {MAX_BUNDLE_BYTES} bytes")
        try:
            bundles.append((path, Bundle.model_validate_json(raw)))
        except ValidationError as exc:
            raise UsageError(f"{path}: not a scan bundle ({exc.error_count()} problem(s))") from None
    with pg.connect(url) as conn:
        pg.migrate(conn)
        for path, bundle in bundles:
            key = pg.signing_key_of(conn, bundle.site)
            if key is not None and not verify(bundle, key):
                raise UsageError(
                    f"{path}: site {bundle.site!r} signs its bundles: signature missing or invalid"
                )
            with conn.transaction():
                site_id = pg.ensure_site(conn, bundle.site)
            stored = pg.ingest(conn, site_id, bundle, signed=key is not None)
            err(
                f"{path}: site {bundle.site!r}, scan {bundle.report.scan_id}: {'stored' if stored else 'already there'}"
            )


def export_bundle(
    scan_id: Annotated[str, typer.Argument(help="A stored scan: id, unique prefix, latest, latest~1 …")],
    site: SiteOpt,
    output: Annotated[Path, typer.Option("--output", "-o", help="The bundle file to write.")],
    db: DbOpt = None,
    sign_key: SignKeyOpt = None,
) -> None:
    """Write a stored scan as a bundle file, for a site with no route to the server: carry the file over
    and run `ndaa-scan server import FILE` there. The same scan always gives the same bundle id."""
    from scanner.cli.common import err
    from scanner.errors import UsageError
    from scanner.history.store import HistoryStore, default_db_path
    from scanner.scan import identify_observations
    from scanner.sites.bundle import check_site, load_private_key, make_bundle

    try:
        check_site(site)
        key = load_private_key(str(sign_key)) if sign_key is not None else None
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    with HistoryStore(db or default_db_path(), readonly=True) as store:
        ref = store.resolve(scan_id)
        bundle = make_bundle(site, store.load_report(ref, identify_observations), key)
    try:
        output.write_text(bundle.model_dump_json(), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{output}: {exc.strerror or exc}") from None
    err(f"scan {ref} of site {site!r} written to {output} (bundle {bundle.bundle_id[:16]}…)")


def push(
    server_url: Annotated[
        str, typer.Option("--server", help="The server's URL: https://inventory.example:8443")
    ],
    site: SiteOpt,
    db: DbOpt = None,
    attempts: Annotated[int, typer.Option("--attempts", min=1, max=20, help="Tries per bundle.")] = 5,
    backoff: Annotated[
        float, typer.Option("--backoff", min=0.05, help="First retry delay (s), doubling.")
    ] = 1.0,
    sign_key: SignKeyOpt = None,
) -> None:
    """Send every stored scan the server has not acknowledged yet (token: $NDAA_PUSH_TOKEN). Exit 0 when
    everything is there, 3 when some scans stay pending (server unreachable: the next push sends them)."""
    code = push_history(db, server_url, site, attempts=attempts, backoff=backoff, sign_key=sign_key)
    raise typer.Exit(code)


def push_history(
    db: Path | str | None,
    server_url: str,
    site: str,
    *,
    attempts: int = 5,
    backoff: float = 1.0,
    only: str | None = None,
    sign_key: Path | None = None,
) -> int:
    """The push of `push` and `scan --push` (which signs with $NDAA_SIGN_KEY when set); one stderr line
    per outcome; 0 or 3."""
    from scanner.cli.common import err
    from scanner.errors import UsageError
    from scanner.history.store import default_db_path
    from scanner.scan import identify_observations
    from scanner.sites.agent import push_pending
    from scanner.sites.bundle import load_private_key

    path = default_db_path() if db in (None, "default") else Path(db)
    key_path = sign_key or (Path(os.environ[SIGN_KEY_ENV]) if os.environ.get(SIGN_KEY_ENV) else None)
    try:
        key = load_private_key(str(key_path)) if key_path is not None else None
    except (OSError, ValueError) as exc:
        raise UsageError(f"signing key {key_path}: {exc}") from None
    result = push_pending(
        path,
        server_url,
        site,
        os.environ.get(TOKEN_ENV, ""),
        identify=identify_observations,
        attempts=attempts,
        backoff=backoff,
        only=only,
        signing_key=key,
        say=err,
    )
    for line in result.errors:
        err(f"push: {line}")
    err(
        f"push: {len(result.sent)} scan(s) stored, {len(result.known)} already there, "
        f"{len(result.pending)} pending, {len(result.skipped)} unfinished left for later"
    )
    return 3 if result.pending or result.errors else 0


def inventory(
    server_url: Annotated[
        str | None, typer.Option("--server", help="The server's URL (token: $NDAA_SERVER_TOKEN).")
    ] = None,
    db: PgDbOpt = None,
    site: Annotated[str | None, typer.Option("--site", help="Only this site.")] = None,
    status: Annotated[
        list[str] | None,
        typer.Option("--status", help="Only these verdicts (covered, likely, …); repeatable or comma list."),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="table, json, jsonl, csv, markdown, html, sarif, junit, compliance, ocsf, ecs, cyclonedx, netbox.",
        ),
    ] = "table",
    evidence: Annotated[bool, typer.Option("--evidence", help="Table: every device's evidence.")] = False,
    observations: Annotated[
        bool, typer.Option("--observations", help="JSON: each device's raw observations too (large).")
    ] = False,
) -> None:
    """The current inventory of every site (each site's latest complete scan), covered first; JSON rows
    carry `site`. Read from the server (--server) or its database (--db postgresql://…)."""
    from scanner.errors import UsageError
    from scanner.sites.inventory import FORMATS, fetch, render

    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: choose from {', '.join(FORMATS)}")
    statuses = [s.strip() for v in status or [] for s in v.split(",") if s.strip()]
    if (server_url is None) == (db is None):
        raise UsageError("give --server URL or --db postgresql://…")
    if server_url is not None:
        token = os.environ.get(READ_TOKEN_ENV) or os.environ.get(TOKEN_ENV, "")
        doc = fetch(server_url, token, site=site, statuses=statuses, observations=observations)
    else:
        url = _need_db(db)
        _extra()
        from scanner.sites import db as pg

        with pg.connect(url) as conn:
            pg.migrate(conn)
            doc = pg.inventory(conn, site=site, statuses=statuses, observations=observations)
    typer.echo(render(doc, fmt, evidence=evidence), nl=False)


def check_push(url: str, site: str | None, db: Path | str | None) -> None:
    """`scan --push` usage errors, before any packet: a site, a history to push from, a token, a URL."""
    from scanner.errors import UsageError
    from scanner.sites.bundle import check_site

    if site is None:
        raise UsageError("--push needs --site NAME")
    try:
        check_site(site)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if db is None:
        raise UsageError("--push sends stored scans: drop --no-history")
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--push {url!r}: give an http:// or https:// URL")
    if not os.environ.get(TOKEN_ENV):
        raise UsageError(f"--push needs a token in ${TOKEN_ENV} (from `ndaa-scan server token create SITE`)")


def _reader_token() -> str:
    return os.environ.get(READ_TOKEN_ENV) or os.environ.get(TOKEN_ENV, "")


def server_history(server_url: str, site: str | None, limit: int) -> None:
    """`history --server URL --site S`: the site's scans stored on the server, newest first."""
    import urllib.parse

    from scanner.errors import UsageError
    from scanner.sites.inventory import get_json

    if not site:
        raise UsageError("--server needs --site SITE")
    doc = get_json(
        server_url, _reader_token(), f"sites/{urllib.parse.quote(site, safe='')}/scans?limit={limit}"
    )
    if not doc["scans"]:
        typer.echo(f"no scans of site {site} on the server")
    for s in doc["scans"]:
        counts = ", ".join(f"{n} {k}" for k, n in s["counts"].items() if n) or "no devices"
        state = "complete" if s["complete"] else "incomplete"
        typer.echo(f"{s['scan_id']}  {s['started_at']}  {state}  {counts}  (received {s['received_at']})")


def server_report(server_url: str, site: str | None, ref: str) -> ScanReport:
    """A site's stored scan from the server, for `diff --server URL --site S`."""
    import urllib.parse

    from scanner.errors import UsageError
    from scanner.results import ScanReport
    from scanner.sites.inventory import get_json

    if not site:
        raise UsageError("--server needs --site SITE")
    path = f"sites/{urllib.parse.quote(site, safe='')}/scans/{urllib.parse.quote(ref, safe='')}"
    return ScanReport.model_validate(get_json(server_url, _reader_token(), path))
