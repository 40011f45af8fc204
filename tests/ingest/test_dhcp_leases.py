"""Reading DHCP lease files: the real files of dhcpd, dnsmasq and Kea (tests/data/dhcp, made by
tests/lab/test_dhcp_leases_lab.py), ended leases, and hostile or broken files reported by line."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from clirun import assert_usage_error, run_cli
from paths import DATA_DIR

from scanner.errors import UsageError
from scanner.ingest.dhcp_leases import detect, read_dhcp_leases
from scanner.observations import HostNote, Observation

DHCP = DATA_DIR / "dhcp"
HIK, AXIS, HUAWEI = "58:50:ed:1f:e3:85", "ac:cc:8e:27:0a:d8", "00:e0:fc:12:34:56"
WRITTEN = datetime(2026, 12, 3, 13, 1, 40, tzinfo=UTC)  # the files were written a few seconds before


def _read(path: Path | str, now: datetime = WRITTEN) -> tuple[dict[str, dict[str, list[str]]], list[str]]:
    problems: list[str] = []
    out: dict[str, dict[str, list[str]]] = {}
    for item in read_dhcp_leases(path, lambda n, m: problems.append(f"{n}: {m}"), now=now):
        assert item.mac is not None
        fields = out.setdefault(item.mac, {})
        if isinstance(item, Observation):
            assert item.probe == "dhcp-leases" and item.ip is not None
            fields.setdefault(item.signal, []).append(item.value)
            fields.setdefault("ip", []).append(item.ip)
        else:
            assert isinstance(item, HostNote)
            fields.setdefault("note", []).append(item.text)
    return out, problems


@pytest.mark.parametrize(
    ("name", "kind"), [("dhcpd.leases", "isc"), ("dnsmasq.leases", "dnsmasq"), ("kea-leases4.csv", "kea")]
)
def test_format_is_told_by_content(name: str, kind: str, tmp_path: Path) -> None:
    lines = [ln for ln in (DHCP / name).read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert detect(lines[0]) == kind
    renamed = tmp_path / "leases.txt"  # the name says nothing
    renamed.write_bytes((DHCP / name).read_bytes())
    found, problems = _read(renamed)
    assert set(found) == {HIK, AXIS, HUAWEI} and not problems


def test_isc_dhcpd_leases_fields() -> None:
    found, problems = _read(DHCP / "dhcpd.leases")
    assert not problems
    hik = found[HIK]
    assert hik["hostname"] == ["DS-2CD2722FWD-IZS20170321BBWR733050075"]
    assert hik["dhcp.vendor_class"] == ["HIKVISION"]
    assert hik["dhcp.lease"] == ["active until 2026-12-03T13:11:32Z (dhcpd, 10.97.0.50)"]
    assert set(hik["ip"]) == {"10.97.0.50"}
    assert found[AXIS]["dhcp.client_id"] == ["01:ac:cc:8e:27:0a:d8"]  # uid "\001\254\314\216'\012\330"
    assert found[HUAWEI]["dhcp.vendor_class"] == ["HUAWEI:android:ELS-NX9"]
    assert "note" not in hik


def test_dnsmasq_and_kea_fields() -> None:
    dnsmasq, _ = _read(DHCP / "dnsmasq.leases")
    assert dnsmasq[AXIS]["dhcp.client_id"] == ["01:ac:cc:8e:27:0a:d8"]
    assert dnsmasq[HIK]["dhcp.lease"][0].startswith("active until 2026-12-03T13:11:39Z (dnsmasq")
    kea, _ = _read(DHCP / "kea-leases4.csv")
    assert kea[HIK]["hostname"] == ["ds-2cd2722fwd-izs20170321bbwr733050075"]
    assert kea[HUAWEI]["dhcp.lease"] == ["active until 2026-12-03T13:11:47Z (kea, 10.97.0.52)"]


@pytest.mark.parametrize("name", ["dhcpd.leases", "dnsmasq.leases", "kea-leases4.csv"])
def test_ended_leases_are_marked(name: str) -> None:
    found, _ = _read(DHCP / name, now=WRITTEN + timedelta(hours=2))
    for fields in found.values():
        assert fields["dhcp.lease"][0].startswith("expired 2026-12-03T13:1")
        assert "may since belong to another host" in fields["note"][0]


def test_dhcpd_log_last_record_wins_and_states(tmp_path: Path) -> None:
    """dhcpd.leases is a log: a later record of an address replaces the earlier one (here: released)."""
    text = (DHCP / "dhcpd.leases").read_text()
    released = text[text.index("lease 10.97.0.51") :].split("}\n")[0] + "}\n"
    released = released.replace("binding state active", "binding state free")
    path = tmp_path / "dhcpd.leases"
    path.write_text(text + released)
    found, problems = _read(path)
    assert not problems
    assert found[AXIS]["dhcp.lease"] == ["free (ends 2026-12-03T13:11:33Z) (dhcpd, 10.97.0.51)"]
    assert found[AXIS]["note"]


def test_verdicts_from_the_cli() -> None:
    proc = run_cli("import", "dhcp-leases", str(DHCP / "dhcpd.leases"), "-f", "json")
    assert proc.returncode == 1, proc.stderr
    devices = {d["mac"]: d for d in json.loads(proc.stdout)["devices"]}
    assert devices[HIK]["verdict"]["status"] == "covered"
    assert devices[AXIS]["verdict"]["status"] == "not-covered"
    assert devices[HUAWEI]["verdict"]["status"] in ("covered", "likely")
    kea = run_cli("import", "dhcp-leases", str(DHCP / "kea-leases4.csv"), "-f", "json")
    by_mac = {d["mac"]: d for d in json.loads(kea.stdout)["devices"]}
    hik_evidence = json.dumps(by_mac[HIK]["verdict"]["evidence"])
    assert "hikvision-serial-hostname-lowercase" in hik_evidence


def test_broken_lines_are_reported_by_line_and_the_rest_is_read(tmp_path: Path) -> None:
    good = (DHCP / "dnsmasq.leases").read_text().splitlines()
    bad = [
        good[0],
        "1796303505 zz:zz:zz:zz:zz:zz 10.97.0.61 x *",
        "1796303505 00:11:22:33:44:55 999.1.1.1 x *",
        "not a lease at all",
        "9" * 30 + " 00:11:22:33:44:56 10.97.0.62 y *",
        good[1],
    ]
    path = tmp_path / "dnsmasq.leases"
    path.write_text("\n".join(bad) + "\n")
    found, problems = _read(path)
    assert set(found) == {HUAWEI, AXIS, "00:11:22:33:44:56"}  # an absurd expiry: kept, without an end
    assert [p.split(":")[0] for p in problems] == ["2", "3", "4", "5"]
    assert "out of range" in problems[3] and found["00:11:22:33:44:56"]["dhcp.lease"][0].startswith("active")


def test_isc_block_cut_short_and_junk(tmp_path: Path) -> None:
    text = (DHCP / "dhcpd.leases").read_text()
    cut = text[: text.index("lease 10.97.0.52") + 80]  # the last lease never closed
    path = tmp_path / "cut.leases"
    path.write_text(cut.replace("hardware ethernet 58:50:ed:1f:e3:85;", "hardware token-ring 58:50:ed;"))
    found, problems = _read(path)
    assert AXIS in found and HUAWEI not in found
    assert any("not closed at the end of the file" in p for p in problems)
    assert any("no hardware address" in p for p in problems)  # the lease whose MAC was broken


def test_kea_rows_of_the_wrong_shape(tmp_path: Path) -> None:
    lines = (DHCP / "kea-leases4.csv").read_text().splitlines()
    path = tmp_path / "kea.csv"
    path.write_text("\n".join([lines[0], "10.97.0.9,xx,,600", '"unterminated', lines[1]]) + "\n")
    found, problems = _read(path)
    assert set(found) == {HIK} and len(problems) == 2


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "not a DHCP lease file (empty)"),
        (os.urandom(2048).replace(b"\n", b" "), "not a DHCP lease file"),
        (b"# only a comment\n\n", "not a DHCP lease file (empty)"),
        (b"address,hwaddr,client_id,valid_lifetime,expire\n", "no valid lease"),
        (b"lease 10.0.0.1 {\n  starts never;\n", "no valid lease"),
        (b'{"devices": []}\n', "not a DHCP lease file"),
        (b"address,duid,valid_lifetime,expire,subnet_id,pref_lifetime\n", "a Kea DHCPv6 lease file"),
    ],
)
def test_nothing_valid_is_a_usage_error(tmp_path: Path, content: bytes, needle: str) -> None:
    path = tmp_path / "leases"
    path.write_bytes(content)
    with pytest.raises(UsageError, match=re.escape(needle)):
        list(read_dhcp_leases(path, lambda n, m: None))
    assert_usage_error(run_cli("import", "dhcp-leases", str(path)), needle)


def test_overlong_line_is_skipped(tmp_path: Path) -> None:
    lines = (DHCP / "dnsmasq.leases").read_text().splitlines()
    path = tmp_path / "dnsmasq.leases"
    path.write_text("\n".join([lines[0], "1 " + "a" * 200_000, lines[1]]) + "\n")
    found, problems = _read(path)
    assert len(found) == 2 and problems == ["2: line longer than 65536 bytes: skipped"]
