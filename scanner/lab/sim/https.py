"""A simulated device's HTTPS on 443: the device's web app (``sim/http.py``) behind a self-signed certificate.

Parameters (``[<profile>.https]``): ``subject`` and ``issuer`` as RFC 4514 strings, kept exactly (the
probe reads them back with ``rfc4514_string()``). One EC P-256 key and certificate per distinct
subject/issuer pair, made once per process and kept in memory (RSA 2048 would cost ~100 ms each).
"""

from __future__ import annotations

import asyncio
import os
import ssl
import tempfile
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from scanner.lab.sim.device import SimDevice
from scanner.lab.sim.http import WebApp

_servers: list[asyncio.Server] = []


async def start(dev: SimDevice, params: dict[str, Any]) -> None:
    app = WebApp(dev.services.get("http", {}), dev.profile)
    context = server_context(str(params["subject"]), str(params.get("issuer") or params["subject"]))
    for sock in dev.tcp_listeners(443):
        _servers.append(await asyncio.start_server(app.handle, sock=sock, ssl=context))


@cache
def certificate_pem(subject: str, issuer: str) -> tuple[bytes, bytes]:
    """(certificate PEM, private key PEM) of a certificate with exactly these subject and issuer names."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name.from_rfc4514_string(subject))
        .issuer_name(x509.Name.from_rfc4514_string(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@cache
def server_context(subject: str, issuer: str) -> ssl.SSLContext:
    """A server SSLContext for the certificate (ssl loads keys only from files: a temporary one)."""
    cert_pem, key_pem = certificate_pem(subject, issuer)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    fd, path = tempfile.mkstemp(prefix="ndaa-lab-", suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(cert_pem + key_pem)
        context.load_cert_chain(path)
    finally:
        os.unlink(path)
    return context
