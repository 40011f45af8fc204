"""UPnP device description XML (UDA 1.1 §2.3, docs/PROTOCOLS.md#ssdp): the root device's identity fields.

Parsed only through ``safexml.xml_root`` (defusedxml: DTDs and entities refused), at most ``MAX_DESCRIPTION`` bytes, elements matched by
local name so a missing or odd default namespace does not matter.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from scanner.discovery.parsers.safexml import local_name, xml_root

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
    root = xml_root(data, MAX_DESCRIPTION)
    if root is None or local_name(root.tag) != "root":
        return None
    device = next((c for c in root if local_name(c.tag) == "device"), None)
    if device is None:
        return None
    values: dict[str, str] = {}
    for child in device:
        attr = _ELEMENTS.get(local_name(child.tag))
        if attr and attr not in values:
            text = "".join(child.itertext()).strip()[:MAX_FIELD_LEN]
            if text:
                values[attr] = text
    found = UpnpDevice(**values)
    return found if any(getattr(found, f.name) for f in fields(found)) else None
