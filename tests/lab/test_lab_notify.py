"""End to end: `scan --notify URL --notify-cmd CMD` against a real HTTP receiver inside the lab's scanner
namespace. The first scan of a scope alerts on its covered devices; an unchanged rescan alerts on nothing;
a covered device that joins the segment alerts on that device alone."""

from __future__ import annotations

import json
import select
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from clirun import cli, lab_scan_args

pytestmark = pytest.mark.netns

SUBNET, SCANNER_IP = "10.78.0.0/24", "10.78.0.2"
CAMERA = {"name": "lobby-cam", "ip": "10.78.0.10", "mac": "58:50:ed:1f:e3:85", "profile": "hikvision-ipc"}
AXIS = {"name": "front-axis", "ip": "10.78.0.20", "mac": "ac:cc:8e:01:02:03", "profile": "axis-ipc"}
DAHUA = {"name": "dock-cam", "ip": "10.78.0.12", "mac": "08:ed:ed:44:55:66", "profile": "dahua-ipc"}

RECEIVER = """
import http.server, sys
out = open(sys.argv[2], "ab")
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        out.write(body + b"\\n"); out.flush()
        self.send_response(204); self.end_headers()
    def log_message(self, *args): pass
server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Hook)
print("ready", flush=True)
server.serve_forever()
"""


def _start_receiver(ns: str, port: int, hooks: Path) -> subprocess.Popen[bytes]:
    """The webhook receiver in the lab's scanner namespace, once it listens (waits for its "ready" line)."""
    proc = subprocess.Popen(  # noqa: S603 - a fixed script in the lab's namespace
        ["ip", "netns", "exec", ns, sys.executable, "-c", RECEIVER, str(port), str(hooks)],
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 30.0)
    if not ready or proc.stdout.readline().strip() != b"ready":
        proc.kill()
        proc.wait(5)
        pytest.fail("the webhook receiver did not start listening within 30 s")
    return proc


def _free_port() -> int:
    with socket.socket() as s:  # loopback only; the receiver binds the scanner namespace's own loopback
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _received(path: Path) -> list[dict[str, Any]]:
    return (
        [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
    )


def _scan(lab: Any, db: Path, port: int, cmd_out: Path) -> str:
    proc = cli(
        *lab_scan_args(lab.scanner_ns, SUBNET, "--db", str(db), "-q", "-f", "json"),
        "--notify",
        f"http://127.0.0.1:{port}/hook",
        "--notify-cmd",
        f"tee -a {cmd_out}",
    )
    assert proc.returncode in (0, 1), proc.stderr
    assert "notify" not in proc.stderr, proc.stderr  # every delivery went through
    scan_id: str = json.loads(proc.stdout)["scan_id"]
    return scan_id


def test_alerts_on_the_first_scan_then_only_on_what_is_new(lab_factory: Any, tmp_path: Path) -> None:
    from scanner.lab.manager import lab_down

    lab = lab_factory([CAMERA, AXIS], subnet=SUBNET, scanner_ip=SCANNER_IP)
    port, hooks, piped, db = (
        _free_port(),
        tmp_path / "hooks.jsonl",
        tmp_path / "piped.jsonl",
        tmp_path / "h.db",
    )
    receiver = _start_receiver(lab.scanner_ns, port, hooks)
    try:
        _scan(lab, db, port, piped)
        (first,) = _received(hooks)
        assert first["previous_scan_id"] is None
        assert [(a["change"], a["ip"], a["status"]) for a in first["alerts"]] == [
            ("appeared", CAMERA["ip"], "covered")
        ]
        assert _received(piped) == [first]  # the command got the same JSON on stdin

        second = _scan(lab, db, port, piped)  # nothing changed: no alert
        assert len(_received(hooks)) == 1

        lab_down(lab.name)
        lab = lab_factory([CAMERA, AXIS, DAHUA], subnet=SUBNET, scanner_ip=SCANNER_IP)
        receiver.terminate()
        receiver.wait(5)
        receiver = _start_receiver(lab.scanner_ns, port, hooks)
        _scan(lab, db, port, piped)
        third = _received(hooks)[-1]
        assert third["previous_scan_id"] == second
        assert [(a["change"], a["ip"], a["covered_entity"]) for a in third["alerts"]] == [
            ("appeared", DAHUA["ip"], "Dahua")
        ]
    finally:
        receiver.terminate()
        receiver.wait(5)


def test_an_unreachable_receiver_is_one_stderr_line_and_changes_nothing(
    lab_factory: Any, tmp_path: Path
) -> None:
    lab = lab_factory([CAMERA], subnet=SUBNET, scanner_ip=SCANNER_IP)
    proc = cli(
        *lab_scan_args(lab.scanner_ns, SUBNET, "--db", str(tmp_path / "h.db"), "-q", "-f", "json"),
        "--notify",
        f"http://127.0.0.1:{_free_port()}/hook",  # nothing listens there
    )
    assert proc.returncode == 1  # the covered camera decides the exit code, not the failed delivery
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("ndaa-scan: --notify http://127.0.0.1:"), proc.stderr
    assert json.loads(proc.stdout)["devices"]
