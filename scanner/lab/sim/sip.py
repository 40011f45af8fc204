"""A simulated SIP user agent on UDP 5060: answers OPTIONS (RFC 3261 §11) with ``200 OK`` naming itself.

Parameters: ``server`` (the ``Server`` header) or ``user_agent`` (the ``User-Agent`` header); at least one.
The response copies Via, From, Call-ID and CSeq, adds a To tag (RFC 3261 §8.2.6.2) and goes to the
request's source address and port (RFC 3581 ``rport``). Anything but an OPTIONS request gets no answer.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from scanner.lab.sim.device import Responder, SimDevice

PORT = 5060
COPIED = ("via", "v", "from", "f", "to", "t", "call-id", "i", "cseq")


def response(request: bytes, server: str, user_agent: str, tag: str) -> bytes | None:
    """The agent's answer to ``request``, or None unless it is a SIP OPTIONS request."""
    lines = request[:8192].decode("latin-1").split("\r\n")
    if not lines[0].startswith("OPTIONS sip:") or not lines[0].endswith(" SIP/2.0"):
        return None
    out = ["SIP/2.0 200 OK"]
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or name.strip().lower() not in COPIED:
            continue
        if name.strip().lower() in ("to", "t") and ";tag=" not in value:
            line = f"{line};tag={tag}"
        out.append(line)
    if server:
        out.append(f"Server: {server}")
    if user_agent:
        out.append(f"User-Agent: {user_agent}")
    out += ["Allow: INVITE, ACK, OPTIONS, BYE, CANCEL", "Content-Length: 0"]
    return ("\r\n".join(out) + "\r\n\r\n").encode("utf-8")


class _Agent(Responder):
    def __init__(self, server: str, user_agent: str, tag: str) -> None:
        self.server, self.user_agent, self.tag = server, user_agent, tag

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = response(data, self.server, self.user_agent, self.tag)
        if reply is not None:
            self.send([reply], addr)


async def start(dev: SimDevice, params: dict[str, Any]) -> None:
    """Answer SIP OPTIONS on UDP 5060 at ``dev``'s address."""
    tag = hashlib.sha1(dev.mac.encode(), usedforsecurity=False).hexdigest()[:8]
    agent = _Agent(str(params.get("server", "")), str(params.get("user_agent", "")), tag)
    sock = dev.udp_socket(int(params.get("port", PORT)), bind_any=False)
    await asyncio.get_running_loop().create_datagram_endpoint(lambda: agent, sock=sock)
