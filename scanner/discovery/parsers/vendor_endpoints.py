"""Vendor HTTP endpoints: Hikvision ISAPI deviceInfo, Dahua magicBox.cgi, ONVIF device service SOAP.

XML is parsed only through ``safexml.xml_root`` (defusedxml: entity and DTD tricks are refused) after a
size check. Parsers return
empty results for anything that is not the expected document; nothing raises.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import NamedTuple
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from scanner.discovery.parsers.safexml import xml_root

MAX_XML = 64 * 1024
MAX_FIELDS = 64
MAX_FIELD = 256
MAX_LINES = 32

ISAPI_DEVICE_INFO = "/ISAPI/System/deviceInfo"
MAGICBOX_ACTIONS = ("getVendor", "getDeviceType")
ONVIF_DEVICE_SERVICE = "/onvif/device_service"
DEVICE_WSDL = "http://www.onvif.org/ver10/device/wsdl"
SOAP_ENV = "http://www.w3.org/2003/05/soap-envelope"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
# The WS-Security token type URI, not a password.
PASSWORD_DIGEST = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"  # noqa: S105
)
BASE64_BINARY = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)
DEVICE_INFORMATION_SIGNALS = {
    "Manufacturer": "onvif.manufacturer",
    "Model": "onvif.model",
    "FirmwareVersion": "onvif.firmware",
    "SerialNumber": "onvif.serial",
}

_KEY_VALUE = re.compile(r"^([A-Za-z][A-Za-z0-9_.\[\]]{0,63})=(.{0,256})$")


def magicbox_path(action: str) -> str:
    return f"/cgi-bin/magicBox.cgi?action={action}"


def _split(tag: object) -> tuple[str, str]:
    """('namespace', 'local') of an ElementTree tag; ('', '') for comments and processing instructions."""
    if not isinstance(tag, str):
        return "", ""
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def _text(elem: Element) -> str:
    return (elem.text or "").strip()[:MAX_FIELD]


# --- Hikvision ISAPI ---------------------------------------------------------------------------


def parse_isapi_device_info(data: bytes) -> list[tuple[str, str]]:
    """``[("xmlns", ns), (field, text), …]`` from a ``<DeviceInfo>`` document; [] for anything else."""
    root = xml_root(data, MAX_XML)
    if root is None:
        return []
    ns, local = _split(root.tag)
    if local != "DeviceInfo":
        return []
    fields = [("xmlns", ns)] if ns else []
    for child in list(root)[:MAX_FIELDS]:
        name = _split(child.tag)[1]
        value = _text(child)
        if name and value and len(child) == 0:
            fields.append((name, value))
    return fields


# --- Dahua magicBox ----------------------------------------------------------------------------


def parse_magicbox(data: bytes) -> list[tuple[str, str]]:
    """``key=value`` lines of a magicBox.cgi answer (``vendor=Dahua``); [] for HTML or other bodies."""
    text = data[: MAX_LINES * 512].decode("utf-8", "replace")
    if text.lstrip().startswith("<"):
        return []
    out = []
    for line in text.splitlines()[:MAX_LINES]:
        m = _KEY_VALUE.match(line.strip())
        if m:
            out.append((m.group(1), m.group(2).strip()))
    return out


# --- ONVIF device service ----------------------------------------------------------------------


def soap_request(body: str, header: str = "") -> bytes:
    """A SOAP 1.2 envelope around one device-service request element."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{SOAP_ENV}" '
        f'xmlns:tds="{DEVICE_WSDL}"><s:Header>{header}</s:Header><s:Body>{body}</s:Body>'
        "</s:Envelope>"
    ).encode()


def get_system_date_and_time() -> bytes:
    return soap_request("<tds:GetSystemDateAndTime/>")


def get_device_information(security: str = "") -> bytes:
    return soap_request("<tds:GetDeviceInformation/>", security)


def password_digest(password: str, created: str, nonce: bytes) -> str:
    """WS-Security PasswordDigest: Base64(SHA-1(nonce + created + password))."""
    sha1 = hashlib.sha1(nonce + created.encode() + password.encode(), usedforsecurity=False)
    return base64.b64encode(sha1.digest()).decode()


def username_token(user: str, password: str, created: str, nonce: bytes) -> str:
    """A WS-Security UsernameToken header with a PasswordDigest."""
    digest = password_digest(password, created, nonce)
    return (
        f'<wsse:Security s:mustUnderstand="true" xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}">'
        "<wsse:UsernameToken>"
        f"<wsse:Username>{escape(user)}</wsse:Username>"
        f'<wsse:Password Type="{PASSWORD_DIGEST}">{digest}</wsse:Password>'
        f'<wsse:Nonce EncodingType="{BASE64_BINARY}">{base64.b64encode(nonce).decode()}</wsse:Nonce>'
        f"<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>"
    )


class OnvifAnswer(NamedTuple):
    """What a device-service reply says: which response element (or fault) and its leaf fields."""

    response: str | None  # local name of the Body's first element, e.g. GetSystemDateAndTimeResponse
    fault: str | None  # the innermost fault code text (e.g. "ter:NotAuthorized") when it is a Fault
    fields: dict[str, str]  # local-name path under the element -> text, e.g. "SystemDateAndTime/TimeZone/TZ"


def parse_soap(data: bytes) -> OnvifAnswer | None:
    """The Body of a SOAP envelope: response element name, fault code and leaf fields; None if not SOAP."""
    root = xml_root(data, MAX_XML)
    if root is None or _split(root.tag)[1] != "Envelope":
        return None
    body = next((c for c in root if _split(c.tag)[1] == "Body"), None)
    if body is None or len(body) == 0:
        return None
    first = body[0]
    fields: dict[str, str] = {}
    stack = [(child, _split(child.tag)[1]) for child in reversed(first)]
    while stack and len(fields) < MAX_FIELDS:
        elem, path = stack.pop()
        if len(elem) == 0:
            if _text(elem):
                fields.setdefault(path, _text(elem))
        elif path.count("/") < 8:
            stack += [(c, f"{path}/{_split(c.tag)[1]}") for c in reversed(elem)]
    name = _split(first.tag)[1]
    if name == "Fault":
        codes = [v for k, v in fields.items() if k.startswith("Code/") and k.endswith("Value")]
        return OnvifAnswer(None, codes[-1] if codes else "Fault", fields)
    return OnvifAnswer(name, None, fields)


def system_date_and_time(answer: OnvifAnswer) -> tuple[str | None, str | None]:
    """(UTC time as ``YYYY-MM-DDTHH:MM:SSZ``, POSIX TZ string) from a GetSystemDateAndTimeResponse."""
    if answer.response != "GetSystemDateAndTimeResponse":
        return None, None
    return _utc(answer.fields), answer.fields.get("SystemDateAndTime/TimeZone/TZ")


def _utc(fields: dict[str, str]) -> str | None:
    base = "SystemDateAndTime/UTCDateTime/"
    keys = ("Date/Year", "Date/Month", "Date/Day", "Time/Hour", "Time/Minute", "Time/Second")
    parts = [fields.get(base + k, "") for k in keys]
    if not all(p.isascii() and p.isdigit() and len(p) <= 4 for p in parts):
        return None
    y, mo, d, h, mi, s = (int(p) for p in parts)
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h <= 23 and mi <= 59 and s <= 60):
        return None
    return f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}Z"


def device_information(answer: OnvifAnswer) -> dict[str, str]:
    """Signal -> value from a GetDeviceInformationResponse (Manufacturer, Model, FirmwareVersion, Serial)."""
    if answer.response != "GetDeviceInformationResponse":
        return {}
    return {sig: answer.fields[k] for k, sig in DEVICE_INFORMATION_SIGNALS.items() if answer.fields.get(k)}
