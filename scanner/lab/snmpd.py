"""A real SNMP agent in a lab namespace: Debian's net-snmp ``snmpd``, started by us, listening only on one
address of one namespace.

``Snmpd(netns, address, …)`` writes its snmpd.conf into a temporary directory and runs
``ip netns exec NS snmpd -f -Lo -C -c CONF -p PID -I -smux``: no system configuration (``-C``), no SMUX
port, persistent state in that directory (``SNMP_PERSISTENT_DIR``), no MIB files read (``MIBS=``), and
``agentAddress udp:ADDRESS:PORT`` only. In a router namespace it serves that namespace's real kernel ARP
table (IP-MIB, from snmpd's own modules); with ``switch_rows`` it also runs ``snmp_switch.py`` as a
``pass_persist`` program for a switch's BRIDGE/Q-BRIDGE/IF-MIB/LLDP rows. SNMPv3 users are made with
``createUser`` lines in the same file. It refuses to start outside a lab namespace (``nd-…``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from scanner.errors import ScanFailed, UsageError
from scanner.lab.netns import list_netns

READY_LINE = "NET-SNMP version"
SWITCH_PROGRAM = Path(__file__).with_name("snmp_switch.py")


@dataclass(frozen=True, slots=True)
class V3Account:
    user: str
    auth_key: str = field(repr=False)
    priv_key: str = field(repr=False)
    auth_protocol: str = "SHA"  # snmpd.conf createUser names: MD5, SHA, SHA-224, SHA-256, …
    priv_protocol: str = "AES"  # DES, AES


def snmpd_path() -> str | None:
    return shutil.which("snmpd", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


def render_conf(
    address: str,
    port: int,
    *,
    community: str | None,
    v3: V3Account | None,
    sys_name: str,
    sys_descr: str,
    sys_object_id: str | None,
    rows_file: Path | None,
) -> str:
    lines = [f"agentAddress udp:{address}:{port}", f"sysName {sys_name}", f"sysDescr {sys_descr}"]
    if sys_object_id:
        lines.append(f"sysObjectID {sys_object_id}")
    if community:
        lines.append(f"rocommunity {community} default")
    if v3:
        lines.append(
            f'createUser {v3.user} {v3.auth_protocol} "{v3.auth_key}" {v3.priv_protocol} "{v3.priv_key}"'
        )
        lines.append(f"rouser {v3.user} priv")
    if rows_file is not None:
        program = f"{sys.executable} {SWITCH_PROGRAM} {rows_file}"
        lines.append(f"pass_persist .1.3.6.1.2.1.17 {program}")
        lines.append(f"pass_persist -p 1 .1.3.6.1.2.1.31.1.1.1 {program}")  # over snmpd's own ifXTable
        lines.append(f"pass_persist .1.0.8802.1.1.2 {program}")
    return "\n".join(lines) + "\n"


class Snmpd:
    """A running snmpd in ``netns`` on ``address:port`` (a context manager; ``stop()`` ends it)."""

    def __init__(
        self,
        netns: str,
        address: str,
        *,
        port: int = 161,
        community: str | None = None,
        v3: V3Account | None = None,
        sys_name: str = "lab-agent",
        sys_descr: str = "lab snmpd",
        sys_object_id: str | None = None,
        switch_rows: dict[str, list[Any]] | None = None,
    ) -> None:
        if not netns.startswith("nd-") or netns not in list_netns(netns):
            raise UsageError(f"snmpd runs only inside a lab namespace (nd-…): {netns!r} is not one")
        self.netns, self.address, self.port = netns, address, port
        self.workdir = Path(tempfile.mkdtemp(prefix="ndaa-snmpd-"))
        rows_file = None
        if switch_rows is not None:
            rows_file = self.workdir / "rows.json"
            rows_file.write_text(json.dumps(switch_rows))
        self.conf = self.workdir / "snmpd.conf"
        self.conf.write_text(
            render_conf(
                address,
                port,
                community=community,
                v3=v3,
                sys_name=sys_name,
                sys_descr=sys_descr,
                sys_object_id=sys_object_id,
                rows_file=rows_file,
            )
        )
        self.conf.chmod(0o600)
        self.proc: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    def start(self, timeout: float = 20.0) -> Snmpd:
        binary = snmpd_path()
        if binary is None:
            raise ScanFailed("snmpd is not installed (apt-get install snmpd; scripts/bootstrap.sh --test)")
        persist = self.workdir / "persist"
        persist.mkdir(exist_ok=True)
        env = {**os.environ, "MIBS": "", "SNMP_PERSISTENT_DIR": str(persist)}
        cmd = ["ip", "netns", "exec", self.netns, binary, "-f", "-Lo", "-C", "-c", str(self.conf)]
        cmd += ["-p", str(self.workdir / "snmpd.pid"), "-I", "-smux"]
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        ready = threading.Event()

        def read() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                if len(self.output) < 2000:
                    self.output.append(line.rstrip())
                if READY_LINE in line:
                    ready.set()

        threading.Thread(target=read, name=f"snmpd-{self.netns}", daemon=True).start()
        deadline = time.monotonic() + timeout
        while not ready.wait(0.1):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise ScanFailed("snmpd did not start:\n" + "\n".join(self.output[-20:]))
        return self

    def stop(self) -> None:
        """End our snmpd (by its own process handle) and remove its directory."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Snmpd:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
