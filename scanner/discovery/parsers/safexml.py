"""The one way untrusted XML is read: defusedxml (no DTD, no entities, no external references), after a
size check, with one named tuple of the exceptions hostile or broken input raises (as python-zeroconf
names its decode errors). Parsers build on these and return None for anything they cannot read."""

from __future__ import annotations

from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

# What parsing untrusted bytes may raise: malformed XML, a DTD/entity/external reference refused by
# defusedxml, an undecodable byte (ValueError) or an unknown encoding in the XML declaration (LookupError).
XML_DECODE_ERRORS: tuple[type[Exception], ...] = (ParseError, DefusedXmlException, ValueError, LookupError)


def xml_root(data: bytes | bytearray, max_bytes: int) -> Element | None:
    """The root element of untrusted XML, or None: empty, over ``max_bytes``, malformed or using DTDs."""
    if not isinstance(data, bytes | bytearray) or not data or len(data) > max_bytes:
        return None
    try:
        root: Element = fromstring(bytes(data), forbid_dtd=True)
    except XML_DECODE_ERRORS:
        return None
    return root


def local_name(tag: object) -> str:
    """The local part of an ElementTree tag ("{ns}Model" -> "Model"); "" for comments and PIs."""
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]
