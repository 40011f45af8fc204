"""Simulated Dahua DHIP responder: answers ``DHDiscover.search`` with ``client.notifyDevInfo``, unicast.

The reply is the real layout (docs/PROTOCOLS.md#dhip): the 32-byte header, then NUL-terminated JSON
``{"mac", "method", "params": {"deviceInfo": {…}}}`` with deviceInfo keys in alphabetical order as on
real devices. deviceInfo is the profile's parameters plus the device's own ``IPv4Address`` block.
Anything but a search request is ignored.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from scanner.discovery.parsers.dhip import GROUP, PORT, build_reply, is_search
from scanner.lab.sim.device import Responder, SimDevice

log = logging.getLogger("scanner.lab.sim")


def device_info(dev: SimDevice, params: dict[str, Any]) -> dict[str, Any]:
    """The deviceInfo object ``dev`` reports: its parameters and its IPv4 address, keys sorted."""
    info = {
        "IPv4Address": {
            "DefaultGateway": "0.0.0.0",
            "DhcpEnable": False,
            "IPAddress": dev.ip,
            "SubnetMask": "255.255.255.0",
        }
    }
    info.update(params)
    return dict(sorted(info.items()))


class _Responder(Responder):
    def __init__(self, dev: SimDevice, params: dict[str, Any]) -> None:
        self.reply = build_reply(dev.mac, device_info(dev, params))
        self.name = dev.name

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is not None and is_search(data):
            self.transport.sendto(self.reply, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("dhip responder %s: %s", self.name, exc)


async def start(dev: SimDevice, params: dict[str, Any]) -> None:
    """Answer DHIP searches on UDP 37810 (multicast 239.255.255.251 and broadcast) in ``dev``'s namespace."""
    sock = dev.udp_socket(PORT, groups=(GROUP,))
    await asyncio.get_running_loop().create_datagram_endpoint(lambda: _Responder(dev, params), sock=sock)
