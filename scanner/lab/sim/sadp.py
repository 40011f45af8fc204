"""Simulated Hikvision SADP responder: answers an inquiry with a ProbeMatch, unicast to the requester
(or, with the parameter ``reply_to = "group"``, only to the multicast group on port 37020, as some
firmware copies its reply there).

The ProbeMatch carries the fields of the real DS-2CD2385G1-I reply in their order (docs/PROTOCOLS.md#sadp),
one element per line: the Uuid echoed, the device's own MAC (dash-separated) and IPv4 address, the
profile's parameters, and defaults for the fields a profile leaves out. Parameters the real reply does
not list (``OEMInfo``, ``Encoder``) follow at the end. Anything but an inquiry is ignored.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any
from xml.sax.saxutils import escape

from scanner.discovery.parsers.sadp import GROUP, INQUIRY_TYPES, PORT, parse_inquiry
from scanner.lab.sim.device import Responder, SimDevice

log = logging.getLogger("scanner.lab.sim")

# Field order of the real reply; None: sent only when the profile sets it. Defaults follow public
# ProbeMatch samples (booleans as "true"/"false", ports as numbers).
FIELDS: dict[str, str | None] = {
    "DeviceType": None,
    "DeviceDescription": None,
    "DeviceSN": None,
    "CommandPort": "8000",
    "HttpPort": "80",
    "MAC": None,
    "IPv4Address": None,
    "IPv4SubnetMask": "255.255.255.0",
    "IPv4Gateway": "0.0.0.0",
    "IPv6Address": "::",
    "IPv6Gateway": "::",
    "IPv6MaskLen": "64",
    "DHCP": "false",
    "AnalogChannelNum": "0",
    "DigitalChannelNum": "0",
    "SoftwareVersion": None,
    "DSPVersion": None,
    "BootTime": None,
    "Encrypt": "true",
    "ResetAbility": "false",
    "DiskNumber": "0",
    "Activated": "true",
    "PasswordResetAbility": "true",
    "PasswordResetModeSecond": "true",
    "DetailOEMCode": None,
    "SupportSecurityQuestion": "true",
    "SupportHCPlatform": "true",
    "HCPlatformEnable": "false",
    "IsModifyVerificationCode": "true",
    "Salt": None,
    "DeviceLock": "false",
    "SDKOverTLSPort": "8443",
    "SDKServerStatus": "true",
    "SDKOverTLSServerStatus": "true",
    "SupportMailBox": "true",
}


def probe_match(dev: SimDevice, params: dict[str, Any], uuid: str, types: str) -> bytes:
    """The ProbeMatch ``dev`` sends for an inquiry ``uuid``/``types``."""
    values = {name: default for name, default in FIELDS.items() if default is not None}
    values.update(
        MAC=dev.mac.replace(":", "-"), IPv4Address=dev.ip, Salt=hashlib.sha256(dev.mac.encode()).hexdigest()
    )
    values.update({k: str(v) for k, v in params.items()})
    order = [name for name in FIELDS if name in values] + [k for k in params if k not in FIELDS]
    lines = [f"<ProbeMatch><Uuid>{escape(uuid)}</Uuid>", f"<Types>{escape(types)}</Types>"]
    lines += [f"<{name}>{escape(values[name])}</{name}>" for name in order]
    lines.append("</ProbeMatch>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\r\n' + "\r\n".join(lines) + "\r\n").encode()


class _Responder(Responder):
    def __init__(self, dev: SimDevice, params: dict[str, Any]) -> None:
        self.dev = dev
        self.params = {k: v for k, v in params.items() if k != "reply_to"}
        self.to_group = params.get("reply_to") == "group"

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        inquiry = parse_inquiry(data)
        if inquiry is None or inquiry[1] not in INQUIRY_TYPES or self.transport is None:
            return
        self.transport.sendto(
            probe_match(self.dev, self.params, *inquiry), (GROUP, PORT) if self.to_group else addr
        )

    def error_received(self, exc: Exception) -> None:
        log.debug("sadp responder %s: %s", self.dev.name, exc)


async def start(dev: SimDevice, params: dict[str, Any]) -> None:
    """Answer SADP inquiries on UDP 37020 (multicast 239.255.255.250 and broadcast) in ``dev``'s namespace."""
    sock = dev.udp_socket(PORT, groups=(GROUP,))
    await asyncio.get_running_loop().create_datagram_endpoint(lambda: _Responder(dev, params), sock=sock)
