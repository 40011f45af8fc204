"""WS-Discovery / ONVIF over UDP 3702 (docs/PROTOCOLS.md#ws-discovery): build Probes, parse ProbeMatches, decode scopes.

Replies are SOAP 1.2 envelopes. The parser matches elements by local name (devices mix the 2005/04 and
2009/01 discovery namespaces and their prefixes), keeps at most ``MAX_MATCHES`` matches of at most
``MAX_ITEMS`` types/scopes/XAddrs each, and returns nothing for SOAP Faults, DTDs or entities
(defusedxml), oversized datagrams and anything that is not XML.
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address
from urllib.parse import unquote, urlsplit
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from scanner.observations import normalise_mac

PORT = 3702
GROUP = "239.255.255.250"
APP_MAX_DELAY = 0.5  # seconds a device may wait before answering a multicast Probe (WS-Discovery 1.1 §3.1.3)
MAX_REPLY = 64 * 1024  # bytes; a real ProbeMatches is 1-3 KiB
MAX_MATCHES = 16
MAX_ITEMS = 64  # types, scopes or XAddrs kept per match
MAX_ITEM_LEN = 1024  # characters kept per item

NS_SOAP = "http://www.w3.org/2003/05/soap-envelope"
NS_WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
NS_WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
NS_DN = "http://www.onvif.org/ver10/network/wsdl"
NS_TDS = "http://www.onvif.org/ver10/device/wsdl"
TO_DISCOVERY = "urn:schemas-xmlsoap-org:ws:2005:04:discovery"
ACTION_PROBE = f"{NS_WSD}/Probe"
ACTION_PROBE_MATCHES = f"{NS_WSD}/ProbeMatches"
ANONYMOUS = f"{NS_WSA}/role/anonymous"

# Two separate typed probes (a Types element listing both may make a device require both) and an untyped one.
PROBE_TYPES: tuple[str | None, ...] = ("dn:NetworkVideoTransmitter", "tds:Device", None)
ONVIF_SCOPE = "onvif://www.onvif.org/"
_SCOPE_ALIASES = {"macaddress": "mac"}
_UUID_URN = re.compile(r"^(?:urn:)?uuid:([0-9a-fA-F-]{36})$")


@dataclass(frozen=True)
class ProbeMatch:
    """One ProbeMatch: EndpointReference address, Types, Scopes and XAddrs as sent (space-separated lists)."""

    endpoint: str
    types: tuple[str, ...]
    scopes: tuple[str, ...]
    xaddrs: tuple[str, ...]


@dataclass(frozen=True)
class Probe:
    """A Probe as a device receives it: its MessageID and Types as (namespace, local name) pairs."""

    message_id: str
    types: tuple[tuple[str, str], ...]


def new_message_id() -> str:
    return uuid.uuid4().urn


def build_probe(message_id: str, types: str | None = None) -> bytes:
    """A SOAP 1.2 Probe; ``types`` is one QName with the ``dn:`` or ``tds:`` prefix, or None (untyped)."""
    body = f"<d:Probe><d:Types>{escape(types)}</d:Types></d:Probe>" if types else "<d:Probe/>"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<s:Envelope xmlns:s="{NS_SOAP}" xmlns:a="{NS_WSA}" xmlns:d="{NS_WSD}" xmlns:dn="{NS_DN}" '
        f'xmlns:tds="{NS_TDS}"><s:Header>'
        f'<a:Action s:mustUnderstand="1">{ACTION_PROBE}</a:Action>'
        f"<a:MessageID>{escape(message_id)}</a:MessageID>"
        f"<a:ReplyTo><a:Address>{ANONYMOUS}</a:Address></a:ReplyTo>"
        f'<a:To s:mustUnderstand="1">{TO_DISCOVERY}</a:To>'
        f"</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def parse_probe_matches(data: bytes) -> list[ProbeMatch]:
    """The ProbeMatch entries of a ProbeMatches reply; empty for a Fault, a non-reply or hostile input."""
    parsed = _parse(data)
    if parsed is None:
        return []
    root, _ns = parsed
    body = _child(root, "Body")
    if body is None or _find(body, "Fault") is not None:
        return []
    matches: list[ProbeMatch] = []
    for pm in _iter(body, "ProbeMatch"):
        if len(matches) >= MAX_MATCHES:
            break
        epr = _child(pm, "EndpointReference")
        address = _text(_child(epr, "Address")) if epr is not None else ""
        match = ProbeMatch(
            address, _list(_child(pm, "Types")), _list(_child(pm, "Scopes")), _list(_child(pm, "XAddrs"))
        )
        if match.endpoint or match.xaddrs or match.scopes:
            matches.append(match)
    return matches


def parse_hello_bye(data: bytes) -> list[tuple[str, ProbeMatch]]:
    """The Hello and Bye announcements a device multicasts (``("Hello"|"Bye", fields)``, the fields of a
    ProbeMatch); empty for anything else or hostile input."""
    parsed = _parse(data)
    body = _child(parsed[0], "Body") if parsed is not None else None
    out: list[tuple[str, ProbeMatch]] = []
    for el in body if body is not None else ():
        kind = _local(el.tag)
        if kind not in ("Hello", "Bye") or len(out) >= MAX_MATCHES:
            continue
        epr = _child(el, "EndpointReference")
        address = _text(_child(epr, "Address")) if epr is not None else ""
        match = ProbeMatch(
            address, _list(_child(el, "Types")), _list(_child(el, "Scopes")), _list(_child(el, "XAddrs"))
        )
        if match.endpoint or match.xaddrs or match.scopes:
            out.append((kind, match))
    return out


def parse_probe(data: bytes) -> Probe | None:
    """A Probe's MessageID and resolved Types (what a device receives); None for anything else."""
    parsed = _parse(data)
    if parsed is None:
        return None
    root, ns = parsed
    header, body = _child(root, "Header"), _child(root, "Body")
    probe = _child(body, "Probe") if body is not None else None
    if header is None or probe is None:
        return None
    message_id = _text(_child(header, "MessageID"))
    if not message_id:
        return None
    types = []
    for qname in _list(_child(probe, "Types")):
        prefix, _, local = qname.rpartition(":")
        types.append((ns.get(prefix, ""), local))
    return Probe(message_id, tuple(types))


def scope_params(scopes: tuple[str, ...] | list[str]) -> dict[str, list[str]]:
    """ONVIF scope parameters: ``onvif://www.onvif.org/name/HIKVISION%20X`` -> {'name': ['HIKVISION X']}.

    Keys are lower-cased (``MAC`` and ``mac`` -> ``mac``, ``Profile`` -> ``profile``); values are URL-decoded
    and keep their inner slashes (``location/city/hangzhou`` -> ``city/hangzhou``).
    """
    params: dict[str, list[str]] = {}
    for scope in scopes:
        if scope[: len(ONVIF_SCOPE)].lower() != ONVIF_SCOPE:
            continue
        key, _, value = scope[len(ONVIF_SCOPE) :].partition("/")
        key = unquote(key).lower()
        key = _SCOPE_ALIASES.get(key, key)
        value = unquote(value, errors="replace").strip()[:MAX_ITEM_LEN]
        if key and value:
            params.setdefault(key, []).append(value)
    return params


def match_mac(match: ProbeMatch) -> str | None:
    """The device's MAC: from a MAC scope, else from a version-1 endpoint UUID's node (Hikvision)."""
    for value in scope_params(match.scopes).get("mac", []):
        mac = _unicast_mac(value)
        if mac:
            return mac
    m = _UUID_URN.match(match.endpoint)
    if m is None:
        return None
    try:
        u = uuid.UUID(m.group(1))
    except ValueError:
        return None
    # RFC 4122 §4.1.6: a version-1 node is an IEEE 802 address; a random node has the multicast bit set.
    if u.version != 1 or u.variant != uuid.RFC_4122:
        return None
    return _unicast_mac(f"{u.node:012x}")


def xaddr_ipv4(match: ProbeMatch) -> str | None:
    """The host of the first XAddr that is an IPv4 literal."""
    for xaddr in match.xaddrs:
        try:
            host = urlsplit(xaddr).hostname
            if host:
                return str(IPv4Address(host))
        except ValueError:
            continue
    return None


def _unicast_mac(text: str) -> str | None:
    try:
        mac = normalise_mac(text)
    except ValueError:
        return None
    first = int(mac[:2], 16)
    if first & 1 or mac == "00:00:00:00:00:00":
        return None
    return mac


def _parse(data: bytes) -> tuple[Element, dict[str, str]] | None:
    """The root element and every prefix -> namespace declared in the document (first declaration wins)."""
    if not isinstance(data, bytes | bytearray) or len(data) > MAX_REPLY:
        return None
    ns: dict[str, str] = {}
    root = None
    try:
        for event, item in iterparse(io.BytesIO(bytes(data)), events=("start-ns", "start"), forbid_dtd=True):
            if event == "start-ns":
                prefix, uri = item
                ns.setdefault(prefix, uri)
            elif root is None:
                root = item
    except (ParseError, DefusedXmlException, ValueError, LookupError):
        return None  # LookupError: an unknown encoding in the XML declaration
    if root is None or _local(root.tag) != "Envelope":
        return None
    return root, ns


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(el: Element | None, name: str) -> Element | None:
    if el is None:
        return None
    for c in el:
        if _local(c.tag) == name:
            return c
    return None


def _iter(el: Element, name: str) -> Iterator[Element]:
    return (e for e in el.iter() if _local(e.tag) == name)


def _find(el: Element, name: str) -> Element | None:
    return next(_iter(el, name), None)


def _text(el: Element | None) -> str:
    if el is None:
        return ""
    return "".join(el.itertext()).strip()[:MAX_ITEM_LEN]


def _list(el: Element | None) -> tuple[str, ...]:
    if el is None:
        return ()
    text = "".join(el.itertext())[: MAX_ITEMS * MAX_ITEM_LEN]
    return tuple(item[:MAX_ITEM_LEN] for item in text.split()[:MAX_ITEMS])
