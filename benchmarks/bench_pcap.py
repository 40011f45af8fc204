"""Packet capture reading (``ndaa-scan import pcap``): throughput and memory on a large capture.

    python benchmarks/bench_pcap.py [--size-mb 1024] [--sample 50000] [--keep PATH]

Generates a pcap of about ``--size-mb`` MB (an office LAN's mix: bulk TCP segments and ACKs, DNS,
ARP from 4,000 hosts, DHCP discovers, SSDP NOTIFYs, mDNS answers, HTTP response heads, TLS 1.2
ServerHello + Certificate flights), then measures on one core:

* ``own reader``: ``scanner.ingest.pcap.iter_frames`` alone (records out of the file);
* ``own reader + analysis``: ``read_pcap``, i.e. what ``import pcap`` does before grouping, with the
  resident set size sampled as it goes (flat memory: the last sample is not above the first ones);
  the capture repeats 20,000 distinct frames, so announcements repeat as on a real LAN (each is parsed
  once per sender); the first 20,000 packets alone, where every announcement is new, are measured too;
* ``dpkt``: ``dpkt.pcap.Reader`` + ``dpkt.ethernet.Ethernet`` on the first ``--sample`` packets;
* ``scapy``: ``scapy.utils.PcapReader`` (which dissects every layer) on the first ``--sample`` packets.

Rates are packets per second of CPU time (``time.process_time``): the machine is shared, and wall-clock
rates there swing with the load. Target (issue 11): >= 100,000 packets/s on one core for reader + analysis, and flat memory.
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import struct
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

HOSTS = 4000


def _mac(i: int) -> bytes:
    return bytes([0x58, 0x50, 0xED, 0, i >> 8 & 0xFF, i & 0xFF])


def _ip(i: int) -> bytes:
    return bytes([10, 1, i >> 8 & 0xFF, i & 0xFF])


def _csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    return ~(s + (s >> 16)) & 0xFFFF


def _ipv4(src: bytes, dst: bytes, proto: int, payload: bytes, ident: int = 1) -> bytes:
    head = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident & 0xFFFF, 0x4000, 64, proto, 0, src, dst
    )
    return head[:10] + struct.pack("!H", _csum(head)) + head[12:] + payload


def _eth(dst: bytes, src: bytes, ethertype: int, payload: bytes) -> bytes:
    return dst + src + struct.pack("!H", ethertype) + payload


def _udp(sport: int, dport: int, body: bytes) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(body), 0) + body


def _tcp(sport: int, dport: int, seq: int, body: bytes, flags: int = 0x18) -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, seq, 1, 5 << 4, flags, 65535, 0, 0) + body


def _cert() -> bytes:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench-camera")])
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1234)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def templates(rng: random.Random) -> list[bytes]:
    """About 20,000 distinct frames in the proportions of the mix; written again and again."""
    der = _cert()
    bcast, group = b"\xff" * 6, b"\x01\x00\x5e\x7f\xff\xfa"
    out: list[bytes] = []
    for n in range(20_000):
        a, b = rng.randrange(HOSTS), rng.randrange(HOSTS)
        r = n % 200
        if r < 110:  # bulk TCP data
            body = bytes(rng.randrange(256) for _ in range(64)) * 22
            frame = _eth(
                _mac(b), _mac(a), 0x0800, _ipv4(_ip(a), _ip(b), 6, _tcp(443, 50000 + b, n * 1400, body))
            )
        elif r < 160:  # ACKs
            frame = _eth(
                _mac(b), _mac(a), 0x0800, _ipv4(_ip(a), _ip(b), 6, _tcp(50000 + a, 443, n, b"", 0x10))
            )
        elif r < 175:  # DNS
            frame = _eth(
                _mac(b),
                _mac(a),
                0x0800,
                _ipv4(_ip(a), _ip(b), 17, _udp(40000 + a, 53, b"\x12\x34" + b"\0" * 40)),
            )
        elif r < 185:  # ARP
            arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, _mac(a), _ip(a), b"\0" * 6, _ip(b))
            frame = _eth(bcast, _mac(a), 0x0806, arp)
        elif r < 188:  # DHCP discover
            bootp = struct.pack(
                "!BBBBIHH4s4s4s4s16s64s128s",
                1,
                1,
                6,
                0,
                n,
                0,
                0,
                b"\0" * 4,
                b"\0" * 4,
                b"\0" * 4,
                b"\0" * 4,
                _mac(a) + b"\0" * 10,
                b"",
                b"",
            )
            opts = (
                b"\x63\x82\x53\x63\x35\x01\x01\x0c\x08camera%02d" % (a % 100)
                + b"\x3c\x0cudhcp 1.22.1\x37\x04\x01\x03\x06\x0c\xff"
            )
            frame = _eth(
                bcast, _mac(a), 0x0800, _ipv4(b"\0" * 4, b"\xff" * 4, 17, _udp(68, 67, bootp + opts))
            )
        elif r < 192:  # SSDP NOTIFY
            body = (f"NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nNT: upnp:rootdevice\r\nNTS: ssdp:alive\r\n"
                    f"SERVER: Linux/3.10 UPnP/1.0 IpCam/{a % 7}\r\nUSN: uuid:{a:08d}::upnp:rootdevice\r\n"
                    f"LOCATION: http://10.1.{a >> 8}.{a & 0xFF}:80/desc.xml\r\n\r\n").encode()  # fmt: skip
            frame = _eth(
                group, _mac(a), 0x0800, _ipv4(_ip(a), b"\xef\xff\xff\xfa", 17, _udp(1900, 1900, body))
            )
        elif r < 195:  # mDNS answer: a PTR for _http._tcp.local
            name = b"\x05_http\x04_tcp\x05local\x00"
            rdata = b"\x08camera%02d" % (a % 100) + b"\xc0\x0c"
            dns = (
                b"\0\0\x84\0\0\0\0\x01\0\0\0\0"
                + name
                + b"\0\x0c\0\x01\0\0\x11\x94"
                + struct.pack("!H", len(rdata))
                + rdata
            )
            frame = _eth(
                b"\x01\x00\x5e\x00\x00\xfb",
                _mac(a),
                0x0800,
                _ipv4(_ip(a), b"\xe0\0\0\xfb", 17, _udp(5353, 5353, dns)),
            )
        elif r < 199:  # HTTP response head
            body = (
                b'HTTP/1.1 401 Unauthorized\r\nServer: App-webs/\r\nWWW-Authenticate: Basic realm="DS-%d"\r\n\r\n'
                % (a % 50)
            )
            frame = _eth(_mac(b), _mac(a), 0x0800, _ipv4(_ip(a), _ip(b), 6, _tcp(80, 40000 + b, 7, body)))
        else:  # TLS 1.2 ServerHello + Certificate + ServerHelloDone in one segment
            hello = b"\x03\x03" + bytes(32) + b"\x00" + b"\xc0\x2f\x00"
            certs = struct.pack("!I", len(der))[1:] + der
            cert_msg = struct.pack("!I", len(certs) + 3)[1:] + certs
            hs = (
                b"\x02"
                + struct.pack("!I", len(hello))[1:]
                + hello
                + b"\x0b"
                + struct.pack("!I", len(cert_msg))[1:]
                + cert_msg
                + b"\x0e\0\0\0"
            )
            rec = b"\x16\x03\x03" + struct.pack("!H", len(hs)) + hs
            frame = _eth(
                _mac(b),
                _mac(a),
                0x0800,
                _ipv4(_ip(a), _ip(b), 6, _tcp(443, 41000 + n % 20000, 1000 + n, rec)),
            )
        out.append(frame)
    return out


def generate(path: Path, size: int) -> int:
    """Write a pcap of at least ``size`` bytes; the number of packets."""
    frames = templates(random.Random(7))
    count = 0
    written = 24
    with path.open("wb", buffering=1 << 22) as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        ts = 1_780_000_000
        while written < size:
            chunk = bytearray()
            for i, frame in enumerate(frames):
                chunk += struct.pack(
                    "<IIII", ts + (count + i) // 10_000, (count + i) % 1_000_000, len(frame), len(frame)
                )
                chunk += frame
            f.write(chunk)
            count += len(frames)
            written += len(chunk)
    return count


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def bench_own_reader(path: Path) -> tuple[int, float]:
    from scanner.ingest.pcap import iter_frames

    start = time.process_time()
    with path.open("rb") as f:
        n = sum(1 for _ in iter_frames(f, lambda *_: None))
    return n, time.process_time() - start


def bench_own_analysis(path: Path, packets: int) -> tuple[int, float, list[float]]:
    from scanner.discovery.passive import PassiveAnalyzer
    from scanner.ingest.pcap import iter_frames

    analyzer = PassiveAnalyzer()
    samples: list[float] = []
    every = max(packets // 10, 1)
    observations = 0
    start = time.process_time()
    with path.open("rb") as f:
        for frame in iter_frames(f, lambda *_: None):
            observations += len(analyzer.frame(frame.data, frame.linktype, frame.ts))
            if frame.number % every == 0:
                samples.append(rss_mb())
    return observations, time.process_time() - start, samples


def _per_cpu_second(packets: Iterable[object], sample: int, start: float) -> float:
    """How many of the first ``sample`` ``packets`` were read per CPU second since ``start``."""
    n = 0
    for _packet in packets:
        n += 1
        if n >= sample:
            break
    return n / (time.process_time() - start)


def bench_dpkt(path: Path, sample: int) -> float | None:
    try:
        import dpkt
    except ImportError:
        return None
    start = time.process_time()
    with path.open("rb") as f:
        frames = (dpkt.ethernet.Ethernet(buf).data for _ts, buf in dpkt.pcap.Reader(f))
        return _per_cpu_second(frames, sample, start)


def bench_scapy(path: Path, sample: int) -> float | None:
    try:
        from scapy.all import PcapReader
    except ImportError:
        return None
    start = time.process_time()
    with PcapReader(str(path)) as reader:
        return _per_cpu_second(reader, sample, start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--sample", type=int, default=50_000, help="packets for the dpkt and scapy comparison")
    ap.add_argument("--keep", type=Path, help="write the capture here and keep it")
    args = ap.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-pcap-"))
    path = args.keep or workdir / "large.pcap"
    try:
        t = time.process_time()
        packets = generate(path, args.size_mb * 1_000_000)
        size = path.stat().st_size
        print(
            f"capture: {size / 1e6:.0f} MB, {packets:,} packets (generated in {time.process_time() - t:.1f} s)"
        )
        n, secs = bench_own_reader(path)
        print(
            f"own reader:             {n / secs:>10,.0f} packets/s  ({secs:.1f} s, {size / secs / 1e6:.0f} MB/s)"
        )
        obs, secs, samples = bench_own_analysis(path, packets)
        print(
            f"own reader + analysis:  {packets / secs:>10,.0f} packets/s  ({secs:.1f} s, {obs:,} new observations)"
        )
        print("  RSS MB at each tenth: " + " ".join(f"{s:.0f}" for s in samples))
        first = workdir / "first.pcap"  # one pass over the 20,000 templates: every announcement is new
        with path.open("rb") as src, first.open("wb") as dst:
            dst.write(src.read(24 + sum(16 + len(f) for f in templates(random.Random(7)))))
        obs, secs, _ = bench_own_analysis(first, 20_000)
        print(
            f"  first 20,000 packets (every announcement new): {20_000 / secs:,.0f} packets/s, {obs:,} observations"
        )
        for name, fn in (("dpkt", bench_dpkt), ("scapy", bench_scapy)):
            rate = fn(path, args.sample)
            shown = f"{rate:>10,.0f} packets/s" if rate else "not installed"
            print(f"{name + ' (first ' + format(args.sample, ',') + ')':<24}{shown}")
        gz = workdir / "sample.pcap.gz"
        with path.open("rb") as src, gzip.open(gz, "wb", compresslevel=1) as dst:
            dst.write(src.read(100_000_000))
        from scanner.ingest.pcap import iter_frames

        t = time.process_time()
        with gz.open("rb") as f:
            n = sum(1 for _ in iter_frames(f, lambda *_: None))
        print(f"own reader, gzip (first 100 MB): {n / (time.process_time() - t):,.0f} packets/s")
    finally:
        if not args.keep:
            path.unlink(missing_ok=True)
        for p in workdir.iterdir():
            p.unlink()
        workdir.rmdir()


if __name__ == "__main__":
    main()
