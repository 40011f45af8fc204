"""mDNS / DNS-SD responder (docs/PROTOCOLS.md#mdns): python-zeroconf registering the profile's service.

Parameters: ``type`` (``_axis-video._tcp.local.``), ``instance``, ``host`` (SRV target), ``port``, ``txt``
(dict). Zeroconf opens its sockets when constructed, so it is constructed inside the device's namespace;
constructed on the simulator's running event loop it adds no thread, so one process serves every device.
Registration skips the name-conflict probing (each lab device owns its name), so start-up stays fast.
"""

from __future__ import annotations

import socket
from typing import Any

from scanner.lab.sim.device import SimDevice

_RUNNING: list[Any] = []  # keeps every device's zeroconf referenced for the simulator's lifetime


async def start(dev: SimDevice, params: dict[str, Any]) -> None:
    from zeroconf import IPVersion
    from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

    type_ = params["type"]
    info = AsyncServiceInfo(
        type_,
        f"{params['instance']}.{type_}",
        port=int(params.get("port", 80)),
        properties={str(k): str(v) for k, v in params.get("txt", {}).items()},
        server=params.get("host") or f"{dev.name}.local.",
        addresses=[socket.inet_aton(dev.ip)],
    )
    with dev.in_netns():
        azc = AsyncZeroconf(interfaces=[dev.ip], ip_version=IPVersion.V4Only)
    _RUNNING.append(azc)
    await azc.async_register_service(info, cooperating_responders=True)
