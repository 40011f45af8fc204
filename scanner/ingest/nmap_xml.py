"""Read ``nmap -oX`` output host by host and turn what nmap recorded into observations (probe "nmap").

The file is fed to a defusedxml expat parser in chunks; only the ``<host>`` (and ``<prescript>``) element
being read is held, so a file of any size is read in bounded memory. Entity declarations, external
references and any DOCTYPE other than nmap's own bare ``<!DOCTYPE nmaprun>`` are rejected with a
UsageError. A file that ends early (an interrupted scan) keeps the hosts read so far and reports where.

What becomes which signal (see docs/OBSERVATIONS.md): the MAC address (``mac``; nmap's vendor name
becomes a host note), host names, the raw replies nmap stored for unrecognised services (``servicefp``:
Server / WWW-Authenticate / Location headers, titles, SSH banners), and the outputs of the scripts
``http-title``, ``http-server-header``, ``http-headers``, ``http-favicon``, ``ssl-cert``, ``snmp-sysdescr``,
``banner``, ``upnp-info``, ``dns-service-discovery`` and the prescripts ``broadcast-upnp-info``,
``broadcast-wsdd-discover`` and ``broadcast-dns-service-discovery``. nmap's own service identification
is evidence: the product label (``nmap.service``, e.g. "Hikvision IP camera httpd"), the CPEs of the
match (``nmap.cpe``) and the best OS guess at 90 % accuracy or more (``nmap.os``); the label with its
version and device type is also a host note, and stands in for the Server header of an http or rtsp
port whose raw header nmap did not keep.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

from defusedxml.common import DefusedXmlException, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import DefusedXMLParser

from scanner.errors import UsageError
from scanner.ingest.jsonl import open_input, source_name
from scanner.observations import HostNote, Observation, normalise_mac

PROBE = "nmap"
CHUNK_BYTES = 64 * 1024
MAX_HOST_ELEMENTS = 20_000  # elements kept of one <host>; the rest of it is skipped and reported
MAX_HOST_CHARS = 8 * 1024 * 1024  # characters (text and attributes) kept of one <host>
MAX_SERVICEFP_CHARS = 256 * 1024
OS_MIN_ACCURACY = 90  # nmap OS guesses below this are notes only, never evidence
MAX_BROADCAST_ITEMS = 16_384  # prescript observations held until their host's <host> element
MAX_TITLE_SCAN = 64 * 1024  # characters of a stored HTTP body searched for <title>

Problems = Callable[[int, str], None]
Item = Observation | HostNote
Pairs = list[tuple[str, str]]


def read_nmap_xml(source: str | Path | BinaryIO, problems: Problems) -> Iterator[Item]:
    """Observations and host notes from nmap XML, host by host; UsageError for hostile or non-nmap XML."""
    name = source_name(source)
    reader = _HostReader(problems)
    parser = _NmapParser(target=reader)
    reader.line = lambda: parser.parser.CurrentLineNumber
    with open_input(source) as stream:
        try:
            while chunk := stream.read(CHUNK_BYTES):
                parser.feed(chunk)
                yield from reader.drain()
            parser.close()
        except DefusedXmlException as exc:
            reason = _hostile_reason(exc)
            raise UsageError(f"{name}: rejected: {reason}; nmap XML never contains one") from None
        except UsageError as exc:
            raise UsageError(f"{name}: {exc}") from None
        except (LookupError, UnicodeError) as exc:  # an unknown or broken declared encoding ("U-F-8")
            raise UsageError(f"{name}: not readable XML: {exc}") from None
        except ParseError as exc:
            line, column = exc.position
            if not reader.hosts:  # random bytes, another format, or nmap XML cut before its first host
                what = "nmap XML cut short" if reader.started else "not nmap XML"
                raise UsageError(
                    f"{name}: {what}: XML error at line {line}, column {column} ({_expat_message(exc)}) "
                    "before the first <host>"
                ) from None
            problems(
                line,
                f"XML error at column {column} ({_expat_message(exc)}); input ends here "
                f"(an interrupted scan?), the {reader.hosts} host(s) before it are kept",
            )
    yield from reader.drain()
    yield from reader.leftover_broadcasts()


class _NmapParser(DefusedXMLParser):  # type: ignore[misc]
    """defusedxml's parser (no entities, no external references), allowing only nmap's bare DOCTYPE."""

    def __init__(self, target: _HostReader) -> None:
        super().__init__(target=target, forbid_dtd=True, forbid_entities=True, forbid_external=True)

    def defused_start_doctype_decl(
        self, name: str, sysid: str | None, pubid: str | None, has_internal_subset: bool
    ) -> None:
        if name != "nmaprun" or sysid or pubid or has_internal_subset:
            super().defused_start_doctype_decl(name, sysid, pubid, has_internal_subset)


class _HostReader:
    """Parser target: builds each <host> / <prescript> subtree (bounded) and converts it when it closes."""

    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        self.line: Callable[[], int] = lambda: 0
        self.depth = 0
        self.started = False  # the root element was read
        self.hosts = 0
        self.scan_started: datetime | None = None
        self.builder: TreeBuilder | None = None
        self.start_line = 0
        self.elements = 0
        self.chars = 0
        self.skipping = 0  # depth of elements skipped because the current subtree is over its limits
        self.truncated = False
        self.items: list[Item] = []
        self.broadcasts: dict[str, Pairs] = {}
        self.broadcast_count = 0

    # expat target interface
    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self.depth += 1
        if self.depth == 1:
            self.started = True
            if tag != "nmaprun":
                raise UsageError(f"not nmap XML output: the root element is <{tag[:40]}>, not <nmaprun>")
            self.scan_started = _epoch(attrib.get("start"))
            return
        if self.builder is None:
            if self.depth == 2 and tag in ("host", "prescript"):
                self.builder, self.start_line = TreeBuilder(), self.line()
                self.elements, self.chars, self.skipping, self.truncated = 0, 0, 0, False
            else:
                return
        if self.skipping or self._over_limits(sum(len(k) + len(v) for k, v in attrib.items())):
            self.skipping += 1
            return
        self.elements += 1
        self.builder.start(tag, attrib)

    def data(self, text: str) -> None:
        if self.builder is not None and not self.skipping and not self._over_limits(len(text)):
            self.builder.data(text)

    def end(self, tag: str) -> None:
        self.depth -= 1
        if self.builder is None:
            return
        if self.skipping:
            self.skipping -= 1
            return
        self.builder.end(tag)
        if self.depth == 1:
            element, self.builder = self.builder.close(), None
            if self.truncated:
                self.problems(
                    self.start_line,
                    f"<{tag}> larger than {MAX_HOST_ELEMENTS} elements or "
                    f"{MAX_HOST_CHARS} characters: the rest of it was skipped",
                )
            try:
                if tag == "host":
                    self.hosts += 1
                    self._convert_host(element)
                else:
                    self._hold_broadcasts(element)
            except Exception as exc:  # noqa: BLE001 - one odd host must not end the file mid-callback
                self.problems(self.start_line, f"<{tag}> skipped: {exc!r:.200}")

    def close(self) -> None:
        return None

    # conversion
    def drain(self) -> Iterator[Item]:
        items, self.items = self.items, []
        return iter(items)

    def leftover_broadcasts(self) -> Iterator[Item]:
        """Prescript findings about addresses nmap listed no <host> for."""
        seen_at = self.scan_started or datetime.now(UTC)
        for ip, pairs in self.broadcasts.items():
            for signal, value in pairs:
                yield Observation(signal=signal, value=value, probe=PROBE, ip=ip, seen_at=seen_at)
        self.broadcasts.clear()

    def _over_limits(self, chars: int) -> bool:
        self.chars += chars
        if self.elements >= MAX_HOST_ELEMENTS or self.chars > MAX_HOST_CHARS:
            self.truncated = True
        return self.truncated

    def _hold_broadcasts(self, prescript: Element) -> None:
        for script in prescript.iter("script"):
            parse = _BROADCAST_SCRIPTS.get(script.get("id", ""))
            if parse is None:
                continue
            for ip, pairs in _per_address_sections(script.get("output", "")):
                held = self.broadcasts.setdefault(ip, [])
                for pair in parse(pairs):
                    if self.broadcast_count >= MAX_BROADCAST_ITEMS:
                        return
                    held.append(pair)
                    self.broadcast_count += 1

    def _convert_host(self, host: Element) -> None:
        status = host.find("status")
        if status is not None and status.get("state") == "down":
            return
        ip, mac, vendor = _addresses(host)
        mac = self._valid_mac(mac)
        if ip is None and mac is None:
            return
        seen_at = (
            _epoch(host.get("endtime"))
            or _epoch(host.get("starttime"))
            or self.scan_started
            or datetime.now(UTC)
        )
        pairs: list[tuple[str, str, int | None]] = []
        notes: list[str] = []
        if mac:
            pairs.append(("mac", mac, None))
            if vendor:
                notes.append(f"nmap MAC vendor: {vendor}")
        if status is not None and status.get("reason") == "arp-response":
            pairs.append(("arp.reply", "arp-response", None))
        pairs.extend(("hostname", h.get("name", ""), None) for h in host.iter("hostname"))
        for port_el in host.iter("port"):
            state = port_el.find("state")
            if state is not None and state.get("state") == "open":
                port_pairs, port_notes = _port_signals(port_el)
                port = _int(port_el.get("portid"))
                pairs.extend((s, v, port) for s, v in port_pairs)
                notes.extend(port_notes)
        for hostscript in host.iter("hostscript"):
            for script in hostscript.iter("script"):
                script_pairs, script_notes = _script_signals(script, "")
                pairs.extend((s, v, None) for s, v in script_pairs)
                notes.extend(script_notes)
        os_pairs, os_notes = _os_signals(host)
        pairs.extend((s, v, None) for s, v in os_pairs)
        notes.extend(os_notes)
        pairs.extend((s, v, None) for s, v in self.broadcasts.pop(ip or "", []))
        for signal, value, port in dict.fromkeys(pairs):
            if value:
                self.items.append(
                    Observation(
                        signal=signal, value=value, probe=PROBE, ip=ip, mac=mac, port=port, seen_at=seen_at
                    )
                )
        self.items.extend(HostNote(text=n, ip=ip, mac=mac) for n in notes)

    def _valid_mac(self, mac: str | None) -> str | None:
        if mac is None:
            return None
        try:
            return normalise_mac(mac)
        except ValueError:
            self.problems(self.start_line, f"host MAC address {mac[:40]!r} is not a MAC: ignored")
            return None


def _addresses(host: Element) -> tuple[str | None, str | None, str | None]:
    ips: dict[str, str] = {}
    mac = vendor = None
    for address in host.findall("address"):
        kind, addr = address.get("addrtype"), address.get("addr", "")
        if kind == "mac" and mac is None:
            mac, vendor = addr, address.get("vendor")
        elif kind in ("ipv4", "ipv6") and kind not in ips and _is_ip(addr):
            ips[kind] = addr
    return ips.get("ipv4") or ips.get("ipv6"), mac, vendor


def _port_signals(port_el: Element) -> tuple[Pairs, list[str]]:
    """Signals and notes of one open port: scripts, stored raw replies, then nmap's label."""
    service = port_el.find("service")
    attrs = service.attrib if service is not None else {}
    name = attrs.get("name", "")
    pairs: Pairs = []
    notes: list[str] = []
    for script in port_el.findall("script"):
        script_pairs, script_notes = _script_signals(script, name)
        pairs.extend(script_pairs)
        notes.extend(script_notes)
    fingerprint = attrs.get("servicefp", "")
    if fingerprint and len(fingerprint) <= MAX_SERVICEFP_CHARS:
        pairs.extend(servicefp_signals(fingerprint))
    if attrs.get("hostname"):
        pairs.append(("hostname", attrs["hostname"]))
    product = attrs.get("product", "")
    if product:
        pairs.append(("nmap.service", product))
    if service is not None:
        pairs.extend(("nmap.cpe", cpe.text.strip()) for cpe in service.findall("cpe") if cpe.text)
    header = "http.server" if name.startswith("http") else "rtsp.server" if name == "rtsp" else None
    if product and header and not any(signal == header for signal, _ in pairs):
        pairs.append((header, f"{product}/{attrs['version']}" if attrs.get("version") else product))
    label = " ".join(filter(None, (product, attrs.get("version"))))
    if label:
        extra = f" ({attrs['extrainfo']})" if attrs.get("extrainfo") else ""
        kind = f" [{attrs['devicetype']}]" if attrs.get("devicetype") else ""
        tunnel = "ssl/" if attrs.get("tunnel") == "ssl" else ""
        port = f"{port_el.get('portid', '?')}/{port_el.get('protocol', '?')}"
        notes.append(f"nmap service {port} {tunnel}{name}: {label}{extra}{kind}")
    return list(dict.fromkeys(pairs)), notes


def _script_signals(script: Element, service: str) -> tuple[Pairs, list[str]]:
    handler = _SCRIPTS.get(script.get("id", ""))
    if handler is None:
        return [], []
    pairs: Pairs = []
    notes: list[str] = []
    handler(script, service, pairs, notes)
    return pairs, notes


# script handlers: (script element, service name, pairs out, notes out)


def _http_title(script: Element, _service: str, pairs: Pairs, _notes: list[str]) -> None:
    title, redirect = _elem(script, "title"), _elem(script, "redirect_url")
    output = script.get("output", "")
    if title is None and redirect is None:
        if output.startswith("Did not follow redirect to "):
            redirect = output.removeprefix("Did not follow redirect to ").strip()
        elif output and not output.startswith(("Site doesn't have a title", "ERROR")):
            title = output.strip()
    if title:
        pairs.append(("http.title", title))
    if redirect:
        pairs.append(("http.location", redirect))


def _http_server_header(script: Element, _service: str, pairs: Pairs, _notes: list[str]) -> None:
    values = [e.text for e in script.iter("elem") if e.text]
    if not values:
        values = [line.strip() for line in script.get("output", "").splitlines() if line.strip()]
    pairs.extend(("http.server", v) for v in values)


def _http_headers(script: Element, _service: str, pairs: Pairs, _notes: list[str]) -> None:
    pairs.extend(_header_pairs(script.get("output", "").splitlines(), "http"))


def _http_favicon(script: Element, _service: str, pairs: Pairs, notes: list[str]) -> None:
    output = script.get("output", "").strip()
    match = re.fullmatch(r"Unknown favicon MD5: ([0-9A-Fa-f]{32})", output)
    if match:
        pairs.append(("http.favicon.md5", match[1].lower()))
    elif output:
        notes.append(f"nmap http-favicon: {output[:200]}")


def _ssl_cert(script: Element, _service: str, pairs: Pairs, _notes: list[str]) -> None:
    names = _names_from_pem(_elem(script, "pem") or "")
    for key, signal in (("subject", "x509.subject"), ("issuer", "x509.issuer")):
        value = names.get(key) or _rfc4514_from_table(_table(script, key))
        if value:
            pairs.append((signal, value))


def _snmp_sysdescr(script: Element, _service: str, pairs: Pairs, _notes: list[str]) -> None:
    output = script.get("output", "")
    descr = re.split(r"\n\s*System uptime:", output, maxsplit=1)[0].strip()
    if descr and not descr.startswith("ERROR"):
        pairs.append(("snmp.sys_descr", descr))


def _banner(script: Element, service: str, pairs: Pairs, _notes: list[str]) -> None:
    # banner.nse writes every byte outside 32-126 as an escape, then wraps its output at a fixed width with
    # bare newlines (nmap 7.93 scripts/banner.nse, output and replace_nonprint): a newline in the output is
    # never the device's, and may even split an escape (seen: "x0" newline "D" for a CR)
    text = _unescape(script.get("output", "").replace("\n", ""))
    first = text.split("\n", 1)[0].strip()
    if text.startswith("SSH-"):
        pairs.append(("ssh.banner", first))
    elif service == "ftp" and first:
        pairs.append(("ftp.banner", first))
    elif service == "telnet" and text.strip():
        banner = _telnet_banner(text)
        if banner:
            pairs.append(("telnet.banner", banner))


def _telnet_banner(text: str) -> str | None:
    """nmap's unescaped telnet banner as the greeting probe gives it: option negotiation removed, line
    ends kept (the telnet fingerprints match a prompt on its own line)."""
    from scanner.discovery.parsers.greeting import TelnetNegotiation

    raw = text.encode("latin-1") if max(text, default="\0") <= "\xff" else text.encode("utf-8")
    reader = TelnetNegotiation()
    reader.feed(raw)
    return reader.text


def _upnp_info(script: Element, _service: str, pairs: Pairs, _notes: list[str]) -> None:
    lines = [line.strip() for line in script.get("output", "").splitlines()]
    pairs.extend(_upnp_pairs(lines))


def _dns_service_discovery(script: Element, _service: str, pairs: Pairs, _notes: list[str]) -> None:
    lines = [line.strip() for line in script.get("output", "").splitlines()]
    pairs.extend(_mdns_pairs(lines))


_SCRIPTS: dict[str, Callable[[Element, str, Pairs, list[str]], None]] = {
    "http-title": _http_title,
    "http-server-header": _http_server_header,
    "http-headers": _http_headers,
    "http-favicon": _http_favicon,
    "ssl-cert": _ssl_cert,
    "snmp-sysdescr": _snmp_sysdescr,
    "banner": _banner,
    "upnp-info": _upnp_info,
    "dns-service-discovery": _dns_service_discovery,
}

_UPNP_LABELS = {
    "Server": "ssdp.server",
    "Location": "ssdp.location",
    "Webserver": "http.server",
    "Name": "upnp.friendly_name",
    "Manufacturer": "upnp.manufacturer",
    "Model Descr": "upnp.model_description",
    "Model Name": "upnp.model_name",
    "Model Version": "upnp.model_number",
}
_WSDD_LABELS = {"Address": "wsd.xaddrs", "Type": "wsd.types"}


def _upnp_pairs(lines: list[str]) -> Pairs:
    return _labelled(lines, _UPNP_LABELS)


def _wsdd_pairs(lines: list[str]) -> Pairs:
    return _labelled(lines, _WSDD_LABELS)


def _mdns_pairs(lines: list[str]) -> Pairs:
    """dnssd.lua output: ``_svc._tcp.local``, ``80/tcp http`` service lines and ``key=value`` TXT lines."""
    pairs: Pairs = []
    for line in lines:
        service = re.fullmatch(r"\d+/(tcp|udp) (\S+)", line)
        if service:
            pairs.append(("mdns.service", f"_{service[2]}._{service[1]}"))
        elif re.fullmatch(r"_[\w-]+\._(tcp|udp)(\.local)?", line):
            pairs.append(("mdns.service", line.removesuffix(".local")))
        elif "=" in line and not line.startswith("Address="):
            pairs.append(("mdns.txt", line))
    return pairs


_BROADCAST_SCRIPTS: dict[str, Callable[[list[str]], Pairs]] = {
    "broadcast-upnp-info": _upnp_pairs,
    "broadcast-wsdd-discover": _wsdd_pairs,
    "broadcast-dns-service-discovery": _mdns_pairs,
}


def _labelled(lines: list[str], labels: dict[str, str]) -> Pairs:
    pairs: Pairs = []
    for line in lines:
        label, sep, value = line.partition(":")
        if sep and label in labels and value.strip():
            pairs.append((labels[label], value.strip()))
    return pairs


def _per_address_sections(output: str) -> Iterator[tuple[str, list[str]]]:
    """Split a broadcast script's text output into (address, lines under it)."""
    ip: str | None = None
    lines: list[str] = []
    for raw in output.splitlines():
        line = raw.strip()
        if _is_ip(line):
            if ip is not None:
                yield ip, lines
            ip, lines = line, []
        elif ip is not None and line:
            lines.append(line)
    if ip is not None:
        yield ip, lines


# raw replies stored in servicefp

_SERVICEFP_RESPONSE = re.compile(r'r\(([\w-]+),[0-9A-Fa-f]+,"((?:[^"\\]|\\.)*)"\)', re.DOTALL)
_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{2}|.)", re.DOTALL)
_CONTROL = {"r": "\r", "n": "\n", "t": "\t", "0": "\0"}
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.DOTALL | re.IGNORECASE)


def servicefp_signals(fingerprint: str) -> Pairs:
    """Signals from the replies nmap stored in a ``servicefp`` (``%r(Probe,len,"escaped reply")``)."""
    pairs: Pairs = []
    for probe, escaped in _SERVICEFP_RESPONSE.findall(fingerprint.replace("\nSF:", "")):
        pairs.extend(_reply_pairs(_unescape(escaped), first_request=probe == "GetRequest"))
    return pairs


def _reply_pairs(reply: str, *, first_request: bool) -> Pairs:
    if reply.startswith("SSH-"):
        return [("ssh.banner", reply.split("\n", 1)[0].strip())]
    protocol = {"HTTP/1.": "http", "RTSP/1.": "rtsp", "SIP/2.0": "sip"}.get(reply[:7])
    if protocol is None:
        return []
    head, _, body = reply.partition("\r\n\r\n")
    lines = head.split("\r\n")
    pairs = _header_pairs(lines[1:], protocol)
    if protocol == "http" and first_request:
        status = lines[0].split(" ", 2)
        if len(status) > 1 and status[1].isdigit():
            pairs.append(("http.status", status[1]))
        title = _TITLE.search(body[:MAX_TITLE_SCAN])
        if title and title[1].strip():
            pairs.append(("http.title", " ".join(title[1].split())))
    return pairs


_HEADER_SIGNALS = {
    "http": {
        "server": "http.server",
        "www-authenticate": "http.www_authenticate",
        "location": "http.location",
    },
    "rtsp": {"server": "rtsp.server", "www-authenticate": "rtsp.www_authenticate"},
    "sip": {"server": "sip.user_agent", "user-agent": "sip.user_agent"},
}


def _header_pairs(lines: list[str], protocol: str) -> Pairs:
    signals = _HEADER_SIGNALS[protocol]
    pairs: Pairs = []
    for line in lines:
        name, sep, value = line.strip().partition(":")
        signal = signals.get(name.strip().lower()) if sep else None
        if signal and value.strip():
            pairs.append((signal, value.strip()))
    return pairs


def _unescape(text: str) -> str:
    """nmap's escaping of raw bytes: ``\\xNN``, ``\\r``, ``\\n``, ``\\t``, ``\\0``, backslash + character."""

    def one(match: re.Match[str]) -> str:
        code = match[1]
        if len(code) == 3 and code[0] == "x":
            return chr(int(code[1:], 16))
        return _CONTROL.get(code, code)

    return _ESCAPE.sub(one, text)


# certificates

_RFC4514_NAMES = {
    "commonName": "CN",
    "organizationalUnitName": "OU",
    "organizationName": "O",
    "localityName": "L",
    "stateOrProvinceName": "ST",
    "countryName": "C",
    "streetAddress": "STREET",
    "domainComponent": "DC",
    "userId": "UID",
    "emailAddress": "1.2.840.113549.1.9.1",
    "serialNumber": "2.5.4.5",
}
_RFC4514_ORDER = ["CN", "OU", "O", "L", "ST", "C"]  # the usual reverse of C, ST, L, O, OU, CN


def _names_from_pem(pem: str) -> dict[str, str]:
    """Exact RFC 4514 subject and issuer from nmap's ``pem`` element, when cryptography is installed."""
    if "BEGIN CERTIFICATE" not in pem:
        return {}
    try:
        from cryptography import x509
    except ImportError:
        return {}
    try:
        cert = x509.load_pem_x509_certificate(pem.encode("ascii", "replace"))
        return {"subject": cert.subject.rfc4514_string(), "issuer": cert.issuer.rfc4514_string()}
    except ValueError:
        return {}


def _rfc4514_from_table(table: Element | None) -> str | None:
    """RFC 4514 text from nmap's subject/issuer table (keys sorted by nmap, so RDN order is conventional)."""
    if table is None:
        return None
    rdns: list[tuple[str, str]] = []
    for elem in table.findall("elem"):
        key = elem.get("key", "")
        short = _RFC4514_NAMES.get(key, key)
        if short and elem.text:
            rdns.append((short, _escape_rdn(elem.text)))
    rank = {name: i for i, name in enumerate(_RFC4514_ORDER)}
    rdns.sort(key=lambda rdn: rank.get(rdn[0], -1))
    return ",".join(f"{k}={v}" for k, v in rdns) or None


def _escape_rdn(value: str) -> str:
    escaped = re.sub(r'([\\,+"<>;=])', r"\\\1", value)
    if escaped.startswith(("#", " ")):
        escaped = "\\" + escaped
    if escaped.endswith(" "):
        escaped = escaped[:-1] + "\\ "
    return escaped


# small helpers


def _os_signals(host: Element) -> tuple[Pairs, list[str]]:
    """nmap's best OS guess: always a host note; an ``nmap.os`` signal only at OS_MIN_ACCURACY or more."""
    match = host.find("os/osmatch")
    if match is None or not match.get("name"):
        return [], []
    name = match.get("name", "")
    osclass = match.find("osclass")
    kind = " ".join(filter(None, (osclass.get("vendor"), osclass.get("type")))) if osclass is not None else ""
    guess = f"nmap OS guess: {name} ({match.get('accuracy', '?')}%)"
    accuracy = _int(match.get("accuracy"))
    pairs: Pairs = [("nmap.os", name)] if accuracy is not None and accuracy >= OS_MIN_ACCURACY else []
    return pairs, [f"{guess} [{kind}]" if kind else guess]


def _elem(script: Element, key: str) -> str | None:
    for elem in script.findall("elem"):
        if elem.get("key") == key:
            return elem.text
    return None


def _table(script: Element, key: str) -> Element | None:
    for table in script.findall("table"):
        if table.get("key") == key:
            return table
    return None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() and int(text) <= 65535 else None


def _epoch(text: str | None) -> datetime | None:
    if not text or not text.isdigit():
        return None
    try:
        return datetime.fromtimestamp(int(text), UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _hostile_reason(exc: DefusedXmlException) -> str:
    if isinstance(exc, DTDForbidden):
        return (
            "a DOCTYPE naming an external DTD"
            if exc.sysid or exc.pubid
            else "a DOCTYPE with an internal subset (where 'billion laughs' entities are declared)"
        )
    if isinstance(exc, EntitiesForbidden):
        return "an XML entity declaration"
    if isinstance(exc, ExternalReferenceForbidden):
        return "an external reference"
    return f"unsafe XML ({type(exc).__name__})"


def _expat_message(exc: ParseError) -> str:
    return str(exc).split(":", 1)[0][:120]
