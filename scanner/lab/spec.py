"""Lab description files (TOML): a subnet, a scanner address and the simulated devices."""

from __future__ import annotations

import ipaddress
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from scanner.errors import DataError, UsageError
from scanner.observations import normalise_mac

_NAME = re.compile(r"^[a-z0-9]{1,8}$")


class Expectation(BaseModel):
    """What the lab's tests assert about a device's verdict."""

    model_config = ConfigDict(extra="forbid")
    status: str | list[str]  # one Status value, or several acceptable ones
    entity: str | None = None
    vendor: str | None = None
    brand: str | None = None
    brand_mismatch: bool | None = None


class LabDevice(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    ip: str
    mac: str
    profile: str = "host"
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)  # per-service overrides of the profile
    routes: list[str] = Field(default_factory=list)  # extra routes ("default" for an off-subnet device)
    expect: Expectation | None = None

    @field_validator("mac")
    @classmethod
    def _mac(cls, v: str) -> str:
        return normalise_mac(v)

    @field_validator("ip")
    @classmethod
    def _ip(cls, v: str) -> str:
        return str(ipaddress.IPv4Address(v))


class DeviceGroup(BaseModel):
    """Many alike devices: ``count`` addresses from ``start_ip``, MACs cycling through ``ouis``."""

    model_config = ConfigDict(extra="forbid")
    name: str
    count: int = Field(ge=1, le=1000)
    start_ip: str
    ouis: list[str] = Field(min_length=1)
    profile: str = "host"
    expect: Expectation | None = None

    def expand(self, salt: int) -> list[LabDevice]:
        start = ipaddress.IPv4Address(self.start_ip)
        out = []
        for i in range(self.count):
            oui = normalise_mac(self.ouis[i % len(self.ouis)].replace(":", "").replace("-", "") + "000000")[
                :8
            ]
            tail = (salt * 7919 + i) & 0xFFFFFF
            mac = f"{oui}:{tail >> 16:02x}:{(tail >> 8) & 0xFF:02x}:{tail & 0xFF:02x}"
            out.append(
                LabDevice(
                    name=f"{self.name}{i}",
                    ip=str(start + i),
                    mac=mac,
                    profile=self.profile,
                    expect=self.expect,
                )
            )
        return out


class LabSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    subnet: str
    scanner_ip: str
    description: str = ""
    devices: list[LabDevice] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("lab name must be 1-8 lower-case letters or digits")
        return v

    @model_validator(mode="after")
    def _check(self) -> LabSpec:
        net = ipaddress.IPv4Network(self.subnet)
        seen_ip: set[str] = {self.scanner_ip}
        seen_mac: set[str] = set()
        for d in self.devices:
            if d.ip in seen_ip:
                raise ValueError(f"device {d.name}: address {d.ip} used twice")
            if d.mac in seen_mac:
                raise ValueError(f"device {d.name}: MAC {d.mac} used twice")
            if ipaddress.IPv4Address(d.ip) not in net and "default" not in d.routes:
                raise ValueError(f"device {d.name}: {d.ip} is outside {net}; give it routes = ['default']")
            seen_ip.add(d.ip)
            seen_mac.add(d.mac)
        return self

    @property
    def prefixlen(self) -> int:
        return ipaddress.IPv4Network(self.subnet).prefixlen

    # namespace and interface names
    @property
    def prefix(self) -> str:
        return f"nd-{self.name}-"

    @property
    def bridge_ns(self) -> str:
        return f"{self.prefix}br"

    @property
    def scanner_ns(self) -> str:
        return f"{self.prefix}scan"

    def device_ns(self, index: int) -> str:
        return f"{self.prefix}{index}"


def load_lab(ref: str | Path) -> LabSpec:
    """Load a lab from a path, or a built-in lab by name (``demo``, ``office50``, …)."""
    path = Path(ref)
    if not path.exists():
        from scanner.datafiles import labs_dir

        builtin = labs_dir() / f"{ref}.toml"
        if not builtin.exists():
            known = ", ".join(sorted(p.stem for p in labs_dir().glob("*.toml")))
            raise UsageError(f"no lab file {str(ref)!r} (built-in labs: {known})")
        path = builtin
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DataError(f"{path}: {exc}") from None
    return parse_lab(raw, str(path))


def parse_lab(raw: dict[str, Any], origin: str = "<lab>") -> LabSpec:
    try:
        lab = dict(raw.get("lab", {}))
        devices = [LabDevice(**d) for d in raw.get("device", [])]
        for salt, g in enumerate(raw.get("group", []), start=1):
            devices.extend(DeviceGroup(**g).expand(salt))
        return LabSpec(**lab, devices=devices)
    except (ValidationError, ValueError, TypeError) as exc:
        raise DataError(f"{origin}: {exc}") from None
