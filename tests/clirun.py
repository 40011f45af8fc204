"""Run the real ``ndaa-scan`` command of this checkout (``python -m scanner``) and check its error line."""

from __future__ import annotations

# Not a test module: imported by tests that run the command.
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from paths import REPO


def scanner_command(*args: str) -> list[str]:
    """The argv of ``ndaa-scan ARGS`` run from this checkout."""
    return [sys.executable, "-m", "scanner", *args]


def run_cli(
    *args: str, cwd: Path | None = None, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1", **(env or {})}
    proc = subprocess.run(
        scanner_command(*args),
        capture_output=True,
        input=stdin,
        timeout=120,
        check=False,
        cwd=cwd,
        env=env,
    )
    return subprocess.CompletedProcess(
        proc.args,
        proc.returncode,
        proc.stdout.decode("utf-8", "replace"),
        proc.stderr.decode("utf-8", "replace"),
    )


def assert_usage_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exit 2, exactly one line on stderr, no traceback, nothing on stdout; returns the line."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-500:], proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert proc.stdout == ""
    return lines[0]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``run_cli`` from the checkout's root, failing on a traceback whatever the exit code."""
    proc = run_cli(*args, cwd=REPO)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def lab_scan_args(scanner_ns: str, target: str, *extra: str) -> list[str]:
    """``scan`` arguments for a scan of ``target`` from eth0 of a lab's scanner namespace."""
    return ["scan", "--netns", scanner_ns, "-i", "eth0", *extra, target]


def scan_lab_json(lab: Any, *extra: str, target: str | None = None, db: Path | None = None) -> dict[str, Any]:
    """`ndaa-scan scan -q -f json` of ``lab`` (its subnet unless ``target``) inside its scanner namespace,
    into the history ``db`` or none; asserts exit 0 or 1 and returns the parsed report."""
    history = ("--db", str(db)) if db else ("--no-history",)
    proc = cli(*lab_scan_args(lab.scanner_ns, target or lab.subnet, *history, "-q", "-f", "json", *extra))
    assert proc.returncode in (0, 1), proc.stderr
    report: dict[str, Any] = json.loads(proc.stdout)
    return report
