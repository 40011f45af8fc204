"""HTTP(S) banners: status, Server, WWW-Authenticate, title, redirects, favicon hashes and vendor endpoints.

Per host, on every port of ``http_ports`` (default 80,8080,8000) and ``https_ports`` (default 443,8443,
certificate not verified) at once: ``GET /`` (redirects recorded and followed at
most twice, same host only), the favicon (the page's icon link when on the same host, else
``/favicon.ico``), Hikvision ``/ISAPI/System/deviceInfo`` and Dahua ``magicBox.cgi``
getVendor/getDeviceType (these four at once, so a lossy link costs their slowest, not their sum). A closed port ends at the first connect (refused). A 401 from any of them is
recorded too: the realm is the banner. No credentials are ever sent.

Requests go through ``http_client`` (our own bounded HTTP/1.1 client: byte caps on head and body, time
limits on connect and exchange, one retry of a request that got no reply); hosts, ports, per-host and
whole-probe time limits through ``banner_base.BannerProbe``.
"""

from __future__ import annotations

import asyncio
import logging

from scanner.discovery.banner_base import BannerProbe, BannerRun, HostRecorder
from scanner.discovery.http_client import Response, fetch, url_host
from scanner.discovery.parsers.http import (
    extract_title,
    favicon_hashes,
    icon_links,
    looks_like_html,
    looks_like_image,
    same_host_url,
)
from scanner.discovery.parsers.vendor_endpoints import (
    ISAPI_DEVICE_INFO,
    MAGICBOX_ACTIONS,
    magicbox_path,
    parse_isapi_device_info,
    parse_magicbox,
)

log = logging.getLogger("scanner.discovery")

HTTP_PORTS = (80, 8080, 8000)
HTTPS_PORTS = (443, 8443)
MAX_REDIRECTS = 2
PAGE_CAP = 256 * 1024
ICON_CAP = 512 * 1024
ENDPOINT_CAP = 64 * 1024
SOCKETS_PER_PORT = 1 + len(MAGICBOX_ACTIONS) + 1  # favicon, ISAPI and magicBox requests at once


class HttpProbe(BannerProbe):
    name = "http"
    description = "HTTP(S) banners: Server, realm, title, favicon, Hikvision ISAPI and Dahua magicBox answers"
    port_option, default_ports = "http", HTTP_PORTS

    def sockets_per_host(self, run: BannerRun) -> int:
        return max(1, SOCKETS_PER_PORT * (len(run.ports) + len(self.secure_ports(run))))

    @staticmethod
    def secure_ports(run: BannerRun) -> list[int]:
        return list(run.ctx.options.ports_for("https", HTTPS_PORTS))

    async def probe_host(self, run: BannerRun, rec: HostRecorder) -> bool:
        schemes = {p: "http" for p in run.ports} | {p: "https" for p in self.secure_ports(run)}
        results = await asyncio.gather(*(HostScan(rec).port(scheme, p) for p, scheme in schemes.items()))
        return any(results)


class HostScan:
    """The requests made to one host; every answer goes to the host's recorder."""

    def __init__(self, rec: HostRecorder) -> None:
        self.rec = rec

    async def port(self, scheme: str, port: int) -> bool:
        """``GET /`` (and its redirects), then the favicon and the vendor endpoints at once."""
        origin = f"{scheme}://{url_host(self.rec.ip)}:{port}"
        page = await self.page(origin + "/")
        if page is None:
            return False
        await asyncio.gather(
            self.favicon(page),
            self.isapi(origin + ISAPI_DEVICE_INFO, port),
            *(self.magicbox(origin + magicbox_path(action), port) for action in MAGICBOX_ACTIONS),
        )
        return True

    async def isapi(self, url: str, port: int) -> None:
        answer = await self.fetch(url, ENDPOINT_CAP)
        if answer is not None and answer.status == 200 and answer.complete:
            for key, value in parse_isapi_device_info(answer.body):
                self.rec.add("isapi.device_info", f"{key}={value}", port)

    async def magicbox(self, url: str, port: int) -> None:
        answer = await self.fetch(url, ENDPOINT_CAP)
        if answer is not None and answer.status == 200:
            for key, value in parse_magicbox(answer.body):
                self.rec.add("dahua.cgi", f"{key}={value}", port)

    async def page(self, url: str) -> Response | None:
        """GET ``url``, following at most MAX_REDIRECTS same-host redirects; the last answer."""
        last = None
        for hop in range(MAX_REDIRECTS + 1):
            answer = await self.fetch(url, PAGE_CAP, status=True)
            if answer is None:
                break
            last = answer
            location = answer.head.get("Location")
            if not (300 <= answer.status < 400 and location):
                break
            self.rec.add("http.location", location, answer.port)
            target = same_host_url(url, location)
            if target is None or hop == MAX_REDIRECTS:
                break
            url = target
        if last is not None:
            title = extract_title(last.body, last.head.get("Content-Type"))
            if title:
                self.rec.add("http.title", title, last.port)
        return last

    async def favicon(self, page: Response) -> None:
        links = [u for u in (same_host_url(page.url, h) for h in icon_links(page.body)) if u]
        url = links[0] if links else same_host_url(page.url, "/favicon.ico")
        icon = await self.fetch(url, ICON_CAP) if url else None
        if icon is None or icon.status != 200 or not icon.complete or not icon.body:
            return
        html_type = "html" in (icon.head.get("Content-Type") or "").lower()
        if not looks_like_image(icon.body) and (html_type or looks_like_html(icon.body)):
            return  # an error or login page served in place of the icon
        md5, mmh3 = favicon_hashes(icon.body)
        self.rec.add("http.favicon.md5", md5, icon.port)
        self.rec.add("http.favicon.mmh3", mmh3, icon.port)

    async def fetch(self, url: str, cap: int, *, status: bool = False) -> Response | None:
        """One capped GET; records Server and WWW-Authenticate (and the status code if ``status``)."""
        answer = await fetch(url, cap)
        if answer is None:
            return None
        if status:
            self.rec.add("http.status", str(answer.status), answer.port)
        self.rec.add("http.server", answer.head.get("Server") or "", answer.port)
        for realm in answer.head.get_all("WWW-Authenticate"):
            self.rec.add("http.www_authenticate", realm, answer.port)
        return answer
