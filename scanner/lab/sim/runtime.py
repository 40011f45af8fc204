"""Serve every simulated device of a lab from one asyncio process.

Run as ``python -m scanner.lab.sim LABFILE STATEFILE``: opens each device's sockets in its namespace,
writes ``ready`` to STATEFILE, then serves until SIGTERM.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import signal
import sys
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from scanner.lab.sim.device import SimDevice
from scanner.lab.spec import LabSpec

log = logging.getLogger("scanner.lab.sim")

# service name -> module with ``async def start(dev: SimDevice, params: dict) -> None`` (or module:function)
RESPONDERS: dict[str, str] = {
    "sadp": "scanner.lab.sim.sadp",
    "dhip": "scanner.lab.sim.dhip",
    "wsd": "scanner.lab.sim.wsd",
    "wsd-peer": "scanner.lab.sim.wsd_peer",
    "mdns": "scanner.lab.sim.mdns",
    "ssdp": "scanner.lab.sim.ssdp",
    "http": "scanner.lab.sim.http",
    "https": "scanner.lab.sim.https",
    "rtsp": "scanner.lab.sim.rtsp",
    "snmp": "scanner.lab.sim.snmp",
    "replay": "scanner.lab.sim.replay",
    "ssh": "scanner.lab.sim.greeting:start_ssh",
    "telnet": "scanner.lab.sim.greeting:start_telnet",
    "ftp": "scanner.lab.sim.greeting:start_ftp",
    "sip": "scanner.lab.sim.sip",
    # hostile devices (sim/hostile.py, sim/flood.py); "module:function" names another entry point
    "bomb-http": "scanner.lab.sim.hostile:start_bomb_http",
    "bomb-ssdp": "scanner.lab.sim.hostile:start_bomb_ssdp",
    "tarpit": "scanner.lab.sim.hostile:start_tarpit",
    "junk-rtsp": "scanner.lab.sim.hostile:start_junk_rtsp",
    "spoof": "scanner.lab.sim.hostile:start_spoof",
    "dhip-liar": "scanner.lab.sim.hostile:start_dhip_liar",
    "mdns-loop": "scanner.lab.sim.hostile:start_mdns_loop",
    "greeting-flood": "scanner.lab.sim.hostile:start_greeting_flood",
    "flood": "scanner.lab.sim.flood",
}


# services whose responders also serve IPv6 (a device of an ``ipv6`` lab; the only ones an IPv6-only runs)
SERVICES6 = frozenset({"wsd", "ssdp", "mdns", "http", "https", "rtsp"})


@cache
def profiles() -> dict[str, Any]:
    return tomllib.loads((Path(__file__).resolve().parents[1] / "profiles.toml").read_text())


def sim_devices(spec: LabSpec) -> list[SimDevice]:
    out = []
    for index, d in enumerate(spec.devices):
        prof = profiles().get(d.profile)
        if prof is None:
            raise ValueError(f"device {d.name}: unknown profile {d.profile!r}")
        dev = SimDevice(d.name, d.ip, d.mac, spec.device_ns(index), d.profile, ipv4=d.ipv4, ipv6=spec.ipv6)
        for service in prof.get("services", []):
            if not d.ipv4 and service not in SERVICES6:
                continue  # an IPv6-only device: its IPv4-only services have no address to serve on
            params = dict(prof.get(service, {}))
            params.update(d.params.get(service, {}))
            dev.services[service] = dev.fill(params)
        out.append(dev)
    return out


async def start_all(devices: list[SimDevice]) -> list[str]:
    """Start every responder; return the failures (device/service: error) instead of raising."""
    failures = []
    for dev in devices:
        for service, params in dev.services.items():
            try:
                module_name, _, entry = RESPONDERS[service].partition(":")
                module = importlib.import_module(module_name)
                await getattr(module, entry or "start")(dev, params)
            except Exception as exc:  # one broken responder must not take the lab down
                failures.append(f"{dev.name}/{service}: {exc!r}")
                log.exception("responder %s failed on %s", service, dev.name)
    return failures


async def serve(spec: LabSpec, state_file: Path) -> None:
    devices = sim_devices(spec)
    failures = await start_all(devices)
    await asyncio.to_thread(state_file.write_text, "ready\n" + "\n".join(failures))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def main(argv: list[str]) -> int:
    from scanner.lab.spec import load_lab

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    spec = load_lab(argv[0])
    asyncio.run(serve(spec, Path(argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
