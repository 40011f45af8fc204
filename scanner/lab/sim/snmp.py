"""Simulated SNMPv2c agent: answers GET for sysDescr.0 and sysObjectID.0 when the community matches.

Parameters: ``community`` (required to answer; a wrong community gets no reply, as real agents do),
``sys_descr``, ``sys_object_id``. Other OIDs answer noSuchObject. Encoded with the project's own BER
codec (``scanner.discovery.parsers.snmp``), which the tests check byte for byte against scapy's.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from scanner.discovery.parsers.snmp import (
    GET_REQUEST,
    GET_RESPONSE,
    NO_SUCH_OBJECT,
    OCTET_STRING,
    OID,
    SYS_DESCR,
    SYS_OBJECT_ID,
    VERSION_2C,
    Message,
    VarBind,
    encode_message,
    parse_message,
)
from scanner.lab.sim.device import Responder, SimDevice

log = logging.getLogger("scanner.lab.sim")
PORT = 161


def response(request: bytes, params: dict[str, Any]) -> bytes | None:
    """The agent's GetResponse to ``request``, or None (not a v2c GET, or the wrong community)."""
    msg = parse_message(request)
    if msg is None or msg.version != VERSION_2C or msg.pdu_type != GET_REQUEST:
        return None
    if msg.community != str(params.get("community", "")).encode() or not params.get("community"):
        return None
    values = {
        SYS_DESCR: (OCTET_STRING, str(params.get("sys_descr", "")).encode()),
        SYS_OBJECT_ID: (OID, str(params.get("sys_object_id", "1.3.6.1.4.1.8072.3.2.10"))),
    }
    binds = tuple(VarBind(b.oid, *values.get(b.oid, (NO_SUCH_OBJECT, None))) for b in msg.varbinds)
    return encode_message(Message(VERSION_2C, msg.community, GET_RESPONSE, msg.request_id, 0, 0, binds))


class _Agent(Responder):
    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = response(data, self.params)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


async def start(dev: SimDevice, params: dict[str, Any]) -> None:
    """Serve SNMPv2c GETs on UDP 161 in ``dev``'s namespace."""
    sock = dev.udp_socket(PORT)
    await asyncio.get_running_loop().create_datagram_endpoint(lambda: _Agent(params), sock=sock)
