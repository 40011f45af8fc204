"""ONVIF device service: unauthenticated GetSystemDateAndTime, then GetDeviceInformation.

Endpoints per host: ``http://IP:PORT/onvif/device_service`` for ``onvif_ports`` (default 80), plus any
WS-Discovery XAddrs that a probed host announced itself (``ctx.handoff.onvif_xaddrs``) whose host is that
same host; nothing else is ever contacted. GetDeviceInformation carries a WS-Security UsernameToken only
when the user gave credentials (``ctx.options.onvif_credentials``, read by the CLI from ``NDAA_ONVIF_USER``
and ``NDAA_ONVIF_PASSWORD``); they are never logged, stored or reported, and no credential is ever guessed.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from scanner.discovery.banner_base import HostRecorder, host_timeout, ports_option, probe_each_host
from scanner.discovery.base import Collector, ProbeContext, ProbeResult, ProbeStatus
from scanner.discovery.http import ENDPOINT_CAP, fetch
from scanner.discovery.parsers.http import same_host_url
from scanner.discovery.parsers.vendor_endpoints import (
    ONVIF_DEVICE_SERVICE,
    device_information,
    get_device_information,
    get_system_date_and_time,
    parse_soap,
    system_date_and_time,
    username_token,
)

if TYPE_CHECKING:
    from scanner.discovery.parsers.vendor_endpoints import OnvifAnswer

ONVIF_PORTS = (80,)
USER_ENV, PASSWORD_ENV = "NDAA_ONVIF_USER", "NDAA_ONVIF_PASSWORD"
SOAP_ACTION = "http://www.onvif.org/ver10/device/wsdl/{}"
MAX_ENDPOINTS = 4  # per host


class OnvifProbe:
    name = "onvif"
    description = "ONVIF GetSystemDateAndTime, GetDeviceInformation (credentials only from the environment)"

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        col = Collector(self.name, ctx)
        hosts = ctx.hosts_to_probe()
        if not hosts:
            return col.result(ProbeStatus.SKIPPED, notes=["no hosts to probe"])
        given = ctx.options.onvif_credentials
        credentials = (given.user, given.password) if given else ("", "")
        has_credentials = all(credentials)
        endpoints = device_services(hosts, ports_option(ctx, "onvif", ONVIF_PORTS), ctx.handoff.onvif_xaddrs)
        per_host = host_timeout(ctx)
        refused: set[str] = set()

        async def one(rec: HostRecorder) -> bool:
            async with asyncio.timeout(per_host):
                for url in endpoints[rec.ip]:
                    outcome = await query(rec, url, credentials if has_credentials else None)
                    if outcome is not None:
                        if outcome == "refused":
                            refused.add(rec.ip)
                        return True
            return False

        result = await probe_each_host(col, hosts, one, 1)
        if refused:
            hint = "" if has_credentials else f" (set {USER_ENV} and {PASSWORD_ENV} to read it)"
            result.notes.append(f"GetDeviceInformation refused on {len(refused)} host(s){hint}")
        return result


def device_services(
    hosts: list[str], ports: list[int], xaddrs: Mapping[str, tuple[str, ...]]
) -> dict[str, list[str]]:
    """Device-service URLs per host: the default path on ``ports``, then the XAddrs that host announced
    itself whose host is that same host (deduplicated)."""
    out = {ip: [f"http://{ip}:{p}{ONVIF_DEVICE_SERVICE}" for p in ports] for ip in hosts}
    for ip, urls in out.items():
        for xaddr in xaddrs.get(ip, ()):
            url = same_host_url(f"http://{ip}/", xaddr)
            if url and url not in urls and len(urls) < MAX_ENDPOINTS:
                urls.append(url)
    return out


async def query(rec: HostRecorder, url: str, credentials: tuple[str, str] | None) -> str | None:
    """Ask one endpoint; None if it is not an ONVIF device service, else "ok" or "refused"."""
    clock = await soap(url, "GetSystemDateAndTime", get_system_date_and_time())
    if clock is None:
        return None
    answer, port = clock
    rec.add("onvif.device_service", url, port)
    utc, tz = system_date_and_time(answer)
    rec.add("onvif.datetime", utc or "", port)
    rec.add("onvif.timezone", tz or "", port)
    security = ""
    if credentials:
        # Created on the device's clock, as ONVIF advises, so clock skew does not fail the token.
        created = utc or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        security = username_token(credentials[0], credentials[1], created, secrets.token_bytes(16))
    info = await soap(url, "GetDeviceInformation", get_device_information(security))
    for signal, value in (device_information(info[0]) if info else {}).items():
        rec.add(signal, value, port)
    return "refused" if info and info[0].fault else "ok"


async def soap(url: str, action: str, envelope: bytes) -> tuple[OnvifAnswer, int] | None:
    """POST a SOAP 1.2 request; (parsed answer, port) when the reply is a SOAP envelope, else None."""
    content_type = f'application/soap+xml; charset=utf-8; action="{SOAP_ACTION.format(action)}"'
    reply = await fetch(
        url, ENDPOINT_CAP, method="POST", body=envelope, headers=[("Content-Type", content_type)]
    )
    if reply is None or not reply.complete:
        return None
    answer = parse_soap(reply.body)
    return (answer, reply.port) if answer is not None else None
