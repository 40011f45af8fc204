"""--fail-on parsing, exit codes, and the CI / scheduling examples that use them."""

from __future__ import annotations

import importlib.util
import itertools
import re
import shlex
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from labtools import strings_in
from paths import REPO

from scanner.errors import UsageError
from scanner.identify.models import Status, Verdict
from scanner.policy.fail_on import DEFAULT_FAIL_ON, FailOn, exit_code, failing_devices, parse_fail_on
from scanner.policy.waivers import Waiver, apply_waivers
from scanner.results import DeviceReport, ScanReport

CI = REPO / "examples" / "ci"


def report(*statuses: Status, complete: bool = True, waived: tuple[int, ...] = ()) -> ScanReport:
    devices = [
        DeviceReport(
            ip=f"10.0.0.{i + 1}",
            mac=f"02:00:00:00:00:{i + 1:02x}",
            verdict=Verdict(status=s, waived=i in waived, waiver="ok" if i in waived else None),
        )
        for i, s in enumerate(statuses)
    ]
    return ScanReport(tool_version="test", complete=complete, devices=devices)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("covered", FailOn.COVERED),
        ("likely", FailOn.LIKELY),
        (" Suspected ", FailOn.SUSPECTED),
        ("NEVER", FailOn.NEVER),
    ],
)
def test_parse_fail_on(text: str, expected: FailOn) -> None:
    assert parse_fail_on(text) is expected


@pytest.mark.parametrize("text", ["", "all", "not-covered", "unknown", "likely,covered"])
def test_parse_fail_on_rejects(text: str) -> None:
    with pytest.raises(UsageError, match="expected one of covered, likely, suspected, never") as info:
        parse_fail_on(text)
    assert info.value.exit_code == 2


def test_default_is_likely() -> None:
    assert DEFAULT_FAIL_ON is FailOn.LIKELY


@pytest.mark.parametrize(
    "fail_on, statuses",
    [
        (FailOn.COVERED, {Status.COVERED}),
        (FailOn.LIKELY, {Status.COVERED, Status.LIKELY}),
        (FailOn.SUSPECTED, {Status.COVERED, Status.LIKELY, Status.SUSPECTED}),
        (FailOn.NEVER, set()),
    ],
)
def test_fail_statuses(fail_on: FailOn, statuses: set[Status]) -> None:
    assert fail_on.fail_statuses == frozenset(statuses)


@pytest.mark.parametrize(
    "statuses, fail_on, complete, waived, code",
    [
        ((Status.NOT_COVERED, Status.UNKNOWN), FailOn.LIKELY, True, (), 0),
        ((), FailOn.LIKELY, True, (), 0),
        ((Status.NOT_COVERED, Status.COVERED), FailOn.LIKELY, True, (), 1),
        ((Status.LIKELY,), FailOn.LIKELY, True, (), 1),
        ((Status.LIKELY,), FailOn.COVERED, True, (), 0),
        ((Status.SUSPECTED,), FailOn.LIKELY, True, (), 0),
        ((Status.SUSPECTED,), FailOn.SUSPECTED, True, (), 1),
        ((Status.COVERED,), FailOn.NEVER, True, (), 0),
        # incomplete: what was found stands; nothing found cannot be called clean
        ((Status.COVERED,), FailOn.LIKELY, False, (), 1),
        ((Status.NOT_COVERED,), FailOn.LIKELY, False, (), 3),
        ((), FailOn.NEVER, False, (), 3),
        # waived devices never fail
        ((Status.COVERED,), FailOn.LIKELY, True, (0,), 0),
        ((Status.COVERED, Status.LIKELY), FailOn.LIKELY, True, (0,), 1),
        ((Status.COVERED,), FailOn.LIKELY, False, (0,), 3),
    ],
)
def test_exit_code(
    statuses: tuple[Status, ...], fail_on: FailOn, complete: bool, waived: tuple[int, ...], code: int
) -> None:
    assert exit_code(report(*statuses, complete=complete, waived=waived), fail_on) == code


def test_failing_devices_strongest_first_and_unwaived() -> None:
    r = report(Status.LIKELY, Status.NOT_COVERED, Status.COVERED, Status.COVERED, waived=(3,))
    assert [d.ip for d in failing_devices(r)] == ["10.0.0.3", "10.0.0.1"]


def test_expired_waiver_fails_again() -> None:
    r = report(Status.COVERED)
    waiver = Waiver(reason="isolated", approved_by="ISSO", expires=date(2026, 6, 30), mac="02:00:00:00:00:01")
    assert exit_code(apply_waivers(r, [waiver], today=date(2026, 6, 30))) == 0
    assert exit_code(apply_waivers(r, [waiver], today=date(2026, 7, 1))) == 1


# -- the examples ------------------------------------------------------------------------------

SHELL_OPERATORS = ("||", "&&", "|", ";", "2>&1")


def ndaa_commands(text: str) -> list[list[str]]:
    """Every ``ndaa-scan COMMAND …`` in shell-like text (unit files, cron lines, CI scripts), as argv."""
    found = []
    for line in text.replace("\\\n", " ").splitlines():
        line = re.sub(r"^\s*ExecStart=", "", line)
        if line.lstrip().startswith("#"):
            continue
        tokens = shlex.split(line)
        for i, token in enumerate(tokens[:-1]):
            if token.rsplit("/", 1)[-1] == "ndaa-scan":
                args = list(
                    itertools.takewhile(
                        lambda t: t not in SHELL_OPERATORS and not t.startswith(">"), tokens[i + 1 :]
                    )
                )
                found.append(args)
    return found


def example_commands() -> dict[str, list[list[str]]]:
    commands = {name: ndaa_commands((CI / name).read_text()) for name in ("ndaa-scan.service", "crontab")}
    if importlib.util.find_spec("yaml") is not None:
        import yaml

        for name in ("github-actions.yml", "gitlab-ci.yml"):
            commands[name] = ndaa_commands("\n".join(strings_in(yaml.safe_load((CI / name).read_text()))))
    return commands


def test_every_example_scan_parses_with_the_real_cli() -> None:
    """Each example's command line goes through the CLI's own option parser (nothing runs)."""
    import typer

    from scanner.cli import app
    from scanner.report import parse_spec

    cli = typer.main.get_command(app)
    commands = example_commands()
    assert {"ndaa-scan.service", "crontab"} <= set(commands)
    for name, argvs in commands.items():
        scans = [a for a in argvs if a[0] == "scan"]
        assert len(scans) == 1, (name, argvs)
        for argv in argvs:
            ctx = cli.commands[argv[0]].make_context(argv[0], argv[1:])  # type: ignore[attr-defined]
            if argv[0] != "scan":
                continue
            params = ctx.params
            assert parse_fail_on(params["fail_on"]) is FailOn.LIKELY, name
            assert params["waivers"] is not None, name
            assert params["targets"] and params["interface"], name
            assert {parse_spec(o).fmt for o in params["output"]} == {"sarif", "junit"}, name


def test_yaml_examples_parse() -> None:
    yaml = pytest.importorskip("yaml")
    github = yaml.safe_load((CI / "github-actions.yml").read_text())
    triggers = github.get("on", github.get(True))  # YAML 1.1 reads the key `on` as true
    assert "schedule" in triggers and "pull_request" not in triggers
    assert "self-hosted" in github["jobs"]["scan"]["runs-on"]
    gitlab = yaml.safe_load((CI / "gitlab-ci.yml").read_text())
    job = gitlab["ndaa-scan"]
    assert job["artifacts"]["reports"]["junit"] == "ndaa-scan.junit.xml"
    assert "ndaa-scan.sarif" in job["artifacts"]["paths"]


def test_crontab_line_is_weekly() -> None:
    jobs = [
        line
        for line in (CI / "crontab").read_text().splitlines()
        if line.strip() and not line.startswith("#") and not re.match(r"^[A-Z_]+=", line)
    ]
    assert len(jobs) == 1
    minute, hour, dom, month, dow, user, *_command = jobs[0].split()
    assert (dom, month, user) == ("*", "*", "root")
    assert 0 <= int(minute) < 60 and 0 <= int(hour) < 24 and 0 <= int(dow) <= 7


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_units_verify(tmp_path: Path) -> None:
    # verify checks that ExecStart exists: point it at a stub in tmp_path, change nothing else
    stub = tmp_path / "ndaa-scan"
    stub.write_text("#!/bin/sh\n")
    stub.chmod(0o755)
    service = (CI / "ndaa-scan.service").read_text()
    assert "ExecStart=/usr/local/bin/ndaa-scan " in service
    (tmp_path / "ndaa-scan.service").write_text(service.replace("/usr/local/bin/ndaa-scan", str(stub)))
    shutil.copy(CI / "ndaa-scan.timer", tmp_path / "ndaa-scan.timer")
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", "./ndaa-scan.timer", "./ndaa-scan.service"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    # verify exits 0 even for "Failed to parse …, ignoring" warnings: any output is a failure
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_timer_calendar_is_weekly() -> None:
    spec = re.search(r"^OnCalendar=(.+)$", (CI / "ndaa-scan.timer").read_text(), re.M)
    assert spec
    done = subprocess.run(
        ["systemd-analyze", "calendar", "--iterations=3", spec.group(1)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    elapses = re.findall(r"(?:Next elapse|Iter\. #\d):\s+\w+ (\d{4}-\d\d-\d\d)", done.stdout)
    days = [date.fromisoformat(d) for d in elapses]
    assert len(days) == 3 and all((b - a).days == 7 for a, b in zip(days, days[1:], strict=False))
