"""UPnP device description XML (UDA 1.1 §2.3, docs/PROTOCOLS.md#ssdp): the root device's identity fields.

Parsed with defusedxml (DTDs and entities refused), at most ``MAX_DESCRIPTION`` bytes, elements matched by
local name so a missing or odd default namespace does not matter.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

MAX_DESCRIPTION = 256 * 1024  # bytes
MAX_FIELD_LEN = 1024


@dataclass(frozen=True)
class UpnpDevice:
    """The root device's fields; None where the description has none."""

    device_type: str | None = None
    friendly_name: str | None = None
    manufacturer: str | None = None
    model_name: str | None = None
    model_number: str | None = None
    model_description: str | None = None
    serial: str | None = None
    udn: str | None = None


_ELEMENTS = {
    "deviceType": "device_type",
    "friendlyName": "friendly_name",
    "manufacturer": "manufacturer",
    "modelName": "model_name",
    "modelNumber": "model_number",
    "modelDescription": "model_description",
    "serialNumber": "serial",
    "UDN": "udn",
}


def parse_description(data: bytes) -> UpnpDevice | None:
    """The root device of a description document; None for anything that is not one."""
    if not isinstance(data, bytes | bytearray) or len(data) > MAX_DESCRIPTION:
        return None
    try:
        root = fromstring(bytes(data), forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError, LookupError):
        return None  # LookupError: an unknown encoding in the XML declaration
    if _local(root.tag) != "root":
        return None
    device = next((c for c in root if _local(c.tag) == "device"), None)
    if device is None:
        return None
    values: dict[str, str] = {}
    for child in device:
        attr = _ELEMENTS.get(_local(child.tag))
        if attr and attr not in values:
            text = "".join(child.itertext()).strip()[:MAX_FIELD_LEN]
            if text:
                values[attr] = text
    found = UpnpDevice(**values)
    return found if any(getattr(found, f.name) for f in fields(found)) else None


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""
