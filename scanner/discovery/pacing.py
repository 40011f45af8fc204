"""The scan's one packet pace: ``Pacer``, a token bucket every packet-sending probe draws from.

Every probe that sends packets (ARP, the liveness SYN/echo sweep and its connect() fallback, the unicast
and group datagrams of SADP, DHIP, WS-Discovery, SSDP and SNMP) takes one token per packet from the
``Pacer`` of its ``ProbeContext`` before sending, so the probes running side by side share one cap
(``ProbeOptions.rate_cap``, the user's ``--rate``) instead of each going at its own pace.

The bucket refills at ``rate`` tokens a second and holds at most ``burst`` of them (idle time banks no
more than that). Taking a token is a reservation: the bucket may go ``slack`` tokens into debt before a
taker sleeps, and a taker that sleeps waits until its own tokens are paid for, so sleeps are never
shorter than about ``SLACK`` seconds (no 50 µs sleeps at 20,000 packets a second) and concurrent takers
line up in the order they asked. In any window of ``T`` seconds the takers are let go at most
``burst + slack + rate * T`` times (``tests/discovery/test_pacing.py`` checks this on a virtual clock).
The arithmetic is ``reserve(n, now) -> seconds to wait``, pure and synchronous; ``take`` only adds the
sleep, and the clock and sleep are injectable.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

BURST = 0.005  # seconds of sending the bucket holds when full
SLACK = 0.002  # seconds of sending a taker may run ahead before it sleeps


class Pacer:
    """A token bucket shared by every probe of one scan; see the module docstring."""

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"a pace needs a positive rate, not {rate!r}")
        self.rate = float(rate)
        self.burst = max(1.0, self.rate * BURST)
        self.slack = max(1.0, self.rate * SLACK)
        self.clock, self.sleep = clock, sleep
        self.tokens = self.burst
        self.stamp: float | None = None
        self.taken = 0  # packets let go so far (the scan's progress shows it)
        self.waited = 0.0  # seconds takers were told to wait, in all

    def reserve(self, n: int = 1, now: float | None = None) -> float:
        """Take ``n`` tokens at ``now``; the seconds the taker must wait before it sends (0.0: at once)."""
        now = self.clock() if now is None else now
        if self.stamp is None:
            self.stamp = now
        elif now > self.stamp:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
        self.tokens -= n
        self.taken += n
        if self.tokens >= -self.slack:
            return 0.0
        delay = -self.tokens / self.rate
        self.waited += delay
        return delay

    async def take(self, n: int = 1) -> None:
        """Wait until ``n`` packets may go."""
        delay = self.reserve(n)
        if delay > 0.0:
            await self.sleep(delay)

    def charge(self, n: int = 1) -> None:
        """Count ``n`` packets already sent that could not wait (a group request): later takers wait
        for them."""
        self.reserve(n)
