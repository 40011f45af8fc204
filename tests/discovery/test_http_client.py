"""The banner client's time window (scanner/discovery/http_client.py): a request and its one retry share one
window per host and port, so a tarpit costs one window, while a retry stays possible inside it, also on a
600 ms round trip; servers on 127.0.0.1.

Timing checks are lower bounds (a timer never fires early) or wide upper bounds (a window plus a second),
so a loaded runner does not fail them."""

from __future__ import annotations

import asyncio
import time

import pytest
from labtools import Handler, serving, tolerant

from scanner.discovery.http_client import (
    MAX_RTT,
    STRETCH,
    WINDOW,
    Response,
    Window,
    fetch,
    open_connection,
    stretch,
)

ANSWER = b"HTTP/1.1 200 OK\r\nServer: %s\r\nContent-Length: 0\r\n\r\n"
SLACK = 1.0  # seconds an upper bound allows a loaded runner beyond the window


def fetch_served(handler: Handler) -> tuple[Response | None, float]:
    """``fetch`` of / from ``handler`` on loopback: (the answer, seconds it took)."""

    async def scenario() -> tuple[Response | None, float]:
        async with serving(handler) as port:
            start = time.monotonic()
            answer = await fetch(f"http://127.0.0.1:{port}/", 4096)
            return answer, time.monotonic() - start

    return asyncio.run(scenario())


def test_a_silent_server_costs_one_window_for_both_tries() -> None:
    connections: list[float] = []

    @tolerant
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(time.monotonic())
        await reader.read()  # until the client hangs up

    answer, took = fetch_served(silent)
    assert answer is None
    assert len(connections) == 2  # the request was sent once more, not more
    assert WINDOW - 0.05 <= took < WINDOW + SLACK  # one window, not one per try
    # the retry went out at the window's middle, beside the still silent first connection
    assert connections[1] - connections[0] >= WINDOW / 2 - 0.05


def test_a_tarpit_dripping_its_answer_is_cut_at_the_window() -> None:
    @tolerant
    async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        for byte in b"HTTP/1.1 200 OK\r\nServer: " + b"t" * 1000:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.1)

    answer, took = fetch_served(drip)
    assert answer is None and WINDOW - 0.05 <= took < WINDOW + SLACK


def test_the_retry_answers_while_the_first_try_is_still_silent() -> None:
    """A request lost on the first connection (the server read it and never answers there): the retry,
    sent at the window's middle on a second connection, is answered within the same window."""
    connections: list[int] = []

    @tolerant
    async def loses_the_first(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        await reader.readuntil(b"\r\n\r\n")
        if len(connections) == 1:
            await reader.read()  # silent on the first connection
            return
        writer.write(ANSWER % b"second")
        await writer.drain()

    answer, took = fetch_served(loses_the_first)
    assert answer is not None and answer.head.get("Server") == "second"
    assert len(connections) == 2 and WINDOW / 2 - 0.05 <= took < WINDOW + SLACK


def test_a_slow_first_answer_still_counts_after_the_retry_went_out() -> None:
    """A server that takes longer than half a window: the retry goes out, the first answer wins."""
    connections: list[int] = []

    @tolerant
    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        n = len(connections)
        await reader.readuntil(b"\r\n\r\n")
        if n == 1:
            await asyncio.sleep(WINDOW * 0.7)
            writer.write(ANSWER % b"first")
            await writer.drain()
        else:
            await reader.read()  # the retry is never answered

    answer, _took = fetch_served(slow)
    assert answer is not None and answer.head.get("Server") == "first"
    assert len(connections) == 2


def test_a_hang_up_without_a_byte_is_retried_at_once() -> None:
    connections: list[int] = []

    @tolerant
    async def forgetful(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        await reader.readuntil(b"\r\n\r\n")
        if len(connections) > 1:
            writer.write(ANSWER % b"again")
            await writer.drain()

    answer, took = fetch_served(forgetful)
    assert answer is not None and answer.head.get("Server") == "again"
    assert len(connections) == 2 and took < WINDOW / 2  # not held until the window's middle


def test_a_refused_port_is_not_retried_and_costs_nothing() -> None:
    async def scenario() -> tuple[Response | None, float]:
        async with serving(tolerant(lambda r, w: asyncio.sleep(0))) as port:
            pass  # the server is closed again: its port refuses
        start = time.monotonic()
        return await fetch(f"http://127.0.0.1:{port}/", 4096), time.monotonic() - start

    answer, took = asyncio.run(scenario())
    assert answer is None and took < WINDOW / 2


@pytest.mark.parametrize("rtt", [0.0, 0.001, 0.1, 0.3, 0.6])
def test_the_window_leaves_the_retry_time_for_a_connect_and_an_exchange(rtt: float) -> None:
    """A retry starts at the window's middle and needs two round trips (its connect, its request and reply):
    those fit with at least half the base window to spare, on a LAN and at a 600 ms round trip. At 600 ms,
    a first try whose request segment is lost is answered after the kernel's retransmission timeout
    (RTO = SRTT + 4 x RTTVAR = 0.6 + 4 x 0.3 = 1.8 s after one sample, RFC 6298 §2.2) plus a round trip:
    also inside the window."""
    window = Window.after(rtt)
    length = window.end - window.start
    assert length == pytest.approx(WINDOW + STRETCH * rtt)
    assert window.retry_at + 2 * rtt + WINDOW / 2 <= window.end + 1e-9
    rto = rtt + 4 * (rtt / 2)  # RFC 6298 §2.2: SRTT = R, RTTVAR = R / 2 after the first sample
    assert rto + rtt <= length


def test_a_peer_cannot_buy_a_longer_window_with_a_slow_handshake() -> None:
    assert stretch(5.0) == stretch(MAX_RTT) == STRETCH * MAX_RTT
    assert stretch(-1.0) == 0.0


def test_the_round_trip_comes_from_the_kernel_not_the_event_loop() -> None:
    """On loopback the kernel's estimate is well under a millisecond, even when the loop was busy when the
    connect completed (a busy loop is what made the connect's own duration a bad estimate)."""

    async def scenario() -> float:
        async with serving(tolerant(lambda r, w: r.read())) as port:
            connecting = asyncio.create_task(open_connection("127.0.0.1", port))
            await asyncio.sleep(0)
            time.sleep(0.2)  # the loop is busy while the handshake completes
            conn = await connecting
            conn.writer.transport.abort()
            return conn.rtt

    assert 0.0 < asyncio.run(scenario()) < 0.05
