"""Bring a lab up and down: namespaces, bridge (kernel, or the lab's own userspace switch), veths, and the
simulator process."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from scanner.errors import ScanFailed, UsageError
from scanner.lab.netns import delete_netns, disable_offloads, in_netns, ip, list_netns, require_root_linux
from scanner.lab.spec import LabSpec

STATE_ROOT = Path(os.environ.get("NDAA_LAB_STATE", "/run/ndaa-scanner/labs"))
SCANNER_MAC = "02:4e:44:41:41:02"  # locally administered: the lab's scanner
READY_TIMEOUT = 60.0


@dataclass
class LabStatus:
    name: str
    namespaces: int
    simulator_pid: int | None
    simulator_alive: bool
    failures: list[str]
    switch_pid: int | None = None  # the userspace switch (None: kernel bridge)
    switch_alive: bool = False
    switch: str = ""  # its settings and counters

    def render(self) -> str:
        sim = (
            f"simulator pid {self.simulator_pid} ({'running' if self.simulator_alive else 'not running'})"
            if self.simulator_pid
            else "no simulator"
        )
        lines = [f"lab {self.name}: {self.namespaces} namespaces, {sim}"]
        if self.switch_pid:
            state = "running" if self.switch_alive else "not running"
            lines.append(f"  userspace switch pid {self.switch_pid} ({state}) {self.switch}".rstrip())
        lines += [f"  responder failed: {f}" for f in self.failures]
        return "\n".join(lines)


def state_dir(name: str) -> Path:
    return STATE_ROOT / name


def lab_up(spec: LabSpec, lab_file: Path, *, simulate: bool = True) -> LabStatus:
    """Create the lab's namespaces and start its simulator; refuses if the lab is already up."""
    require_root_linux()
    if list_netns(spec.prefix):
        raise UsageError(f"lab {spec.name!r} is already up (ndaa-scan lab down {spec.name})")
    try:
        _create_network(spec)
        if spec.routed:
            from scanner.lab.routed import add_routed_client

            add_routed_client(spec)
        if spec.userspace_switch:
            _start_switch(spec)
        if simulate and _needs_simulator(spec):
            _start_simulator(spec, lab_file)
    except BaseException:
        lab_down(spec.name)
        raise
    return lab_status(spec.name)


def _needs_simulator(spec: LabSpec) -> bool:
    from scanner.lab.sim.runtime import profiles

    return any(profiles().get(d.profile, {}).get("services") for d in spec.devices)


def _create_network(spec: LabSpec) -> None:
    plen = spec.prefixlen
    names = [spec.bridge_ns, spec.scanner_ns] + [spec.device_ns(i) for i in range(len(spec.devices))]
    ip(batch=[f"netns add {n}" for n in names])
    if spec.ipv6:  # before any interface exists: each takes these defaults when it appears in its namespace
        set_ipv6_defaults(spec.bridge_ns, enabled=False)
        for n in names[1:]:
            set_ipv6_defaults(n, enabled=True)
    br = spec.bridge_ns
    # Each veth is created inside the bridge namespace with its peer moved straight into the device
    # namespace, so no lab interface ever exists in the root namespace.
    batch = [
        "link add br0 type bridge mcast_snooping 0",
        "link set br0 up",
        "link set lo up",
        f"link add vscan type veth peer name eth0 address {SCANNER_MAC} netns {spec.scanner_ns}",
        "link set vscan master br0",
        "link set vscan up",
    ]
    for i, d in enumerate(spec.devices):
        batch += [
            f"link add v{i} type veth peer name eth0 address {d.mac} netns {spec.device_ns(i)}",
            f"link set v{i} master br0",
            f"link set v{i} up",
        ]
    if spec.userspace_switch:  # the ports stay unbridged: scanner/lab/switch.py forwards between them
        batch = [ln for ln in batch if "br0" not in ln]
    ip(netns=br, batch=batch)
    _configure_host(spec.scanner_ns, spec.scanner_ip, plen, [])
    for i, d in enumerate(spec.devices):
        dev_plen = plen if ipaddress.IPv4Address(d.ip) in ipaddress.IPv4Network(spec.subnet) else 24
        routes = [*d.routes, "default"] if spec.routed and "default" not in d.routes else d.routes
        _configure_host(spec.device_ns(i), d.ip if d.ipv4 else None, dev_plen, routes)
    if spec.userspace_switch:
        for ns in [spec.scanner_ns] + [spec.device_ns(i) for i in range(len(spec.devices))]:
            disable_offloads(ns, "eth0")


def set_ipv6_defaults(ns: str, *, enabled: bool) -> None:
    """In namespace ``ns``: IPv6 off (``enabled=False``), or on with no duplicate address detection, so a
    link-local address is usable the moment its interface is up (a lab's addresses are unique by design)."""
    values = {"disable_ipv6": 0 if enabled else 1, "accept_dad": 0}
    with in_netns(ns):
        for scope in ("all", "default"):
            for key, value in values.items():
                Path(f"/proc/sys/net/ipv6/conf/{scope}/{key}").write_text(f"{value}\n")


def _configure_host(ns: str, addr: str | None, plen: int, routes: list[str]) -> None:
    batch = [f"addr add {addr}/{plen} dev eth0"] if addr else []
    batch += [
        "link set eth0 up",
        "link set lo up",
        "route add 224.0.0.0/4 dev eth0",
    ]
    batch += ["route add default dev eth0" if r == "default" else f"route add {r} dev eth0" for r in routes]
    ip(netns=ns, batch=batch)


def _start_simulator(spec: LabSpec, lab_file: Path) -> None:
    _spawn(spec.name, "sim", "lab simulator", ["-m", "scanner.lab.sim", str(lab_file.resolve())])


def switch_config(spec: LabSpec, seed: int | None = None) -> dict[str, object]:
    """What scanner/lab/switch.py is given: the bridge namespace and its ports (the scanner's unimpaired)."""
    ports: list[dict[str, object]] = [{"ifname": "vscan"}]
    for i in range(len(spec.devices)):
        link = spec.link(i)
        ports.append({"ifname": f"v{i}", "loss": link.loss, "delay": link.delay, "jitter": link.jitter})
    return {"netns": spec.bridge_ns, "seed": seed, "ports": ports}


def _start_switch(spec: LabSpec) -> None:
    seed = os.environ.get("NDAA_LAB_SEED")
    config = json.dumps(switch_config(spec, int(seed) if seed else None))
    _spawn(spec.name, "switch", "lab switch", ["-m", "scanner.lab.switch"], config)
    desc = "no impairment"
    if spec.impaired:
        links = {spec.link(i) for i in range(len(spec.devices))}
        desc = "; ".join(sorted(link.render() for link in links))
    (state_dir(spec.name) / "switch.desc").write_text(desc)


def _spawn(name: str, role: str, what: str, args: list[str], *extra: str) -> None:
    """Start ``python ARGS STATEFILE EXTRA…`` as the lab's ``role`` process and wait for it to write ``ready``."""
    sdir = state_dir(name)
    sdir.mkdir(parents=True, exist_ok=True)
    state = sdir / f"{role}.state"
    state.unlink(missing_ok=True)
    log = open(sdir / f"{role}.log", "wb")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [sys.executable, *args, str(state), *extra],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        cwd=str(Path(__file__).resolve().parents[2]),
    )
    log.close()
    (sdir / f"{role}.pid").write_text(str(proc.pid))
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if state.exists() and state.read_text().startswith("ready"):
            return
        if proc.poll() is not None:
            raise ScanFailed(
                f"{what} exited with {proc.returncode}; its log:\n"
                + (sdir / f"{role}.log").read_text(errors="replace")[-2000:]
            )
        time.sleep(0.05)
    raise ScanFailed(
        f"{what} not ready after {READY_TIMEOUT:.0f} s; its log:\n"
        + (sdir / f"{role}.log").read_text(errors="replace")[-2000:]
    )


def lab_down(name: str) -> int:
    """Stop the simulator and delete the lab's namespaces (only those named nd-NAME-*). Returns how many."""
    require_root_linux()
    sdir = state_dir(name)
    for role in ("sim", "switch"):
        pid = _read_pid(sdir, role)
        if pid:
            _stop(pid)
    names = list_netns(f"nd-{name}-")
    delete_netns(names)
    for role in ("sim", "switch"):
        for f in (f"{role}.pid", f"{role}.state", f"{role}.log", f"{role}.tmp", f"{role}.desc"):
            (sdir / f).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        sdir.rmdir()
    return len(names)


def _stop(pid: int) -> None:
    """SIGTERM the simulator, wait up to 2 s for it to go, then SIGKILL. Reaps it when it is our child."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(100):
        if not _alive(pid):
            return
        time.sleep(0.02)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    _alive(pid)


def _alive(pid: int) -> bool:
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our child, now reaped
            return False
    except ChildProcessError:  # not our child (another ndaa-scan process started it)
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _read_pid(sdir: Path, role: str = "sim") -> int | None:
    try:
        return int((sdir / f"{role}.pid").read_text())
    except (OSError, ValueError):
        return None


def lab_status(name: str) -> LabStatus:
    sdir = state_dir(name)
    pid = _read_pid(sdir)
    failures: list[str] = []
    with contextlib.suppress(OSError):
        failures = [ln for ln in (sdir / "sim.state").read_text().splitlines()[1:] if ln]
    switch_pid = _read_pid(sdir, "switch")
    switch = ""
    with contextlib.suppress(OSError):
        switch = (sdir / "switch.desc").read_text()
    return LabStatus(
        name,
        len(list_netns(f"nd-{name}-")),
        pid,
        _running(pid),
        failures,
        switch_pid,
        _running(switch_pid),
        switch,
    )


def switch_counters(name: str, timeout: float = 2.0) -> str:
    """Ask the lab's userspace switch for its counters (``received N sent N lost N failed N``); "" without one."""
    sdir = state_dir(name)
    pid = _read_pid(sdir, "switch")
    if not pid or not _running(pid):
        return ""
    state = sdir / "switch.state"
    before = state.stat().st_mtime_ns if state.exists() else 0
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if state.stat().st_mtime_ns != before:
                lines = state.read_text().splitlines()
                return lines[1] if len(lines) > 1 else ""
        time.sleep(0.02)
    return ""


def _running(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True
