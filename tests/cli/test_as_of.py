"""``--as-of DATE``: verdicts judged by the lists and ownerships in force that day, recorded in the report."""

from __future__ import annotations

import json
from pathlib import Path

from clirun import assert_usage_error, cli

HIKVISION_CAMERA = [
    {
        "ip": "10.1.0.5",
        "mac": "58:50:ed:1f:e3:85",
        "signal": "mac",
        "value": "58:50:ed:1f:e3:85",
        "probe": "arp",
    },
    {"ip": "10.1.0.5", "signal": "sadp.reply", "value": "DS-2CD2385G1-I", "probe": "sadp"},
]
DJI_DOCK = [{"ip": "10.1.0.6", "mac": "34:d2:62:10:20:30", "signal": "mac", "value": "34:d2:62:10:20:30"}]


def _file(tmp_path: Path) -> Path:
    path = tmp_path / "obs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in HIKVISION_CAMERA + DJI_DOCK), encoding="utf-8")
    return path


def _verdicts(stdout: str) -> dict[str, dict[str, object]]:
    return {d["ip"]: d["verdict"] for d in json.loads(stdout)["devices"]}


def test_today_and_before_section_889_took_effect(tmp_path: Path) -> None:
    path = _file(tmp_path)
    now = cli("identify", str(path), "-f", "json")
    assert now.returncode == 1  # a covered camera
    report = json.loads(now.stdout)
    assert report["as_of"] is None and len(report["data_version"]) == 16
    verdicts = _verdicts(now.stdout)
    assert (verdicts["10.1.0.5"]["status"], verdicts["10.1.0.5"]["lists"]) == (
        "covered",
        ["far_889", "fcc_covered"],
    )
    assert (verdicts["10.1.0.6"]["status"], verdicts["10.1.0.6"]["lists"]) == ("not-covered", ["fcc_covered"])

    then = cli("identify", str(path), "-f", "json", "--as-of", "2019-06-30")
    assert then.returncode == 0  # nothing was covered on that day
    assert json.loads(then.stdout)["as_of"] == "2019-06-30"
    verdicts = _verdicts(then.stdout)
    assert (verdicts["10.1.0.5"]["status"], verdicts["10.1.0.5"]["lists"]) == ("not-covered", [])
    assert verdicts["10.1.0.6"]["lists"] == []


def test_a_bad_date_is_one_line_and_exit_2(tmp_path: Path) -> None:
    assert_usage_error(
        cli("identify", str(_file(tmp_path)), "--as-of", "30/06/2019"), "--as-of", "YYYY-MM-DD"
    )
    assert_usage_error(cli("scan", "10.255.255.1", "--as-of", "yesterday", "--no-history"), "--as-of")


def test_an_ownership_change_follows_the_date(tmp_path: Path) -> None:
    """Honor's OUI: Huawei's until the sale of 2020-11-17 (while §889 was in force), nobody covered's after."""
    path = tmp_path / "honor.jsonl"
    path.write_text(
        json.dumps(
            {"ip": "10.1.0.7", "mac": "00:a3:07:11:22:33", "signal": "mac", "value": "00:a3:07:11:22:33"}
        )
        + "\n"
    )
    before = cli("identify", str(path), "-f", "json", "--as-of", "2020-06-01")
    after = cli("identify", str(path), "-f", "json", "--as-of", "2021-01-01")
    assert (before.returncode, _verdicts(before.stdout)["10.1.0.7"]["status"]) == (1, "likely")
    assert (after.returncode, _verdicts(after.stdout)["10.1.0.7"]["status"]) == (0, "not-covered")
