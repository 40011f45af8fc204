"""Own SSDP responder and UPnP description server (docs/PROTOCOLS.md#ssdp).

Parameters: ``server``, ``st`` (the device's service type, or its device type), ``usn`` (its UDN is the part
before ``::``; default a name-based UUID from the MAC), ``device_type``, and the description fields
``manufacturer``, ``model_name``, ``model_number``, ``model_description``, ``friendly_name``, ``serial``.
M-SEARCH is answered per UDA 1.1 §1.3.2: ``ssdp:all`` gets one reply per search target (root device, UDN,
device type, service types), ``upnp:rootdevice``/UDN/a type the device has gets one. A multicast search is
answered after a random 0..MX seconds, a unicast one at once. The description is served over HTTP at
``LOCATION`` (``http://{ip}:49152/rootDesc.xml``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import uuid
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from xml.sax.saxutils import escape

from scanner.discovery.parsers.ssdp import GROUP, PORT, MSearch, parse_msearch
from scanner.lab.sim.device import Responder, SimDevice, serve_xml

GROUP6 = "ff02::c"
DESCRIPTION_PORT = 49152
DESCRIPTION_PATH = "/rootDesc.xml"
MAX_MX = 5  # UDA 1.1: a larger MX is treated as 5
MAX_REQUEST = 8192  # bytes of request head
_FIELDS = (
    ("friendlyName", "friendly_name"),
    ("manufacturer", "manufacturer"),
    ("modelDescription", "model_description"),
    ("modelName", "model_name"),
    ("modelNumber", "model_number"),
    ("serialNumber", "serial"),
)


@dataclass(frozen=True)
class UpnpIdentity:
    """What the device announces and describes."""

    ip: str
    server: str
    udn: str
    device_type: str
    service_types: tuple[str, ...]
    params: dict[str, Any]

    @property
    def location(self) -> str:
        return f"http://{self.ip}:{DESCRIPTION_PORT}{DESCRIPTION_PATH}"

    def search_targets(self) -> list[str]:
        return ["upnp:rootdevice", self.udn, self.device_type, *self.service_types]

    def answers(self, st: str) -> list[bytes]:
        """The replies to a search for ``st`` (none when the device does not have it)."""
        targets = self.search_targets()
        if st != "ssdp:all" and st not in targets:
            return []
        return [self._reply(t) for t in (targets if st == "ssdp:all" else [st])]

    def _reply(self, st: str) -> bytes:
        usn = self.udn if st == self.udn else f"{self.udn}::{st}"
        return (
            f"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nDATE: {formatdate(usegmt=True)}\r\n"
            f"EXT:\r\nLOCATION: {self.location}\r\nSERVER: {self.server}\r\nST: {st}\r\nUSN: {usn}\r\n"
            "\r\n"
        ).encode()

    def description(self) -> bytes:
        fields = "".join(
            f"<{tag}>{escape(str(self.params[key]))}</{tag}>" for tag, key in _FIELDS if self.params.get(key)
        )
        services = "".join(
            f"<service><serviceType>{escape(s)}</serviceType>"
            f"<serviceId>urn:upnp-org:serviceId:{i}</serviceId><SCPDURL>/scpd{i}.xml</SCPDURL>"
            f"<controlURL>/control{i}</controlURL><eventSubURL>/event{i}</eventSubURL></service>"
            for i, s in enumerate(self.service_types)
        )
        return (
            '<?xml version="1.0"?>\n<root xmlns="urn:schemas-upnp-org:device-1-0">'
            "<specVersion><major>1</major><minor>0</minor></specVersion><device>"
            f"<deviceType>{escape(self.device_type)}</deviceType>{fields}<UDN>{escape(self.udn)}</UDN>"
            f"<serviceList>{services}</serviceList><presentationURL>http://{self.ip}/</presentationURL>"
            "</device></root>\n"
        ).encode()


def upnp_identity(dev: SimDevice, params: dict[str, Any]) -> UpnpIdentity:
    device_type = params.get("device_type", "urn:schemas-upnp-org:device:Basic:1")
    st = params.get("st", device_type)
    usn = params.get("usn") or uuid.uuid5(uuid.NAMESPACE_OID, dev.mac).urn[4:]  # 'uuid:…'
    services = () if st in (device_type, "upnp:rootdevice") else (st,)
    return UpnpIdentity(
        dev.ip, params.get("server", "Linux UPnP/1.0"), usn.split("::")[0], device_type, services, params
    )


class _Responder(Responder):
    def __init__(self, device: UpnpIdentity, multicast: bool) -> None:
        self.device, self.multicast = device, multicast

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        search = parse_msearch(data)
        if search is None or (self.multicast and search.mx is None):
            return  # UDA 1.1: a multicast search without a valid MX is not answered
        replies = self.device.answers(search.st)
        if replies:
            asyncio.get_running_loop().call_later(self._delay(search), self.send, replies, addr)

    def _delay(self, search: MSearch) -> float:
        return random.uniform(0, min(search.mx or 0, MAX_MX)) if self.multicast else 0.0


async def start(dev: SimDevice, params: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    # As in sim/wsd.py: multicast arrives on the wildcard socket, unicast on the device-address one.
    if dev.ipv4:
        device = upnp_identity(dev, params)
        multicast = dev.udp_socket(PORT, (GROUP,))
        unicast = dev.udp_socket(PORT, bind_any=False)
        await loop.create_datagram_endpoint(lambda: _Responder(device, True), sock=multicast)
        await loop.create_datagram_endpoint(lambda: _Responder(device, False), sock=unicast)
        await asyncio.start_server(
            lambda r, w: serve_xml(DESCRIPTION_PATH, device.description, r, w, device.server),
            sock=dev.tcp_listener(DESCRIPTION_PORT),
            limit=MAX_REQUEST,
        )
    if dev.ipv6:  # UDA 2.0 §1.1.2: ff02::c; LOCATION on the link-local address
        device6 = dataclasses.replace(upnp_identity(dev, params), ip=f"[{dev.link_local}]")
        multicast6 = dev.udp6_socket(PORT, (GROUP6,))
        unicast6 = dev.udp6_socket(PORT, bind_any=False)
        await loop.create_datagram_endpoint(lambda: _Responder(device6, True), sock=multicast6)
        await loop.create_datagram_endpoint(lambda: _Responder(device6, False), sock=unicast6)
        await asyncio.start_server(
            lambda r, w: serve_xml(DESCRIPTION_PATH, device6.description, r, w, device6.server),
            sock=dev.tcp_listener6(DESCRIPTION_PORT),
            limit=MAX_REQUEST,
        )
