"""What the scan command promises before and after it scans: output paths and the history database are
checked before any packet (one line, exit 2, nothing scanned); every exit code has a message and is
documented; a stopped scan says why it stopped (interrupted, a probe failed, the scan broke off).

Nothing here sends a packet: the scan itself is replaced where a test needs it to run."""

from __future__ import annotations

import errno
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from scanner.cli import app
from scanner.cli.common import EXIT_CODES_HELP, run_app


def cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *argv: str
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["ndaa-scan", *argv])
    code = run_app(app)
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("where", ["missing/dir/report.json", "a-file/report.json", "."])
def test_unwritable_output_path_stops_before_scanning(
    where: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_scan: list[Any],
) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    target = tmp_path / where
    code, out, err = cli(monkeypatch, capsys, "scan", "--no-history", "-o", f"json={target}", "10.0.0.1")
    assert (code, out, no_scan) == (2, "", [])
    assert "cannot write report" in one_line(err)
    assert not list(tmp_path.glob("**/.*.tmp"))  # the check leaves nothing behind


def test_two_reports_on_stdout_are_refused_before_scanning(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], no_scan: list[Any]
) -> None:
    code, _, err = cli(monkeypatch, capsys, "scan", "--no-history", "-f", "json", "-f", "csv", "10.0.0.1")
    assert (code, no_scan) == (2, [])
    assert "only one report format" in one_line(err)


def test_unusable_default_history_says_how_to_choose_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], no_scan: list[Any]
) -> None:
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("NDAA_SCAN_DB", str(tmp_path / "a-file" / "history.sqlite3"))
    code, out, err = cli(monkeypatch, capsys, "scan", "10.0.0.1")
    assert (code, out, no_scan) == (2, "", [])
    line = one_line(err)
    assert "--db PATH" in line and "--no-history" in line


def test_ctrl_c_before_the_scan_has_a_message_and_a_documented_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr("scanner.cli.scan_cmd.build_request", interrupted)
    code, out, err = cli(monkeypatch, capsys, "scan", "--no-history", "10.0.0.1")
    assert (code, out) == (130, "")
    assert "interrupted before a report was written" in one_line(err)
    assert "130" in EXIT_CODES_HELP


def test_every_exit_code_is_documented_in_help_and_architecture() -> None:
    from paths import REPO

    architecture = (REPO / "docs" / "ARCHITECTURE.md").read_text()
    for code in ("0", "1", "2", "3", "130"):
        assert f"{code} " in EXIT_CODES_HELP
        assert f"`{code}`" in architecture, code


def test_a_scan_that_breaks_off_says_so_not_interrupted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def unreachable(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENETUNREACH, "Network is unreachable")

    monkeypatch.setattr("scanner.scan.run_probes", unreachable)
    code, out, err = cli(
        monkeypatch, capsys, "scan", "--no-history", "-q", "-f", "json", "-p", "wsd", "127.0.0.1"
    )
    report = json.loads(out)
    assert code == 3 and report["complete"] is False
    assert any("Network is unreachable" in n for n in report["notes"]), report["notes"]
    line = one_line(err)
    assert line.startswith("ndaa-scan: incomplete (failed)") and "interrupted" not in line


def test_exclude_that_leaves_nothing_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], no_scan: list[Any]
) -> None:
    code, _, err = cli(monkeypatch, capsys, "scan", "--no-history", "--exclude", "10.0.0.0/24", "10.0.0.1-9")
    assert (code, no_scan) == (2, [])
    assert "removes every target" in one_line(err)


def test_help_is_fast_and_imports_nothing_heavy() -> None:
    """`ndaa-scan --help` imports typer and the CLI modules only (no pydantic, asyncio, scanner.scan)."""
    import subprocess

    code = (
        "import sys, runpy; sys.argv = ['ndaa-scan', '--help']\n"
        "try:\n    runpy.run_module('scanner', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('pydantic', 'asyncio', 'scanner.scan', 'scanner.results', 'rich.console')"
        " if m in sys.modules)\n"
        "print('HEAVY', heavy)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert "HEAVY []" in proc.stdout, proc.stdout[-500:] + proc.stderr


def test_a_usage_error_leaves_no_history_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], no_scan: list[Any]
) -> None:
    db = tmp_path / "history.sqlite3"
    monkeypatch.setenv("NDAA_SCAN_DB", str(db))
    code, _, err = cli(monkeypatch, capsys, "scan", "ban@na")
    assert (code, no_scan) == (2, [])
    assert "not a target" in one_line(err)
    assert not db.exists()
