"""What a probe saw: the common currency between discovery and identification.

An observation is one field seen by one probe about one host: ``signal`` names the
field (see ``SIGNALS``), ``value`` is the text as seen (bounded), ``probe`` names the
probe that saw it. Discovery produces observations; it knows nothing of verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_VALUE_LEN = 4096

# Vendor discovery protocols whose every field is its own signal, open-ended by design:
# sadp.<Field> (the SADP ProbeMatch element name), dhip.<Key> (the DHIP deviceInfo key).
PROTOCOL_FIELD_PREFIXES = ("sadp.", "dhip.")

# Signal names, one obvious spelling each. Discovery modules emit these; the
# fingerprint files name the signal they match (``matches = "http.server"``).
SIGNALS: dict[str, str] = {
    "mac": "MAC address of the host (from ARP, neighbour table or a protocol reply)",
    "arp.reply": "the host answered an ARP request",
    "host.alive": "the host answered the liveness sweep (icmp-echo, tcp-syn-ack, tcp-rst, tcp-refused, tcp-connect)",
    "tcp.open": "a TCP port that accepted a connection or answered a SYN with SYN-ACK (the port is in `port`)",
    "neighbour": "the host appeared in the kernel neighbour table (unprivileged sweep)",
    "hostname": "a host name (mDNS, DHCP, reverse DNS)",
    # What a reply says about its sender, inside its payload (SADP IPv4Address/MAC, DHIP IPAddress/mac,
    # WS-Discovery XAddrs host, SSDP LOCATION host). Evidence only: the observation's own ip is the reply's
    # UDP source; a claimed address is never probed and never merges the reply into another host's record.
    "claimed.ip": "an IPv4 address the reply's payload claims for its sender",
    "claimed.mac": "a MAC address the reply's payload claims for its sender",
    "claimed.mismatch": "the payload claims an address other than the one the reply came from",
    # WS-Discovery / ONVIF
    "wsd.types": "WS-Discovery Types of a ProbeMatch",
    "wsd.scope": "one WS-Discovery scope URI",
    "wsd.xaddrs": "WS-Discovery XAddrs",
    "wsd.endpoint": "WS-Discovery EndpointReference address",
    "onvif.name": "ONVIF scope name/…",
    "onvif.hardware": "ONVIF scope hardware/…",
    "onvif.manufacturer": "ONVIF GetDeviceInformation Manufacturer",
    "onvif.model": "ONVIF GetDeviceInformation Model",
    "onvif.firmware": "ONVIF GetDeviceInformation FirmwareVersion",
    "onvif.serial": "ONVIF GetDeviceInformation SerialNumber",
    "onvif.device_service": "the ONVIF device service URL that answered",
    "onvif.datetime": "ONVIF GetSystemDateAndTime UTC time",
    "onvif.timezone": "ONVIF GetSystemDateAndTime time zone (e.g. CST-8:00:00)",
    # Hikvision SADP: sadp.<Field> for every ProbeMatch field, e.g. sadp.DeviceDescription
    "sadp.reply": "the host answered a Hikvision SADP inquiry",
    # Dahua DHIP: dhip.<Key> for every deviceInfo key, e.g. dhip.DeviceType
    "dhip.reply": "the host answered a Dahua DHIP DHDiscover.search",
    # SSDP / UPnP
    "ssdp.server": "SSDP SERVER header",
    "ssdp.st": "SSDP ST/NT header",
    "ssdp.usn": "SSDP USN header",
    "ssdp.location": "SSDP LOCATION header",
    "upnp.manufacturer": "UPnP description manufacturer",
    "upnp.model_name": "UPnP description modelName",
    "upnp.model_number": "UPnP description modelNumber",
    "upnp.model_description": "UPnP description modelDescription",
    "upnp.friendly_name": "UPnP description friendlyName",
    "upnp.serial": "UPnP description serialNumber",
    "upnp.device_type": "UPnP description deviceType (e.g. urn:schemas-upnp-org:device:InternetGatewayDevice:1)",
    # mDNS
    "mdns.service": "a DNS-SD service type the host offers",
    "mdns.instance": "a DNS-SD instance name",
    "mdns.txt": "one TXT record key=value",
    "mdns.hostname": "SRV target host name",
    # banners
    "http.server": "HTTP Server header",
    "http.www_authenticate": "HTTP WWW-Authenticate header",
    "http.title": "HTML <title>",
    "http.favicon.md5": "favicon md5 hex",
    "http.favicon.mmh3": "favicon mmh3 (Shodan style, base64 with newlines)",
    "http.location": "HTTP redirect Location",
    "http.status": "HTTP status line code",
    "isapi.device_info": "Hikvision /ISAPI/System/deviceInfo field",
    "dahua.cgi": "Dahua magicBox.cgi key=value",
    "x509.subject": "TLS certificate subject (RFC 4514)",
    "x509.issuer": "TLS certificate issuer (RFC 4514)",
    "x509.san": "one TLS certificate subjectAltName (DNS:… / IP:…)",
    "x509.serial": "TLS certificate serial number (hex)",
    "x509.sha256": "SHA-256 of the certificate (DER): certificates shared across a product line",
    "rtsp.server": "RTSP Server header",
    "rtsp.www_authenticate": "RTSP WWW-Authenticate header",
    "rtsp.status": "RTSP method and status code (e.g. DESCRIBE 401)",
    "snmp.sys_descr": "SNMP sysDescr.0",
    "snmp.sys_object_id": "SNMP sysObjectID.0",
    "ssh.banner": "SSH identification string",
    "telnet.banner": "telnet banner",
    "sip.user_agent": "SIP User-Agent / Server",
    "ftp.banner": "FTP greeting",
}


def _now() -> datetime:
    return datetime.now(UTC)


def normalise_mac(mac: str) -> str:
    """'58-50-ED-1f-e3-85' / '5850.ed1f.e385' / '5850ed1fe385' -> '58:50:ed:1f:e3:85'; ValueError if not a MAC."""
    hexdigits = "".join(c for c in mac if c not in ":-. ").lower()
    if len(hexdigits) != 12 or any(c not in "0123456789abcdef" for c in hexdigits):
        raise ValueError(f"not a MAC address: {mac!r}")
    return ":".join(hexdigits[i : i + 2] for i in range(0, 12, 2))


class Observation(BaseModel):
    """One field one probe saw about one host."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    signal: str
    value: str
    probe: str
    ip: str | None = None
    mac: str | None = None
    port: int | None = None
    seen_at: datetime = Field(default_factory=_now)

    @field_validator("value", mode="before")
    @classmethod
    def _bound_value(cls, v: Any) -> str:
        s = v if isinstance(v, str) else str(v)
        return s[:MAX_VALUE_LEN]

    @field_validator("mac", mode="before")
    @classmethod
    def _norm_mac(cls, v: Any) -> str | None:
        return None if v in (None, "") else normalise_mac(str(v))


@dataclass(frozen=True, slots=True)
class HostNote:
    """Something an input says about a host that is not a signal (e.g. nmap's MAC vendor)."""

    text: str
    ip: str | None = None
    mac: str | None = None


class Device(BaseModel):
    """A host and every observation gathered about it."""

    ip: str | None = None
    mac: str | None = None
    observations: list[Observation] = Field(default_factory=list)

    def values(self, signal: str) -> list[str]:
        return [o.value for o in self.observations if o.signal == signal]

    def probes(self) -> list[str]:
        return sorted({o.probe for o in self.observations})


def group_by_host(observations: list[Observation]) -> list[Device]:
    """Merge observations into devices: by MAC, with IP-only observations joined to the MAC seen at that IP."""
    ip_to_mac: dict[str, str] = {}
    for o in observations:
        if o.ip and o.mac:
            ip_to_mac.setdefault(o.ip, o.mac)
    devices: dict[str, Device] = {}
    for o in observations:
        mac = o.mac or (ip_to_mac.get(o.ip) if o.ip else None)
        key = mac or o.ip
        if not key:
            continue
        dev = devices.get(key)
        if dev is None:
            dev = devices[key] = Device(ip=o.ip, mac=mac)
        if dev.ip is None and o.ip:
            dev.ip = o.ip
        dev.observations.append(o)
    return sorted(devices.values(), key=lambda d: _ip_sort_key(d.ip))


def _ip_sort_key(ip: str | None) -> tuple[int, ...]:
    if not ip:
        return (1 << 30,)
    try:
        return tuple(int(p) for p in ip.split("."))
    except ValueError:
        return (1 << 29,)
