"""`identify FILE` and `import nmap-xml FILE` on inputs that are not what they claim: exit 2, one line.

Before: a missing file printed a traceback (exit 1) and random bytes exited 0 with no devices, so a CI job
fed a broken file went green.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from clirun import assert_usage_error, run_cli
from paths import DATA_DIR

NMAP = DATA_DIR / "nmap" / "hikvision_lan.xml"
JSONL = DATA_DIR / "observations" / "malformed.jsonl"


def _inputs(tmp: Path) -> dict[str, Path]:
    (tmp / "a-directory").mkdir()
    (tmp / "random.bin").write_bytes(os.urandom(4096))
    (tmp / "empty").write_bytes(b"")
    (tmp / "comments.jsonl").write_text("# only a comment\n\n   \n")
    (tmp / "no-valid-record.jsonl").write_text('{"signal": "http.server"}\n[1, 2]\n"text"\n{"ip": "x"}\n')
    cut = NMAP.read_bytes()
    (tmp / "cut-before-host.xml").write_bytes(cut[: cut.index(b"<host")])
    (tmp / "not-xml.json").write_text('{"devices": []}\n')
    return {p.name: p for p in tmp.iterdir()} | {"missing": tmp / "missing.jsonl"}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _inputs(tmp_path_factory.mktemp("bad"))


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("missing", "cannot read: No such file"),
        ("a-directory", "cannot read"),
        ("random.bin", "not JSON Lines observations"),
        ("empty", "not JSON Lines observations (empty)"),
        ("comments.jsonl", "not JSON Lines observations"),
        ("no-valid-record.jsonl", "none a valid observation"),
        ("cut-before-host.xml", "not JSON Lines observations"),
    ],
)
def test_identify_rejects_bad_input(inputs: dict[str, Path], name: str, needle: str) -> None:
    assert_usage_error(run_cli("identify", str(inputs[name])), str(inputs[name]), needle)


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("missing", "cannot read: No such file"),
        ("a-directory", "cannot read"),
        ("random.bin", "not nmap XML"),
        ("empty", "not nmap XML"),
        ("not-xml.json", "not nmap XML"),
        ("cut-before-host.xml", "nmap XML cut short"),
    ],
)
def test_import_nmap_xml_rejects_bad_input(inputs: dict[str, Path], name: str, needle: str) -> None:
    assert_usage_error(run_cli("import", "nmap-xml", str(inputs[name])), needle)


def test_random_bytes_on_standard_input_are_an_error() -> None:
    proc = run_cli("identify", "-", stdin=bytes(range(256)) * 8)
    assert_usage_error(proc, "standard input: not JSON Lines observations")


def test_good_lines_after_bad_ones_still_report_the_bad_ones(tmp_path: Path) -> None:
    """Held-back problems are reported once the input proves to be JSON Lines; the run succeeds."""
    proc = run_cli("identify", str(JSONL), "-f", "json")
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"{JSONL}:2: not JSON" in proc.stderr and "input problem(s)" in proc.stderr


def test_a_well_formed_nmap_file_with_no_host_up_is_not_an_error(tmp_path: Path) -> None:
    empty_scan = tmp_path / "nobody.xml"
    empty_scan.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE nmaprun>\n<nmaprun scanner="nmap" start="1700000000">'
        '<runstats><finished time="1700000005"/><hosts up="0" down="256" total="256"/></runstats></nmaprun>\n'
    )
    proc = run_cli("import", "nmap-xml", str(empty_scan), "-f", "json")
    assert proc.returncode == 0, proc.stderr
    assert '"devices": []' in proc.stdout
