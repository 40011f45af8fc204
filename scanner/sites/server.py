"""The central server: a Starlette app on uvicorn in front of PostgreSQL.

Starlette rather than FastAPI: three routes need no schema generation or dependency injection, and
Starlette (FastAPI's own foundation, maintained by Encode) adds one small package instead of several.

API (JSON; every call but ``/healthz`` carries ``Authorization: Bearer TOKEN``):

- ``POST /api/v1/bundles`` — a bundle (scanner.sites.bundle.Bundle). 201 stored, 200 already stored
  (same site and bundle id: nothing written), 400 not a bundle, 401 no or unknown token, 403 the token is
  not this bundle's site's, or the site has a signing key and the bundle's Ed25519 signature is missing
  or wrong, 413 larger than MAX_BUNDLE_BYTES. The token is checked before the body is read.
- ``GET /api/v1/inventory?site=S&status=covered[&observations=1]`` — the current inventory
  (``db.inventory_json``; raw observations only when asked); a site's
  token sees its own site only, a reader token (``token create --reader``) every site.
- ``GET /api/v1/sites/SITE/scans?limit=N`` — a site's stored scans, newest first, with counts;
  ``GET /api/v1/sites/SITE/scans/REF`` — one of them as its ScanReport (REF: id, prefix, latest, latest~N).
- ``GET /healthz`` — 200 when the database answers.

The database work runs in Starlette's thread pool on a fixed pool of psycopg connections.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from scanner.sites import db
from scanner.sites._gc import gc_paused
from scanner.sites.bundle import MAX_BUNDLE_BYTES, Bundle, verify

log = logging.getLogger("scanner.sites.server")
API = "/api/v1"


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def create_app(url: str, *, pool_size: int = 4) -> Starlette:
    """The ASGI app storing into the database at ``url`` (migrated when the app starts)."""
    from scanner.errors import UsageError

    api = _Api(url, pool_size)
    return Starlette(
        routes=[
            Route(f"{API}/bundles", api.push, methods=["POST"]),
            Route(f"{API}/inventory", api.inventory, methods=["GET"]),
            Route(f"{API}/sites/{{site}}/scans", api.scans, methods=["GET"]),
            Route(f"{API}/sites/{{site}}/scans/{{ref}}", api.scan_report, methods=["GET"]),
            Route("/healthz", api.healthz, methods=["GET"]),
        ],
        exception_handlers={_Refused: _refused, UsageError: _usage},
        lifespan=api.lifespan,
    )


class _Api:
    def __init__(self, url: str, pool_size: int) -> None:
        self.url, self.pool_size = url, pool_size
        self._pool: db.Pool | None = None
        self._cpu = asyncio.Semaphore(1)

    @asynccontextmanager
    async def lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        conn = db.connect(self.url)
        try:
            version = db.migrate(conn)
        finally:
            conn.close()
        self._pool = db.Pool(self.url, self.pool_size)
        log.info("inventory schema %d ready", version)
        try:
            yield
        finally:
            self._pool.close()
            self._pool = None

    @property
    def pool(self) -> db.Pool:
        assert self._pool is not None, "the app's lifespan has not started"
        return self._pool

    def caller_of(self, request: Request) -> db.Caller:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _Refused(401, "a site token is needed: Authorization: Bearer TOKEN")
        with self.pool.connection() as conn:
            caller = db.authenticate(conn, token.strip())
        if caller is None:
            raise _Refused(401, "unknown or revoked token")
        return caller

    async def push(self, request: Request) -> JSONResponse:
        caller = await run_in_threadpool(self.caller_of, request)
        if caller.site_id is None or caller.site is None:
            raise _Refused(403, "a reader token cannot push")
        body = await _read_body(request, MAX_BUNDLE_BYTES)
        # Ingest is CPU work (validation, the devices' dump) then one database round trip. Under the GIL
        # one thread per process does the CPU work (more only fight over the GIL: measured 14 s of server
        # CPU for 100 bundles with 4 at once, 12 with 1); the others wait here with their bodies read, and
        # the round trips run beside it.
        async with self._cpu:
            bundle, prepared = await run_in_threadpool(self._check, caller, body)

        site_id = caller.site_id

        def store() -> bool:
            with self.pool.connection() as conn:
                return db.store(conn, site_id, prepared)

        stored = await run_in_threadpool(store)
        answer = {"site": bundle.site, "bundle_id": bundle.bundle_id, "stored": stored}
        return JSONResponse(answer, status_code=201 if stored else 200)

    def _check(self, caller: db.Caller, body: bytes) -> tuple[Bundle, dict[str, Any]]:
        """Validate and check one pushed bundle (in a worker thread); the bundle and what ``db.store`` takes."""
        assert caller.site is not None
        with gc_paused():
            return self._checked(caller.site, caller.signing_key, body)

    def _checked(self, site: str, key: bytes | None, body: bytes) -> tuple[Bundle, dict[str, Any]]:
        try:
            bundle = Bundle.model_validate_json(body)
        except ValidationError as exc:
            raise _Refused(
                400, f"not a scan bundle: {exc.error_count()} problem(s), first: {_first(exc)}"
            ) from None
        if not hmac.compare_digest(bundle.site.encode(), site.encode()):
            raise _Refused(403, f"this token pushes for site {site!r}, not {bundle.site!r}")
        if key is not None and not verify(bundle, key):
            raise _Refused(403, f"site {site!r} signs its bundles: signature missing or invalid")
        return bundle, db.prepare(bundle, signed=key is not None)

    async def inventory(self, request: Request) -> Response:
        caller = await run_in_threadpool(self.caller_of, request)
        site = request.query_params.get("site") or None
        statuses = [s for v in request.query_params.getlist("status") for s in v.split(",") if s]
        observations = request.query_params.get("observations") in ("1", "true", "yes")
        if caller.site is not None and site not in (None, caller.site):
            raise _Refused(403, f"this token reads site {caller.site!r} only")

        def query() -> str:
            with self.pool.connection() as conn:
                return db.inventory_json(
                    conn, site=site, statuses=statuses, site_id=caller.site_id, observations=observations
                )

        return Response(await run_in_threadpool(query), media_type="application/json")

    async def _site_reader(self, request: Request) -> str:
        caller = await run_in_threadpool(self.caller_of, request)
        site = str(request.path_params["site"])
        if caller.site is not None and site != caller.site:
            raise _Refused(403, f"this token reads site {caller.site!r} only")
        return site

    async def scans(self, request: Request) -> JSONResponse:
        site = await self._site_reader(request)
        limit = request.query_params.get("limit", "20")
        if not limit.isdigit():
            raise _Refused(400, "limit: a number")

        def query() -> list[dict[str, Any]]:
            with self.pool.connection() as conn:
                return db.list_scans(conn, site, int(limit))

        return JSONResponse({"site": site, "scans": await run_in_threadpool(query)})

    async def scan_report(self, request: Request) -> Response:
        site = await self._site_reader(request)
        ref = str(request.path_params["ref"])

        def query() -> str:
            with self.pool.connection() as conn:
                return db.load_report(conn, site, ref).model_dump_json()

        return Response(await run_in_threadpool(query), media_type="application/json")

    async def healthz(self, _request: Request) -> JSONResponse:
        def ping() -> None:
            with self.pool.connection() as conn:
                conn.execute("SELECT 1")
                conn.rollback()

        await run_in_threadpool(ping)
        return JSONResponse({"ok": True, "schema": db.SCHEMA_VERSION})


async def _refused(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, _Refused)
    return JSONResponse({"error": exc.message}, status_code=exc.status)


async def _usage(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"error": str(exc)}, status_code=400)


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) past ``limit`` bytes whatever Content-Length says."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _Refused(413, f"bundle larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _Refused(413, f"bundle larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _first(exc: ValidationError) -> str:
    e = exc.errors()[0]
    return f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"[:300]


def app_from_env() -> Starlette:
    """The app of a uvicorn worker process (``--workers``): the database from ``$NDAA_SERVER_DB``."""
    import os

    return create_app(os.environ["NDAA_SERVER_DB"], pool_size=int(os.environ.get("NDAA_SERVER_POOL", "4")))


def serve(
    url: str,
    host: str,
    port: int,
    *,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    pool_size: int = 4,
    workers: int = 1,
) -> None:
    """Run the server until SIGINT/SIGTERM (uvicorn's handlers: in-flight requests finish first). With
    ``workers`` > 1, uvicorn runs that many processes on the one socket (JSON parsing is CPU-bound: one
    process uses one core), each with its own ``pool_size`` connections."""
    import os

    import uvicorn

    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "warning",
        "access_log": False,
        "ssl_certfile": tls_cert,
        "ssl_keyfile": tls_key,
        "timeout_graceful_shutdown": 10,
    }
    if workers > 1:
        os.environ["NDAA_SERVER_DB"] = url
        os.environ["NDAA_SERVER_POOL"] = str(pool_size)
        uvicorn.run("scanner.sites.server:app_from_env", factory=True, workers=workers, **common)
        return
    uvicorn.Server(uvicorn.Config(create_app(url, pool_size=pool_size), **common)).run()
