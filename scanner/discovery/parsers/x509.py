"""X.509 certificate fields a TLS banner shows: subject, issuer, SANs, serial, fingerprint.

Needs the ``cryptography`` package (imported when first used). A certificate that does not parse, or
whose parts do not, yields what did parse; nothing raises out of ``parse_certificate``.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

log = logging.getLogger("scanner.discovery")

MAX_DER = 64 * 1024
MAX_SANS = 32


class CertInfo(NamedTuple):
    subject: str  # RFC 4514
    issuer: str  # RFC 4514
    sans: tuple[str, ...]  # "DNS:…", "IP:…", "URI:…", "email:…"
    serial: str  # lower-case hex
    sha256: str  # of the DER, lower-case hex


def parse_certificate(der: bytes) -> CertInfo | None:
    """The banner fields of a DER certificate, or None when it is not one."""
    if not der or len(der) > MAX_DER:
        return None
    from cryptography import x509
    from cryptography.utils import CryptographyDeprecationWarning

    try:
        with warnings.catch_warnings():  # zero or negative serials are common on old cameras
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            cert = x509.load_der_x509_certificate(der)
            subject = cert.subject.rfc4514_string()
            issuer = cert.issuer.rfc4514_string()
            serial = format(cert.serial_number, "x")
    except Exception as exc:  # cryptography raises ValueError and others for malformed DER
        log.debug("x509: unparsable certificate: %r", exc)
        return None
    return CertInfo(subject, issuer, _sans(cert), serial, hashlib.sha256(der).hexdigest())


def _sans(cert: Certificate) -> tuple[str, ...]:
    from cryptography import x509

    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except Exception:  # absent, duplicated or malformed extension
        return ()
    out = []
    for name in list(ext.value)[:MAX_SANS]:
        if isinstance(name, x509.DNSName):
            out.append(f"DNS:{name.value}")
        elif isinstance(name, x509.IPAddress):
            out.append(f"IP:{name.value}")
        elif isinstance(name, x509.UniformResourceIdentifier):
            out.append(f"URI:{name.value}")
        elif isinstance(name, x509.RFC822Name):
            out.append(f"email:{name.value}")
    return tuple(out)
