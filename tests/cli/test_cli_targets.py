"""`scan`'s target options: -iL FILE ('-': stdin), --exclude, --exclude-file, host names and IPv6. Every
problem is one stderr line and exit 2 before anything is scanned; a good list becomes the ScanRequest
(IPv4 targets for the IPv4 probes, IPv6 in the scope, the names given kept for the report).

Nothing here sends a packet: usage errors stop before the scan, the scan itself is replaced where a
test reaches it, and names are resolved by a resolver of the test's own (or are .invalid names, which
the system resolver refuses without asking anyone, RFC 6761 §6.4)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import Any

import pytest
from clirun import assert_usage_error, run_cli

from scanner.cli import app
from scanner.cli.common import run_app
from scanner.cli.scan_cmd import build_request
from scanner.scan import scope_of
from scanner.targets import Address


@pytest.fixture
def names(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Address]]:
    """The system resolver replaced by this table (a name not in it does not resolve)."""
    table: dict[str, list[Address]] = {}

    def resolve(name: str) -> Sequence[Address]:
        if name not in table:
            raise OSError(-2, "Name or service not known")
        return table[name]

    monkeypatch.setattr("scanner.targets.system_resolve", resolve)
    return table


def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """Exit code and the one stderr line (asserted: one line, no traceback, nothing on stdout)."""
    monkeypatch.setattr(sys, "argv", ["ndaa-scan", "scan", "--no-history", *argv])
    code = run_app(app)
    out = capsys.readouterr()
    lines = [line for line in out.err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in out.err, out.err
    assert out.out == ""
    return code, lines[0]


@pytest.mark.parametrize("option", ["-iL", "--targets-file", "--exclude-file", "--excludefile"])
def test_a_missing_or_directory_list_is_one_line_exit_2(
    option: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_scan: list[Any],
) -> None:
    shown = "-iL" if option in ("-iL", "--targets-file") else "--exclude-file"
    extra = ["10.0.0.1"] if shown == "--exclude-file" else []
    missing = tmp_path / "nope.txt"
    code, line = cli(monkeypatch, capsys, option, str(missing), *extra)
    assert (code, no_scan) == (2, [])
    assert line == f"ndaa-scan: error: {shown} {missing}: no such file"
    code, line = cli(monkeypatch, capsys, option, str(tmp_path), *extra)
    assert (code, no_scan) == (2, [])
    assert line == f"ndaa-scan: error: {shown} {tmp_path}: is a directory, not a list of targets"


def test_a_bad_entry_in_a_list_names_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], no_scan: list[Any]
) -> None:
    f = tmp_path / "targets.txt"
    f.write_text("# site A\n10.0.0.1, 10.0.0.2\n2001:db8::1-40\n")
    code, line = cli(monkeypatch, capsys, "-iL", str(f))
    assert (code, no_scan) == (2, [])
    assert line.startswith(f"ndaa-scan: error: {f}:3: '2001:db8::1-40': IPv6 ranges are not supported")


def test_a_zone_that_names_no_interface_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], no_scan: list[Any]
) -> None:
    code, line = cli(monkeypatch, capsys, "fe80::/64%nosuchif0")
    assert (code, no_scan) == (2, [])
    assert "no interface named 'nosuchif0'" in line


def test_a_name_that_does_not_resolve_stops_before_the_scan(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_scan: list[Any],
    names: dict[str, list[Address]],
) -> None:
    names["cam1.lab.test"] = [IPv4Address("10.0.0.5")]
    code, line = cli(monkeypatch, capsys, "cam1.lab.test", "nvr9.lab.test")
    assert (code, no_scan) == (2, [])
    assert line == "ndaa-scan: error: nvr9.lab.test: the name does not resolve (Name or service not known)"


def test_stdin_list_errors_exit_2_in_one_line_from_the_real_command(tmp_path: Path) -> None:
    line = assert_usage_error(
        run_cli("scan", "--no-history", "-iL", "-", stdin=b"10.0.0.1\n10.0.0.2 10.0.0.999\n"), "<stdin>:2"
    )
    assert "'10.0.0.999' is not a target" in line
    excl = tmp_path / "excl.txt"
    excl.write_text("10.0.0.7\n# retired\ncam9.invalid\n")
    line = assert_usage_error(run_cli("scan", "--no-history", "--exclude-file", str(excl), "10.0.0.0/29"))
    assert line.startswith(f"ndaa-scan: error: {excl}:3: cam9.invalid: the name does not resolve")


def test_help_teaches_the_target_forms() -> None:
    proc = run_cli("scan", "--help")
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    for needle in (
        "-iL",
        "--exclude-file",
        "ndaa-scan scan -iL cameras.txt --exclude-file do-not-touch.txt",
        "ndaa-scan scan -iL -",
        "nvr1.example.net",
        "fe80::/64%eth0",
        "2001:db8::5",
        "# starts a comment",
        "never swept",
    ):
        assert needle in text, needle


def test_lists_and_names_become_the_request_and_its_scope(
    tmp_path: Path, names: dict[str, list[Address]]
) -> None:
    names["cam1.lab.test"] = [IPv4Address("10.0.0.5"), IPv6Address("2001:db8::5")]
    names["gw.lab.test"] = [IPv4Address("10.0.0.1")]
    targets = tmp_path / "targets.txt"
    targets.write_text("cam1.lab.test\n10.0.0.0/29 # the NVR subnet\n2001:db8::/126\n")
    excl = tmp_path / "excl.txt"
    excl.write_text("gw.lab.test\n2001:db8::2\n")
    request = build_request(
        ["10.0.1.9"],
        interface=None,
        exclude=["10.0.0.6"],
        target_files=[str(targets)],
        exclude_files=[str(excl)],
        probes="arp",
    )
    assert [str(t) for t in request.targets] == ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.1.9"]
    assert list(request.target_texts) == ["10.0.1.9", "10.0.0.5", "10.0.0.0/29", "2001:db8::/126"]
    assert list(request.exclude_texts) == ["10.0.0.6", "10.0.0.1", "2001:db8::2"]
    assert dict(request.hostnames) == {"10.0.0.5": "cam1.lab.test"}  # an excluded name is no device
    assert sorted(map(str, request.ipv6.hosts)) == ["2001:db8::1", "2001:db8::3"]
    assert any("cam1.lab.test resolved to 10.0.0.5" in n and "2001:db8::5" in n for n in request.notes)
    scope = scope_of(request)
    assert scope.place(["2001:db8::3"]) == ("device", "2001:db8::3")
    assert scope.place(["2001:db8::2"]) == ("heard", None)
    assert scope.place(["10.0.0.1"]) == ("heard", None)
    assert scope.name_of("10.0.0.5") == "cam1.lab.test"
