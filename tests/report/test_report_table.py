"""The terminal table, rendered with rich to a plain string."""

from __future__ import annotations

import io
import re

import pytest
from report_fixtures import large_report, sample_report

from scanner.report import render, write_outputs

_ANSI = re.compile("\x1b\\[[0-9;]*m")


def _device_heads(text: str) -> list[str]:
    return [
        line
        for line in text.splitlines()
        if re.match(r"^(COVERED|LIKELY|SUSPECTED|NOT COVERED|UNKNOWN)", line)
    ]


def test_with_evidence_covered_first_each_with_its_evidence() -> None:
    text = render(sample_report(), "table", evidence=True)
    heads = _device_heads(text)
    assert [h.split("  ")[0].strip() for h in heads] == [
        "COVERED",
        "COVERED",
        "LIKELY COVERED",
        "LIKELY COVERED",
        "SUSPECTED",
        "NOT COVERED",
        "UNKNOWN",
    ]
    assert "192.168.1.64" in heads[0] and "entity Hikvision" in heads[0]
    block = text.split(heads[0])[1].split(heads[1])[0]
    assert '[+] sadp sadp.DeviceDescription:37020 = "DS-2CD2385G1-I" -> Hikvision (0.95)' in block
    assert "[+] arp mac" in block and "[+] http http.server:80" in block
    assert "WAIVED" in heads[1] and "waiver: Isolated lab VLAN 30" in text
    assert "INCOMPLETE SCAN" in text and "OUI registry 2024-05-01" in text


def test_plain_is_stable_whatever_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = render(sample_report(), "table")
    for var, value in (
        ("FORCE_COLOR", "1"),
        ("COLUMNS", "40"),
        ("TERM", "xterm-256color"),
        ("TTY_COMPATIBLE", "1"),
    ):
        monkeypatch.setenv(var, value)
    assert render(sample_report(), "table") == plain
    assert "\x1b" not in plain and not any(line.endswith(" ") for line in plain.splitlines())
    assert max(len(line) for line in plain.splitlines()) <= 120


def test_device_text_cannot_drive_the_terminal() -> None:
    report = sample_report()
    report.devices[3].hostnames.append("\x1b[2J\x1b]0;owned\x07\u202eevil")  # clear screen, set title, bidi
    text = render(report, "table", color=True, evidence=True)  # host names are listed with the evidence
    raw = _ANSI.sub("", text)
    assert "\x1b" not in raw and "\u202e" not in raw  # the banner's ESC[2J and bidi override are escaped
    assert "\\x1b[2J\\x1b]0;owned\\x07\\u202eevil" in raw
    assert "<script>alert(1)</script>" in raw  # shown as text


def test_colour_only_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert _ANSI.search(render(sample_report(), "table", color=True))
    assert not _ANSI.search(render(sample_report(), "table"))


class _FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_write_outputs_colours_a_tty_unless_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    tty = _FakeTTY()
    write_outputs(sample_report(), ["table"], stdout=tty)
    assert _ANSI.search(tty.getvalue())
    monkeypatch.setenv("NO_COLOR", "1")
    tty = _FakeTTY()
    write_outputs(sample_report(), ["table"], stdout=tty)
    assert not _ANSI.search(tty.getvalue())


def test_compact_is_one_line_per_device_and_a_short_summary() -> None:
    """The default view of a 60-device scan: every device on one line of at most 120 characters, covered
    first, then a summary by status and by entity; the full evidence only with --evidence."""
    report = large_report(60)
    text = render(report, "table")
    lines = text.splitlines()
    heads = _device_heads(text)
    assert len(heads) == 60 and {d.ip for d in report.devices} == {
        h.split()[2 if h.startswith(("LIKELY", "NOT")) else 1] for h in heads
    }
    assert len(lines) <= 60 + 12  # the heading (scan facts, notes) and the summary are short
    assert max(len(line) for line in lines) <= 120
    statuses = [h[:15].strip() for h in heads]
    assert statuses == sorted(
        statuses, key=["COVERED", "LIKELY COVERED", "SUSPECTED", "NOT COVERED", "UNKNOWN"].index
    )
    summary = "\n".join(lines[-3:])
    counts = report.counts()
    assert f"60 device(s): {counts['covered']} covered, {counts['likely']} likely covered" in summary
    assert "By entity: Hikvision" in summary and "Dahua" in summary and "Huawei" in summary
    assert "[+]" not in text and "sadp:" not in text  # no raw evidence lines, no fingerprint ids


def test_compact_evidence_is_in_plain_words() -> None:
    text = render(sample_report(), "table", width=200)
    hik = next(line for line in text.splitlines() if "192.168.1.64" in line)
    assert 'answered Hikvision SADP discovery as "DS-2CD2385G1-I"' in hik
    ezviz = next(line for line in text.splitlines() if "192.168.1.71" in line)
    assert "its MAC 64:f2:fb is registered to Hangzhou Ezviz Software" in ezviz and "[Hikvision]" in ezviz
