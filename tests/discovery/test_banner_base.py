"""BannerProbe's bound on hosts at once (scanner/discovery/banner_base.py): the open-file limit must hold
every host's sockets, a request's retry beside its first connection included."""

from __future__ import annotations

import asyncio
import resource
from ipaddress import IPv4Address

import pytest

from scanner.discovery import banner_base
from scanner.discovery.banner_base import BannerProbe, BannerRun, HostRecorder
from scanner.discovery.base import ProbeContext, ProbeStatus
from scanner.discovery.http_client import RETRIES
from scanner.discovery.options import ProbeOptions


class Counting(BannerProbe):
    """Holds each host a moment and records how many hosts were held at once."""

    name = "counting"
    description = "test probe"
    port_option, default_ports = "counting", (1, 2, 3)

    def __init__(self) -> None:
        self.now = self.most = 0

    async def probe_host(self, run: BannerRun, rec: HostRecorder) -> bool:
        self.now += 1
        self.most = max(self.most, self.now)
        await asyncio.sleep(0.02)
        self.now -= 1
        return True


def test_hosts_at_once_leave_room_for_every_retry_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    soft = 64 + 120  # 120 descriptors left beside the 64 kept for everything else
    monkeypatch.setattr(banner_base.resource, "getrlimit", lambda _which: (soft, resource.RLIM_INFINITY))
    hosts = [IPv4Address(f"10.0.0.{i}") for i in range(1, 61)]
    ctx = ProbeContext(
        targets=hosts,
        timeout=30.0,
        concurrency=128,
        live_hosts={str(h): None for h in hosts},
        options=ProbeOptions(),
    )
    probe = Counting()
    result = asyncio.run(probe.run(ctx))
    assert result.received == 60 and result.status != ProbeStatus.PARTIAL  # every host done
    # 3 ports, one socket each, and as many again for the retries: 6 per host, 120 // 6 = 20 hosts
    assert probe.most == 120 // (3 * (1 + RETRIES)) == 20
