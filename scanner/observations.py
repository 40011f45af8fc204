"""What a probe saw: the common currency between discovery and identification.

An observation is one field seen by one probe about one host: ``signal`` names the
field (see ``SIGNALS``), ``value`` is the text as seen (bounded), ``probe`` names the
probe that saw it. Discovery produces observations; it knows nothing of verdicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_VALUE_LEN = 4096

# Vendor discovery protocols whose every field is its own signal, open-ended by design:
# sadp.<Field> (the SADP ProbeMatch element name), dhip.<Key> (the DHIP deviceInfo key).
PROTOCOL_FIELD_PREFIXES = ("sadp.", "dhip.")
CLAIMED_PREFIX = "claimed."  # claimed.ip / .mac / .mismatch: evidence about the sender, never identity

# Signal names, one obvious spelling each. Discovery modules emit these; the
# fingerprint files name the signal they match (``matches = "http.server"``).
SIGNALS: dict[str, str] = {
    "mac": "MAC address of the host (from ARP, neighbour table or a protocol reply)",
    "arp.reply": "the host answered an ARP request",
    "host.alive": "the host answered the liveness sweep (icmp-echo, tcp-syn-ack, tcp-rst, tcp-refused, tcp-connect)"
    " or the IPv6 link sweep (icmp6-echo)",
    "tcp.open": "a TCP port that accepted a connection or answered a SYN with SYN-ACK (the port is in `port`)",
    "neighbour": "the host appeared in the kernel neighbour table (unprivileged sweep)",
    "hostname": "a host name (mDNS, DHCP, reverse DNS)",
    # DHCP (import dhcp-leases, import pcap, listen): what a client sent, what a server recorded
    "dhcp.vendor_class": "DHCP vendor class identifier a client sent (option 60)",
    "dhcp.client_id": "DHCP client identifier (option 61), hex octets",
    "dhcp.params": "DHCP parameter request list (option 55), the codes in the client's order",
    "dhcp.lease": "a DHCP server's lease for the host: state, end, server (ended leases say so)",
    # CDP frames heard passively (import pcap, listen); LLDP signals are listed with the SNMP tables below
    "cdp.device_id": "CDP device ID",
    "cdp.platform": "CDP platform",
    "cdp.software": "CDP software version (first line)",
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
    # nmap's own identification (import nmap-xml, --with-nmap)
    "nmap.service": "nmap's service label of an open port (its probe matched the device's reply)",
    "nmap.cpe": "a CPE that nmap's service match names (cpe:/h:vendor:product, cpe:/o:vendor:os)",
    "nmap.os": "nmap's best OS guess for the host, at 90 % accuracy or more",
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
    # SNMP tables (ndaa-scan collect snmp): what routers and switches record about other hosts
    "snmp.arp": "an entry of a router's ARP table (IP-MIB ipNetToPhysical/ipNetToMedia): address, router, interface",
    "snmp.fdb": "where a switch learned the MAC: switch, bridge port (ifName, ifAlias) and VLAN (BRIDGE/Q-BRIDGE-MIB)",
    "snmp.fdb.uplink": "a switch learned the MAC on an uplink port (dozens of MACs or a bridge neighbour): not a location",
    # LLDP: what a device announces about itself, read from a switch's neighbour table (LLDP-MIB
    # lldpRemTable, collect snmp) or from the frames themselves (import pcap, listen)
    "lldp.chassis_id": "LLDP chassis ID a device announced",
    "lldp.port_id": "LLDP port ID a device announced",
    "lldp.sys_name": "LLDP system name a device announced",
    "lldp.sys_descr": "LLDP system description a device announced",
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

    @classmethod
    def trusted(
        cls,
        signal: str,
        value: str,
        probe: str,
        ip: str | None,
        mac: str | None,
        port: int | None,
        seen_at: datetime,
    ) -> Observation:
        """An observation from values already checked and normalised (the bulk readers' hot path).

        What ``model_construct`` builds, without its per-call generic work (4x faster, measured by
        benchmarks/bench_identify.py); ``tests/test_observations.py`` checks it stays the same object.
        """
        obs = _new(cls)
        _set(
            obs,
            "__dict__",
            {
                "signal": signal,
                "value": value,
                "probe": probe,
                "ip": ip,
                "mac": mac,
                "port": port,
                "seen_at": seen_at,
            },
        )
        _set(obs, "__pydantic_fields_set__", _ALL_FIELDS)
        _set(obs, "__pydantic_extra__", None)
        _set(obs, "__pydantic_private__", None)
        return obs


_new = object.__new__
_set = object.__setattr__
_ALL_FIELDS = set(Observation.model_fields)  # shared, as model_construct shares a given set; copies copy it


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


DEFAULT_CAP = 256  # distinct observations kept per host when a cap is asked for (offline inputs)
DEFAULT_MAX_HOSTS = 65_536  # hosts held at once when a bound is asked for
MAX_NOTES = 32  # notes kept per host
MAX_IPS_PER_HOST = 16  # addresses remembered per host for joining IP-only observations


@dataclass(slots=True)
class HostState:
    """What is held for one host until it is identified."""

    ip: str | None
    mac: str | None
    observations: list[Observation] = field(default_factory=list)
    seen: set[tuple[str, str]] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    ips: set[str] = field(default_factory=set)
    duplicates: int = 0
    dropped: int = 0

    @property
    def key(self) -> str:
        return self.mac or self.ip or ""

    def device(self) -> Device:
        return Device.model_construct(ip=self.ip, mac=self.mac, observations=self.observations)


class HostGrouper:
    """The one grouping rule: a host is its MAC when known, else its IP, and an IP-only observation joins
    the MAC first seen at that IP (an IP-keyed host is re-keyed when its MAC shows up). Only an
    observation's own ``mac`` and ``ip`` fields count, values never do; a ``claimed.*`` observation (what
    a payload claims about its sender) is keyed by the address it came from, any MAC it carries ignored,
    so a claim never merges it into another host.

    ``add`` returns a host state when one must be flushed. Bounds, for streams of any length: with
    ``cap``, a host keeps at most ``cap`` distinct (signal, value) observations (repeats and the rest are
    counted, not kept); with ``max_hosts``, the host held longest is flushed to make room; with
    ``host_sorted``, a host is flushed as soon as the next observation names another. ``cap=None`` keeps
    every observation, repeats included (a live scan: the history stores each one).
    """

    def __init__(
        self,
        *,
        cap: int | None = DEFAULT_CAP,
        max_hosts: int | None = DEFAULT_MAX_HOSTS,
        host_sorted: bool = False,
    ) -> None:
        self.cap = None if cap is None else max(1, cap)
        self.max_hosts = None if max_hosts is None else max(1, max_hosts)
        self.host_sorted = host_sorted
        self.hosts: dict[str, HostState] = {}
        self.ip_to_mac: dict[str, str] = {}
        self.evicted = 0
        self._last: HostState | None = None

    def add(self, item: Observation | HostNote) -> HostState | None:
        """Add one observation or note; return the host state to identify now, if any."""
        ip, mac = item.ip, item.mac
        if mac is not None and isinstance(item, Observation) and item.signal.startswith(CLAIMED_PREFIX):
            mac = None  # what a payload claims about its sender is evidence, never identity
        if mac is None and ip is not None:
            mac = self.ip_to_mac.get(ip)
        state = self.hosts.get(mac or ip or "")
        if (
            state is not None
            and state is self._last
            and (ip is None or mac is None or (ip in state.ips and ip not in self.hosts))
        ):
            flushed = None  # the common case: the host of the previous observation, nothing to re-key
        else:
            state, flushed = self._state_for(ip, mac)
        if state is None:
            return flushed
        if isinstance(item, HostNote):
            if len(state.notes) < MAX_NOTES and item.text not in state.notes:
                state.notes.append(item.text)
        elif self.cap is None:
            state.observations.append(item)
        else:
            self._keep(item, state)
        return flushed

    def _keep(self, obs: Observation, state: HostState) -> None:
        if self.cap is None:
            state.observations.append(obs)
            return
        pair = (obs.signal, obs.value)
        if pair in state.seen:
            state.duplicates += 1
        elif len(state.observations) < self.cap:
            state.seen.add(pair)
            state.observations.append(obs)
        else:
            state.dropped += 1

    def finish(self) -> Iterator[HostState]:
        """Every state still held, oldest first; the grouper is empty afterwards."""
        while self.hosts:
            yield self._pop(next(iter(self.hosts)))
        self._last = None

    def _state_for(self, ip: str | None, mac: str | None) -> tuple[HostState | None, HostState | None]:
        if mac is None and ip is not None:
            mac = self.ip_to_mac.get(ip)
        key = mac or ip
        if not key:
            return None, None
        state = self.hosts.get(key)
        if mac and ip and ip in self.hosts and self.hosts[ip].mac is None:  # its MAC just showed up
            ip_only = self.hosts.pop(ip)
            if state is None:
                ip_only.mac = mac
                state = self.hosts[mac] = ip_only
            else:
                self._merge(ip_only, into=state)
        flushed = None
        if self.host_sorted and self._last is not None and state is not self._last:
            flushed = self._pop(self._last.key)
        if state is None:
            if flushed is None and self.max_hosts is not None and len(self.hosts) >= self.max_hosts:
                flushed = self._pop(next(iter(self.hosts)))
                self.evicted += 1
                flushed.notes.append(
                    f"held-host limit ({self.max_hosts}) reached: identified early; "
                    "later observations of this host are reported separately"
                )
            state = self.hosts[key] = HostState(ip=ip, mac=mac)
        if state.ip is None and ip:
            state.ip = ip
        if mac and ip and ip not in state.ips and len(state.ips) < MAX_IPS_PER_HOST:
            state.ips.add(ip)
            self.ip_to_mac.setdefault(ip, mac)
        self._last = state
        return state, flushed

    def _merge(self, other: HostState, *, into: HostState) -> None:
        for obs in other.observations:
            self._keep(obs, into)
        into.duplicates += other.duplicates
        into.dropped += other.dropped
        into.notes.extend(n for n in other.notes[: MAX_NOTES - len(into.notes)] if n not in into.notes)
        if self._last is other:
            self._last = into

    def _pop(self, key: str) -> HostState:
        state = self.hosts.pop(key)
        for ip in state.ips:
            if self.ip_to_mac.get(ip) == state.mac:
                del self.ip_to_mac[ip]
        if self._last is state:
            self._last = None
        return state


def group_by_host(observations: Iterable[Observation]) -> list[Device]:
    """Every observation merged into devices by the one grouping rule (``HostGrouper``, unbounded,
    nothing dropped), sorted by IP."""
    grouper = HostGrouper(cap=None, max_hosts=None)
    for o in observations:
        grouper.add(o)
    return sorted((s.device() for s in grouper.finish()), key=lambda d: ip_sort_key(d.ip))


def ip_sort_key(ip: str | None) -> tuple[int, ...]:
    if not ip:
        return (1 << 30,)
    try:
        return tuple(int(p) for p in ip.split("."))
    except ValueError:
        return (1 << 29,)
