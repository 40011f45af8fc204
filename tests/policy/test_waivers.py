"""Waiver files: loading, line-accurate errors, matching, expiry."""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paths import REPO

from scanner.errors import UsageError
from scanner.identify.models import Status, Verdict
from scanner.policy.waivers import MAX_FILE_BYTES, Waiver, apply_waivers, load_waivers
from scanner.results import DeviceReport, ScanReport

EXAMPLE = REPO / "examples" / "waivers.toml"


def waiver_table(
    identifier: str = 'mac = "58:50:ed:1f:e3:85"',
    *,
    reason: str = 'reason = "lab"',
    approver: str = 'approved_by = "ISSO"',
    expires: str = "expires = 2026-06-30",
) -> str:
    """One [[waiver]] table, line by line (an empty line is left out): what the malformed-file cases change."""
    return "\n".join(line for line in ("[[waiver]]", identifier, reason, approver, expires) if line) + "\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "waivers.toml"
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def device(
    ip: str = "10.0.0.5",
    mac: str | None = "58:50:ed:1f:e3:85",
    serial: str | None = None,
    status: Status = Status.COVERED,
) -> DeviceReport:
    return DeviceReport(ip=ip, mac=mac, verdict=Verdict(status=status, serial=serial, vendor="Hikvision"))


def scan(*devices: DeviceReport) -> ScanReport:
    return ScanReport(tool_version="test", devices=list(devices))


def waiver(**identifiers: str) -> Waiver:
    return Waiver(reason="Isolated VLAN", approved_by="J. Smith", expires=date(2026, 6, 30), **identifiers)


# -- loading -------------------------------------------------------------------------------------


def test_example_file_loads() -> None:
    waivers = load_waivers(EXAMPLE)
    assert len(waivers) == 3
    first = waivers[0]
    assert (first.mac, first.ticket, first.approved_by) == (
        "58:50:ed:1f:e3:85",
        "SEC-1432",
        "J. Smith (ISSO)",
    )
    assert first.expires == date(2027, 3, 31)
    assert waivers[1].serial and waivers[1].mac is None
    assert (waivers[2].mac, waivers[2].ip) == ("00:e0:fc:00:12:34", "10.20.30.41")
    lines = EXAMPLE.read_text().splitlines()
    assert all(lines[w.line - 1].strip() == "[[waiver]]" for w in waivers if w.line)


def test_values_are_normalised(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [[waiver]]
        mac = "58-50-ED-1F-E3-85"
        ip = " 10.0.0.7 "
        reason = "  lab  "
        approved_by = "ISSO"
        expires = "2026-06-30"
        """,
    )
    (w,) = load_waivers(path)
    assert (w.mac, w.ip, w.reason, w.expires, w.line) == (
        "58:50:ed:1f:e3:85",
        "10.0.0.7",
        "lab",
        date(2026, 6, 30),
        1,
    )


def test_empty_file_has_no_waivers(tmp_path: Path) -> None:
    assert load_waivers(write(tmp_path, "# nothing waived yet\n")) == []


@pytest.mark.parametrize(
    "text, line, reason",
    [
        # bad TOML at a known line
        (waiver_table() + 'ticket = "SEC-1\n', 6, "invalid TOML"),
        # a TOML date literal that is not a date
        (waiver_table(expires="expires = 2026-13-01"), 5, "; dates are written YYYY-MM-DD"),
        # no identifier: the line of its [[waiver]] table (the second one)
        (
            waiver_table() + "\n" + waiver_table('reason = "forgot which device"', reason=""),
            7,
            "waiver 2: needs at least one of mac, serial, ip",
        ),
        # a date string that is not a date: the line of the key
        (
            waiver_table('serial = "ABC123"', expires='expires = "30/06/2026"'),
            5,
            "waiver 1: 'expires' must be a date like 2026-06-30, got '30/06/2026'",
        ),
        (waiver_table('serial = "ABC123"', expires="expires = 2026-06-30T00:00:00"), 5, "not a date-time"),
        (waiver_table('mac = "58:50:ed:1f:e3"'), 2, "'mac': not a valid mac"),
        (waiver_table('ip = "10.0.0.300"'), 2, "'ip': not a valid ip"),
        # a typo must not silently disable the waiver
        (waiver_table(approver='aproved_by = "ISSO"'), 4, "unknown key 'aproved_by'"),
        (waiver_table(reason=""), 1, "missing 'reason'"),
        (waiver_table(reason='reason = ""'), 3, "'reason' must be a non-empty string"),
        (waiver_table("mac = 5850"), 2, "'mac' must be a non-empty string"),
        (
            """
     version = 1

     [[waiver]]
     mac = "58:50:ed:1f:e3:85"
     """,
            1,
            "unknown top-level key 'version'",
        ),
        (waiver_table() + "\n[settings]\nstrict = true\n", 7, "unknown top-level key 'settings'"),
    ],
)
def test_malformed_file_names_file_line_and_reason(tmp_path: Path, text: str, line: int, reason: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(UsageError) as info:
        load_waivers(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert reason in message
    assert info.value.exit_code == 2


def test_inline_array_errors_still_name_the_waiver(tmp_path: Path) -> None:
    path = write(tmp_path, 'waiver = [{mac = "58:50:ed:1f:e3:85", reason = "lab", approved_by = "x"}]\n')
    with pytest.raises(UsageError, match=rf"^{path}: waiver 1: missing 'expires'$"):
        load_waivers(path)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read the waiver file"):
        load_waivers(tmp_path / "missing.toml")
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    with pytest.raises(UsageError, match="larger than"):
        load_waivers(big)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"# ok\n# ok\n\xff\xfe\n")
    with pytest.raises(UsageError, match=rf"^{binary}:3: not UTF-8"):
        load_waivers(binary)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300).map(lambda b: b.decode("latin-1"))))
def test_hostile_files_raise_only_usage_errors(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    path = tmp_path_factory.mktemp("w") / "waivers.toml"
    path.write_text("[[waiver]]\n" + text, encoding="utf-8", errors="surrogatepass")
    try:
        waivers = load_waivers(path)
    except UsageError as exc:
        assert str(exc).startswith(str(path))
    else:
        assert all(w.mac or w.serial or w.ip for w in waivers)


# -- applying ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mac", ["58:50:ed:1f:e3:85", "58-50-ED-1F-E3-85", "5850.ed1f.e385", "5850ED1FE385"])
def test_mac_matches_in_any_spelling(mac: str) -> None:
    (d,) = apply_waivers(
        scan(device(mac=mac)), [waiver(mac="58:50:ed:1f:e3:85")], today=date(2026, 1, 1)
    ).devices
    assert d.verdict.waived
    assert d.verdict.waiver == "Isolated VLAN (approved by J. Smith, until 2026-06-30)"


def test_serial_matches_case_insensitively_and_ip_as_address() -> None:
    r = scan(
        device(ip="10.0.0.5", mac=None, serial="ds-2cd2143g0-i20190101aawr"),
        device(ip="10.0.0.6", mac="02:00:00:00:00:06"),
        device(ip="10.0.0.7", mac="02:00:00:00:00:07"),
    )
    out = apply_waivers(
        r, [waiver(serial="DS-2CD2143G0-I20190101AAWR"), waiver(ip="10.0.0.6")], today=date(2026, 1, 1)
    )
    assert [d.verdict.waived for d in out.devices] == [True, True, False]


def test_any_given_identifier_matches() -> None:
    w = waiver(mac="02:00:00:00:00:99", ip="10.0.0.5")
    (d,) = apply_waivers(scan(device(ip="10.0.0.5")), [w], today=date(2026, 1, 1)).devices
    assert d.verdict.waived


def test_ticket_is_part_of_the_description() -> None:
    w = Waiver(
        reason="r", approved_by="a", expires=date(2026, 6, 30), mac="58:50:ed:1f:e3:85", ticket="SEC-1"
    )
    (d,) = apply_waivers(scan(device()), [w], today=date(2026, 1, 1)).devices
    assert d.verdict.waiver == "r (approved by a, until 2026-06-30, ticket SEC-1)"


def test_waiver_holds_through_its_last_day_then_expires() -> None:
    w = waiver(mac="58:50:ed:1f:e3:85")
    (on_last_day,) = apply_waivers(scan(device()), [w], today=date(2026, 6, 30)).devices
    assert on_last_day.verdict.waived and on_last_day.verdict.notes == []
    (after,) = apply_waivers(scan(device()), [w], today=date(2026, 7, 1)).devices
    assert not after.verdict.waived and after.verdict.waiver is None
    assert after.verdict.notes == ["waiver expired on 2026-06-30"]
    assert after.verdict.status is Status.COVERED


def test_an_unexpired_waiver_wins_over_an_expired_one() -> None:
    old = Waiver(reason="old", approved_by="a", expires=date(2025, 1, 1), mac="58:50:ed:1f:e3:85")
    new = Waiver(reason="new", approved_by="b", expires=date(2027, 1, 1), mac="58:50:ed:1f:e3:85")
    (d,) = apply_waivers(scan(device()), [old, new], today=date(2026, 1, 1)).devices
    assert d.verdict.waived and d.verdict.waiver and d.verdict.waiver.startswith("new ")


def test_input_report_is_unchanged_and_reapplying_adds_no_duplicate_note() -> None:
    original = scan(device(), device(ip="10.0.0.9", mac="02:00:00:00:00:09"))
    before = original.model_dump()
    w = waiver(mac="58:50:ed:1f:e3:85")
    once = apply_waivers(original, [w], today=date(2027, 1, 1))
    twice = apply_waivers(once, [w], today=date(2027, 1, 1))
    assert original.model_dump() == before
    assert twice.devices[0].verdict.notes == ["waiver expired on 2026-06-30"]
    assert twice.devices[1] is original.devices[1]  # untouched devices are shared, not copied


def test_no_waivers_changes_nothing() -> None:
    r = scan(device())
    assert apply_waivers(r, [], today=date(2026, 1, 1)).devices == r.devices


@pytest.mark.parametrize(
    "text, line", [("waiver = 3\n", 1), ('# x\n[waiver]\nmac = "58:50:ed:1f:e3:85"\n', 2)]
)
def test_waiver_must_be_an_array_of_tables(tmp_path: Path, text: str, line: int) -> None:
    path = write(tmp_path, text)
    with pytest.raises(UsageError, match=rf"^{path}:{line}: write each waiver as a \[\[waiver\]\] table"):
        load_waivers(path)


def test_the_compliance_report_shows_an_expired_waiver_as_expired_with_its_date() -> None:
    from scanner.report import render

    w = waiver(mac="58:50:ed:1f:e3:85")
    report = apply_waivers(scan(device()), [w], today=date(2026, 7, 1))
    (d,) = report.devices
    assert d.verdict.waiver_expired is not None and d.verdict.waiver_expired.startswith("on 2026-06-30: ")
    text = render(report, "compliance")
    (row,) = [line for line in text.splitlines() if line.startswith("| Waiver |")]
    assert "**EXPIRED** on 2026-06-30" in row and row.endswith("not waived |")
    active = render(apply_waivers(scan(device()), [w], today=date(2026, 6, 1)), "compliance")
    assert "EXPIRED" not in active
