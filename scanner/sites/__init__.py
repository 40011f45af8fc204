"""Many sites, one inventory: site agents push stored scans as bundles to a central server on PostgreSQL.

``bundle`` (the unit pushed: a ScanReport, its site and a stable id), ``agent`` (``ndaa-scan push``:
every stored scan not yet acknowledged, with retries), ``db`` (the PostgreSQL schema, ingest and the
inventory queries, psycopg 3), ``server`` (the HTTP API on Starlette/uvicorn), ``inventory`` (rendering).
This package imports only results, history and report; starlette and psycopg are imported lazily, so
``ndaa-scan --help`` never loads them. Docs: docs/SITES.md.
"""
