"""Passive listening on one interface: frames from an AF_PACKET socket into the passive analysis
(``scanner/discovery/passive.py``). The socket is opened for receiving only: nothing is ever sent on it,
and no other socket is opened (``tests/lab/test_listen_lab.py`` captures the interface to prove it).

Frames the host itself sends (``PACKET_OUTGOING``) are skipped: the listener audits the network, not its
own host. Memory is bounded: the socket's receive buffer (``RCVBUF``), one frame at a time
(``SNAPLEN``), and the analysis' own bounds; the caller groups observations with bounded state.
Stopping: at the deadline, or when ``stop()`` turns true (a SIGINT/SIGTERM handler sets it), checked
at least every ``POLL`` seconds.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from scanner.discovery.passive import LINKTYPE_ETHERNET, PassiveAnalyzer
from scanner.errors import PrivilegeError, UsageError
from scanner.observations import Observation

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SNAPLEN = 65_535
RCVBUF = 4 << 20
POLL = 0.25  # seconds between checks of the deadline and the stop flag


@dataclass
class ListenStats:
    frames: int = 0
    outgoing_skipped: int = 0
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None

    @property
    def seconds(self) -> float:
        return (self.ended or time.monotonic()) - self.started


def open_capture(interface: str) -> socket.socket:
    """A receive-only AF_PACKET socket bound to ``interface``; UsageError if there is no such interface,
    PrivilegeError without CAP_NET_RAW."""
    try:
        socket.if_nametoindex(interface)
    except OSError:
        raise UsageError(f"no interface {interface!r} (see `ip link`)") from None
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    except PermissionError:
        raise PrivilegeError("listening needs root or CAP_NET_RAW (an AF_PACKET socket)") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        sock.bind((interface, ETH_P_ALL))
        sock.settimeout(POLL)
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {interface!r}: {exc.strerror or exc}") from None
    return sock


def listen(
    sock: socket.socket,
    seconds: float | None,
    stop: Callable[[], bool],
    stats: ListenStats,
    analyzer: PassiveAnalyzer | None = None,
) -> Iterator[Observation]:
    """Observations of the frames heard on ``sock`` (``open_capture``; closed at the end) until ``seconds``
    have passed (None: until ``stop()``), in the order heard."""
    analyzer = analyzer or PassiveAnalyzer("passive")
    deadline = None if seconds is None else stats.started + seconds
    try:
        while not stop():
            if deadline is not None and time.monotonic() >= deadline:
                break
            try:
                data, address = sock.recvfrom(SNAPLEN)
            except TimeoutError:
                continue
            except InterruptedError:
                continue
            if address[2] == PACKET_OUTGOING:
                stats.outgoing_skipped += 1
                continue
            stats.frames += 1
            yield from analyzer.frame(data, LINKTYPE_ETHERNET, time.time())
    finally:
        stats.ended = time.monotonic()
        sock.close()
