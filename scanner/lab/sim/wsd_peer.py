"""A WS-Discovery peer nobody here wrote: the third-party ``wsdiscovery`` package's publisher.

Parameters: ``types`` (space-separated QNames with the ``dn:``/``tds:`` prefixes), ``scopes`` (list of URIs),
``endpoint`` (optional ``urn:uuid:…``). The publisher runs its own threads; they are started inside the
device's namespace (a thread inherits its creator's namespace), so every socket it opens lives there. Its
IPv6 thread dies on the first IPv4 reply (docs/PERFORMANCE.md), so only the IPv4 threads are started. After
start the responder checks that the publisher joined the group on the device's address and nothing else.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from scanner.lab.sim.device import SimDevice
from scanner.lab.sim.wsd import PREFIXES

_PUBLISHERS: list[Any] = []  # keeps the running publishers referenced for the simulator's lifetime


async def start(dev: SimDevice, params: dict[str, Any]) -> None:
    from wsdiscovery import QName, Scope

    types = []
    for qname in params.get("types", "dn:NetworkVideoTransmitter").split():
        prefix, _, local = qname.rpartition(":")
        types.append(QName(PREFIXES.get(prefix, ""), local, prefix or None))
    scopes = [Scope(s) for s in params.get("scopes", [])]
    with dev.in_netns():
        publisher = _ipv4_publisher_class()(uuid_=params.get("endpoint") or None)
        publisher.start()
    try:
        _check_addresses(publisher, dev.ip)
        publisher.publishService(types, scopes, [f"http://{dev.ip}/onvif/device_service"])
    except BaseException:
        publisher.stop()
        raise
    _PUBLISHERS.append(publisher)


def _ipv4_publisher_class() -> type:
    from wsdiscovery.publishing import ThreadedWSPublishing
    from wsdiscovery.threaded import AddressMonitorThread, NetworkingThreadIPv4

    class IPv4Publisher(ThreadedWSPublishing):  # type: ignore[misc]
        """The package's threaded publisher with its IPv6 networking and address threads left out."""

        def _startThreads(self) -> None:
            self._networkingThread_v4 = networking = NetworkingThreadIPv4(self)
            networking.start()
            self._addrsMonitorThread_v4 = monitor = AddressMonitorThread(self, socket.AF_INET)
            monitor.start()

    return IPv4Publisher


def _check_addresses(publisher: Any, ip: str) -> None:
    """Raise unless the publisher found exactly the device's address (its monitor reads them when created)."""
    seen = set(publisher._addrsMonitorThread_v4._addrs)
    if seen != {ipaddress.ip_address(ip)}:
        raise RuntimeError(f"wsdiscovery publisher serves {sorted(map(str, seen))}, expected only {ip}")
