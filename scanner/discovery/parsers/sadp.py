"""Hikvision SADP over UDP 37020 (docs/PROTOCOLS.md#sadp): build the inquiry, parse a ProbeMatch.

A ProbeMatch is a flat XML document, one element per field (``DeviceDescription`` is the model,
``MAC`` is dash-separated). The parser keeps every child element in document order and rejects
anything that is not a ProbeMatch, is larger than ``MAX_REPLY``, carries a DTD (defusedxml), or
nests or repeats elements far beyond a real reply (parsing stops there, so hostile input is cheap).
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import ParseError
from xml.sax.saxutils import escape

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

PORT = 37020
GROUP = "239.255.255.250"
INQUIRY_TYPES = ("inquiry", "inquiry_v32")
MAX_REPLY = 64 * 1024  # bytes; a real ProbeMatch is about 1.5 KiB
MAX_FIELDS = 256
MAX_FIELD_LEN = 1024  # characters kept per field
MAX_DEPTH = 4  # a real reply is 2 deep
MAX_ELEMENTS = 1024


class _TooComplex(Exception):
    """Raised inside the parser to stop at the first sign of a document no device sends."""


class _FlatDocument:
    """ElementTree parser target: the root's name and each child's text in order (first duplicate wins)."""

    def __init__(self) -> None:
        self.root = ""
        self.fields: dict[str, str] = {}
        self._depth = 0
        self._elements = 0
        self._child = ""
        self._text: list[str] = []

    def start(self, tag: str, _attrib: dict[str, str]) -> None:
        self._depth += 1
        self._elements += 1
        if self._depth > MAX_DEPTH or self._elements > MAX_ELEMENTS:
            raise _TooComplex
        if self._depth == 1:
            self.root = _local(tag)
        elif self._depth == 2:
            self._child, self._text = _local(tag), []

    def data(self, text: str) -> None:
        if self._depth >= 2:
            self._text.append(text)

    def end(self, _tag: str) -> None:
        if self._depth == 2 and self._child not in self.fields and len(self.fields) < MAX_FIELDS:
            self.fields[self._child] = "".join(self._text).strip()[:MAX_FIELD_LEN]
        self._depth -= 1

    def close(self) -> _FlatDocument:
        return self


def build_inquiry(uuid: str, types: str = "inquiry") -> bytes:
    """The SADP inquiry datagram (``types`` is ``inquiry`` or ``inquiry_v32``)."""
    return (
        f'<?xml version="1.0" encoding="utf-8"?><Probe><Uuid>{escape(uuid)}</Uuid>'
        f"<Types>{escape(types)}</Types></Probe>"
    ).encode()


def parse_probe_match(data: bytes) -> dict[str, str] | None:
    """Every child element of a ProbeMatch, name -> stripped text, in order (first of duplicates wins);
    None for anything else (not XML, not a ProbeMatch, a DTD or entities, oversized, absurdly nested)."""
    doc = _parse_flat(data)
    if doc is None or doc.root.lower() != "probematch":
        return None
    return doc.fields


def parse_inquiry(data: bytes) -> tuple[str, str] | None:
    """(Uuid, Types) of an SADP inquiry (what a device receives); None for anything else."""
    doc = _parse_flat(data)
    if doc is None or doc.root != "Probe" or "Uuid" not in doc.fields or "Types" not in doc.fields:
        return None
    return doc.fields["Uuid"], doc.fields["Types"]


def _parse_flat(data: Any) -> _FlatDocument | None:
    if not isinstance(data, bytes | bytearray) or len(data) > MAX_REPLY:
        return None
    parser = DefusedXMLParser(target=_FlatDocument(), forbid_dtd=True)
    try:
        parser.feed(bytes(data))
        return parser.close()  # type: ignore[no-any-return]
    except (ParseError, DefusedXmlException, _TooComplex, ValueError, LookupError):
        # LookupError: an unknown encoding in the XML declaration
        return None


def _local(tag: str) -> str:
    """'{urn:x}Name' -> 'Name'."""
    return tag.rsplit("}", 1)[-1]
