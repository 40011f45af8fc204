"""ONVIF device service: unauthenticated GetSystemDateAndTime, then GetDeviceInformation.

Endpoints per host: ``http://IP:PORT/onvif/device_service`` for ``onvif_ports`` (default 80), plus any
WS-Discovery XAddrs that a probed host announced itself (``ctx.handoff.onvif_xaddrs``) whose host is that
same host; nothing else is ever contacted, and no redirect is followed.

Credentials (``ctx.options.onvif_credentials``, read by the CLI from ``NDAA_ONVIF_USER`` and
``NDAA_ONVIF_PASSWORD``) go only in a WS-Security UsernameToken of GetDeviceInformation, and only to a
named target (``ctx.targets``; never a host that was merely heard on the network) at the very URL whose
ONVIF service answered GetSystemDateAndTime in this probe; every other host gets GetDeviceInformation
without a token. They are never logged, stored or reported, and no credential is ever guessed.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from scanner.discovery.banner_base import BannerProbe, BannerRun, HostRecorder
from scanner.discovery.http import ENDPOINT_CAP
from scanner.discovery.http_client import fetch, url_host
from scanner.discovery.options import ONVIF_PASSWORD_ENV, ONVIF_USER_ENV
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
    from scanner.discovery.options import Credentials
    from scanner.discovery.parsers.vendor_endpoints import OnvifAnswer

ONVIF_PORTS = (80,)
USER_ENV, PASSWORD_ENV = ONVIF_USER_ENV, ONVIF_PASSWORD_ENV
SOAP_ACTION = "http://www.onvif.org/ver10/device/wsdl/{}"
MAX_ENDPOINTS = 4  # per host


class OnvifProbe(BannerProbe):
    name = "onvif"
    description = "ONVIF GetSystemDateAndTime, GetDeviceInformation (credentials only from the environment)"
    port_option, default_ports = "onvif", ONVIF_PORTS

    def sockets_per_host(self, run: BannerRun) -> int:
        return 1  # one request at a time

    async def probe_host(self, run: BannerRun, rec: HostRecorder) -> bool:
        # Credentials only for a named target, never for a host that was only heard on the network.
        credentials = usable(run.ctx.options.onvif_credentials) if rec.ip in run.targets else None
        for url in device_services([rec.ip], run.ports, run.ctx.handoff.onvif_xaddrs)[rec.ip]:
            outcome = await query(rec, url, credentials)
            if outcome is not None:
                if outcome == "refused":
                    run.tallies["refused"] += 1
                return True
        return False

    def notes(self, run: BannerRun) -> list[str]:
        refused = run.tallies["refused"]
        if not refused:
            return []
        given = usable(run.ctx.options.onvif_credentials)
        hint = "" if given else f" (set {USER_ENV} and {PASSWORD_ENV} to read it)"
        return [f"GetDeviceInformation refused on {refused} host(s){hint}"]


def usable(given: Credentials | None) -> tuple[str, str] | None:
    """(user, password) when both were given, else None."""
    return (given.user, given.password) if given and given.user and given.password else None


def device_services(
    hosts: list[str], ports: list[int], xaddrs: Mapping[str, tuple[str, ...]]
) -> dict[str, list[str]]:
    """Device-service URLs per host: the default path on ``ports``, then the XAddrs that host announced
    itself whose host is that same host (deduplicated)."""
    out = {ip: [f"http://{url_host(ip)}:{p}{ONVIF_DEVICE_SERVICE}" for p in ports] for ip in hosts}
    for ip, urls in out.items():
        for xaddr in xaddrs.get(ip, ()):
            url = same_host_url(f"http://{url_host(ip)}/", xaddr)
            if url and url not in urls and len(urls) < MAX_ENDPOINTS:
                urls.append(url)
    return out


async def query(rec: HostRecorder, url: str, credentials: tuple[str, str] | None) -> str | None:
    """Ask one endpoint; None if it is not an ONVIF device service, else "ok" or "refused".

    ``credentials`` go to ``url`` itself only, and only after its device service answered
    GetSystemDateAndTime."""
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
