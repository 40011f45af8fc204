"""The flooder: a lab device that answers a SADP, DHIP or WS-Discovery search with ``rate`` forged replies per
second (default 10,000) to the searcher, for ``duration`` seconds after the last search (default 10), each
reply unique: another serial, another MAC (on covered OUIs), another claimed IPv4 address. All come from the
flooder's one address; only their payloads claim to be other devices.

``services = ["flood"]``; parameters ``rate``, ``duration``, ``protocols`` (default sadp, dhip, wsd). The
responder in the simulator process only spawns the sender, ``python -m scanner.lab.sim.flood CONFIG``, in
the device's namespace: a flood from the simulator's own event loop would slow every other simulated device.
The sender dies with the simulator (PR_SET_PDEATHSIG, and the simulator terminates it on exit).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from scanner.lab.sim.device import SimDevice

READY_TIMEOUT = 30.0
TICK = 0.01  # seconds between bursts
OUIS = ("58:50:ed", "c0:56:e3", "08:ed:ed", "3c:ef:8c")  # Hikvision and Dahua blocks: look-alikes to flag
_children: list[subprocess.Popen[bytes]] = []


async def start(dev: SimDevice, params: dict[str, Any]) -> None:
    config = {
        "netns": dev.netns,
        "ip": dev.ip,
        "rate": int(params.get("rate", 10_000)),
        "duration": float(params.get("duration", 10.0)),
        "protocols": list(params.get("protocols", ["sadp", "dhip", "wsd"])),
    }
    proc = _spawn(config)
    assert proc.stdout is not None
    # ready once its sockets are bound: the lab is not up before every device answers
    line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), READY_TIMEOUT)
    if line.strip() != b"ready":
        raise RuntimeError(f"flood sender did not start (exit code {proc.poll()})")


def _spawn(config: dict[str, Any]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "scanner.lab.sim.flood", json.dumps(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        cwd=str(Path(__file__).resolve().parents[3]),
    )
    if not _children:
        atexit.register(_stop_children)
    _children.append(proc)
    return proc


def _stop_children() -> None:
    for proc in _children:
        with contextlib.suppress(OSError):
            proc.terminate()
    for proc in _children:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(2)


def forged(port: int, search: tuple[str, ...], n: int, subnet_hi: str) -> bytes:
    """The ``n``-th forged reply to ``search``: its own serial, MAC and claimed address."""
    from scanner.lab.sim.hostile import forged_reply

    oui = OUIS[n % len(OUIS)]
    mac = f"{oui}:{(n >> 16) & 0xFF:02x}:{(n >> 8) & 0xFF:02x}:{n & 0xFF:02x}"
    ip = f"{subnet_hi}.{(n >> 8) & 0xFF}.{n & 0xFF}"
    return forged_reply(port, search, mac, ip, f"{n:09d}")


def main(argv: list[str]) -> int:
    from scanner.lab.netns import enter_netns
    from scanner.lab.sim.hostile import SEARCH_PORTS, parse_search

    config = json.loads(argv[0])
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() == 1:
        return 0
    enter_netns(config["netns"])
    dev = SimDevice("flood", config["ip"], "00:00:00:00:00:00", config["netns"], "flood")
    names = {37020: "sadp", 37810: "dhip", 3702: "wsd"}
    socks: dict[socket.socket, int] = {}
    for port, group in SEARCH_PORTS:
        if names[port] in config["protocols"]:
            socks[dev.udp_socket(port, groups=(group,))] = port
    for s in socks:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    per_tick = max(1, int(config["rate"] * TICK))
    subnet_hi = ".".join(config["ip"].split(".")[:2])
    # (searcher address, protocol port) -> (parsed search, flood until, socket)
    targets: dict[tuple[tuple[str, int], int], tuple[tuple[str, ...], float, socket.socket]] = {}
    n = 0
    next_tick = time.monotonic()
    while True:
        wait = max(0.0, next_tick - time.monotonic()) if targets else 1.0
        ready, _, _ = select.select(list(socks), [], [], wait)
        now = time.monotonic()
        for s in ready:
            with contextlib.suppress(BlockingIOError):
                data, addr = s.recvfrom(65535)
                search = parse_search(socks[s], data) if addr[0] != dev.ip else None
                if search is not None:
                    targets[(addr, socks[s])] = (search, now + config["duration"], s)
        for key in [k for k, v in targets.items() if v[1] < now]:
            del targets[key]
        if targets and now >= next_tick:
            next_tick = now + TICK
            items = list(targets.items())
            for i in range(per_tick):  # the rate is shared among the searchers
                (addr, port), (search, _, s) = items[i % len(items)]
                n += 1
                with contextlib.suppress(OSError):
                    s.sendto(forged(port, search, n, subnet_hi), addr)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
