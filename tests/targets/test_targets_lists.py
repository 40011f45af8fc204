"""Target and exclusion lists (-iL, --exclude-file, '-' for stdin) and host names, without a network:
nmap's list conventions, bounded reads, one-line errors that say FILE:LINE, and names resolved once,
all together, within a bounded wait (a resolver of our own stands in for the system's)."""

from __future__ import annotations

import io
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

import pytest

from scanner.errors import TargetError, UsageError
from scanner.targets import Address, load_targets, read_list, resolve_names, system_resolve

NAMES: dict[str, list[Address]] = {
    "cam1.lab.test": [IPv4Address("10.0.0.5")],
    "dual.lab.test": [IPv6Address("2001:db8::7"), IPv4Address("10.0.0.7"), IPv4Address("10.0.0.8")],
    "v6only.lab.test": [IPv6Address("2001:db8::9")],
    "ll.lab.test": [IPv6Address("fe80::9")],
}


class Resolver:
    """Answers from NAMES and counts what it was asked."""

    def __init__(self) -> None:
        self.asked: Counter[str] = Counter()

    def __call__(self, name: str) -> Sequence[Address]:
        self.asked[name] += 1
        if name not in NAMES:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return NAMES[name]


# ---------------------------------------------------------------- list files


def test_a_list_takes_nmaps_conventions(tmp_path: Path) -> None:
    f = tmp_path / "targets.txt"
    f.write_bytes(
        b"\xef\xbb\xbf# cameras, building A\r\n"  # a BOM and CRLF (a list saved on Windows)
        b"10.0.0.1 10.0.0.2\t10.0.0.3,10.0.0.4\r\n"
        b"\n"
        b"   10.0.1.0/30   # the NVR subnet\n"
        b"cam1.lab.test,,  2001:db8::5\n"
        b"#10.0.9.9 commented out\n"
    )
    entries = read_list(str(f), "-iL")
    assert [e for e, _ in entries] == [
        "10.0.0.1",
        "10.0.0.2",
        "10.0.0.3",
        "10.0.0.4",
        "10.0.1.0/30",
        "cam1.lab.test",
        "2001:db8::5",
    ]
    assert entries[4][1] == f"{f}:4" and entries[-1][1] == f"{f}:5"


def test_stdin_is_a_list_too() -> None:
    entries = read_list("-", "-iL", io.BytesIO(b"10.0.0.1\n10.0.0.2 # two\n"))
    assert entries == [("10.0.0.1", "<stdin>:1"), ("10.0.0.2", "<stdin>:2")]


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda d: d / "missing.txt", "no such file"),
        (lambda d: d, "is a directory"),
        (lambda d: d / "a-file" / "below", "cannot read: Not a directory"),
        (lambda d: _write(d / "nul.txt", b"10.0.0.1\n\0\0\0"), "not a text file"),
        (lambda d: _write(d / "latin1.txt", b"10.0.0.1 caf\xe9\n"), "not UTF-8 text (byte 12)"),
    ],
)
def test_an_unusable_list_is_one_line(tmp_path: Path, make: object, needle: str) -> None:
    (tmp_path / "a-file").write_text("x")
    path = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(UsageError, match=re.escape(needle)) as info:
        read_list(str(path), "--exclude-file")
    assert str(info.value).startswith(f"--exclude-file {path}: ") and "\n" not in str(info.value)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_a_list_is_read_up_to_a_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("scanner.targets.MAX_LIST_BYTES", 1024 * 1024)
    big = tmp_path / "big.txt"
    big.write_bytes(b"10.0.0.1\n" * (1024 * 1024 // 9 + 1))
    with pytest.raises(UsageError, match="over 1 MiB: split the list"):
        read_list(str(big), "-iL")
    stream = io.BytesIO(b"10.0.0.1\n" * 200_000)  # stdin: never read past the bound either
    with pytest.raises(UsageError, match="<stdin>: over 1 MiB"):
        read_list("-", "-iL", stream)
    assert stream.tell() == 1024 * 1024 + 1


def test_files_and_arguments_add_up_and_exclusions_subtract(tmp_path: Path) -> None:
    (tmp_path / "t.txt").write_text("10.0.0.1-4\n2001:db8::/126\n")
    (tmp_path / "x.txt").write_text("# keep the gateway out\n10.0.0.1\n2001:db8::3\n")
    t = load_targets(
        ["10.0.0.9"],
        files=[str(tmp_path / "t.txt")],
        exclude=["10.0.0.2"],
        exclude_files=[str(tmp_path / "x.txt")],
        resolver=Resolver(),
    )
    assert [str(a) for a in t.v4] == ["10.0.0.3", "10.0.0.4", "10.0.0.9"]
    assert sorted(map(str, t.v6.hosts)) == ["2001:db8::1", "2001:db8::2"]
    assert t.texts == ("10.0.0.9", "10.0.0.1-4", "2001:db8::/126")
    assert t.exclude_texts == ("10.0.0.2", "10.0.0.1", "2001:db8::3")


def test_a_bad_entry_says_where_it_is(tmp_path: Path) -> None:
    (tmp_path / "t.txt").write_text("10.0.0.1\n# fine so far\n10.0.0.2, 10.0.0.300\n")
    with pytest.raises(TargetError, match=rf"^{tmp_path}/t.txt:3: '10.0.0.300' is not a target"):
        load_targets([], files=[str(tmp_path / "t.txt")], resolver=Resolver())
    with pytest.raises(TargetError, match=r"^<stdin>:1: '2001:db8::1-9': IPv6 ranges are not supported"):
        load_targets([], files=["-"], stdin=io.BytesIO(b"2001:db8::1-9\n"), resolver=Resolver())


def test_an_empty_target_list_is_refused_an_empty_exclusion_list_is_not(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("# nothing yet\n\n")
    with pytest.raises(UsageError, match="no targets in it"):
        load_targets([], files=[str(tmp_path / "empty.txt")], resolver=Resolver())
    t = load_targets(["10.0.0.1"], exclude_files=[str(tmp_path / "empty.txt")], resolver=Resolver())
    assert [str(a) for a in t.v4] == ["10.0.0.1"]


def test_only_one_list_reads_stdin() -> None:
    with pytest.raises(UsageError, match="only one list can come from stdin"):
        load_targets([], files=["-"], exclude_files=["-"], stdin=io.BytesIO(b"10.0.0.1"), resolver=Resolver())


# ---------------------------------------------------------------- names


def test_names_resolve_once_to_the_first_ipv4_address_as_nmap_does(tmp_path: Path) -> None:
    (tmp_path / "t.txt").write_text("cam1.lab.test\ndual.lab.test\n10.0.0.0/29\n")
    resolver = Resolver()
    t = load_targets(
        ["cam1.lab.test", "v6only.lab.test"],
        files=[str(tmp_path / "t.txt")],
        exclude=["cam1.lab.test"],
        resolver=resolver,
    )
    assert resolver.asked == Counter({"cam1.lab.test": 1, "dual.lab.test": 1, "v6only.lab.test": 1})
    assert [str(a) for a in t.v4] == ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.6", "10.0.0.7"]
    assert [str(h) for h in t.v6.hosts] == ["2001:db8::9"]
    assert dict(t.names) == {
        "10.0.0.5": "cam1.lab.test",
        "10.0.0.7": "dual.lab.test",
        "2001:db8::9": "v6only.lab.test",
    }
    # the report and history record addresses (a stored scan never resolves a name again)
    assert t.texts == ("10.0.0.5", "2001:db8::9", "10.0.0.5", "10.0.0.7", "10.0.0.0/29")
    assert t.exclude_texts == ("10.0.0.5",)
    assert (
        "dual.lab.test resolved to 10.0.0.7 (other addresses not scanned: 2001:db8::7, 10.0.0.8)" in t.notes
    )


def test_a_name_with_a_prefix_is_the_network_around_its_address() -> None:
    t = load_targets(["cam1.lab.test/30"], resolver=Resolver())
    assert [str(a) for a in t.v4] == ["10.0.0.5", "10.0.0.6"] and t.texts == ("10.0.0.5/30",)
    with pytest.raises(TargetError, match="/64 is not an IPv4 prefix"):
        load_targets(["cam1.lab.test/64"], resolver=Resolver())


def test_a_link_local_name_takes_the_interface_or_says_it_needs_one() -> None:
    with pytest.raises(TargetError, match="ll.lab.test is fe80::9: .*needs its interface"):
        load_targets(["ll.lab.test"], resolver=Resolver())
    t = load_targets(["ll.lab.test"], default_zone="lo", resolver=Resolver())
    assert [str(h) for h in t.v6.hosts] == ["fe80::9%lo"] and dict(t.names) == {"fe80::9%lo": "ll.lab.test"}


def test_a_name_that_does_not_resolve_is_one_line_with_its_place(tmp_path: Path) -> None:
    with pytest.raises(
        TargetError, match=r"^nope.lab.test: the name does not resolve \(Name or service not known\)$"
    ):
        load_targets(["10.0.0.1", "nope.lab.test"], resolver=Resolver())
    (tmp_path / "x.txt").write_text("10.0.0.1\n\nnope.lab.test\n")
    with pytest.raises(TargetError, match=rf"^{tmp_path}/x.txt:3: nope.lab.test: the name does not resolve"):
        load_targets(["10.0.0.0/24"], exclude_files=[str(tmp_path / "x.txt")], resolver=Resolver())


def test_a_syntax_error_comes_before_any_name_is_asked() -> None:
    resolver = Resolver()
    with pytest.raises(TargetError, match="not a target"):
        load_targets(["cam1.lab.test", "10.0.0.999"], resolver=resolver)
    assert resolver.asked == Counter()


def test_a_resolver_that_hangs_is_not_waited_for() -> None:
    release = threading.Event()

    def hangs(name: str) -> Sequence[Address]:
        if name.startswith("slow"):
            release.wait(30)
        return [IPv4Address("10.0.0.5")]

    started = time.monotonic()
    try:
        with pytest.raises(
            TargetError, match=r"slow.lab.test: the name does not resolve \(no answer .* 0.3 s\)"
        ):
            load_targets(["fast.lab.test", "slow.lab.test"], resolver=hangs, resolve_seconds=0.3)
    finally:
        release.set()
    assert time.monotonic() - started < 5


def test_many_names_resolve_concurrently() -> None:
    def slow(name: str) -> Sequence[Address]:
        time.sleep(0.2)
        return [IPv4Address(f"10.0.0.{int(name.split('-')[1].split('.')[0])}")]

    started = time.monotonic()
    got = resolve_names([f"cam-{i}.lab.test" for i in range(1, 65)], slow, seconds=20)
    assert time.monotonic() - started < 0.2 * 64 / 4  # sixteen at a time: ~0.8 s, far from 12.8 s
    assert got["cam-64.lab.test"] == [IPv4Address("10.0.0.64")] and len(got) == 64


def test_the_system_resolver_never_asks_for_an_invalid_name_and_keeps_zones() -> None:
    """RFC 6761 §6.4: a .invalid name fails at once, without a query (the CLI tests rely on it).
    Numeric addresses go through getaddrinfo without any lookup; a link-local one keeps its zone."""
    with pytest.raises(socket.gaierror, match="never resolves"):
        system_resolve("cam1.INVALID.")
    assert system_resolve("127.0.0.1") == [IPv4Address("127.0.0.1")]
    assert system_resolve("fe80::1%lo") == [IPv6Address("fe80::1%lo")]
