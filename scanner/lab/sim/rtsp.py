"""A simulated device's RTSP server on 554: OPTIONS answers 200, DESCRIBE answers 401 with the realm.

Parameters (``[<profile>.rtsp]``): ``server`` (Server header; empty or absent: none) and ``realm``
(WWW-Authenticate value; absent: DESCRIBE answers 200 with a minimal SDP).
"""

from __future__ import annotations

import asyncio
from typing import Any

from scanner.lab.sim.device import SimDevice

MAX_REQUESTS = 16
IDLE = 10.0
PUBLIC = "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER"

_servers: list[asyncio.Server] = []


async def start(dev: SimDevice, params: dict[str, Any]) -> None:
    server = RtspServer(str(params.get("server") or ""), str(params.get("realm") or ""), dev.ip)
    for sock in dev.tcp_listeners(554):
        _servers.append(await asyncio.start_server(server.handle, sock=sock))


class RtspServer:
    def __init__(self, server: str, realm: str, ip: str) -> None:
        self.server, self.realm, self.ip = server, realm, ip

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            for _ in range(MAX_REQUESTS):
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE)
                writer.write(self.respond(head.decode("latin-1")))
                await writer.drain()
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    def respond(self, head: str) -> bytes:
        lines = head.split("\r\n")
        method = lines[0].split(" ", 1)[0]
        cseq = next((ln.split(":", 1)[1].strip() for ln in lines[1:] if ln.lower().startswith("cseq:")), "0")
        out = [f"CSeq: {cseq}"] + ([f"Server: {self.server}"] if self.server else [])
        body = b""
        if method == "OPTIONS":
            status = "200 OK"
            out.append(f"Public: {PUBLIC}")
        elif method == "DESCRIBE" and self.realm:
            status = "401 Unauthorized"
            out.append(f"WWW-Authenticate: {self.realm}")
        elif method == "DESCRIBE":
            status = "200 OK"
            body = f"v=0\r\no=- 0 0 IN IP4 {self.ip}\r\ns=Media Presentation\r\nt=0 0\r\n".encode()
            out += ["Content-Type: application/sdp", f"Content-Length: {len(body)}"]
        else:
            status = "405 Method Not Allowed"
        return (f"RTSP/1.0 {status}\r\n" + "\r\n".join(out) + "\r\n\r\n").encode("latin-1", "replace") + body
