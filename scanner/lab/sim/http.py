"""A simulated device's web server: plain asyncio HTTP/1.1 on port 80 (``sim/https.py`` serves it over TLS).

Parameters (``[<profile>.http]`` in profiles.toml):
  server             Server header (empty or absent: none sent)
  realm              WWW-Authenticate value of every 401
  title              <title> of the page at / (empty or absent: no title element)
  auth_root          true: / answers 401 too (routers and DVRs that protect everything)
  redirect           / answers 302 to this path, where the page is served
  favicon            seed of the generated favicon (default: the profile name); favicon_path: where it is
                     served (default /favicon.ico; any other path is linked from the page)
  isapi_device_info  true: /ISAPI/System/deviceInfo answers Hikvision DeviceInfo XML built from
                     model, serial, mac, firmware, firmware_date, device_type
  magicbox_vendor    magicBox.cgi getVendor answers ``vendor=<this>``; magicbox_type: getDeviceType answers
                     ``type=<this>`` (absent: 401, as on firmware that protects it)
  onvif              true: POST /onvif/device_service answers GetSystemDateAndTime (with onvif_tz if set) and,
                     for a UsernameToken matching onvif_user/onvif_password, GetDeviceInformation from
                     onvif_manufacturer, onvif_model, onvif_firmware, onvif_serial
Any other path answers 401 with the realm when there is one, else 404.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import html
import struct
from datetime import UTC, datetime
from functools import cache
from typing import Any, NamedTuple
from xml.sax.saxutils import escape

from scanner.discovery.parsers.vendor_endpoints import (
    DEVICE_WSDL,
    ISAPI_DEVICE_INFO,
    ONVIF_DEVICE_SERVICE,
    SOAP_ENV,
    password_digest,
)
from scanner.lab.sim.device import SimDevice

MAX_REQUESTS = 32  # per connection
MAX_BODY = 64 * 1024
IDLE = 10.0  # seconds a kept-alive connection may sit idle
HIKVISION_NS = "http://www.hikvision.com/ver20/XMLSchema"
REASONS = {200: "OK", 302: "Found", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}

_servers: list[asyncio.Server] = []  # keep every listening server referenced for the process's life


class Request(NamedTuple):
    method: str
    path: str  # with the query string
    headers: dict[str, str]  # lower-case names
    body: bytes
    keep_alive: bool


class Response(NamedTuple):
    status: int
    headers: list[tuple[str, str]]
    body: bytes


async def start(dev: SimDevice, params: dict[str, Any]) -> None:
    app = WebApp(params, dev.profile)
    for sock in dev.tcp_listeners(80):  # IPv4 and, in an IPv6 lab, the link-local address
        _servers.append(await asyncio.start_server(app.handle, sock=sock))


class WebApp:
    """The routes of one simulated device; ``handle`` is an asyncio stream callback."""

    def __init__(self, params: dict[str, Any], profile: str = "device") -> None:
        self.p = params
        self.seed = str(params.get("favicon") or profile)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            for _ in range(MAX_REQUESTS):
                req = await asyncio.wait_for(read_request(reader), IDLE)
                if req is None:
                    break
                writer.write(render(self.respond(req), self.p.get("server") or "", req.keep_alive))
                await writer.drain()
                if not req.keep_alive:
                    break
        except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    def respond(self, req: Request) -> Response:
        path = req.path
        icon_path = str(self.p.get("favicon_path") or "/favicon.ico")
        if path == icon_path:
            return Response(200, [("Content-Type", "image/x-icon")], favicon(self.seed))
        if path == ONVIF_DEVICE_SERVICE and req.method == "POST" and self.p.get("onvif"):
            return self.onvif(req.body)
        if path == "/" and not self.p.get("auth_root"):
            if self.p.get("redirect"):
                return Response(302, [("Location", str(self.p["redirect"]))], b"")
            return self.page(icon_path)
        if path == self.p.get("redirect"):
            return self.page(icon_path)
        if path == ISAPI_DEVICE_INFO and self.p.get("isapi_device_info"):
            return Response(200, [("Content-Type", "application/xml")], self.device_info_xml())
        if path.startswith("/cgi-bin/magicBox.cgi?action="):
            answer = {
                "getVendor": ("vendor", self.p.get("magicbox_vendor")),
                "getDeviceType": ("type", self.p.get("magicbox_type")),
            }.get(path.split("=", 1)[1])
            if answer and answer[1]:
                body = f"{answer[0]}={answer[1]}\r\n".encode()
                return Response(200, [("Content-Type", "text/plain")], body)
        return self.denied()

    def denied(self) -> Response:
        if self.p.get("realm"):
            body = b"<html><head><title>401 Unauthorized</title></head><body>401 Unauthorized</body></html>"
            headers = [("WWW-Authenticate", str(self.p["realm"])), ("Content-Type", "text/html")]
            return Response(401, headers, body)
        return Response(404, [("Content-Type", "text/html")], b"<html><body>404 Not Found</body></html>")

    def page(self, icon_path: str) -> Response:
        title = f"<title>{html.escape(str(self.p['title']))}</title>" if self.p.get("title") else ""
        link = ""
        if icon_path != "/favicon.ico":
            link = f'<link rel="shortcut icon" href="{html.escape(icon_path)}">'
        doc = f'<!DOCTYPE html><html><head><meta charset="utf-8">{title}{link}</head><body></body></html>'
        return Response(200, [("Content-Type", "text/html; charset=utf-8")], doc.encode())

    def device_info_xml(self) -> bytes:
        p = {k: escape(str(v)) for k, v in self.p.items()}
        mac_hex = p.get("mac", "").replace(":", "")
        return (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<DeviceInfo version="2.0" xmlns="{HIKVISION_NS}">\n'
            f"<deviceName>IP CAMERA</deviceName>\n"
            f"<deviceID>aa85c000-6324-11b3-819e-{mac_hex}</deviceID>\n"
            f"<deviceDescription>IPCamera</deviceDescription>\n<deviceLocation>hangzhou</deviceLocation>\n"
            f"<systemContact>Hikvision.China</systemContact>\n<model>{p.get('model', '')}</model>\n"
            f"<serialNumber>{p.get('serial', '')}</serialNumber>\n"
            f"<macAddress>{p.get('mac', '')}</macAddress>\n"
            f"<firmwareVersion>{p.get('firmware', '')}</firmwareVersion>\n"
            f"<firmwareReleasedDate>{p.get('firmware_date', '')}</firmwareReleasedDate>\n"
            f"<deviceType>{p.get('device_type', 'IPCamera')}</deviceType>\n</DeviceInfo>\n"
        ).encode()

    def onvif(self, body: bytes) -> Response:
        if b"GetSystemDateAndTime" in body:
            return soap_response(200, system_date_and_time(str(self.p.get("onvif_tz") or "")))
        if b"GetDeviceInformation" in body:
            if not self.p.get("onvif_user") or not token_ok(
                body, str(self.p["onvif_user"]), str(self.p.get("onvif_password", ""))
            ):
                return soap_response(400, soap_fault("ter:NotAuthorized", "Sender not Authorized"))
            fields = {k: escape(str(self.p.get(f"onvif_{k.lower()}", ""))) for k in ("Manufacturer", "Model")}
            fields["FirmwareVersion"] = escape(str(self.p.get("onvif_firmware", "")))
            fields["SerialNumber"] = escape(str(self.p.get("onvif_serial", "")))
            inner = "".join(f"<tds:{k}>{v}</tds:{k}>" for k, v in fields.items())
            return soap_response(
                200,
                f"<tds:GetDeviceInformationResponse>{inner}"
                "<tds:HardwareId>88</tds:HardwareId></tds:GetDeviceInformationResponse>",
            )
        return soap_response(400, soap_fault("ter:ActionNotSupported", "Action not supported"))


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """One request (head bounded by the reader's limit, body by MAX_BODY); None at a clean end of stream."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise
        return None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise ValueError("bad request line")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    if not 0 <= length <= MAX_BODY:
        raise ValueError("bad Content-Length")
    body = await reader.readexactly(length) if length else b""
    keep_alive = parts[2] == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
    return Request(parts[0], parts[1], headers, body, keep_alive)


def render(resp: Response, server: str, keep_alive: bool) -> bytes:
    lines = [f"HTTP/1.1 {resp.status} {REASONS.get(resp.status, 'OK')}"]
    if server:
        lines.append(f"Server: {server}")
    lines += [f"{k}: {v}" for k, v in resp.headers]
    lines += [f"Content-Length: {len(resp.body)}", f"Connection: {'keep-alive' if keep_alive else 'close'}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace") + resp.body


@cache
def favicon(seed: str) -> bytes:
    """A 16x16 32-bit .ico in one colour derived from ``seed`` (stable, so its hashes are too)."""
    b, g, r = hashlib.sha256(seed.encode()).digest()[:3]
    pixels = bytes([b, g, r, 0xFF]) * 256
    mask = b"\0" * (4 * 16)
    header = struct.pack("<IiiHHIIiiII", 40, 16, 32, 1, 32, 0, len(pixels) + len(mask), 0, 0, 0, 0)
    dib = header + pixels + mask
    return struct.pack("<HHH", 0, 1, 1) + struct.pack("<BBBBHHII", 16, 16, 0, 0, 1, 32, len(dib), 22) + dib


# --- ONVIF --------------------------------------------------------------------------------------


def soap_response(status: int, body: str) -> Response:
    doc = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<env:Envelope xmlns:env="{SOAP_ENV}" xmlns:tds="{DEVICE_WSDL}" '
        'xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:ter="http://www.onvif.org/ver10/error">'
        f"<env:Body>{body}</env:Body></env:Envelope>"
    )
    return Response(status, [("Content-Type", "application/soap+xml; charset=utf-8")], doc.encode())


def soap_fault(subcode: str, reason: str) -> str:
    return (
        "<env:Fault><env:Code><env:Value>env:Sender</env:Value>"
        f"<env:Subcode><env:Value>{subcode}</env:Value>"
        f'</env:Subcode></env:Code><env:Reason><env:Text xml:lang="en">{reason}</env:Text></env:Reason>'
        "</env:Fault>"
    )


def system_date_and_time(tz: str) -> str:
    now = datetime.now(UTC)
    zone = f"<tt:TimeZone><tt:TZ>{escape(tz)}</tt:TZ></tt:TimeZone>" if tz else ""
    return (
        "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
        "<tt:DateTimeType>Manual</tt:DateTimeType>"
        f"<tt:DaylightSavings>false</tt:DaylightSavings>{zone}<tt:UTCDateTime><tt:Time>"
        f"<tt:Hour>{now.hour}</tt:Hour><tt:Minute>{now.minute}</tt:Minute><tt:Second>{now.second}</tt:Second>"
        f"</tt:Time><tt:Date><tt:Year>{now.year}</tt:Year><tt:Month>{now.month}</tt:Month><tt:Day>{now.day}"
        "</tt:Day></tt:Date></tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
    )


def token_ok(body: bytes, user: str, password: str) -> bool:
    """True if the request has a WS-Security UsernameToken for ``user`` whose digest matches ``password``."""
    from defusedxml import ElementTree

    try:
        root = ElementTree.fromstring(body, forbid_dtd=True)
    except Exception:
        return False
    values = {str(e.tag).rsplit("}", 1)[-1]: (e.text or "").strip() for e in root.iter()}
    try:
        nonce = base64.b64decode(values.get("Nonce", ""), validate=True)
    except ValueError:
        return False
    expected = password_digest(password, values.get("Created", ""), nonce)
    given = values.get("Password", "").encode()
    return values.get("Username") == user and hmac.compare_digest(given, expected.encode())
