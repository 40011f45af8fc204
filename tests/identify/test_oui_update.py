"""`ndaa-scan fingerprints update|status`: refusing a truncated download, the user's data directory,
``--from a b c``, and bad input as one line with exit 2."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import pytest
from clirun import run_cli
from paths import DATA_DIR

from scanner.errors import UpdateRefused
from scanner.identify.oui import read_registry, shipped_registry_path
from scanner.identify.oui_update import IEEE_HEADER, tracked_prefixes, update_registry

IEEE = DATA_DIR / "ieee"


@pytest.fixture(scope="module")
def full_oui_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every MA-L block of the shipped registry written as the IEEE's oui.csv."""
    path = tmp_path_factory.mktemp("ieee") / "oui.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(IEEE_HEADER)
        for m in read_registry(shipped_registry_path()):
            if m.registry == "MA-L":
                out.writerow([m.registry, m.prefix.replace(":", ""), m.organization, "Somewhere CN"])
    return path


def _dest(tmp_path: Path) -> Path:
    """A copy of the shipped registry to update."""
    dest = tmp_path / "registry.tsv.gz"
    dest.write_bytes(shipped_registry_path().read_bytes())
    return dest


def test_a_complete_download_is_accepted(tmp_path: Path, full_oui_csv: Path) -> None:
    dest = _dest(tmp_path)
    summary = update_registry([full_oui_csv], dest=dest)
    assert summary.losses == () and not summary.forced
    assert summary.total == summary.previous_total
    assert all(not c.removed for c in summary.changes)


def test_a_truncated_download_is_refused_naming_what_would_be_lost(
    tmp_path: Path, full_oui_csv: Path
) -> None:
    dest = _dest(tmp_path)
    before = dest.read_bytes()
    lines = full_oui_csv.read_text(encoding="utf-8").splitlines(keepends=True)
    truncated = tmp_path / "oui.csv"
    truncated.write_text("".join(lines[: len(lines) // 3]), encoding="utf-8")  # a download cut short
    shipped = tracked_prefixes(read_registry(dest))
    kept = {row.split(",")[1] for row in lines[1 : len(lines) // 3]}
    lost_zte = {p for p in shipped["ZTE"] if len(p) == 8 and p.replace(":", "") not in kept}
    assert lost_zte  # the shipped registry has ZTE blocks past the first third of the file

    with pytest.raises(UpdateRefused) as info:
        update_registry([truncated], dest=dest)
    message = str(info.value)
    assert f"ZTE: {len(lost_zte)} blocks removed" in message
    assert "Dahua: " in message and "MA-L: " in message and "--force" in message
    assert dest.read_bytes() == before  # nothing written

    forced = update_registry([truncated], dest=dest, force=True)
    assert forced.forced and any(loss.startswith("ZTE: ") for loss in forced.losses)
    assert "written despite (--force): ZTE" in forced.render()
    assert dest.read_bytes() != before


def test_losing_only_covered_entity_blocks_is_refused(tmp_path: Path, full_oui_csv: Path) -> None:
    dest = _dest(tmp_path)
    dahua = {p.replace(":", "") for p in tracked_prefixes(read_registry(dest))["Dahua"]}
    without = tmp_path / "oui.csv"
    with full_oui_csv.open(encoding="utf-8") as src, without.open("w", encoding="utf-8") as out:
        out.writelines(line for line in src if line.split(",")[1] not in dahua)
    with pytest.raises(UpdateRefused) as info:
        update_registry([without], dest=dest)
    assert "Dahua: " in str(info.value) and "MA-L: " not in str(info.value)  # most blocks are still there


def test_an_update_repairs_a_broken_updated_registry(tmp_path: Path, full_oui_csv: Path) -> None:
    dest = tmp_path / "registry.tsv.gz"
    dest.write_bytes(b"\x1f\x8b not a registry")
    summary = update_registry([full_oui_csv], dest=dest)
    assert summary.previous_total == len(read_registry(shipped_registry_path())) == summary.total
    assert len(read_registry(dest)) == summary.total


# ---- the command line ----------------------------------------------------------------------------


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("fingerprints", *args, cwd=tmp_path, env={"NDAA_SCAN_DATA_DIR": str(tmp_path / "data")})


@pytest.mark.parametrize(
    "args",
    [
        ["--from", str(IEEE / "oui.csv"), str(IEEE / "mam.csv"), str(IEEE / "iab.csv")],  # as the README
        ["--from", str(IEEE / "oui.csv"), "--from", str(IEEE / "mam.csv"), "--from", str(IEEE / "iab.csv")],
    ],
)
def test_update_from_several_files_then_status(tmp_path: Path, args: list[str]) -> None:
    proc = _run(tmp_path, "update", *args, "--force")
    assert proc.returncode == 0, proc.stderr
    target = tmp_path / "data" / "oui" / "registry.tsv.gz"
    assert f"OUI registry written to {target}" in proc.stdout
    sources = [line for line in proc.stdout.splitlines() if line.startswith("  source: ")]
    for name in ("oui.csv", "mam.csv", "iab.csv"):
        assert sum(f" CSV {name} (" in line for line in sources) == 1, sources
    counts = read_registry(target).counts()
    assert (counts["MA-M"], counts["IAB"]) == (3, 2)

    status = _run(tmp_path, "status")
    assert status.returncode == 0, status.stderr
    assert f"OUI registry in use: {target} (updated" in status.stdout
    assert f"MA-M 3, MA-S {counts['MA-S']}, IAB 2)" in status.stdout
    assert f"shipped copy: {shipped_registry_path()}" in status.stdout


def test_status_of_the_shipped_registry(tmp_path: Path) -> None:
    proc = _run(tmp_path, "status")
    shipped = read_registry(shipped_registry_path())
    assert proc.returncode == 0, proc.stderr
    assert f"OUI registry in use: {shipped_registry_path()} (shipped)" in proc.stdout
    assert f"date {shipped.date}: {len(shipped)} blocks (MA-L {shipped.counts()['MA-L']}," in proc.stdout
    assert f"updates go to {tmp_path / 'data' / 'oui' / 'registry.tsv.gz'}" in proc.stdout


def test_a_refused_update_exits_2_and_lists_the_losses(tmp_path: Path) -> None:
    proc = _run(tmp_path, "update", "--from", str(IEEE / "oui.csv"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "refusing to replace the OUI registry" in proc.stderr and "ZTE: " in proc.stderr
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda d: d / "missing.csv", "No such file or directory"),
        (lambda d: d, "Is a directory"),
        (lambda d: _write(d / "notes.csv", "just some text\n"), "not an IEEE registry CSV"),
        (lambda d: _write(d / "nul.csv", ",".join(IEEE_HEADER) + "\nMA-L,\0\0,x\n"), "not a"),
        (lambda d: _write(d / "big-field.csv", ",".join(IEEE_HEADER) + '\nMA-L,"' + "x" * 200_000), "IEEE"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, make, needle: str) -> None:  # type: ignore[no-untyped-def]
    path = make(tmp_path)
    proc = _run(tmp_path, "update", "--from", str(path))
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and str(path) in lines[0] and needle in lines[0], proc.stderr
    assert proc.stdout == ""


def test_an_unwritable_destination_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    dest = tmp_path / "a-file" / "registry.tsv.gz"
    proc = _run(tmp_path, "update", "--from", str(IEEE / "oui.csv"), "--force", "--dest", str(dest))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert f"{dest}: cannot write the OUI registry" in proc.stderr


def test_no_files_is_one_line_and_exit_2(tmp_path: Path) -> None:
    proc = _run(tmp_path, "update")
    assert (
        proc.returncode == 2 and "no IEEE CSV files given" in proc.stderr and "Traceback" not in proc.stderr
    )


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
