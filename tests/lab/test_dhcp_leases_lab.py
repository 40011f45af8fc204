"""`import dhcp-leases` on lease files written by the real servers: Debian's dnsmasq, ISC dhcpd and Kea
each serve a namespaced bridge (never a host interface), and ISC dhclient in client namespaces asks for a
lease with a vendor class (option 60), a host name (option 12) and, for one, a client id (option 61).
The file each server wrote is then imported and must name the clients by MAC with their host names,
vendor classes and verdicts."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from clirun import run_cli
from labtools import require_binary, tcpdump_in

from scanner.errors import UsageError
from scanner.ingest.dhcp_leases import read_dhcp_leases
from scanner.observations import HostNote, Observation

SUBNET = "10.97.0"
CLIENTS = [  # MAC, vendor class, host name, client id (None: none sent)
    ("58:50:ed:1f:e3:85", "HIKVISION", "DS-2CD2722FWD-IZS20170321BBWR733050075", None),
    ("ac:cc:8e:27:0a:d8", "AXIS,Network Camera,P3343,5.20.3", "axis-accc8e270ad8", "1:ac:cc:8e:27:0a:d8"),
    ("00:e0:fc:12:34:56", "HUAWEI:android:ELS-NX9", "huawei-p40", None),
]


@dataclass
class DhcpNet:
    server: str
    clients: list[str]
    tmp: Path


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@pytest.fixture
def dhcp_net(require_netns: None, tmp_path: Path) -> Iterator[DhcpNet]:
    """A server namespace with a bridge at .1 and one client namespace per CLIENTS row, each with its MAC."""
    tag = secrets.token_hex(2)
    server = f"nd-dh{tag}-srv"
    clients = [f"nd-dh{tag}-c{i}" for i in range(len(CLIENTS))]
    made: list[str] = []
    try:
        for ns in (server, *clients):
            _ip("netns", "add", ns)
            made.append(ns)
        _ip("-n", server, "link", "add", "br0", "type", "bridge")
        _ip("-n", server, "addr", "add", f"{SUBNET}.1/24", "dev", "br0")
        _ip("-n", server, "link", "set", "br0", "up")
        for i, (ns, (mac, *_)) in enumerate(zip(clients, CLIENTS, strict=True)):
            _ip(
                "link",
                "add",
                f"nddh{tag}{i}",
                "netns",
                server,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                ns,
            )
            _ip("-n", server, "link", "set", f"nddh{tag}{i}", "master", "br0", "up")
            _ip("-n", ns, "link", "set", "eth0", "address", mac)
            _ip("-n", ns, "link", "set", "eth0", "up")
        yield DhcpNet(server, clients, tmp_path)
    finally:
        for ns in made:
            for pid in subprocess.run(
                ["ip", "netns", "pids", ns], capture_output=True, text=True, timeout=10
            ).stdout.split():
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)  # only processes inside our own namespace
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


def _start(
    net: DhcpNet, argv: list[str], ready: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    log = net.tmp / "server.log"
    handle = log.open("w")
    proc = subprocess.Popen(
        ["ip", "netns", "exec", net.server, *argv],
        stdout=handle,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    deadline = time.monotonic() + 30
    while ready not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"{argv[0]} did not start:\n{log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)
    return proc


def _ask_leases(net: DhcpNet) -> None:
    """dhclient asks once per client (DISCOVER, REQUEST) and goes away; nothing is configured (-sf true)."""
    dhclient = require_binary("dhclient")
    for i, (ns, (_mac, vendor, host, cid)) in enumerate(zip(net.clients, CLIENTS, strict=True)):
        conf = net.tmp / f"c{i}.conf"
        lines = [f'send vendor-class-identifier "{vendor}";', f'send host-name "{host}";']
        if cid:
            lines.append(f"send dhcp-client-identifier {cid};")
        conf.write_text("\n".join(lines) + "\n")
        pid = net.tmp / f"c{i}.pid"
        lease = net.tmp / f"c{i}.lease"
        proc = subprocess.run(
            ["ip", "netns", "exec", ns, dhclient, "-4", "-1", "-cf", str(conf), "-lf", str(lease),
             "-pf", str(pid), "-sf", "/bin/true", "eth0"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
        with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
            os.kill(int(pid.read_text().strip()), signal.SIGTERM)  # the dhclient we started, by its pid


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def _by_mac(path: Path, now: datetime | None = None) -> dict[str, dict[str, list[str]]]:
    problems: list[tuple[int, str]] = []
    out: dict[str, dict[str, list[str]]] = {}
    for item in read_dhcp_leases(path, lambda n, m: problems.append((n, m)), now=now):
        assert item.mac is not None
        fields = out.setdefault(item.mac, {})
        if isinstance(item, Observation):
            fields.setdefault(item.signal, []).append(item.value)
            assert item.ip is not None and item.ip.startswith(SUBNET + ".")
        else:
            assert isinstance(item, HostNote)
            fields.setdefault("note", []).append(item.text)
    assert not problems, problems
    return out


def _check_common(found: dict[str, dict[str, list[str]]]) -> None:
    assert set(found) == {mac for mac, *_ in CLIENTS}
    for mac, _vendor, host, _cid in CLIENTS:
        assert found[mac]["mac"] == [mac]
        assert found[mac]["hostname"][0].lower() == host.lower()
        assert found[mac]["dhcp.lease"][0].startswith("active until ")


def _leases_given(
    net: DhcpNet, server: subprocess.Popen[str], leases: Path
) -> dict[str, dict[str, list[str]]]:
    """The clients ask ``server`` (stopped then) once each; its lease file read back, with what every
    server records checked."""
    try:
        _ask_leases(net)
    finally:
        _stop(server)
    found = _by_mac(leases)
    _check_common(found)
    assert found["ac:cc:8e:27:0a:d8"]["dhcp.client_id"] == ["01:ac:cc:8e:27:0a:d8"]
    return found


def _import_verdicts(path: Path) -> dict[str, str]:
    import json

    proc = run_cli("import", "dhcp-leases", str(path), "-f", "json")
    assert proc.returncode == 1, proc.stderr  # the Hikvision camera is covered
    report = json.loads(proc.stdout)
    return {d["mac"]: d["verdict"]["status"] for d in report["devices"]}


def test_isc_dhcpd_leases(dhcp_net: DhcpNet) -> None:
    dhcpd = require_binary("dhcpd")
    leases = dhcp_net.tmp / "dhcpd.leases"
    leases.touch()
    conf = dhcp_net.tmp / "dhcpd.conf"
    conf.write_text(
        "authoritative;\ndefault-lease-time 600;\nmax-lease-time 600;\n"
        "set vendor-string = option vendor-class-identifier;\n"
        f"subnet {SUBNET}.0 netmask 255.255.255.0 {{ range {SUBNET}.50 {SUBNET}.150; }}\n"
    )
    pidfile = dhcp_net.tmp / "dhcpd.pid"
    server = _start(
        dhcp_net,
        [dhcpd, "-4", "-f", "-d", "-cf", str(conf), "-lf", str(leases), "-pf", str(pidfile), "br0"],
        "Server starting service",
    )
    found = _leases_given(dhcp_net, server, leases)
    for mac, vendor, _host, _cid in CLIENTS:
        assert found[mac]["dhcp.vendor_class"] == [vendor]
    later = _by_mac(leases, now=datetime.now(UTC) + timedelta(hours=1))  # after the 600 s leases ended
    assert all(f["dhcp.lease"][0].startswith("expired ") and f["note"] for f in later.values())
    verdicts = _import_verdicts(leases)
    assert verdicts["58:50:ed:1f:e3:85"] == "covered"
    assert verdicts["ac:cc:8e:27:0a:d8"] == "not-covered"


def test_dnsmasq_leases(dhcp_net: DhcpNet) -> None:
    dnsmasq = require_binary("dnsmasq")
    leases = dhcp_net.tmp / "dnsmasq.leases"
    server = _start(
        dhcp_net,
        [dnsmasq, "--no-daemon", "--conf-file=/dev/null", "--port=0", "--interface=br0", "--bind-interfaces",
         f"--dhcp-range={SUBNET}.50,{SUBNET}.150,10m", f"--dhcp-leasefile={leases}",
         f"--pid-file={dhcp_net.tmp / 'dnsmasq.pid'}", "--dhcp-authoritative", "--log-dhcp", "--log-facility=-"],
        "DHCP, IP range",
    )  # fmt: skip
    found = _leases_given(dhcp_net, server, leases)
    assert "dhcp.vendor_class" not in found["58:50:ed:1f:e3:85"]  # dnsmasq does not store option 60
    verdicts = _import_verdicts(leases)
    assert verdicts["58:50:ed:1f:e3:85"] == "covered"


def test_kea_memfile_leases(dhcp_net: DhcpNet) -> None:
    kea = require_binary("kea-dhcp4")
    leases = dhcp_net.tmp / "kea-leases4.csv"
    conf = dhcp_net.tmp / "kea.json"
    conf.write_text(
        '{"Dhcp4": {"interfaces-config": {"interfaces": ["br0"]}, "authoritative": true,'
        f' "lease-database": {{"type": "memfile", "persist": true, "name": "{leases}", "lfc-interval": 0}},'
        ' "valid-lifetime": 600,'
        f' "subnet4": [{{"id": 1, "subnet": "{SUBNET}.0/24", "pools": [{{"pool": "{SUBNET}.50 - {SUBNET}.150"}}]}}],'
        ' "loggers": [{"name": "kea-dhcp4", "output_options": [{"output": "stdout"}], "severity": "INFO"}]}}'
    )
    env = {"KEA_PIDFILE_DIR": str(dhcp_net.tmp), "KEA_LOCKFILE_DIR": str(dhcp_net.tmp)}
    server = _start(dhcp_net, [kea, "-c", str(conf)], "DHCP4_STARTED", env)
    _leases_given(dhcp_net, server, leases)
    verdicts = _import_verdicts(leases)
    assert verdicts["58:50:ed:1f:e3:85"] == "covered"


def test_dhcp_exchange_on_the_wire_matches_the_lease_file(dhcp_net: DhcpNet) -> None:
    """tcpdump on every interface of the server's namespace (`-i any`: Linux cooked frames) while dhclient asks
    dnsmasq: `import pcap` reads what each client sent (options 12, 55, 60, 61) and the address the server
    acknowledged, the one its lease file records."""
    from scanner.ingest.pcap import read_pcap

    dnsmasq = require_binary("dnsmasq")
    leases, wire = dhcp_net.tmp / "dnsmasq.leases", dhcp_net.tmp / "dhcp.pcap"
    with tcpdump_in(dhcp_net.server, "any", wire, "udp"):
        server = _start(
            dhcp_net,
            [dnsmasq, "--no-daemon", "--conf-file=/dev/null", "--port=0", "--interface=br0", "--bind-interfaces",
             f"--dhcp-range={SUBNET}.50,{SUBNET}.150,10m", f"--dhcp-leasefile={leases}", "--dhcp-authoritative",
             f"--pid-file={dhcp_net.tmp / 'dnsmasq.pid'}", "--log-facility=-"],
            "DHCP, IP range",
        )  # fmt: skip
        try:
            _ask_leases(dhcp_net)
            deadline = time.monotonic() + 30  # tcpdump writes what it has read; wait for every client's ACK
            while len(_acked(wire)) < len(CLIENTS) and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            _stop(server)
    wire_fields: dict[str, dict[str, set[str]]] = {}
    for o in read_pcap(wire, lambda n, m: None):
        assert o.probe == "passive-dhcp" and o.mac is not None
        wire_fields.setdefault(o.mac, {}).setdefault(o.signal, set()).add(o.value)
    acked = _acked(wire)
    from scanner.ingest.pcap import iter_frames

    with wire.open("rb") as f:
        assert {frame.linktype for frame in iter_frames(f, lambda n, m: None)} <= {113, 276}  # LINUX_SLL(2)
    on_file = {mac: fields["ip"][0] for mac, fields in _by_mac_with_ip(leases).items()}
    assert acked == on_file
    for mac, vendor, host, cid in CLIENTS:
        fields = wire_fields[mac]
        assert fields["hostname"] == {host} and fields["dhcp.vendor_class"] == {vendor}
        assert "12" in next(iter(fields["dhcp.params"])).split(",")  # dhclient asks for its host name
        if cid:
            assert fields["dhcp.client_id"] == {"01:" + cid.split(":", 1)[1]}


def _acked(wire: Path) -> dict[str, str]:
    """MAC -> address of every DHCPACK in the capture so far."""
    from scanner.ingest.pcap import read_pcap

    try:
        return {
            o.mac: o.ip for o in read_pcap(wire, lambda n, m: None) if o.signal == "mac" and o.ip and o.mac
        }
    except UsageError:  # nothing captured yet
        return {}


def _by_mac_with_ip(path: Path) -> dict[str, dict[str, list[str]]]:
    out: dict[str, dict[str, list[str]]] = {}
    for item in read_dhcp_leases(path, lambda n, m: None):
        if isinstance(item, Observation) and item.signal == "mac":
            assert item.mac is not None and item.ip is not None
            out.setdefault(item.mac, {}).setdefault("ip", []).append(item.ip)
    return out
