"""Read packet captures (pcap and pcapng, also gzip-compressed) and hand every frame to the passive
analysis (``scanner/discovery/passive.py``): ``ndaa-scan import pcap FILE``.

The reader is our own and streams: one record at a time through a buffered file (or a gzip stream),
so memory stays flat however large the capture. It was measured against scapy and dpkt
(benchmarks/bench_pcap.py, docs/PERFORMANCE.md) and chosen for speed.

Formats:
* pcap (https://www.tcpdump.org/manpages/pcap-savefile.5.html): either byte order, microsecond
  (a1b2c3d4) or nanosecond (a1b23c4d) timestamps; the link type of the file header.
* pcapng (draft-ietf-opsawg-pcapng): Section Header (either byte order, several sections), Interface
  Description (link type, ``if_tsresol``), Enhanced, Simple and obsolete Packet blocks; other blocks
  are skipped.

Trust: a record longer than ``MAX_RECORD`` bytes, a block length that is not a multiple of 4 or is
shorter than its header, or a capture cut short is reported to ``problems(packet_number, message)``
with its byte offset (in the uncompressed stream); reading stops there (a capture cannot be
re-synchronised reliably) and what came before is kept. A file that is not a capture, or holds no
packet, is a UsageError (exit 2).
"""

from __future__ import annotations

import gzip
import io
import struct
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple

from scanner.errors import UsageError
from scanner.observations import HostNote, Observation

MAX_RECORD = 256 * 1024  # bytes of one packet (tcpdump's largest snap length is 262144)
MAX_BLOCK = MAX_RECORD + 4096  # bytes of one pcapng block (a packet plus its options)
MAX_INTERFACES = 1024  # pcapng interfaces per section
MAX_LINKTYPE_PROBLEMS = 16
READ_BUFFER = 1 << 20

Problems = Callable[[int, str], None]

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
GZIP_MAGIC = b"\x1f\x8b"


class Frame(NamedTuple):
    number: int  # 1-based packet number in the file
    offset: int  # byte offset of its record (in the uncompressed stream)
    ts: float  # seconds since the epoch
    linktype: int
    data: bytes


_frame = tuple.__new__  # a Frame without NamedTuple's Python-level __new__ (a third of the reader's time)


class CaptureError(Exception):
    """The capture cannot be read further (the message says why and where)."""


def read_pcap(source: str | Path | BinaryIO, problems: Problems) -> Iterator[Observation | HostNote]:
    """Observations of every frame of a capture, in capture order (the passive analysis decides what
    each frame says)."""
    from scanner.discovery.passive import LINK_TYPES, PassiveAnalyzer
    from scanner.ingest.jsonl import open_input, source_name

    analyzer = PassiveAnalyzer()
    unsupported: set[int] = set()
    with open_input(source) as raw:
        name = source_name(source)
        for frame in iter_frames(raw, problems, name):
            if frame.linktype not in LINK_TYPES:
                if frame.linktype not in unsupported and len(unsupported) < MAX_LINKTYPE_PROBLEMS:
                    unsupported.add(frame.linktype)
                    problems(frame.number, f"link type {frame.linktype} not analysed (packets of it skipped)")
                continue
            yield from analyzer.frame(frame.data, frame.linktype, frame.ts)


def iter_frames(raw: BinaryIO, problems: Problems, name: str = "input") -> Iterator[Frame]:
    """Every packet of a pcap or pcapng stream (gzip-compressed or not); see the module doc for errors."""
    count = 0
    try:
        stream = _decompressed(raw, name)
        head = stream.read(4)
        if head in PCAP_MAGICS:
            frames = _pcap(stream, head)
        elif head == PCAPNG_SHB:
            frames = _pcapng(stream, head)
        else:
            raise UsageError(f"{name}: not a pcap or pcapng capture (starts with {head.hex() or 'nothing'})")
        for frame in frames:
            count += 1
            yield frame
    except CaptureError as exc:
        if not count:
            raise UsageError(f"{name}: no packet read: {exc}") from None
        problems(count + 1, f"{exc}; the {count} packet(s) before it were read")
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        if not count:
            raise UsageError(f"{name}: not a readable gzip stream: {exc}") from None
        problems(count + 1, f"compressed stream broken ({exc}); the {count} packet(s) before it were read")
    if not count:
        raise UsageError(f"{name}: the capture holds no packet")


def _decompressed(raw: BinaryIO, name: str) -> BinaryIO:
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(_Raw(raw), READ_BUFFER)
    if buffered.peek(2)[:2] == GZIP_MAGIC:
        return io.BufferedReader(gzip.GzipFile(fileobj=buffered, mode="rb"), READ_BUFFER)
    return buffered


class _Raw(io.RawIOBase):
    """A read-only raw stream over any binary file object (standard input, a test's BytesIO)."""

    def __init__(self, inner: BinaryIO) -> None:
        self.inner = inner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.inner.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _exact(stream: BinaryIO, n: int, offset: int, what: str) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise CaptureError(f"capture cut short at byte {offset}: {what} has {len(data)} of {n} bytes")
    return data


def _pcap(stream: BinaryIO, magic: bytes) -> Iterator[Frame]:
    """Records read from 1 MiB chunks (two reads per packet cost more than parsing it)."""
    order, unit = PCAP_MAGICS[magic]
    header = _exact(stream, 20, 4, "the file header")
    linktype = struct.unpack(order + "I", header[16:20])[0] & 0x0FFFFFFF
    unpack = struct.Struct(order + "IIII").unpack_from
    base = 24  # file offset of buf[0]
    buf = b""
    pos = 0
    number = 0
    read = stream.read
    while True:
        if len(buf) - pos < 16:
            buf, base, pos = buf[pos:] + read(READ_BUFFER), base + pos, 0
            if not buf:
                return
            if len(buf) < 16:
                raise CaptureError(
                    f"capture cut short at byte {base}: packet {number + 1}'s header has {len(buf)} of 16 bytes"
                )
        sec, frac, caplen, _origlen = unpack(buf, pos)
        number += 1
        if caplen > MAX_RECORD:
            raise CaptureError(
                f"packet {number} at byte {base + pos} claims {caplen} bytes (limit {MAX_RECORD})"
            )
        end = pos + 16 + caplen
        if end > len(buf):
            buf, base, pos = buf[pos:] + read(max(READ_BUFFER, caplen + 16)), base + pos, 0
            end = 16 + caplen
            if end > len(buf):
                raise CaptureError(
                    f"capture cut short at byte {base}: packet {number} has {len(buf) - 16} of {caplen} bytes"
                )
        yield _frame(Frame, (number, base + pos, sec + frac * unit, linktype, buf[pos + 16 : end]))
        pos = end


class _Interface(NamedTuple):
    linktype: int
    unit: float  # seconds per timestamp tick


def _pcapng(stream: BinaryIO, magic: bytes) -> Iterator[Frame]:
    offset = 0
    number = 0
    order = "<"
    interfaces: list[_Interface] = []
    pending = magic
    while True:
        kind_raw = pending or stream.read(4)
        pending = b""
        if not kind_raw:
            return
        if len(kind_raw) != 4:
            raise CaptureError(
                f"capture cut short at byte {offset}: a block type has {len(kind_raw)} of 4 bytes"
            )
        if kind_raw == PCAPNG_SHB:
            order, length = _section_header(stream, offset)
            interfaces = []
            offset += length
            continue
        kind = struct.unpack(order + "I", kind_raw)[0]
        length = struct.unpack(order + "I", _exact(stream, 4, offset + 4, "a block length"))[0]
        _check_length(length, offset, 12)
        body = _exact(stream, length - 8, offset + 8, f"block type {kind:#x}")[:-4]
        if kind == 1:  # Interface Description
            if len(interfaces) < MAX_INTERFACES and len(body) >= 8:
                interfaces.append(
                    _Interface(struct.unpack(order + "H", body[:2])[0], _tsresol(body[8:], order))
                )
        elif kind in (6, 3, 2):
            number += 1
            yield _packet_block(kind, body, order, interfaces, number, offset)
        offset += length


def _section_header(stream: BinaryIO, offset: int) -> tuple[str, int]:
    """The byte order and length of a Section Header Block whose type was read; the rest is skipped."""
    head = _exact(stream, 8, offset + 4, "a section header")
    orders = {b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}
    order = orders.get(head[4:8])
    if order is None:
        raise CaptureError(f"section header at byte {offset} has no byte-order magic")
    length = struct.unpack(order + "I", head[:4])[0]
    _check_length(length, offset, 28)
    _exact(stream, length - 12, offset + 12, "a section header")
    return order, length


def _check_length(length: int, offset: int, minimum: int) -> None:
    if length < minimum or length % 4 or length > MAX_BLOCK:
        raise CaptureError(f"block at byte {offset} has an impossible length {length}")


def _packet_block(
    kind: int, body: bytes, order: str, interfaces: list[_Interface], number: int, offset: int
) -> Frame:
    if kind == 3:  # Simple Packet: interface 0, no timestamp
        if not interfaces or len(body) < 4:
            raise CaptureError(f"simple packet block at byte {offset} without an interface")
        origlen = struct.unpack(order + "I", body[:4])[0]
        return Frame(number, offset, 0.0, interfaces[0].linktype, body[4 : 4 + origlen])
    if kind == 6:
        if len(body) < 20:
            raise CaptureError(f"packet block at byte {offset} is too short")
        ifid, high, low, caplen, _orig = struct.unpack_from(order + "IIIII", body, 0)
        start = 20
    else:  # obsolete Packet Block
        if len(body) < 20:
            raise CaptureError(f"packet block at byte {offset} is too short")
        ifid, _drops, high, low, caplen, _orig = struct.unpack_from(order + "HHIIII", body, 0)
        start = 20
    if ifid >= len(interfaces):
        raise CaptureError(f"packet {number} at byte {offset} names interface {ifid}, not described")
    if start + caplen > len(body):
        raise CaptureError(f"packet {number} at byte {offset} claims {caplen} bytes, its block holds less")
    iface = interfaces[ifid]
    return Frame(
        number, offset, ((high << 32) | low) * iface.unit, iface.linktype, body[start : start + caplen]
    )


def _tsresol(options: bytes, order: str) -> float:
    """Seconds per tick from an Interface Description's options (``if_tsresol``, code 9); default 1e-6."""
    pos = 0
    for _ in range(64):
        if pos + 4 > len(options):
            break
        code, length = struct.unpack_from(order + "HH", options, pos)
        if code == 0:
            break
        if code == 9 and length >= 1:
            value = options[pos + 4]
            exponent = value & 0x7F
            if exponent <= 30:
                return float(2**-exponent) if value & 0x80 else float(10**-exponent)
        pos += 4 + length + (-length % 4)
    return 1e-6
