"""TLS certificate banners: subject, issuer, SANs, serial and SHA-256 of the peer certificate.

Connects to ``tls_ports`` (default 443,8443; a closed port fails at connect, so only open ports get a
handshake), accepts any certificate and old protocol versions, takes the DER certificate and closes.
Parsing needs ``cryptography``; without it the probe says so and stops.
"""

from __future__ import annotations

import asyncio
import logging
import ssl

from scanner.discovery.banner_base import (
    HostRecorder,
    host_timeout,
    insecure_context,
    ports_option,
    probe_each_host,
)
from scanner.discovery.base import Collector, ProbeContext, ProbeResult, ProbeStatus
from scanner.discovery.http import HTTPS_PORTS
from scanner.discovery.parsers.x509 import parse_certificate

log = logging.getLogger("scanner.discovery")

HANDSHAKE_TIMEOUT = 2.0


class TlsProbe:
    name = "tls"
    description = "TLS certificate subject, issuer, SANs and fingerprint on 443/8443"

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        col = Collector(self.name, ctx)
        hosts = ctx.hosts_to_probe()
        if not hosts:
            return col.result(ProbeStatus.SKIPPED, notes=["no hosts to probe"])
        try:
            import cryptography  # noqa: F401
        except ImportError:
            return col.result(ProbeStatus.ERROR, error="the TLS probe needs the `cryptography` package")
        ports = ports_option(ctx, "tls", HTTPS_PORTS)
        context = insecure_context()
        timeout = min(HANDSHAKE_TIMEOUT, host_timeout(ctx))

        async def one(rec: HostRecorder) -> bool:
            certs = await asyncio.gather(*(peer_certificate(rec.ip, p, context, timeout) for p in ports))
            answered = False
            for port, der in zip(ports, certs, strict=True):
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

        return await probe_each_host(col, hosts, one, len(ports) or 1)


async def peer_certificate(ip: str, port: int, context: ssl.SSLContext, timeout: float) -> bytes | None:
    """The DER certificate the server at ip:port presents, or None (closed, not TLS, too slow)."""
    try:
        async with asyncio.timeout(timeout):
            _reader, writer = await asyncio.open_connection(
                ip, port, ssl=context, ssl_handshake_timeout=timeout
            )
    except Exception as exc:  # refused, reset, SSLError on garbage, timeouts
        log.debug("tls: %s:%d: %r", ip, port, exc)
        return None
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        return ssl_object.getpeercert(binary_form=True) if ssl_object else None
    finally:
        writer.transport.abort()
