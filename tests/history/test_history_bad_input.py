"""`history`, `diff` and `report` on a database that is missing or not a history: exit 2, one line,
and no file is ever created by these read-only commands."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from clirun import assert_usage_error, run_cli

from scanner.history.store import HistoryStore

COMMANDS = (["history"], ["diff"], ["report", "-f", "json"])


def _bad_databases(tmp: Path) -> dict[str, Path]:
    (tmp / "a-directory").mkdir()
    (tmp / "random.sqlite3").write_bytes(os.urandom(8192))
    (tmp / "text.sqlite3").write_text("SQLite? no: a text file\n" * 50)
    foreign = sqlite3.connect(tmp / "foreign.sqlite3")
    foreign.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    foreign.commit()
    foreign.close()
    (tmp / "empty.sqlite3").write_bytes(b"")
    header = b"SQLite format 3\x00"
    (tmp / "truncated.sqlite3").write_bytes(header + os.urandom(200))
    return {p.name: p for p in tmp.iterdir()}


@pytest.fixture(scope="module")
def databases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _bad_databases(tmp_path_factory.mktemp("db"))


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("a-directory", "not a regular file"),
        ("random.sqlite3", "not an SQLite file"),
        ("text.sqlite3", "not an SQLite file"),
        ("empty.sqlite3", "not an SQLite file"),
        ("foreign.sqlite3", "not an ndaa-scanner history"),
        ("truncated.sqlite3", "not a usable scan history"),
    ],
)
def test_a_file_that_is_not_a_history_is_a_usage_error(
    databases: dict[str, Path], command: list[str], name: str, needle: str
) -> None:
    path = databases[name]
    before = path.read_bytes() if path.is_file() else None
    assert_usage_error(run_cli(*command, "--db", str(path)), needle)
    if before is not None:
        assert path.read_bytes() == before  # not "repaired", not migrated
    assert not list(path.parent.glob("*-wal")) and not list(path.parent.glob("*-journal"))


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_missing_database_is_an_error_and_is_not_created(tmp_path: Path, command: list[str]) -> None:
    db = tmp_path / "sub" / "history.sqlite3"
    assert_usage_error(run_cli(*command, "--db", str(db)), "no scan history there")
    assert not db.exists() and not db.parent.exists()


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_the_default_database_is_not_created_either(tmp_path: Path, command: list[str]) -> None:
    home = tmp_path / "home"
    env = {"HOME": str(home), "NDAA_SCAN_DB": "", "XDG_DATA_HOME": ""}
    assert_usage_error(run_cli(*command, env=env), "no scan history there")
    assert not home.exists()


def test_reading_a_history_adds_no_file_beside_it(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite3"
    with HistoryStore(db) as store:
        store.start_scan(["10.0.0.0/24"], None, "t", ["arp"])
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = run_cli("history", "--db", str(db))
    assert proc.returncode == 0 and "10.0.0.0/24" in proc.stdout, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before == ["history.sqlite3"]


def test_a_damaged_row_is_a_usage_error(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite3"
    with HistoryStore(db) as store:
        store.start_scan(["10.0.0.0/24"], None, "t", ["arp"])
    raw = sqlite3.connect(db)
    raw.execute("UPDATE scan SET targets = 'not json'")
    raw.commit()
    raw.close()
    assert_usage_error(run_cli("history", "--db", str(db)), "damaged scan history")
    assert_usage_error(run_cli("report", "--db", str(db)), "damaged scan history")
