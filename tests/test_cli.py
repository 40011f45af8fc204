"""The command line: bad input gets one clear line and the documented exit code, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scanner", *args], capture_output=True, text=True, timeout=60,
                          check=False)


def assert_one_line_error(proc: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert 1 <= len(lines) <= 3, proc.stderr
    for n in needles:
        assert n in proc.stderr, proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize(("target", "needle"), [
    ("10.0.0.0/33", "not a target"),
    ("10.0.0.300", "not a target"),
    ("10.0.1.5-300", "not an octet"),
    ("10.0.1.9-10.0.1.5", "ends before it starts"),
    ("banana", "not a target"),
])
def test_malformed_targets_exit_2(target: str, needle: str) -> None:
    assert_one_line_error(run("scan", "--no-history", target), 2, needle)


def test_range_over_the_limit_exits_2() -> None:
    assert_one_line_error(run("scan", "--no-history", "10.0.0.0/8"), 2, "over the limit")
    assert_one_line_error(run("scan", "--no-history", "--max-hosts", "10", "10.0.0.0/24"), 2, "over the limit")


def test_missing_interface_exits_2() -> None:
    assert_one_line_error(run("scan", "--no-history", "-i", "nosuchif0", "10.0.0.1"), 2, "no interface named")


def test_no_targets_is_refused_not_guessed() -> None:
    assert_one_line_error(run("scan", "--no-history"), 2, "no targets")


def test_unknown_probe_format_and_policy_exit_2() -> None:
    assert_one_line_error(run("scan", "--no-history", "-p", "arp,telepathy", "10.0.0.1"), 2, "unknown probe")
    assert_one_line_error(run("scan", "--no-history", "-f", "pdf", "10.0.0.1"), 2, "unknown report format")
    assert_one_line_error(run("scan", "--no-history", "--fail-on", "sometimes", "10.0.0.1"), 2, "--fail-on")


def test_unknown_option_is_a_usage_error() -> None:
    proc = run("scan", "--frobnicate")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "--frobnicate" in proc.stderr


def test_help_teaches_exit_codes_and_examples() -> None:
    top = run("--help")
    assert top.returncode == 0
    assert "Exit codes" in top.stdout
    scan = run("scan", "--help")
    assert scan.returncode == 0
    for word in ("--probes", "--fail-on", "--format", "--output", "--interface", "Examples", "Exit codes"):
        assert word in scan.stdout


def test_lab_and_demo_refuse_clearly_without_root(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from scanner.cli import app
    from scanner.cli.common import run_app

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    for argv in (["lab", "up", "demo"], ["demo"], ["lab", "down", "demo"]):
        monkeypatch.setattr(sys, "argv", ["ndaa-scan", *argv])
        assert run_app(app) == 3
        captured = capsys.readouterr()
        assert "needs root" in captured.err
        assert captured.err.count("\n") == 1


def test_lab_unknown_name_exits_2() -> None:
    assert_one_line_error(run("lab", "status", "nosuchlab"), 2, "built-in labs")
