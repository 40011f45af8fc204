"""A real PostgreSQL for the server tests: Debian's binaries (bootstrap --test installs `postgresql`), one
throwaway cluster per session in a temp dir, listening on a Unix socket only (listen_addresses=''), run as
the `postgres` system user (the server refuses root); a fresh database per test."""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from labtools import require


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def _as_postgres(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    runuser = shutil.which("runuser", path="/usr/sbin:/sbin:/usr/bin:/bin")
    assert runuser, "runuser (util-linux) is needed to run PostgreSQL as the postgres user"
    return [runuser, "-u", "postgres", "--", *argv]


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[str]:
    """The socket directory of a running throwaway cluster."""
    try:
        import psycopg  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        require(f"the server extra is not installed ({exc.name}): pip install 'ndaa-scanner[server]'")
    bindir = _pg_bin()
    require(None if bindir else "PostgreSQL is not installed (apt-get install postgresql)")
    assert bindir is not None
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            require("no postgres system user to run PostgreSQL as")
    top = Path(tempfile.mkdtemp(prefix="ndaa-pg-"))
    data = top / "data"
    if os.geteuid() == 0:
        shutil.chown(top, "postgres", "postgres")
    subprocess.run(
        _as_postgres(
            [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
        ),
        check=True,
        capture_output=True,
        timeout=120,
    )
    options = f"-k {top} -c listen_addresses='' -c fsync=off -c full_page_writes=off -c max_connections=200"
    started = subprocess.run(
        _as_postgres(
            [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(top / "log"), "-w", "-o", options, "start"]
        ),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert started.returncode == 0, (
        started.stderr,
        (top / "log").read_text() if (top / "log").exists() else "",
    )
    try:
        yield str(top)
    finally:
        subprocess.run(
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(top, ignore_errors=True)


@pytest.fixture
def pg_url(pg_cluster: str) -> Iterator[str]:
    """A URL of a new empty database in the session's cluster, dropped afterwards."""
    import psycopg

    name = "t_" + secrets.token_hex(4)
    admin = f"host={pg_cluster} user=postgres dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield f"host={pg_cluster} user=postgres dbname={name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(
    url: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 60.0, cafile: str | None = None
) -> None:
    """Poll ``url``/healthz until it answers 200 (the server migrated and listens)."""
    import ssl
    import urllib.error
    import urllib.request

    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
    if cafile:
        handlers.append(urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=cafile)))
    opener = urllib.request.build_opener(*handlers)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            pytest.fail(f"server exited {proc.returncode}: {out}")
        try:
            with opener.open(url.rstrip("/") + "/healthz", timeout=5) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    pytest.fail(f"{url} not healthy within {timeout} s")


class ServerProcess:
    """`ndaa-scan server` of this checkout as a child process on 127.0.0.1 (stop and start again at will)."""

    def __init__(self, db_url: str, tls: tuple[str, str] | None = None) -> None:
        self.db_url = db_url
        self.port = free_port()
        self.tls = tls  # (certificate, key) PEM files
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        from clirun import scanner_command
        from paths import REPO

        env = {**os.environ, "PYTHONPATH": str(REPO), "NDAA_SERVER_DB": self.db_url}
        self.proc = subprocess.Popen(
            scanner_command(
                "server",
                "--listen",
                f"127.0.0.1:{self.port}",
                "--pool",
                "2",
                *(("--tls-cert", self.tls[0], "--tls-key", self.tls[1]) if self.tls else ()),
            ),  # fmt: skip
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO,
        )
        wait_healthy(self.url, self.proc, cafile=self.tls[0] if self.tls else None)

    def stop(self, kill: bool = False) -> None:
        if self.proc is None:
            return
        if kill:
            self.proc.kill()
        else:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.proc = None


@pytest.fixture
def server(pg_url: str) -> Iterator[ServerProcess]:
    """A running server on a fresh database."""
    srv = ServerProcess(pg_url)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def server_factory(pg_url: str) -> Iterator[Callable[..., ServerProcess]]:
    """Start servers on the test's database with options (``tls=(cert, key)``); all stopped afterwards."""
    made: list[ServerProcess] = []

    def make(**options: Any) -> ServerProcess:
        srv = ServerProcess(pg_url, **options)
        made.append(srv)
        srv.start()
        return srv

    try:
        yield make
    finally:
        for srv in made:
            srv.stop()
