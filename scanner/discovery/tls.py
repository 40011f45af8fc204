"""TLS certificate banners: subject, issuer, SANs, serial and SHA-256 of the peer certificate.

Connects to ``tls_ports`` (default 443,8443; a closed port fails at connect, so only open ports get a
handshake) through the shared client's ``connect`` (the same connect and handshake time limits as HTTPS),
accepts any certificate and old protocol versions, takes the DER certificate and closes.
Parsing needs ``cryptography``; without it the probe says so and stops.
"""

from __future__ import annotations

import asyncio
import logging

from scanner.discovery.banner_base import BannerProbe, BannerRun, HostRecorder
from scanner.discovery.http import HTTPS_PORTS
from scanner.discovery.http_client import TLS_HANDSHAKE_TIMEOUT, connect
from scanner.discovery.parsers.x509 import parse_certificate

log = logging.getLogger("scanner.discovery")

HANDSHAKE_TIMEOUT = TLS_HANDSHAKE_TIMEOUT


class TlsProbe(BannerProbe):
    name = "tls"
    description = "TLS certificate subject, issuer, SANs and fingerprint on 443/8443"
    port_option, default_ports = "tls", HTTPS_PORTS

    def unavailable(self) -> str | None:
        try:
            import cryptography  # noqa: F401
        except ImportError:
            return "the TLS probe needs the `cryptography` package"
        return None

    async def probe_host(self, run: BannerRun, rec: HostRecorder) -> bool:
        certs = await asyncio.gather(*(peer_certificate(rec.ip, p) for p in run.ports))
        answered = False
        for port, der in zip(run.ports, certs, strict=True):
            info = parse_certificate(der) if der else None
            if info is None:
                continue
            answered = True
            rec.add("x509.subject", info.subject, port)
            rec.add("x509.issuer", info.issuer, port)
            for san in info.sans:
                rec.add("x509.san", san, port)
            rec.add("x509.serial", info.serial, port)
            rec.add("x509.sha256", info.sha256, port)
        return answered


async def peer_certificate(ip: str, port: int) -> bytes | None:
    """The DER certificate the server at ip:port presents, or None (closed, not TLS, too slow)."""
    try:
        _reader, writer = await connect(ip, port, tls=True)
    except Exception as exc:  # refused, reset, SSLError on garbage, timeouts
        log.debug("tls: %s:%d: %r", ip, port, exc)
        return None
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        return ssl_object.getpeercert(binary_form=True) if ssl_object else None
    finally:
        writer.transport.abort()
