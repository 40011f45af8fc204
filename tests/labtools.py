"""Helpers the probe tests share: running a probe in a lab, reading its result, the labs several protocol
tests use, third-party peers, loopback TCP servers and byte mutation for hypothesis. Fixtures live in
conftest.py."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import platform
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass
from dataclasses import field as default
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import strategies as st
from paths import DATA_DIR

from scanner.discovery.base import ProbeContext, ProbeResult, ProbeStatus
from scanner.discovery.parsers.dhip import MAX_BODY, build_search
from scanner.lab.sim.wsd import Target
from scanner.targets import parse_targets

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]
R = TypeVar("R")

# ---------------------------------------------------------------- labs

WSD_MDNS_SSDP_LAB = [  # ONVIF cameras (one a third-party peer), an mDNS/UPnP camera and a UPnP CPE
    {"name": "hik", "ip": "10.99.0.10", "mac": "58:50:ed:1f:e3:85", "profile": "hikvision-ipc"},
    {"name": "dahua", "ip": "10.99.0.11", "mac": "08:ed:ed:44:55:66", "profile": "dahua-ipc"},
    {"name": "cpplus", "ip": "10.99.0.12", "mac": "e0:50:8b:00:00:12", "profile": "cpplus-ipc"},
    {"name": "unv", "ip": "10.99.0.13", "mac": "48:ea:63:00:00:13", "profile": "uniview-ipc"},
    {"name": "axis", "ip": "10.99.0.14", "mac": "ac:cc:8e:27:0a:d8", "profile": "axis-ipc"},
    {"name": "huawei", "ip": "10.99.0.15", "mac": "00:e0:fc:00:00:15", "profile": "huawei-cpe"},
    {"name": "peer", "ip": "10.99.0.16", "mac": "44:19:b6:00:00:16", "profile": "onvif-peer-hikvision"},
]

SADP_DHIP_LAB = [  # Hikvision- and Dahua-built firmware (OEM labels included) and a camera of neither
    {"name": "hik", "ip": "10.99.0.10", "mac": "58:50:ed:1f:e3:85", "profile": "hikvision-ipc"},
    {"name": "hiwatch", "ip": "10.99.0.11", "mac": "bc:ad:28:11:22:33", "profile": "hiwatch-ipc"},
    {"name": "dahua", "ip": "10.99.0.12", "mac": "08:ed:ed:44:55:66", "profile": "dahua-ipc"},
    {"name": "intelbras", "ip": "10.99.0.13", "mac": "9c:14:63:2d:7f:10", "profile": "intelbras-ipc"},
    {"name": "amcrest", "ip": "10.99.0.14", "mac": "9c:8e:cd:0a:0b:0c", "profile": "amcrest-ipc"},
    {"name": "axis", "ip": "10.99.0.15", "mac": "ac:cc:8e:27:0a:d8", "profile": "axis-ipc"},
]


def run_probe(lab: Any, probe: Any, targets: list[str], timeout: float = 3.0) -> ProbeResult:
    """Run ``probe`` on eth0 inside the lab's scanner namespace."""
    from scanner.lab.netns import run_in_netns

    def go() -> ProbeResult:
        ctx = ProbeContext(targets=parse_targets(targets), interface="eth0", timeout=timeout)
        return asyncio.run(probe.run(ctx))

    return run_in_netns(lab.scanner_ns, go)


def probe_whole_lab(lab: Any, probe: Any) -> ProbeResult:
    """Run ``probe`` over the whole lab segment (10.99.0.0/24); it must succeed."""
    result = run_probe(lab, probe, ["10.99.0.0/24"])
    assert result.status == ProbeStatus.SUCCESS, result.error
    return result


def group(name: str, count: int, start_ip: str, profile: str, *ouis: str) -> dict[str, Any]:
    """A lab ``[[group]]`` row: ``count`` devices of ``profile`` from ``start_ip`` on, their MACs under ``ouis``."""
    return {"name": name, "count": count, "start_ip": start_ip, "ouis": list(ouis), "profile": profile}


def fleet(*kinds: tuple[str, str, str]) -> list[dict[str, Any]]:
    """Fifty devices from 10.99.0.100 on, split evenly between ``kinds`` (name, OUI, profile)."""
    each = 50 // len(kinds)
    return [group(n, each, f"10.99.0.{100 + i * each}", prof, oui) for i, (n, oui, prof) in enumerate(kinds)]


def assert_fleet_found_quickly(lab: Any, probe: Any, signal: str, expected: Callable[[Any], str]) -> None:
    """``probe`` of a ``fleet`` lab gives every device exactly its ``expected`` value of ``signal`` in 2.5 s."""
    result = run_probe(lab, probe, ["10.99.0.0/24"], timeout=3.0)
    assert result.status == ProbeStatus.SUCCESS, result.error
    found = values(result, signal)
    assert found == {d.ip: [expected(d)] for d in lab.devices}
    print(f"\n{probe.name}: {len(found)} of {len(lab.devices)} devices in {result.duration:.2f} s")
    assert result.duration < 2.5


def filled(lab: Any, name: str, service: str) -> dict:
    """The parameters the simulator gives device ``name``'s ``service``: its profile, filled for it."""
    from scanner.lab.sim.runtime import sim_devices

    return {d.name: d for d in sim_devices(lab)}[name].services[service]


# ---------------------------------------------------------------- results


def values(result: ProbeResult, signal: str) -> dict[str, list[str]]:
    """IP -> every value of ``signal``."""
    out: dict[str, list[str]] = {}
    for o in result.observations:
        if o.signal == signal:
            out.setdefault(o.ip, []).append(o.value)
    return out


def by_ip(result: ProbeResult, signal: str) -> dict[str, str]:
    """IP -> value of ``signal``, asserting each device reported it once."""
    pairs = [(o.ip, o.value) for o in result.observations if o.signal == signal]
    assert len(pairs) == len({ip for ip, _ in pairs}), f"duplicate {signal}: {pairs}"
    return dict(pairs)  # type: ignore[arg-type]


def by_mac(result: ProbeResult, signal: str) -> dict[str, str]:
    """MAC -> value of ``signal``, asserting each device reported it once."""
    pairs = [(o.mac, o.value) for o in result.observations if o.signal == signal]
    assert len(pairs) == len({m for m, _ in pairs}), f"duplicate {signal}: {pairs}"
    return dict(pairs)  # type: ignore[arg-type]


# ---------------------------------------------------------------- third-party peers

IN_CI = os.environ.get("CI", "").lower() == "true"


def require_nmap() -> None:
    """python-nmap and the nmap program, which bootstrap --test installs; a skip without them (a failure
    under CI=true, as for every peer)."""
    try:
        import nmap  # noqa: F401
    except ImportError:
        require("python-nmap is not installed (pip install ndaa-scanner[nmap])")
    require(None if shutil.which("nmap") else "the nmap program is not installed (apt-get install nmap)")


def require(missing: str | None) -> None:
    """Skip when ``missing`` says what this machine lacks; under CI=true fail instead (CI runs as root
    with everything .ci/run installs, so a skip there would hide an untested feature)."""
    if missing:
        if IN_CI:
            pytest.fail(f"required under CI=true: {missing}")
        pytest.skip(missing)


def netns_available() -> str | None:
    """None if namespace tests can run here, else why not."""
    if platform.system() != "Linux":
        return "namespace tests need Linux"
    if os.geteuid() != 0:
        return "namespace tests need root"
    if not any(os.access(os.path.join(p, "ip"), os.X_OK) for p in os.environ.get("PATH", "").split(":")):
        return "namespace tests need iproute2's `ip`"
    return None


def require_binary(name: str) -> str:
    """The path of a third-party peer's program; a skip without it (a failure under CI=true)."""
    path = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    require(None if path else f"{name} is not installed (apt-get install {name})")
    assert path is not None
    return path


def wait_for_line(proc: subprocess.Popen, text: str, timeout: float) -> None:
    """Read ``proc``'s output until a line holds ``text``; fail with the output after ``timeout`` seconds."""
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if text in line:
                found.set()

    threading.Thread(target=read, daemon=True).start()
    if not found.wait(timeout):
        pytest.fail(f"no {text!r} within {timeout} s:\n" + "".join(lines))


@contextmanager
def tcpdump_in(namespace: str, interface: str, wire: Path, *expression: str) -> Iterator[Path]:
    """tcpdump inside ``namespace`` writes every frame of ``interface`` (whole, packet-buffered) that
    ``expression`` keeps to ``wire``; returns once it listens, SIGINT on exit. Yields its log
    (``wire`` with suffix .log)."""
    tcpdump = require_binary("tcpdump")
    log = wire.with_suffix(".log")
    with log.open("w") as err:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", namespace, tcpdump, "-i", interface, "-U", "--immediate-mode", "-s", "0",
             "-w", str(wire), *expression],
            stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while "listening on" not in log.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"tcpdump did not start: {log.read_text()}")
            time.sleep(0.05)
        yield log
    finally:
        proc.send_signal(signal.SIGINT)  # the tcpdump this helper started
        proc.wait(timeout=20)


def flush_capture(sender_ns: str, broadcast: str, wire: Path) -> None:
    """Broadcast a marker from ``sender_ns`` (inside a lab) and wait until the tcpdump writing ``wire`` has
    written it: tcpdump writes what it has read lazily, a SIGINT drops what it has not read yet, and on a
    loaded machine that can be the last second of a scan (its banner frames)."""
    import sys

    marker = secrets.token_hex(8)
    send = (
        "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
        "s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1); "
        f"s.sendto(b'{marker}', ('{broadcast}', 9))"
    )
    deadline = time.monotonic() + 30
    while marker.encode() not in wire.read_bytes():
        assert time.monotonic() < deadline, "the capture never showed the marker"
        subprocess.run(["ip", "netns", "exec", sender_ns, sys.executable, "-c", send], check=True, timeout=30)
        time.sleep(0.2)


@dataclass
class Capture:
    """What a thread inside a namespace collects, one entry per frame it keeps (the frame, or its send
    time), and how the test talks to it."""

    frames: list[Any] = default(default_factory=list)
    ready: threading.Event = default(default_factory=threading.Event)
    stop: threading.Event = default(default_factory=threading.Event)
    error: list[BaseException] = default(default_factory=list)


@contextmanager
def capturing_in(namespace: str, collect: Callable[[Capture], None]) -> Iterator[Capture]:
    """Run ``collect`` in a thread inside ``namespace`` for the ``with`` block: it sets ``ready`` once it
    listens and returns when ``stop`` is set; what it raised is raised here."""
    from scanner.lab.netns import run_in_netns

    cap = Capture()

    def run() -> None:
        try:
            run_in_netns(namespace, collect, cap)
        except BaseException as exc:  # re-raised by the test
            cap.error.append(exc)
            cap.ready.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert cap.ready.wait(10), "capture socket not ready"
    try:
        yield cap
    finally:
        cap.stop.set()
        thread.join(5)
    if cap.error:
        raise cap.error[0]


def most_in_window(times: Sequence[float], window: float) -> int:
    """The most of ``times`` inside any ``window`` seconds."""
    ts, best, lo = sorted(times), 0, 0
    for hi, t in enumerate(ts):
        while t - ts[lo] > window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def answer_one_msearch(udp: socket.socket, locations: list[bytes], server: bytes = b"") -> Callable[[], None]:
    """A thread body: wait for one M-SEARCH on ``udp`` and answer it once per LOCATION (with ``server``
    as the SERVER header when given)."""

    def run() -> None:
        try:
            _data, addr = udp.recvfrom(2048)
        except (TimeoutError, OSError):
            return
        head = b"HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\n" + (b"SERVER: %s\r\n" % server if server else b"")
        for loc in locations:
            udp.sendto(head + b"LOCATION: " + loc + b"\r\n\r\n", addr)

    return run


def answer_http(listener: socket.socket, answer: Callable[[bytes], bytes]) -> Callable[[], None]:
    """A thread body: accept connections on ``listener`` until it closes or times out; each gets
    ``answer(its request head)`` (a client that hung up early is fine)."""

    def run() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                return
            with conn:
                reply = answer(conn.recv(4096))
                with suppress(OSError):
                    conn.sendall(reply)

    return run


@contextmanager
def threads_serving(sockets: list[socket.socket], *bodies: Callable[[], None]) -> Iterator[None]:
    """Run each body in a daemon thread; on leaving, shut the sockets down (which wakes a thread blocked
    in accept) and join the threads."""
    threads = [threading.Thread(target=body, daemon=True) for body in bodies]
    for t in threads:
        t.start()
    try:
        yield
    finally:
        for s in sockets:
            with suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        for t in threads:
            t.join(5)


def probe_beside_peer(
    lab: Any, command: list[str], ready: str, probe: Any, targets: list[str]
) -> ProbeResult:
    """Run ``command`` (a real peer daemon) in the lab's first device namespace, wait up to 15 s for the
    line holding ``ready`` in its output, run ``probe`` on ``targets``, then stop the peer."""
    proc = subprocess.Popen(
        ["ip", "netns", "exec", lab.device_ns(0), *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_line(proc, ready, 15)
        return run_probe(lab, probe, targets)
    finally:
        proc.terminate()
        proc.wait(10)


# ---------------------------------------------------------------- loopback TCP servers


@asynccontextmanager
async def serving(handler: Handler, host: str = "127.0.0.1", ssl: Any = None) -> AsyncIterator[int]:
    """A TCP server on ``host`` (an ephemeral port, yielded) running ``handler`` per connection."""
    server = await asyncio.start_server(handler, host, 0, ssl=ssl)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


def run_served(handler: Handler, probe: Callable[[int], Awaitable[R]]) -> R:
    """``probe(port)`` run against ``handler`` served on an ephemeral loopback port."""

    async def scenario() -> R:
        async with serving(handler) as port:
            return await probe(port)

    return asyncio.run(scenario())


def dripping(reply: bytes) -> Handler:
    """A hostile server that reads a request, then sends ``reply`` one byte every 50 ms until hung up on."""

    @tolerant
    async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        for byte in reply:
            if reader.at_eof():
                break
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.05)

    return drip


def tolerant(handler: Handler) -> Handler:
    """A hostile handler that ends quietly when the probe hangs up (port checks connect and close at once)."""

    @functools.wraps(handler)
    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    return run


def endless_headers(status_line: bytes, name: bytes, pad: bytes, count: int) -> Handler:
    """A server that answers with ``status_line`` and then header after header (``<name>-<i>: <pad>``),
    ``count`` at most, while the client listens."""

    @tolerant
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(status_line + b"\r\n")
        for i in range(count):
            if reader.at_eof():
                break
            writer.write(b"%s-%d: %s\r\n" % (name, i, pad))
            await writer.drain()

    return handler


def endless_body(head: bytes, first: bytes, block: bytes) -> Handler:
    """A server that answers with ``head``, then ``first``, then ``block`` after ``block`` while the client
    listens."""

    @tolerant
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(head + first)
        while not reader.at_eof():
            writer.write(block)
            await writer.drain()

    return handler


def garbage(size: int) -> Handler:
    """A server that sends ``size`` bytes of every byte value, whatever it is asked."""

    @tolerant
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(bytes(range(256)) * (size // 256))
        await writer.drain()

    return handler


# ---------------------------------------------------------------- payloads unit and lab tests share


def wsd_target(types: str = "dn:NetworkVideoTransmitter tds:Device") -> Target:
    """A lab WS-Discovery responder's target: a Hikvision camera at 10.99.0.9 of ``types``."""
    return Target(
        "urn:uuid:aa85c000-6324-11b3-819e-5850ed1fe385",
        types,
        ["onvif://www.onvif.org/name/HIKVISION%20X"],
        "http://10.99.0.9/onvif/device_service",
    )


def dhip_frame(body: bytes, json_len: int | None = None, magic: bytes = b"DHIP", size: int = 0x20) -> bytes:
    """A DHIP datagram written independently of the code under test: header words, then ``body``."""
    n = len(body) if json_len is None else json_len
    return struct.pack("<I4s6I", size, magic, 0, 0, n, 0, n, 0) + body


_MHDX = (DATA_DIR / "dhip" / "intelbras_mhdx-1016.json").read_bytes()
DHIP_HOSTILE = {  # DHIP replies the parser must refuse
    "empty": b"",
    "header only": dhip_frame(b""),
    "short header": dhip_frame(b"{}")[:31],
    "wrong magic": dhip_frame(_MHDX, magic=b"DHIQ"),
    "wrong header size": dhip_frame(_MHDX, size=0x40),
    "json_len past the datagram": dhip_frame(_MHDX, json_len=len(_MHDX) + 1),
    "json_len absurd": dhip_frame(_MHDX, json_len=0xFFFFFFFF),
    "json_len over the bound": dhip_frame(b"{}" + b" " * MAX_BODY),
    "json_len cuts the json": dhip_frame(_MHDX, json_len=40),
    "not json": dhip_frame(b"\x89PNG\r\n\x1a\n"),
    "not utf-8": dhip_frame(b"\xff\xfe{\x00\x00"),
    "deeply nested json": dhip_frame(b"[" * 30000 + b"]" * 30000),
    "nested objects": dhip_frame(b'{"a":' * 10000 + b"1" + b"}" * 10000),
    "huge integer": dhip_frame(
        b'{"method":"client.notifyDevInfo","params":{"deviceInfo":{"a":' + b"9" * 20000 + b"}}}"
    ),
    "json array": dhip_frame(b"[1,2,3]"),
    "our own search": build_search(),
    "no deviceInfo": dhip_frame(b'{"method":"client.notifyDevInfo","params":{}}'),
    "deviceInfo not an object": dhip_frame(b'{"method":"client.notifyDevInfo","params":{"deviceInfo":[1]}}'),
}


# ---------------------------------------------------------------- hostile bytes


def mutated(data: st.DataObject, seed: bytes, inserts: list[bytes]) -> bytes:
    """``seed`` after 1 to 8 edits drawn from ``data``: flip a byte, cut up to 64 bytes, or insert one of
    ``inserts``; stops early if nothing is left."""
    raw = bytearray(seed)
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip":
            raw[pos] ^= data.draw(st.integers(1, 255))
        elif action == "cut":
            del raw[pos : pos + data.draw(st.integers(1, 64))]
        else:
            raw[pos:pos] = data.draw(st.sampled_from(inserts))
        if not raw:
            break
    return bytes(raw)


def check(device: Any, expected: dict[str, Any]) -> None:
    """Assert a real-world device's verdict matches its expect.toml entry (status_in, entity, fields)."""
    from scanner.identify.verdict import identify

    verdict = identify(device)
    summary = (
        verdict.status.value,
        verdict.covered_entity,
        verdict.vendor,
        verdict.brand,
        verdict.model,
        verdict.serial,
        verdict.firmware,
    )
    assert verdict.status.value in expected["status_in"], summary
    assert (verdict.covered_entity or "") == expected.get("entity", ""), summary
    for field in ("vendor", "brand", "model", "serial", "firmware"):
        if field in expected:
            assert getattr(verdict, field) == expected[field], (field, summary)
    assert verdict.evidence or verdict.status.value == "unknown", "a verdict without evidence"


def strings_in(node: object) -> list[str]:
    """Every string in a parsed JSON/YAML value (dict values and list items, depth first)."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in strings_in(v)]
    if isinstance(node, list):
        return [s for v in node for s in strings_in(v)]
    return []


@contextlib.contextmanager
def routed_client(
    lab_factory: Any, devices: list[dict[str, Any]], subnet: str, scanner_ip: str
) -> Iterator[str]:
    """A lab of ``devices`` on ``subnet`` and a client namespace one hop behind its scanner namespace (now
    a router): yields the client namespace, removed afterwards (the lab itself by ``lab_factory``)."""
    from scanner.lab.routed import add_routed_client, remove_routed_client

    lab = lab_factory(devices, subnet=subnet, scanner_ip=scanner_ip)
    try:
        yield add_routed_client(lab)
    finally:
        remove_routed_client(lab)


class RecordingAgent(asyncio.DatagramProtocol):
    """A loopback UDP peer for probe tests: keeps every datagram it receives and hands each to ``answer``
    (a subclass sends its replies with ``self.transport.sendto``)."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.append(data)
        if self.transport is not None:
            self.answer(data, addr, self.transport)

    def answer(self, data: bytes, addr: tuple[str, int], transport: asyncio.DatagramTransport) -> None:
        """What the peer sends back for ``data`` from ``addr`` (nothing here)."""
