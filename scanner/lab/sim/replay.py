"""Replay captured replies: answer a protocol's request with the bytes of real reply files, unchanged.

Parameters:
  protocol     sadp | dhip | wsd | ssdp: which requests are answered (an SADP inquiry, a DHIP
               ``DHDiscover.search``, a WS-Discovery Probe, an SSDP M-SEARCH), on which port and group
  file         a reply file, or a list of them (one datagram each), relative to the checkout's
               ``tests/data/realworld/`` or absolute
  description  (ssdp only) a UPnP description file served over HTTP at the reply's LOCATION, which must
               point at the device's own address; without it nothing listens there

Each datagram is a file's bytes exactly: the Uuid, MessageID/RelatesTo, addresses and MACs inside are the
capture's, not the device's or the request's. It goes unicast to the requester, at once (real devices
wait up to MX or APP_MAX_DELAY seconds before answering a multicast search), once per request heard.
An M-SEARCH for ``ssdp:all`` gets every file, one for another target gets the files whose ST it names.
The description's HTTP head is ours (status, Content-Type, Content-Length); its body is the file's bytes.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scanner.discovery.parsers import dhip, sadp, ssdp, wsd
from scanner.lab.sim.device import Responder, SimDevice, serve_xml

log = logging.getLogger("scanner.lab.sim")

REALWORLD = Path(__file__).resolve().parents[3] / "tests" / "data" / "realworld"
MAX_FILE = 64 * 1024  # bytes: a reply must fit in one UDP datagram
MAX_DESCRIPTION = 1 << 20  # bytes of a description file
MAX_REQUEST = 8192  # bytes of HTTP request head

PORTS = {
    "sadp": (sadp.PORT, sadp.GROUP),
    "dhip": (dhip.PORT, dhip.GROUP),
    "wsd": (wsd.PORT, wsd.GROUP),
    "ssdp": (ssdp.PORT, ssdp.GROUP),
}  # protocol -> (UDP port, multicast group)


def reply_file(name: str, limit: int = MAX_FILE) -> bytes:
    """The bytes of corpus file ``name`` (relative to ``REALWORLD``, or absolute), at most ``limit``."""
    path = Path(name) if Path(name).is_absolute() else REALWORLD / name
    data = path.read_bytes()
    if len(data) > limit:
        raise ValueError(f"{path}: {len(data)} bytes, more than {limit}")
    return data


def answers(protocol: str, replies: list[bytes], request: bytes) -> list[bytes]:
    """The datagrams that answer ``request`` (none when it is not the protocol's request)."""
    if protocol == "ssdp":
        search = ssdp.parse_msearch(request)
        if search is None:
            return []
        return [r for r in replies if search.st in ("ssdp:all", _header(r, "st"))]
    if protocol == "sadp":
        inquiry = sadp.parse_inquiry(request)
        asked = inquiry is not None and inquiry[1] in sadp.INQUIRY_TYPES
    elif protocol == "dhip":
        asked = dhip.is_search(request)
    else:
        asked = protocol == "wsd" and wsd.parse_probe(request) is not None
    return replies if asked else []


def _header(reply: bytes, name: str) -> str:
    msg = ssdp.parse_response(reply)
    return msg.get(name) if msg else ""


class _Replayer(Responder):
    def __init__(self, name: str, protocol: str, replies: list[bytes]) -> None:
        self.name, self.protocol, self.replies = name, protocol, replies

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.send(answers(self.protocol, self.replies, data), addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("replay responder %s: %s", self.name, exc)


async def _serve_description(dev: SimDevice, replies: list[bytes], description: str) -> None:
    """Serve ``description`` at the LOCATION of the first reply, which must be on the device's address."""
    location = next((loc for r in replies if (loc := _header(r, "location"))), "")
    url = urlsplit(location)
    if url.scheme != "http" or url.hostname != dev.ip:
        raise ValueError(
            f"replay: LOCATION {location!r} does not point at {dev.ip}: cannot serve {description}"
        )
    body = reply_file(description, limit=MAX_DESCRIPTION)
    await asyncio.start_server(
        lambda r, w: serve_xml(url.path or "/", lambda: body, r, w),
        sock=dev.tcp_listener(url.port or 80),
        limit=MAX_REQUEST,
    )


async def start(dev: SimDevice, params: dict[str, Any]) -> None:
    """Answer ``params['protocol']`` requests in ``dev``'s namespace with the bytes of ``params['file']``."""
    files = params.get("file")
    names = [files] if isinstance(files, str) else list(files or [])
    if not names:
        raise ValueError("replay: no file")
    protocol = str(params.get("protocol", ""))
    if protocol not in PORTS:
        raise ValueError(f"replay: unknown protocol {protocol!r} (one of {', '.join(PORTS)})")
    replies = [reply_file(n) for n in names]
    if params.get("description"):
        if protocol != "ssdp":
            raise ValueError("replay: a description is served only for ssdp")
        await _serve_description(dev, replies, str(params["description"]))
    port, group = PORTS[protocol]
    sock = dev.udp_socket(port, groups=(group,))
    await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: _Replayer(dev.name, protocol, replies), sock=sock
    )
