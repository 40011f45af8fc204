"""The scan's progress line and the --rate / --concurrency options on the command line (no network:
the end-to-end terminal and pipe runs are in tests/lab/test_pace_lab.py)."""

from __future__ import annotations

import io
import re
import subprocess
import sys

import pytest

from scanner.cli.common import Progress, progress_line
from scanner.progress import ProgressView


def view(**kw: object) -> ProgressView:
    base: dict[str, object] = {
        "phase": "discovery",
        "hosts_total": 65536,
        "hosts_done": 0,
        "devices": 12,
        "heard": 0,
        "covered": 3,
        "likely": 1,
        "packets": 412_345,
        "elapsed": 20.0,
        "eta": 41.4,
        "eta_bound": True,
        "running": ("liveness", "sadp"),
    }
    return ProgressView(**{**base, **kw})  # type: ignore[arg-type]


def test_the_line_says_hosts_devices_covered_and_the_eta() -> None:
    assert progress_line(view()) == (
        "discovery 0/65,536 hosts done · 12 found · 3 covered 1 likely · 412k pkts · ETA ≤41s [liveness, sadp]"
    )
    banners = progress_line(
        view(phase="banners", hosts_done=65500, eta=75.0, eta_bound=False, likely=0, heard=4)
    )
    assert banners.startswith("banners 65,500/65,536 hosts done · 12 found · 3 covered · 4 heard")
    assert "ETA 1:15" in banners
    done = progress_line(view(phase="done", hosts_done=65536, eta=0.0, running=(), packets=1_234_567))
    assert done == "done 65,536/65,536 hosts done · 12 found · 3 covered 1 likely · 1.2M pkts · in 20s"
    assert "ETA" not in progress_line(view(eta=None))
    assert progress_line(view(sent_share=0.374)).startswith("discovery 37% 0/65,536 hosts done")


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def on_stderr(monkeypatch: pytest.MonkeyPatch, stderr: io.StringIO, columns: int = 120) -> io.StringIO:
    """``stderr`` (a FakeTerminal, or a plain StringIO for a pipe) as sys.stderr, an xterm ``columns`` wide."""
    monkeypatch.setattr(sys, "stderr", stderr)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("COLUMNS", str(columns))
    return stderr


def test_the_line_never_wraps_on_a_narrow_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = on_stderr(monkeypatch, FakeTerminal(), columns=50)
    with Progress(enabled=True) as p:
        p.update(view())
    drawn = [ln for ln in terminal.getvalue().replace("\r", "\n").split("\n") if "hosts" in ln]
    assert drawn and all(ln.rstrip().endswith("…") for ln in drawn), drawn
    assert "covered" not in terminal.getvalue()  # cut, not wrapped onto a second row


def test_progress_draws_in_place_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = on_stderr(monkeypatch, FakeTerminal())
    with Progress(enabled=True) as p:
        assert p.enabled
        p.update(view())
        p.update(view(phase="done", hosts_done=65536, running=()))
    shown = terminal.getvalue()
    assert "done 65,536/65,536 hosts done · 12 found · 3 covered 1 likely · 412k pkts · in 20s" in shown
    assert "\x1b[2K" in shown  # the line is erased, not left behind
    quiet = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    with Progress(enabled=False) as p:  # --quiet
        p.update(view())
    assert quiet.getvalue() == ""


def test_no_progress_when_stderr_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    piped = io.StringIO()
    monkeypatch.setattr(sys, "stderr", piped)
    with Progress(enabled=True) as p:
        assert not p.enabled
        p.update(view())
    assert piped.getvalue() == ""


def test_help_states_the_defaults_and_units_of_rate_and_concurrency() -> None:
    """The help text is written by hand (importing the options would slow --help): it must not drift."""
    from scanner.cli.scan_cmd import CONCURRENCY_HELP, RATE_HELP
    from scanner.discovery import options

    numbers = [int(n) for n in re.findall(r"\d+", RATE_HELP)]
    assert numbers[:3] == [int(options.DEFAULT_RATE), int(options.SWEEP_RATE), int(options.DEVICE_RATE)]
    assert "per second" in RATE_HELP and "/s" in RATE_HELP
    numbers = [int(n) for n in re.findall(r"\d+", CONCURRENCY_HELP)]
    assert numbers == [options.DEFAULT_CONCURRENCY, options.CONNECT_CONCURRENCY, options.FETCH_CONCURRENCY]
    proc = subprocess.run(
        [sys.executable, "-m", "scanner", "scan", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)},
    )
    flat = " ".join(proc.stdout.split())
    assert "--rate" in flat and "--concurrency" in flat
    assert "Packets per second for the whole scan, all probes together (default 40000)" in flat


@pytest.mark.parametrize(("option", "value"), [("--rate", "5"), ("--concurrency", "0"), ("--rate", "fast")])
def test_out_of_range_rate_or_concurrency_is_a_usage_error(option: str, value: str) -> None:
    proc = subprocess.run(
        # loopback: nothing could leave even if the check ever failed
        [sys.executable, "-m", "scanner", "scan", "--no-history", option, value, "127.0.0.1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert option in proc.stderr and "Traceback" not in proc.stderr


class SlowProbe:
    """Stands in for every probe: takes a moment (so the progress ticks), finds nothing, sends nothing."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def run(self, ctx: object) -> object:
        import asyncio

        from scanner.discovery.base import ProbeResult, ProbeStatus

        await asyncio.sleep(1.2)
        return ProbeResult(self.name, ProbeStatus.NO_RESPONSE)


def scan_in_process(monkeypatch: pytest.MonkeyPatch, stderr: io.StringIO, *flags: str) -> int:
    """``ndaa-scan scan`` in this process, its probes replaced by ``SlowProbe``; stderr is ``stderr``."""
    from scanner.cli import app
    from scanner.cli.common import run_app

    monkeypatch.setattr("scanner.scan.instantiate", lambda spec: SlowProbe(spec.name))
    on_stderr(monkeypatch, stderr)
    argv = ["ndaa-scan", "scan", "--no-history", "-p", "sadp", "-f", "json", *flags, "127.0.0.1"]
    monkeypatch.setattr(sys, "argv", argv)
    return run_app(app)


def test_a_piped_scan_prints_no_progress(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    piped = io.StringIO()
    assert scan_in_process(monkeypatch, piped) == 0
    assert piped.getvalue() == ""  # not a line of progress, nor an escape code
    assert capsys.readouterr().out.lstrip().startswith("{")


def test_a_scan_on_a_terminal_shows_progress_unless_quiet(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    terminal = FakeTerminal()
    assert scan_in_process(monkeypatch, terminal) == 0
    shown = terminal.getvalue()
    assert "hosts done" in shown and "ETA" in shown and "[sadp]" in shown, shown
    capsys.readouterr()
    quiet = FakeTerminal()
    assert scan_in_process(monkeypatch, quiet, "-q") == 0
    assert quiet.getvalue() == ""
