"""`import pcap`: real captures (a tcpdump of a lab scan, public nDPI sample captures; sources in
tests/data/pcap/README.md), hostile and truncated captures reported by position, exit 2 when nothing valid."""

from __future__ import annotations

import gzip
import io
import json
import os
import struct
from pathlib import Path

import pytest
from clirun import assert_usage_error, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from paths import DATA_DIR

from scanner.discovery.passive import LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, PassiveAnalyzer
from scanner.errors import UsageError
from scanner.ingest.pcap import MAX_RECORD, iter_frames, read_pcap
from scanner.observations import Observation

PCAP = DATA_DIR / "pcap"
LAB = PCAP / "lab-demo-scan.pcap.gz"
COVERED_IN_LAB = {  # the demo lab's covered devices (examples/labs/demo.toml), by MAC
    "58:50:ed:1f:e3:85": "Hikvision",
    "c0:56:e3:12:34:56": "Hikvision",
    "08:ed:ed:44:55:66": "Dahua",
    "58:10:8c:01:02:03": "Dahua",
    "00:e0:fc:11:22:33": "Huawei",
    "00:15:eb:44:55:66": "ZTE",
}


def _observations(path: Path | io.BytesIO) -> tuple[list[Observation], list[str]]:
    problems: list[str] = []
    out = [
        o for o in read_pcap(path, lambda n, m: problems.append(f"{n}: {m}")) if isinstance(o, Observation)
    ]
    return out, problems


@pytest.fixture(scope="module")
def lab_pcap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pcap") / "lab.pcap"
    path.write_bytes(gzip.decompress(LAB.read_bytes()))
    return path


def test_lab_capture_names_the_covered_devices() -> None:
    proc = run_cli("import", "pcap", str(LAB), "-f", "json")
    assert proc.returncode == 1, proc.stderr
    devices = {d["mac"]: d["verdict"] for d in json.loads(proc.stdout)["devices"]}
    for mac, vendor in COVERED_IN_LAB.items():
        assert devices[mac]["status"] == "covered" and devices[mac]["vendor"] == vendor, (mac, devices[mac])
    assert devices["ac:cc:8e:27:0a:d8"]["status"] == "not-covered"  # the Axis camera
    evidence = [e for v in devices.values() for e in v["evidence"]]
    assert all(e["probe"].startswith("passive-") for e in evidence)


def test_addresses_follow_the_rules(lab_pcap: Path) -> None:
    """A unicast packet's observations carry no MAC (its frame may come from a router); multicast and
    ARP ones carry the sender's."""
    obs, problems = _observations(lab_pcap)
    assert not problems
    for o in obs:
        if o.probe in ("passive-http", "passive-rtsp", "passive-tls"):
            assert o.mac is None and o.ip is not None
        if o.probe == "passive-arp":
            assert o.mac == o.value
    assert any(o.mac is not None for o in obs if o.probe == "passive-mdns")  # answers sent to 224.0.0.251
    arp = {o.ip: o.mac for o in obs if o.probe == "passive-arp"}
    assert all(
        arp[o.ip] == o.mac for o in obs if o.ip and o.mac and o.ip in arp
    )  # a MAC only where it is its own
    sadp = [o for o in obs if o.signal == "sadp.reply"]  # the lab's SADP replies are unicast to the scanner
    assert sadp and all(o.mac is None for o in sadp)


def test_gzip_and_plain_read_the_same(lab_pcap: Path) -> None:
    plain, _ = _observations(lab_pcap)
    zipped, _ = _observations(LAB)
    assert [(o.signal, o.value, o.ip, o.mac) for o in plain] == [
        (o.signal, o.value, o.ip, o.mac) for o in zipped
    ]


def test_pcapng_written_by_scapy_reads_the_same(lab_pcap: Path, tmp_path: Path) -> None:
    from scapy.utils import PcapNgWriter, PcapReader

    ng = tmp_path / "lab.pcapng"
    with PcapReader(str(lab_pcap)) as reader, PcapNgWriter(str(ng)) as writer:
        for packet in reader:
            writer.write(packet)
    plain, _ = _observations(lab_pcap)
    other, problems = _observations(ng)
    assert not problems
    assert {(o.signal, o.value, o.ip) for o in plain} == {(o.signal, o.value, o.ip) for o in other}


def test_public_tls_captures_give_the_certificate() -> None:
    obs, _ = _observations(PCAP / "ndpi-long_tls_certificate.pcap")
    subjects = [o.value for o in obs if o.signal == "x509.subject"]
    assert subjects == [
        "CN=*.aliyun.com,O=Alibaba (China) Technology Co.\\, Ltd.,L=HangZhou,ST=ZheJiang,C=CN"
    ]
    obs, _ = _observations(PCAP / "ndpi-tls_verylong_certificate.pcap")
    assert any(o.signal == "x509.subject" and "fastly" in o.value for o in obs)
    assert len([o for o in obs if o.signal == "x509.san"]) == 32  # parsers/x509.py keeps the first 32


def test_public_rtsp_http_and_fuzzed_dhcp() -> None:
    obs, _ = _observations(PCAP / "ndpi-rtsp.pcap")
    assert ("rtsp.server", "VLC/3.0.12") in {(o.signal, o.value) for o in obs}
    obs, _ = _observations(PCAP / "ndpi-http_invalid_server.pcap")
    assert [o.signal for o in obs if o.signal == "http.server"] == ["http.server"]
    obs, _ = _observations(PCAP / "ndpi-dhcp-fuzz.pcapng")  # pcapng, fuzzed options: read, never a crash
    found = {(o.signal, o.value) for o in obs}
    assert ("hostname", "MK03862") in found and ("mac", "00:1f:29:da:2d:79") in found


def test_garbage_fragments_and_probes_only_say_nothing() -> None:
    for name in ("ndpi-ip_fragmented_garbage.pcap", "ndpi-upnp.pcap"):
        proc = run_cli("import", "pcap", str(PCAP / name), "-f", "json")
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["devices"] == []


# ---------------------------------------------------------------- hostile and broken captures


def _cut(data: bytes, at: int, tmp_path: Path) -> Path:
    path = tmp_path / f"cut{at}.pcap"
    path.write_bytes(data[:at])
    return path


def test_truncated_capture_keeps_what_came_before_and_says_where(lab_pcap: Path, tmp_path: Path) -> None:
    data = lab_pcap.read_bytes()
    frames = list(iter_frames(io.BytesIO(data), lambda n, m: None))
    cut_frame = frames[len(frames) // 2]
    at = cut_frame.offset + 16 + len(cut_frame.data) // 2  # inside a packet's data
    problems: list[tuple[int, str]] = []
    got = list(iter_frames(io.BytesIO(data[:at]), lambda n, m: problems.append((n, m))))
    assert len(got) == cut_frame.number - 1
    assert problems == [
        (
            cut_frame.number,
            f"capture cut short at byte {cut_frame.offset}: packet {cut_frame.number} has "
            f"{len(cut_frame.data) // 2} of {len(cut_frame.data)} bytes; the {len(got)} packet(s) before it were read",
        )
    ]
    proc = run_cli("import", "pcap", str(_cut(data, at, tmp_path)), "-f", "json")
    assert proc.returncode in (0, 1) and f"byte {cut_frame.offset}" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_absurd_record_length_stops_reading_there(lab_pcap: Path, tmp_path: Path) -> None:
    data = bytearray(lab_pcap.read_bytes())
    frames = list(iter_frames(io.BytesIO(bytes(data)), lambda n, m: None))
    victim = frames[10]
    struct.pack_into("<I", data, victim.offset + 8, MAX_RECORD + 1)
    problems: list[tuple[int, str]] = []
    got = list(iter_frames(io.BytesIO(bytes(data)), lambda n, m: problems.append((n, m))))
    assert len(got) == 10
    assert (
        problems[0][0] == 11
        and f"packet 11 at byte {victim.offset} claims {MAX_RECORD + 1} bytes" in problems[0][1]
    )


def test_pcapng_with_a_broken_block_length(lab_pcap: Path, tmp_path: Path) -> None:
    from scapy.utils import PcapNgWriter, PcapReader

    ng = tmp_path / "few.pcapng"
    with PcapReader(str(lab_pcap)) as reader, PcapNgWriter(str(ng)) as writer:
        for _, packet in zip(range(5), reader, strict=False):
            writer.write(packet)
    data = bytearray(ng.read_bytes())
    frames = list(iter_frames(io.BytesIO(bytes(data)), lambda n, m: None))
    second = frames[1]
    struct.pack_into("<I", data, second.offset + 4, 13)  # not a multiple of 4
    problems: list[tuple[int, str]] = []
    got = list(iter_frames(io.BytesIO(bytes(data)), lambda n, m: problems.append((n, m))))
    assert len(got) == 1 and f"block at byte {second.offset} has an impossible length 13" in problems[0][1]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "not a pcap or pcapng capture (starts with nothing)"),
        (b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00" + bytes(16), "the capture holds no packet"),
        (b"\xd4\xc3\xb2\xa1\x02\x00", "no packet read: capture cut short at byte 4"),
        (
            b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00" + bytes(16) + b"\x01\x02",
            "no packet read: capture cut short at byte 24",
        ),
        (b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x00\x00\x00\x00", "no packet read: section header at byte 0"),
        (gzip.compress(b"not a capture at all"), "not a pcap or pcapng capture"),
        (b"\x1f\x8b\x08\x00garbage", "not a readable gzip stream"),
        (b'{"devices": []}\n', "not a pcap or pcapng capture"),
    ],
)
def test_nothing_valid_is_a_usage_error(tmp_path: Path, content: bytes, needle: str) -> None:
    path = tmp_path / "capture"
    path.write_bytes(content)
    with pytest.raises(UsageError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        list(read_pcap(path, lambda n, m: None))
    assert_usage_error(run_cli("import", "pcap", str(path)), needle)


def test_random_bytes_and_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "random.pcap"
    path.write_bytes(b"\x00" + os.urandom(8191))
    assert_usage_error(run_cli("import", "pcap", str(path)), "not a pcap or pcapng capture")
    assert_usage_error(run_cli("import", "pcap", str(tmp_path / "missing.pcap")), "cannot read")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.sampled_from([LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, 101, 0]))
def test_analysis_never_raises_on_random_frames(frame: bytes, linktype: int) -> None:
    analyzer = PassiveAnalyzer()
    for o in analyzer.frame(frame, linktype, 1.0):
        assert o.ip is not None or o.mac is not None


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_analysis_never_raises_on_mutated_lab_frames(data: st.DataObject) -> None:
    frames = _lab_frames()
    frame = data.draw(st.sampled_from(frames))
    pos = data.draw(st.integers(0, max(len(frame) - 1, 0)))
    mutated = frame[:pos] + data.draw(st.binary(min_size=1, max_size=8)) + frame[pos + 1 :]
    PassiveAnalyzer().frame(mutated[: data.draw(st.integers(0, len(mutated)))], LINKTYPE_ETHERNET, 1.0)


_FRAMES: list[bytes] = []


def _lab_frames() -> list[bytes]:
    """The lab capture's frames that say something (the interesting ones to mutate)."""
    if not _FRAMES:
        analyzer = PassiveAnalyzer()
        for f in iter_frames(io.BytesIO(gzip.decompress(LAB.read_bytes())), lambda n, m: None):
            if analyzer.frame(f.data, f.linktype, f.ts):
                _FRAMES.append(f.data)
    return _FRAMES
