"""LLDP and CDP from a real sender: Debian's lldpd announces a namespace's interface (LLDP and CDP forced,
its own host name in a UTS namespace); tcpdump captures the peer's side, and `import pcap` and `listen`
must both read the announcements."""

from __future__ import annotations

import json
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from clirun import scanner_command
from labtools import require_binary, tcpdump_in
from paths import REPO

from scanner.errors import UsageError
from scanner.ingest.pcap import read_pcap

SENDER_MAC = "58:50:ed:aa:bb:cc"  # a Hikvision OUI: the MAC alone makes the verdict
NAME, DESCR = "lldp-lab-camera", "Lab LLDP sender (lldpd)"


@pytest.fixture
def pair(require_netns: None, tmp_path: Path) -> Iterator[tuple[str, str]]:
    tag = secrets.token_hex(2)
    sender, peer = f"nd-ll{tag}-a", f"nd-ll{tag}-b"
    try:
        for ns in (sender, peer):
            subprocess.run(["ip", "netns", "add", ns], check=True, timeout=30)
        subprocess.run(
            ["ip", "netns", "exec", peer, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
             "net.ipv6.conf.default.disable_ipv6=1"], check=True, timeout=30,
        )  # fmt: skip
        subprocess.run(
            ["ip", "link", "add", "eth0", "netns", sender, "address", SENDER_MAC, "type", "veth",
             "peer", "name", "eth0", "netns", peer], check=True, timeout=30,
        )  # fmt: skip
        for ns in (sender, peer):
            subprocess.run(["ip", "-n", ns, "link", "set", "eth0", "up"], check=True, timeout=30)
        yield sender, peer
    finally:
        for ns in (sender, peer):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


def _lldpd(sender: str, tmp: Path, sockets: Path) -> subprocess.Popen[bytes]:
    lldpd = require_binary("lldpd")
    script = f'hostname {NAME}; exec {lldpd} -d -cc -l -I eth0 -u {sockets}/lldpd.sock -S "{DESCR}"'
    with (tmp / "lldpd.log").open("w") as log:
        return subprocess.Popen(
            ["ip", "netns", "exec", sender, "unshare", "--uts", "sh", "-c", script], stdout=log, stderr=log
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)  # the process this test started
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def test_lldp_and_cdp_in_a_capture_and_heard_by_listen(pair: tuple[str, str], tmp_path: Path) -> None:
    sender, peer = pair
    wire = tmp_path / "lldp.pcap"
    with tcpdump_in(peer, "eth0", wire, "not", "ip6"):
        listener = subprocess.Popen(
            ["ip", "netns", "exec", peer, *scanner_command("listen", "-i", "eth0", "-f", "json")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        )  # fmt: skip
        assert listener.stderr is not None
        assert "nothing is sent" in listener.stderr.readline()
        # lldpd's unprivileged half must reach its socket
        sockets = Path(tempfile.mkdtemp(prefix="nd-lldpd-"))
        sockets.chmod(0o755)
        sender_proc = _lldpd(sender, tmp_path, sockets)
        try:
            deadline = time.monotonic() + 30
            while not {"lldp", "cdp"} <= _protocols(wire):  # lldpd sends both at start
                assert time.monotonic() < deadline, (tmp_path / "lldpd.log").read_text()
                time.sleep(0.2)
        finally:
            _stop(sender_proc)
            listener.send_signal(signal.SIGINT)
            out, _ = listener.communicate(timeout=60)
            shutil.rmtree(sockets, ignore_errors=True)
    found = {(o.signal, o.value, o.mac) for o in read_pcap(wire, lambda n, m: None)}
    assert {
        ("lldp.chassis_id", SENDER_MAC, SENDER_MAC),
        ("lldp.sys_name", NAME, SENDER_MAC),
        ("lldp.sys_descr", DESCR, SENDER_MAC),
        ("cdp.device_id", NAME, SENDER_MAC),
        ("cdp.software", DESCR, SENDER_MAC),
        ("cdp.platform", "Linux", SENDER_MAC),
    } <= found
    assert listener.returncode == 1  # the Hikvision OUI
    devices = {d["mac"]: d for d in json.loads(out)["devices"]}
    heard = {(o["signal"], o["value"]) for o in devices[SENDER_MAC]["observations"]}
    assert {("lldp.sys_name", NAME), ("cdp.device_id", NAME)} <= heard


def _protocols(path: Path) -> set[str]:
    if not path.exists() or path.stat().st_size < 24:
        return set()
    try:
        return {o.probe.removeprefix("passive-") for o in read_pcap(path, lambda n, m: None)}
    except UsageError:  # nothing written yet but the file header
        return set()
