"""The user's own fingerprints: a directory loaded after the shipped data, in the same format, self-tested,
marked "local" in evidence; ``fingerprints suggest`` drafts entries from a device that came out unknown."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from clirun import assert_usage_error, run_cli

from scanner.datafiles import LOCAL_FINGERPRINTS_ENV
from scanner.identify.fingerprints import load_database
from scanner.identify.suggest import PLACEHOLDER_VENDOR, draft
from scanner.observations import Observation
from tests.paths import REPO

# A camera whose web server string no shipped fingerprint knows (made up for the test: it must stay unknown).
SERVER = "AcmeCam-httpd/2.1 (build 7)"
OBS = [
    {"ip": "10.3.0.9", "signal": "http.server", "value": SERVER, "probe": "http", "port": 80},
    {"ip": "10.3.0.9", "signal": "http.title", "value": "AcmeCam Live View", "probe": "http", "port": 80},
]


def _observations(tmp_path: Path) -> Path:
    path = tmp_path / "obs.jsonl"
    path.write_text("".join(json.dumps(o) + "\n" for o in OBS), encoding="utf-8")
    return path


def _cli(tmp_path: Path, *args: str, local: Path | None = None):
    return run_cli(*args, cwd=REPO, env={LOCAL_FINGERPRINTS_ENV: str(local or tmp_path / "none")})


def test_suggest_drafts_a_file_that_becomes_a_working_local_fingerprint(tmp_path: Path) -> None:
    obs = _observations(tmp_path)
    before = _cli(tmp_path, "identify", str(obs), "-f", "json")
    assert json.loads(before.stdout)["devices"][0]["verdict"]["status"] == "unknown"

    drafted = _cli(tmp_path, "fingerprints", "suggest", str(obs), "--vendor", "Hikvision")
    assert drafted.returncode == 0, drafted.stderr
    sections = drafted.stdout.split("# --- ")[1:]
    assert [s.split(":")[0] for s in sections] == ["http.server", "http.title"]
    local = tmp_path / "local"
    local.mkdir()
    (local / "acme.toml").write_text("# --- " + sections[0], encoding="utf-8")
    data = tomllib.loads((local / "acme.toml").read_text(encoding="utf-8"))
    assert data["fingerprint"][0]["examples"] == [SERVER]  # the device's real string is the example

    test = _cli(tmp_path, "fingerprints", "test", local=local)
    assert test.returncode == 0 and test.stdout.endswith("0 failures\n"), test.stdout
    after = _cli(tmp_path, "identify", str(obs), "-f", "json", local=local)
    verdict = json.loads(after.stdout)["devices"][0]["verdict"]
    assert (verdict["status"], verdict["covered_entity"]) == ("likely", "Hikvision")  # 0.8 alone: likely
    (evidence,) = [e for e in verdict["evidence"] if e["signal"] == "http.server"]
    assert evidence["matched"].startswith("local.acme:") and "local fingerprint" in evidence["note"]


def test_a_broken_local_file_fails_the_self_test_with_its_name(tmp_path: Path) -> None:
    local = tmp_path / "local"
    local.mkdir()
    text = draft(
        [Observation(signal="http.server", value=SERVER, probe="http", ip="10.3.0.9")],
        load_database(),
        vendor=None,
        where="10.3.0.9",
    )
    (local / "draft.toml").write_text(text, encoding="utf-8")  # still carries the vendor placeholder
    test = _cli(tmp_path, "fingerprints", "test", local=local)
    assert test.returncode != 0
    assert "draft.toml" in test.stdout + test.stderr and PLACEHOLDER_VENDOR in test.stdout + test.stderr


def test_a_local_id_may_not_shadow_a_shipped_one(tmp_path: Path) -> None:
    local = tmp_path / "local"
    local.mkdir()
    (local / "x.toml").write_text(
        'matches = ["http.server"]\ndescription = "x"\n[[fingerprint]]\nid = "hikvision-webs"\n'
        'pattern = \'^Nope$\'\ndescription = "x"\nvendor = "Axis"\nsource = "test"\nexamples = ["Nope"]\n',
        encoding="utf-8",
    )
    test = _cli(tmp_path, "fingerprints", "test", local=local)
    assert test.returncode != 0 and "duplicate id" in test.stdout


def test_draft_escapes_what_it_quotes() -> None:
    value = 'Server "x"\\y\x1b[31m'
    text = draft(
        [Observation(signal="http.server", value=value, probe="http", ip="10.3.0.9")],
        load_database(),
        vendor="Axis",
        where="10.3.0.9",
    )
    entry = tomllib.loads(text)["fingerprint"][0]
    assert entry["examples"] == [value]
    import re

    assert re.search(entry["pattern"], value)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("fingerprints", "suggest", "/nonexistent/scan.json"), "/nonexistent/scan.json"),
        (("fingerprints", "suggest", "-", "--vendor", "Hikvsion"), "--vendor"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: tuple[str, ...], needle: str) -> None:
    assert_usage_error(_cli(tmp_path, *args), needle)
