"""JSON Lines observations: validation, line-numbered problems, stdin, and the bounded host grouping."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from paths import DATA_DIR, REPO

from scanner.errors import UsageError
from scanner.ingest.jsonl import MAX_LINE_BYTES, read_jsonl
from scanner.ingest.stream import HostGrouper, HostNote
from scanner.observations import MAX_VALUE_LEN, SIGNALS, Observation

DATA = DATA_DIR / "observations"
REPO = REPO


def _read(source: object) -> tuple[list[Observation], list[tuple[int, str]]]:
    problems: list[tuple[int, str]] = []
    observations = list(read_jsonl(source, lambda line, message: problems.append((line, message))))  # type: ignore[arg-type]
    return observations, problems


def test_malformed_lines_are_reported_with_their_numbers_and_skipped() -> None:
    observations, problems = _read(DATA / "malformed.jsonl")

    assert [(o.ip, o.signal, o.value) for o in observations] == [
        ("10.0.0.1", "http.server", "Boa/0.94.14rc21"),
        ("10.0.0.4", "vendor.guess", "Hikvision"),
        ("10.0.0.4", "vendor.guess", "Dahua"),
        ("10.0.0.5", "mac", "00:11:22:33:44:55"),
    ]
    reasons = {line: message for line, message in problems}
    assert sorted(reasons) == [2, 3, 4, 5, 6, 7, 8, 9, 12, 14, 16, 17]
    assert reasons[2].startswith("not JSON")
    assert "'signal' missing" in reasons[3]
    assert "neither 'ip' nor 'mac'" in reasons[4]
    assert "not a MAC address" in reasons[5]
    assert "not a JSON object" in reasons[6]
    assert "'port'" in reasons[7]
    assert "'seen_at'" in reasons[8]
    assert "not an IP address" in reasons[9]
    assert "unknown signal 'vendor.guess'" in reasons[12]  # warned once, accepted both times
    assert "'value'" in reasons[14]
    assert "'probe'" in reasons[16]
    assert "'seen_at'" in reasons[17]
    assert all(message.endswith("skipped") for line, message in problems if line != 12)


def test_over_long_line_is_skipped_and_line_numbers_stay_right(tmp_path: Path) -> None:
    good = json.dumps({"ip": "10.0.0.9", "signal": "http.server", "value": "lighttpd"})
    huge = json.dumps({"ip": "10.0.0.9", "signal": "http.title", "value": "x" * (3 * MAX_LINE_BYTES)})
    path = tmp_path / "long.jsonl"
    path.write_text(f"{good}\n{huge}\n{good.replace('lighttpd', 'nginx')}\n")

    observations, problems = _read(path)

    assert [o.value for o in observations] == ["lighttpd", "nginx"]
    assert problems == [(2, f"line longer than {MAX_LINE_BYTES} bytes: skipped")]


def test_fields_are_normalised() -> None:
    text = "\n".join(
        json.dumps(r)
        for r in [
            {"ip": "192.168.1.64", "signal": "mac", "value": "58-50-ED-1F-E3-85", "probe": "arp"},
            {
                "mac": "5850.ed1f.e385",
                "signal": "http.status",
                "value": 401,
                "seen_at": "2026-01-31T12:00:00Z",
            },
            {
                "ip": "192.168.1.64",
                "signal": "http.title",
                "value": "t" * (MAX_VALUE_LEN + 10),
                "seen_at": "2026-01-31T12:00:00",
            },
        ]
    )
    observations, problems = _read(io.BytesIO(text.encode()))

    assert problems == []
    mac_obs, status, title = observations
    assert (mac_obs.mac, mac_obs.value, mac_obs.probe) == ("58:50:ed:1f:e3:85", "58:50:ed:1f:e3:85", "arp")
    assert (status.mac, status.value, status.probe) == ("58:50:ed:1f:e3:85", "401", "import")
    assert status.seen_at == datetime(2026, 1, 31, 12, tzinfo=UTC)
    assert title.seen_at.tzinfo is UTC and len(title.value) == MAX_VALUE_LEN


def test_reads_standard_input() -> None:
    script = (
        "import sys\n"
        "from scanner.ingest.jsonl import read_jsonl\n"
        "for o in read_jsonl('-', lambda n, m: print('problem', n, m)):\n"
        "    print(o.ip, o.mac, o.signal, o.value)\n"
    )
    lines = (DATA / "lan.jsonl").read_bytes() + b"{broken\n"
    done = subprocess.run(
        [sys.executable, "-c", script], input=lines, capture_output=True, cwd=REPO, timeout=60, check=True
    )
    out = done.stdout.decode().splitlines()

    assert "192.168.1.64 None http.server App-webs/" in out
    assert "None 58:50:ed:1f:e3:85 sadp.DeviceDescription DS-2CD2043G0-I" in out
    assert out[-1].startswith("problem 13 not JSON")
    assert len(out) == 11


def test_observations_doc_lists_every_signal() -> None:
    doc = (REPO / "docs" / "OBSERVATIONS.md").read_text()
    missing = [name for name in SIGNALS if f"`{name}`" not in doc]
    assert missing == []


# the bounded grouping every offline input goes through


def _obs(ip: str | None, signal: str, value: str, mac: str | None = None) -> Observation:
    return Observation(signal=signal, value=value, probe="import", ip=ip, mac=mac)


def test_memory_stays_bounded_for_many_observations_over_few_hosts() -> None:
    cap = 64
    grouper = HostGrouper(cap=cap)
    hosts = [f"10.0.0.{i}" for i in range(10)]
    largest = 0
    for n in range(200_000):
        ip = hosts[n % 10]
        value = f"banner {n % 5000}"  # 500 distinct values per host, each repeated 40 times
        assert grouper.add(_obs(ip, "http.title", value)) is None
        if n % 997 == 0:
            largest = max(
                largest,
                *(len(s.observations) for s in grouper.hosts.values()),
                *(len(s.seen) for s in grouper.hosts.values()),
            )
    states = list(grouper.finish())

    assert largest <= cap
    assert len(states) == 10 and grouper.hosts == {}
    for state in states:
        assert len(state.observations) == len(state.seen) == cap
        assert state.duplicates == cap * 40 - cap  # repeats of kept values
        assert state.dropped == 20_000 - cap * 40  # everything else, counted, not kept


def test_ip_only_observations_join_the_mac_seen_at_that_ip() -> None:
    grouper = HostGrouper()
    grouper.add(_obs("192.168.1.64", "http.server", "App-webs/"))  # before its MAC is known
    grouper.add(_obs("192.168.1.64", "mac", "58:50:ed:1f:e3:85", mac="58:50:ed:1f:e3:85"))
    grouper.add(_obs(None, "sadp.DeviceDescription", "DS-2CD2043G0-I", mac="58:50:ed:1f:e3:85"))
    grouper.add(_obs("192.168.1.64", "http.title", "index"))  # after
    grouper.add(HostNote("nmap MAC vendor: Hikvision", ip="192.168.1.64"))

    (state,) = grouper.finish()

    assert (state.ip, state.mac) == ("192.168.1.64", "58:50:ed:1f:e3:85")
    assert [o.signal for o in state.observations] == [
        "http.server",
        "mac",
        "sadp.DeviceDescription",
        "http.title",
    ]
    assert state.notes == ["nmap MAC vendor: Hikvision"]


def test_an_ip_only_host_merges_into_a_mac_host_found_later() -> None:
    grouper = HostGrouper()
    grouper.add(_obs(None, "mac", "58:50:ed:1f:e3:85", mac="58:50:ed:1f:e3:85"))  # MAC, no IP yet
    grouper.add(_obs("192.168.1.64", "http.server", "App-webs/"))  # IP, no MAC: held apart
    grouper.add(_obs("192.168.1.64", "http.server", "App-webs/", mac="58:50:ed:1f:e3:85"))  # joins the two

    (state,) = grouper.finish()

    assert state.ip == "192.168.1.64"
    assert [o.signal for o in state.observations] == ["mac", "http.server"]
    assert state.duplicates == 1


def test_host_sorted_input_is_flushed_when_the_host_changes() -> None:
    grouper = HostGrouper(host_sorted=True)
    assert grouper.add(_obs("10.0.0.1", "http.server", "a")) is None
    assert grouper.add(_obs("10.0.0.1", "http.title", "b")) is None
    flushed = grouper.add(_obs("10.0.0.2", "http.server", "c"))

    assert flushed is not None and flushed.ip == "10.0.0.1" and len(flushed.observations) == 2
    assert list(grouper.hosts) == ["10.0.0.2"]


def test_held_host_limit_flushes_the_oldest_host() -> None:
    grouper = HostGrouper(max_hosts=3)
    flushed = [grouper.add(_obs(f"10.0.0.{i}", "http.server", "x")) for i in range(5)]

    assert flushed[:3] == [None, None, None]
    assert [s.ip for s in flushed[3:] if s] == ["10.0.0.0", "10.0.0.1"]
    assert all("held-host limit (3)" in s.notes[0] for s in flushed[3:] if s)
    assert len(grouper.hosts) == 3 and grouper.evicted == 2


# end to end, with the real verdict


def test_a_file_with_bad_lines_is_still_identified(tmp_path: Path) -> None:
    from scanner.identify.models import Status
    from scanner.ingest.stream import identify_file

    lines = (DATA / "lan.jsonl").read_text().splitlines()
    lines.insert(3, '{"ip": "192.168.1.64", "signal": "http.title"')  # line 4: cut short
    lines.insert(6, '{"mac": "3c:ef:8c:10:20", "signal": "mac", "value": "x"}')  # line 7: bad MAC
    path = tmp_path / "lan.jsonl"
    path.write_text("\n".join(lines) + "\n")
    problems: list[tuple[int, str]] = []

    report = identify_file(path, "jsonl", lambda line, message: problems.append((line, message)))

    assert [line for line, _ in problems] == [4, 7]
    assert report.notes[0].startswith(f"offline identification of {path} (jsonl): no packets were sent")
    assert report.notes[1:] == [
        "2 input problem(s) (malformed lines were skipped):",
        f"line 4: {problems[0][1]}",
        f"line 7: {problems[1][1]}",
    ]
    assert report.probes[0].probe == "import" and report.probes[0].status == "partial"
    by_ip = {d.ip: d for d in report.devices}
    assert set(by_ip) == {"192.168.1.64", "192.168.1.108", "192.168.1.90"}
    camera = by_ip["192.168.1.64"]
    assert camera.mac == "58:50:ed:1f:e3:85" and camera.probes == ["arp", "http", "sadp", "tls"]
    assert (camera.verdict.status, camera.verdict.covered_entity) == (Status.COVERED, "Hikvision")
    assert {e.signal for e in camera.verdict.evidence} >= {"x509.subject", "sadp.DeviceDescription"}
    assert by_ip["192.168.1.108"].verdict.covered_entity == "Dahua"
    assert by_ip["192.168.1.90"].verdict.status == Status.NOT_COVERED


def test_identify_stream_notes_what_the_cap_dropped() -> None:
    from scanner.ingest.stream import identify_stream

    observations = [_obs("10.0.0.7", "mac", "58:50:ed:00:00:07", mac="58:50:ed:00:00:07")]
    observations += [_obs("10.0.0.7", "http.title", f"page {n}") for n in range(20)]

    ((device, verdict),) = list(identify_stream(observations, cap=8))

    assert len(device.observations) == 8
    assert verdict.notes[-1] == "13 further observations not kept (limit: 8 distinct per host)"
    assert verdict.vendor == "Hikvision"  # the MAC, kept first, still counts


_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
_PLAUSIBLE = st.sampled_from(["10.0.0.1", "58:50:ed:1f:e3:85", "http.server", "2026-01-01"])
_RECORDS = st.dictionaries(
    st.sampled_from(["signal", "value", "ip", "mac", "probe", "port", "seen_at", "x"]), _JSON | _PLAUSIBLE
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_RECORDS.map(json.dumps).map(str.encode) | st.binary(max_size=40), max_size=12))
def test_hostile_lines_never_raise(lines: list[bytes]) -> None:
    data = b"\n".join(line.replace(b"\n", b" ") for line in lines) + b"\n"
    try:
        observations, problems = _read(io.BytesIO(data))
    except UsageError as exc:  # no valid line at all: one error, one line
        assert "\n" not in str(exc) and "not JSON Lines observations" in str(exc)
        return

    assert len(observations) <= len(lines)
    assert all(p[0] >= 1 for p in problems)
    for obs in observations:
        assert (obs.ip or obs.mac) and isinstance(obs.value, str) and len(obs.value) <= MAX_VALUE_LEN
        assert obs.seen_at.tzinfo is not None
