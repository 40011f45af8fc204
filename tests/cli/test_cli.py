"""The command line: bad input gets one clear line and the documented exit code, never a traceback."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scanner", *args], capture_output=True, text=True, timeout=60, check=False
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert 1 <= len(lines) <= 3, proc.stderr
    for n in needles:
        assert n in proc.stderr, proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize(
    ("target", "needle"),
    [
        ("10.0.0.0/33", "not a target"),
        ("10.0.0.300", "not a target"),
        ("10.0.1.5-300", "not an octet"),
        ("10.0.1.9-10.0.1.5", "ends before it starts"),
        ("ban@na", "not a target"),
        ("2001:db8::1-5", "IPv6 ranges are not supported"),
        ("cam1.invalid", "does not resolve"),
    ],
)
def test_malformed_targets_exit_2(target: str, needle: str) -> None:
    assert_one_line_error(run("scan", "--no-history", target), 2, needle)


def test_range_over_the_limit_exits_2() -> None:
    assert_one_line_error(run("scan", "--no-history", "10.0.0.0/8"), 2, "over the limit")
    assert_one_line_error(
        run("scan", "--no-history", "--max-hosts", "10", "10.0.0.0/24"), 2, "over the limit"
    )


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


def test_lab_and_demo_refuse_clearly_without_root(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
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


def test_exit_code_follows_the_verdicts_and_fail_on(tmp_path) -> None:
    covered = tmp_path / "covered.jsonl"
    covered.write_text(
        '{"ip":"10.0.0.5","mac":"58:50:ed:1f:e3:85","signal":"http.server","value":"App-webs/"}\n'
    )
    clean = tmp_path / "clean.jsonl"
    clean.write_text('{"ip":"10.0.0.6","mac":"ac:cc:8e:1f:e3:85","signal":"http.title","value":"AXIS"}\n')
    likely = tmp_path / "likely.jsonl"
    likely.write_text('{"ip":"10.0.0.7","mac":"54:d6:0d:10:20:30","signal":"hostname","value":"cam"}\n')
    assert run("identify", str(covered)).returncode == 1
    assert run("identify", str(clean)).returncode == 0
    assert run("identify", str(likely)).returncode == 1  # default --fail-on likely
    assert run("identify", "--fail-on", "covered", str(likely)).returncode == 0
    assert run("identify", "--fail-on", "never", str(covered)).returncode == 0


def test_stdout_is_clean_json_when_piped(tmp_path) -> None:
    import json

    f = tmp_path / "obs.jsonl"
    f.write_text(
        '{"ip":"10.0.0.5","mac":"58:50:ed:1f:e3:85","signal":"http.server","value":"App-webs/"}\nbad\n'
    )
    proc = run("identify", "-f", "json", str(f))
    report = json.loads(proc.stdout)  # nothing but the report on stdout
    assert report["devices"][0]["verdict"]["covered_entity"] == "Hikvision"
    assert ":2:" in proc.stderr


def test_a_failed_probe_makes_the_scan_incomplete(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A probe that could not run means 'every probe ran' is false: incomplete, exit 3 when nothing was found."""
    import json

    import scanner.scan
    from scanner.cli import app
    from scanner.cli.common import run_app

    def broken(spec):
        raise ImportError(f"{spec.name} is broken on purpose")

    monkeypatch.setattr(scanner.scan, "instantiate", broken)  # where run_probes looks it up
    monkeypatch.setattr(
        sys, "argv", ["ndaa-scan", "scan", "--no-history", "-q", "-p", "wsd", "-f", "json", "127.0.0.1"]
    )
    assert run_app(app) == 3
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["complete"] is False
    assert any("wsd is broken on purpose" in n for n in report["notes"])
    assert report["probes"][0]["status"] == "error"
    # it says what happened: a failed probe, not an interruption
    assert (
        captured.err.startswith("ndaa-scan: incomplete (probe failed)") and "interrupted" not in captured.err
    )


def test_files_only_still_print_the_table(tmp_path) -> None:
    f = tmp_path / "obs.jsonl"
    f.write_text('{"ip":"10.0.0.5","mac":"58:50:ed:1f:e3:85","signal":"http.server","value":"App-webs/"}\n')
    out = tmp_path / "r.sarif"
    proc = run("identify", "-o", f"sarif={out}", str(f))
    assert proc.stdout.startswith("ndaa-scanner")
    assert "COVERED" in proc.stdout
    assert json.loads(out.read_text())["version"] == "2.1.0"


def test_probe_help_names_every_registered_probe() -> None:
    """The --probes help is written by hand (importing the registry would slow --help): it must not drift."""
    from scanner.cli.scan_cmd import PROBE_HELP
    from scanner.discovery.registry import PROBES

    listed = PROBE_HELP.split("):", 1)[1].split(".")[0]
    assert [p.strip() for p in listed.split(",")] == list(PROBES)
    assert all(not p.default for p in PROBES.values() if p.name in ("snmp", "nmap"))


def test_routed_lab_file_must_leave_the_router_link_free(tmp_path: pathlib.Path) -> None:
    lab = tmp_path / "bad.toml"
    lab.write_text(
        '[lab]\nname = "bad"\nsubnet = "10.254.0.0/16"\nscanner_ip = "10.254.0.1"\nrouted = true\n'
    )
    assert_one_line_error(run("lab", "status", str(lab)), 2, "10.254.254.0/30")


def test_a_broken_lab_file_is_one_line_naming_the_entry(tmp_path: pathlib.Path) -> None:
    lab = tmp_path / "bad.toml"
    head = '[lab]\nname = "x"\nsubnet = "10.9.0.0/24"\nscanner_ip = "10.9.0.2"\n'
    lab.write_text(head + '\n[[device]]\nname = "cam"\nip = "10.9.0.5"\nmac = "zz"\n')
    assert_one_line_error(run("lab", "status", str(lab)), 2, f"{lab}:6: device #1 (cam): mac:")
    lab.write_text(head + "bogus = 1\n")
    assert_one_line_error(run("lab", "status", str(lab)), 2, "lab: bogus:")
    lab.write_text("[lab\n")
    assert_one_line_error(run("lab", "status", str(lab)), 2, f"{lab}:1: not valid TOML")
