"""End to end: a real scan of the demo lab stopped midway keeps what it saw.

SIGKILL: the history still holds every streamed observation, `history` lists the scan as not complete
and `report latest` rebuilds every device those observations name. SIGINT (and SIGTERM): the scan stops by
itself with a partial report on stdout, one note on stderr, and the scan marked incomplete in the history.
"""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from clirun import cli, lab_scan_args, scanner_command
from paths import REPO

pytestmark = pytest.mark.netns

REPO = REPO
FAILING_BY_DEFAULT = {"covered", "likely"}  # --fail-on likely, the documented default
WAIT_LIMIT = 30.0  # seconds for the scan to store its first observations


@dataclass(frozen=True)
class Stored:
    """What the history database holds for its one scan, read without the product's code."""

    scan_id: str
    state: str
    reason: str | None
    macs: set[str]
    ips: set[str]
    observations: int


def read_db(db: Path) -> Stored | None:
    """The scan row and its observations, read-only; None while the scan has not stored any yet."""
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=2.0)
    except sqlite3.Error:
        return None
    try:
        scans = con.execute("SELECT id, state, reason FROM scan").fetchall()
        rows = con.execute("SELECT mac, ip FROM observation").fetchall()
    except sqlite3.Error:  # the file exists but the schema is not there yet
        return None
    finally:
        con.close()
    if len(scans) != 1 or not rows:
        return None
    ((scan_id, state, reason),) = scans
    return Stored(scan_id, state, reason, {m for m, _ in rows if m}, {i for _, i in rows if i}, len(rows))


def _default_sigint() -> None:
    """Runs in the child before exec: a SIGINT ignored by whoever started pytest must not be inherited."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextmanager
def scan_process(lab: Any, db: Path) -> Iterator[subprocess.Popen[str]]:
    """`ndaa-scan scan` of the whole lab into ``db``, JSON on stdout; killed on the way out if still running."""
    cmd = scanner_command(*lab_scan_args(lab.scanner_ns, lab.subnet, "--db", str(db), "-q", "-f", "json"))
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, preexec_fn=_default_sigint
    )  # noqa: PLW1509 - one signal() call, no locks taken
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def wait_until_midway(proc: subprocess.Popen[str], db: Path) -> Stored:
    """Poll the database until the running scan has stored observations; it must not have finished."""
    deadline = time.monotonic() + WAIT_LIMIT
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the scan ended (exit {proc.returncode}) before storing anything"
        stored = read_db(db)
        if stored is not None:
            assert stored.state == "unfinished", "the scan finished before it could be interrupted"
            return stored
        time.sleep(0.01)
    raise AssertionError(f"no observation stored within {WAIT_LIMIT:.0f} s")


def expected_exit(report: dict[str, Any]) -> int:
    """1 when an incomplete report still holds failing devices, else 3 (docs/ARCHITECTURE.md)."""
    return 1 if any(d["verdict"]["status"] in FAILING_BY_DEFAULT for d in report["devices"]) else 3


def assert_devices_match_observations(report: dict[str, Any], stored: Stored, lab: Any) -> None:
    """Every MAC and IP the stored observations name is one device of the report, and nothing else is."""
    assert {d["mac"] for d in report["devices"] if d["mac"]} == stored.macs
    assert {d["ip"] for d in report["devices"] if d["ip"]} == stored.ips
    assert sum(len(d["observations"]) for d in report["devices"]) == stored.observations
    assert stored.macs <= {d.mac for d in lab.devices}


def history_line(db: Path, scan_id: str) -> str:
    listing = cli("history", "--db", str(db))
    assert listing.returncode == 0, listing.stderr
    lines = [line for line in listing.stdout.splitlines() if line.startswith(scan_id)]
    assert len(lines) == 1, listing.stdout
    return lines[0]


def test_sigkill_midway_keeps_every_stored_device(lab_factory: Any, tmp_path: Path) -> None:
    lab = lab_factory(builtin="demo")
    db = tmp_path / "history.sqlite3"
    with scan_process(lab, db) as proc:
        wait_until_midway(proc, db)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
    stored = read_db(db)
    assert stored is not None and stored.state == "unfinished" and stored.macs

    line = history_line(db, stored.scan_id)
    assert re.search(r"\sunfinished\s", line) and not re.search(r"\scomplete\s", line), line
    assert f"; {stored.observations} observations" in line

    again = cli("report", "latest", "--db", str(db), "-f", "json")
    report = json.loads(again.stdout)
    assert report["scan_id"] == stored.scan_id and report["complete"] is False
    assert_devices_match_observations(report, stored, lab)
    assert again.returncode == expected_exit(report), again.stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_stopped_midway_writes_a_partial_report_and_marks_the_scan(
    lab_factory: Any, tmp_path: Path, signum: signal.Signals
) -> None:
    """Ctrl-C, or the SIGTERM a CI runner or service manager sends, stops the scan the same clean way."""
    lab = lab_factory(builtin="demo")
    db = tmp_path / "history.sqlite3"
    with scan_process(lab, db) as proc:
        wait_until_midway(proc, db)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)  # it must stop by itself
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1 and err.startswith("ndaa-scan: interrupted"), err
    report = json.loads(out)
    assert report["complete"] is False
    assert any("interrupted" in n for n in report["notes"]), report["notes"]
    assert proc.returncode == expected_exit(report)

    stored = read_db(db)
    assert stored is not None and (stored.state, stored.reason) == ("incomplete", "interrupted")
    assert report["scan_id"] == stored.scan_id and stored.scan_id in err
    assert_devices_match_observations(report, stored, lab)
    assert "incomplete (interrupted)" in history_line(db, stored.scan_id)

    again = json.loads(cli("report", "latest", "--db", str(db), "-f", "json").stdout)
    assert again["complete"] is False
    assert [(d["mac"], d["verdict"]) for d in again["devices"]] == [
        (d["mac"], d["verdict"]) for d in report["devices"]
    ]


@pytest.mark.parametrize("gap", [0.0, 0.05, 0.3], ids=["at-once", "50ms", "300ms"])
def test_a_second_ctrl_c_still_writes_the_partial_report(
    lab_factory: Any, tmp_path: Path, gap: float
) -> None:
    """An impatient user presses Ctrl-C twice: the scan still writes its partial report (the second
    press lands while probes are cancelled, or while the report is written, which it does not stop)."""
    lab = lab_factory(builtin="demo")
    db = tmp_path / "history.sqlite3"
    with scan_process(lab, db) as proc:
        wait_until_midway(proc, db)
        proc.send_signal(signal.SIGINT)
        time.sleep(gap)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert lines and lines[-1].startswith("ndaa-scan: interrupted: partial report written"), err
    assert all(line.startswith("ndaa-scan: ") for line in lines), err
    assert not [line for line in lines if " ERROR " in line or "never retrieved" in line], err
    report = json.loads(out)
    assert report["complete"] is False
    assert proc.returncode == expected_exit(report)
    stored = read_db(db)
    assert stored is not None and (stored.state, stored.reason) == ("incomplete", "interrupted")
