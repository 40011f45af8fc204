"""Run the real ``ndaa-scan`` command of this checkout (``python -m scanner``) and check its error line."""

from __future__ import annotations

# Not a test module: imported by tests that run the command.
import os
import subprocess
import sys
from pathlib import Path

from paths import REPO


def run_cli(
    *args: str, cwd: Path | None = None, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1", **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "scanner", *args],
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
