"""`ndaa-scan listen`: a tap namespace on the demo lab's bridge (made a hub, like a mirror port) listens while
a scan runs from the lab's scanner namespace; Ctrl-C writes the report, which must name the covered devices
the scan found. tcpdump captures the tap's interface throughout: no frame may leave it (the tap has no
address and no IPv6, so its kernel sends nothing either)."""

from __future__ import annotations

import ipaddress
import json
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clirun import scan_lab_json, scanner_command
from labtools import flush_capture, tcpdump_in
from paths import REPO

from scanner.ingest.pcap import iter_frames

FAILING = ("covered", "likely")


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@pytest.fixture
def tapped(lab_factory: Any) -> Iterator[tuple[Any, str, str]]:
    """(lab, tap namespace, tap MAC): the demo lab with one more bridge port, in a namespace of its own."""
    lab = lab_factory(builtin="demo")
    tag = secrets.token_hex(2)
    tap, mac = f"nd-ls{tag}-tap", f"02:6c:73:00:{tag[:2]}:{tag[2:]}"
    _ip("netns", "add", tap)
    try:
        subprocess.run(
            ["ip", "netns", "exec", tap, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
             "net.ipv6.conf.default.disable_ipv6=1"], check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        _ip(
            "-n",
            lab.bridge_ns,
            "link",
            "add",
            f"vtap{tag}",
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "address",
            mac,
            "netns",
            tap,
        )
        _ip("-n", lab.bridge_ns, "link", "set", f"vtap{tag}", "master", "br0", "up")
        _ip("-n", lab.bridge_ns, "link", "set", "br0", "type", "bridge", "ageing_time", "0")  # flood: a hub
        _ip("-n", tap, "link", "set", "eth0", "up")
        yield lab, tap, mac
    finally:
        subprocess.run(["ip", "netns", "del", tap], capture_output=True, timeout=30)


def _wait_for(path: Path, text: str, proc: subprocess.Popen[Any], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text(errors="replace"):
        assert proc.poll() is None and time.monotonic() < deadline, path.read_text(errors="replace")
        time.sleep(0.05)


def test_listen_hears_the_scan_sends_nothing_and_ctrl_c_writes_the_report(
    tapped: tuple[Any, str, str], tmp_path: Path
) -> None:
    lab, tap, tap_mac = tapped
    wire, listen_log = tmp_path / "tap.pcap", tmp_path / "listen.log"
    with tcpdump_in(tap, "eth0", wire), listen_log.open("w") as listen_err:
        listener = subprocess.Popen(
            ["ip", "netns", "exec", tap, *scanner_command("listen", "-i", "eth0", "-f", "json")],
            stdout=subprocess.PIPE,
            stderr=listen_err,
            text=True,
            cwd=REPO,
        )
        try:
            _wait_for(listen_log, "nothing is sent", listener)
            scanned = scan_lab_json(lab)
        finally:
            listener.send_signal(signal.SIGINT)  # Ctrl-C, to the listener this test started
            out, _ = listener.communicate(timeout=120)
            flush_capture(
                lab.scanner_ns, str(ipaddress.ip_network(lab.subnet).broadcast_address), wire
            )  # everything up to the listener's exit is in the file
    assert listener.returncode == 1, listen_log.read_text()  # covered equipment heard
    assert "Traceback" not in listen_log.read_text()
    report = json.loads(out)
    heard = {d["mac"]: d["verdict"]["status"] for d in report["devices"]}
    failing = {d["mac"] for d in scanned["devices"] if d["verdict"]["status"] in FAILING}
    assert failing and failing <= {mac for mac, status in heard.items() if status in FAILING}, (
        failing,
        heard,
    )
    assert any("no packet was sent" in note for note in report["notes"])

    frames = list(iter_frames(wire.open("rb"), lambda n, m: None))
    assert len(frames) > 200  # the tap heard the scan
    sent = [f for f in frames if f.data[6:12].hex(":") == tap_mac]
    assert sent == [], f"{len(sent)} frames left the listener's interface"


def test_listen_for_a_duration_on_a_quiet_link(tapped: tuple[Any, str, str]) -> None:
    _, tap, _ = tapped
    proc = subprocess.run(
        ["ip", "netns", "exec", tap, *scanner_command("listen", "-i", "eth0", "-d", "2s", "-f", "json")],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip
    # the lab's devices may announce themselves during the 2 s (exit 1 when a covered one does): what
    # matters is that a timed listen ends by itself, complete, and writes its report
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(proc.stdout)
    assert report["complete"] and "for 2 s" in " ".join(report["notes"])


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["-i", "nd-no-such-if", "-d", "1s"], "no interface 'nd-no-such-if'"),
        (["-i", "lo", "-d", "ten minutes"], "--duration 'ten minutes': give it like 30s, 10m or 2h"),
        (["-i", "lo", "-d", "0s"], "must be more than 0"),
        (["-i", "lo", "-d", "8d"], "give it like 30s"),
        (["-i", "lo", "-o", "json=/nonexistent-dir/x.json"], "cannot write report"),
    ],
)
def test_listen_usage_errors_before_any_socket(args: list[str], needle: str) -> None:
    """Bad options are exit 2 with one line, checked before the capture socket is opened."""
    from clirun import assert_usage_error, run_cli

    assert_usage_error(run_cli("listen", *args), needle)
