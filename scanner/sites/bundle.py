"""A bundle: what an agent pushes for one stored scan — the ScanReport, the site it was taken at, and a
stable id (the SHA-256 of the canonical JSON of site and report), so the same scan pushed twice is
recognised and stored once (the server keeps (site, bundle_id) unique); optionally an Ed25519 signature
over that canonical JSON, which the server requires from a site it holds a public key for."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field, field_validator

from scanner.results import ScanReport

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

BUNDLE_FORMAT = 1
SITE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_BUNDLE_BYTES = 256 * 1024 * 1024  # a 65,536-host scan with its evidence fits easily


class Bundle(BaseModel):
    format: int = BUNDLE_FORMAT
    site: str
    bundle_id: str = Field(pattern=r"^[0-9a-f]{64}$")
    report: ScanReport
    # Ed25519 over ``canonical(site, report)``, base64; the server requires it for a site with a key
    signature: str | None = Field(default=None, max_length=200)

    @field_validator("site")
    @classmethod
    def _site_name(cls, value: str) -> str:
        return check_site(value)


def check_site(name: str) -> str:
    """A site name: 1-64 letters, digits, ``.``, ``_``, ``-``, starting with a letter or digit."""
    if not SITE_RE.fullmatch(name):
        raise ValueError(
            f"site name {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return name


def canonical(site: str, report: ScanReport) -> bytes:
    """The bytes the bundle id is the digest of: sorted keys, no spaces, UTF-8."""
    doc = {"site": site, "report": report.model_dump(mode="json")}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def make_bundle(site: str, report: ScanReport, signing_key: Ed25519PrivateKey | None = None) -> Bundle:
    """The bundle of ``report`` taken at ``site``; its id depends only on their content (not on the
    signature: the same scan signed or not is the same bundle)."""
    check_site(site)
    content = canonical(site, report)
    signature = base64.b64encode(signing_key.sign(content)).decode() if signing_key is not None else None
    return Bundle(
        site=site, bundle_id=hashlib.sha256(content).hexdigest(), report=report, signature=signature
    )


def verify(bundle: Bundle, public_key: bytes) -> bool:
    """True when the bundle carries a valid Ed25519 signature by ``public_key`` (32 raw bytes) over its
    canonical content, and its id is that content's digest."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if not bundle.signature:
        return False
    content = canonical(bundle.site, bundle.report)
    if hashlib.sha256(content).hexdigest() != bundle.bundle_id:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(base64.b64decode(bundle.signature), content)
    except (InvalidSignature, ValueError):
        return False
    return True


def load_private_key(path: str) -> Ed25519PrivateKey:
    """An unencrypted Ed25519 private key (PEM, as `ndaa-scan keygen` writes it)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    with open(path, "rb") as f:
        key = load_pem_private_key(f.read(64 * 1024), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return key


def public_key_bytes(path: str) -> bytes:
    """The 32 raw bytes of an Ed25519 public key file (PEM, as `ndaa-scan keygen` writes FILE.pub)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key

    with open(path, "rb") as f:
        key = load_pem_public_key(f.read(64 * 1024))
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path}: not an Ed25519 public key")
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def keygen(path: str) -> str:
    """Write a new Ed25519 private key to ``path`` (mode 0600) and its public key to ``path``.pub; returns
    the public key file's path."""
    import os

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )

    key = Ed25519PrivateKey.generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    with open(path + ".pub", "wb") as f:
        f.write(key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    return path + ".pub"
