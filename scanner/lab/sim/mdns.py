"""mDNS / DNS-SD responder (docs/PROTOCOLS.md#mdns): python-zeroconf registering the profile's service.

Parameters: ``type`` (``_axis-video._tcp.local.``), ``instance``, ``host`` (SRV target), ``port``, ``txt``
(dict). Zeroconf opens its sockets when constructed, so it is constructed inside the device's namespace;
constructed on the simulator's running event loop it adds no thread, so one process serves every device.
Registration skips the name-conflict probing (each lab device owns its name), so start-up stays fast.
"""

from __future__ import annotations

import socket
from typing import Any

from scanner.lab.sim.device import IFNAME, SimDevice

_RUNNING: list[Any] = []  # keeps every device's zeroconf referenced for the simulator's lifetime


async def start(dev: SimDevice, params: dict[str, Any]) -> None:
    from zeroconf import IPVersion
    from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

    type_ = params["type"]
    # IPv4 on the device's address; in an IPv6 lab also ff02::fb on eth0 (an IPv6-only device: only that)
    addresses = [socket.inet_aton(dev.ip)] if dev.ipv4 else []
    interfaces: list[str | int] = [dev.ip] if dev.ipv4 else []
    if dev.ipv6:
        addresses.append(socket.inet_pton(socket.AF_INET6, dev.link_local))
        interfaces.append(f"{dev.link_local}%{IFNAME}")
    version = IPVersion.All if dev.ipv4 and dev.ipv6 else IPVersion.V6Only if dev.ipv6 else IPVersion.V4Only
    info = AsyncServiceInfo(
        type_,
        f"{params['instance']}.{type_}",
        port=int(params.get("port", 80)),
        properties={str(k): str(v) for k, v in params.get("txt", {}).items()},
        server=params.get("host") or f"{dev.name}.local.",
        addresses=addresses,
    )
    with dev.in_netns():
        azc = AsyncZeroconf(interfaces=interfaces, ip_version=version)
    _RUNNING.append(azc)
    await azc.async_register_service(info, cooperating_responders=True)
