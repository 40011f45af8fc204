"""A simulated device's server-first services: SSH on 22 (its identification line), telnet on 23 (option
negotiation, then its banner and login prompt) and FTP on 21 (its greeting reply). Each only greets and
then waits for the client to hang up; nothing a client sends is ever interpreted as a login.

Parameters:
``[<profile>.ssh]``     ``identification`` (the line, without CR LF) and ``pre_lines`` (other lines first,
                        RFC 4253 §4.2 allows them).
``[<profile>.telnet]``  ``banner`` (text, CR LF as the device writes them), ``do`` and ``will`` (option
                        numbers the server asks for first, RFC 855; default none) and ``wait_answers``
                        (true: the banner comes only once the client has answered every request, as a
                        telnetd that waits for its negotiation does; a client that never answers gets
                        no banner).
``[<profile>.ftp]``     ``greeting`` (the whole reply, multi-line with ``\\r\\n``, RFC 959 §4.2).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from scanner.discovery.parsers.greeting import DO, DONT, IAC, WILL, WONT
from scanner.lab.sim.device import SimDevice

IDLE = 10.0  # seconds a greeted client may stay connected
NEGOTIATION_WAIT = 5.0  # seconds a waiting telnet server waits for the client's answers
_servers: list[asyncio.Server] = []


async def _listen(dev: SimDevice, port: int, handler: Any) -> None:
    for sock in dev.tcp_listeners(port):
        _servers.append(await asyncio.start_server(handler, sock=sock))


async def _greet(
    greeting: bytes,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    first: Callable[[], Awaitable[bool]] | None = None,
) -> None:
    """Send ``greeting`` (after ``first``, when it agrees), then keep the connection until the client
    hangs up (or ``IDLE``)."""
    try:
        if first is not None and not await first():
            return
        writer.write(greeting)
        await writer.drain()
        await _drain_input(reader, IDLE)
    except (OSError, TimeoutError):
        pass
    finally:
        writer.close()


async def _drain_input(reader: asyncio.StreamReader, seconds: float) -> None:
    """Read and drop what the client sends until it hangs up or ``seconds`` pass."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while await reader.read(4096):
                pass


async def start_ssh(dev: SimDevice, params: dict[str, Any]) -> None:
    lines = [*(str(line) for line in params.get("pre_lines", [])), str(params["identification"])]
    greeting = "".join(line + "\r\n" for line in lines).encode()
    await _listen(dev, int(params.get("port", 22)), lambda r, w: _greet(greeting, r, w))


async def start_ftp(dev: SimDevice, params: dict[str, Any]) -> None:
    greeting = (str(params["greeting"]).rstrip("\r\n") + "\r\n").encode()
    await _listen(dev, int(params.get("port", 21)), lambda r, w: _greet(greeting, r, w))


async def start_telnet(dev: SimDevice, params: dict[str, Any]) -> None:
    server = TelnetServer(
        str(params["banner"]).encode("utf-8"),
        [int(o) for o in params.get("do", [])],
        [int(o) for o in params.get("will", [])],
        bool(params.get("wait_answers", False)),
    )
    await _listen(dev, int(params.get("port", 23)), server.handle)


class TelnetServer:
    def __init__(self, banner: bytes, do: list[int], will: list[int], wait_answers: bool) -> None:
        self.banner, self.do, self.will, self.wait_answers = banner, do, will, wait_answers
        self.answers: list[bytes] = []  # every client's negotiation replies, for tests

    def requests(self) -> bytes:
        return b"".join(bytes((IAC, DO, o)) for o in self.do) + b"".join(
            bytes((IAC, WILL, o)) for o in self.will
        )

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def negotiate() -> bool:
            writer.write(self.requests())
            await writer.drain()
            # a client that does not negotiate never sees the banner
            return not self.wait_answers or await self.answered(reader)

        await _greet(self.banner, reader, writer, negotiate)

    async def answered(self, reader: asyncio.StreamReader) -> bool:
        """Whether the client answered every request (any verb about each asked option) in time."""
        pending = {(DO, o) for o in self.do} | {(WILL, o) for o in self.will}
        replies = {WONT: DO, WILL: DO, DONT: WILL, DO: WILL}  # the verb of ours each reply answers
        data = b""
        try:
            async with asyncio.timeout(NEGOTIATION_WAIT):
                while pending:
                    chunk = await reader.read(64)
                    if not chunk:
                        return False
                    data += chunk
                    while len(data) >= 3:
                        if data[0] == IAC and data[1] in replies:
                            pending.discard((replies[data[1]], data[2]))
                            self.answers.append(data[:3])
                            data = data[3:]
                        else:
                            data = data[1:]
        except TimeoutError:
            return False
        return True
