"""Lab description files (TOML): a subnet, a scanner address and the simulated devices."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from scanner.dataload import TomlFile, read_toml, validate
from scanner.errors import DataError, NdaaError, UsageError
from scanner.observations import normalise_mac

_NAME = re.compile(r"^[a-z0-9]{1,8}$")
ROUTED_LINK = "10.254.254.0/30"  # a routed lab's router <-> client link (scanner/lab/routed.py)
_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(us|ms|s)?\s*$")
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, None: 1.0}


def parse_loss(v: Any) -> float:
    """A frame-loss fraction from ``"20%"``, ``"0.2"`` or ``0.2``; must be in [0, 1)."""
    if isinstance(v, str):
        text = v.strip()
        frac = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    elif isinstance(v, (int, float)) and not isinstance(v, bool):
        frac = float(v)
    else:
        raise ValueError(f"loss {v!r}: give a percentage like '20%' or a fraction like 0.2")
    if not 0.0 <= frac < 1.0:
        raise ValueError(f"loss {v!r}: must be at least 0% and below 100%")
    return frac


def parse_duration(v: Any) -> float:
    """Seconds from ``"300ms"``, ``"0.3s"``, ``"250us"`` or a number of seconds; 0 to 60 s."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        secs = float(v)
    elif isinstance(v, str) and (m := _DURATION.match(v)):
        secs = float(m.group(1)) * _UNITS[m.group(2)]
    else:
        raise ValueError(f"duration {v!r}: give it like '300ms' or '0.3s'")
    if not 0.0 <= secs <= 60.0:
        raise ValueError(f"duration {v!r}: must be between 0 and 60 s")
    return secs


def _or_none(parse: Callable[[Any], float]) -> Callable[[Any], float | None]:
    return lambda v: None if v is None else parse(v)


# the lab file's field types: a loss ("20%", 0.2), a duration ("300ms", 0.3), a MAC and an IPv4 address
Loss = Annotated[float, BeforeValidator(parse_loss)]
Duration = Annotated[float, BeforeValidator(parse_duration)]
LossOrNone = Annotated[float | None, BeforeValidator(_or_none(parse_loss))]
DurationOrNone = Annotated[float | None, BeforeValidator(_or_none(parse_duration))]
Mac = Annotated[str, AfterValidator(normalise_mac)]
Ipv4 = Annotated[str, AfterValidator(lambda v: str(ipaddress.IPv4Address(v)))]


class Impairment(BaseModel):
    """What a link does to every frame crossing it, each way: drop a fraction, delay by ``delay`` ± ``jitter``
    (seconds, uniform). Applied by the lab's userspace switch (scanner/lab/switch.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    loss: float = 0.0
    delay: float = 0.0
    jitter: float = 0.0

    @property
    def active(self) -> bool:
        return bool(self.loss or self.delay or self.jitter)

    def render(self) -> str:
        return (
            f"loss {self.loss:.1%}, delay {self.delay * 1000:.0f} ms ± {self.jitter * 1000:.0f} ms each way"
        )


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
    ip: Ipv4
    mac: Mac
    profile: str = "host"
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)  # per-service overrides of the profile
    routes: list[str] = Field(default_factory=list)  # extra routes ("default" for an off-subnet device)
    # IPv6 labs (``ipv6 = true``): ``ipv4 = false`` gives the device no IPv4 address at all (``ip`` then only
    # names it); ``foreign_ip = true`` puts its ``ip``, outside the lab's subnet, on the segment with no route
    # (a camera left on its factory address inside another subnet)
    ipv4: bool = True
    foreign_ip: bool = False
    expect: Expectation | None = None
    # this device's link, each way; None: the lab's setting
    loss: LossOrNone = None
    delay: DurationOrNone = None
    jitter: DurationOrNone = None


class DeviceGroup(BaseModel):
    """Many alike devices: ``count`` addresses from ``start_ip``, MACs cycling through ``ouis``."""

    model_config = ConfigDict(extra="forbid")
    name: str
    count: int = Field(ge=1, le=1000)
    start_ip: str
    ouis: list[str] = Field(min_length=1)
    profile: str = "host"
    expect: Expectation | None = None
    loss: str | float | None = None
    delay: str | float | None = None
    jitter: str | float | None = None

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
                    loss=None if self.loss is None else parse_loss(self.loss),
                    delay=None if self.delay is None else parse_duration(self.delay),
                    jitter=None if self.jitter is None else parse_duration(self.jitter),
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
    # every device link's impairment, each way (a device's own loss/delay/jitter overrides it)
    loss: Loss = 0.0
    delay: Duration = 0.0
    jitter: Duration = 0.0
    # "kernel": a Linux bridge; "userspace": the lab's own switch (scanner/lab/switch.py), which can impair
    # links. Default: the userspace switch when any link is impaired, else the kernel bridge.
    switch: Literal["kernel", "userspace"] | None = None
    # IPv6 on the segment: every namespace's link-local address usable at once (no DAD wait), none on the
    # bridge, and the simulated devices' mDNS, WS-Discovery, SSDP, HTTP(S) and RTSP also answer over IPv6
    ipv6: bool = False
    # Seen across a router: the scanner namespace routes between the segment and a client namespace one hop
    # away (scanner/lab/routed.py); scans run from ``scan_ns`` and every device gets its default route
    routed: bool = False

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
            outside = ipaddress.IPv4Address(d.ip) not in net
            if outside and "default" not in d.routes and not d.foreign_ip and d.ipv4:
                raise ValueError(
                    f"device {d.name}: {d.ip} is outside {net}; give it routes = ['default'] (or foreign_ip = true)"
                )
            if (not d.ipv4 or d.foreign_ip) and not self.ipv6:
                raise ValueError(
                    f"device {d.name}: ipv4 = false and foreign_ip = true need ipv6 = true in [lab]"
                )
            seen_ip.add(d.ip)
            seen_mac.add(d.mac)
        if self.routed and net.overlaps(ipaddress.IPv4Network(ROUTED_LINK)):
            raise ValueError(f"a routed lab's subnet must leave {ROUTED_LINK} to the router's client link")
        if self.switch == "kernel" and self.impaired:
            raise ValueError("loss/delay/jitter need switch = 'userspace' (the kernel here has no netem)")
        return self

    def link(self, index: int) -> Impairment:
        """The impairment of device ``index``'s link (its own setting, else the lab's)."""
        d = self.devices[index]
        return Impairment(
            loss=self.loss if d.loss is None else d.loss,
            delay=self.delay if d.delay is None else d.delay,
            jitter=self.jitter if d.jitter is None else d.jitter,
        )

    @property
    def impaired(self) -> bool:
        return any(self.link(i).active for i in range(len(self.devices)))

    @property
    def userspace_switch(self) -> bool:
        return self.switch == "userspace" or (self.switch is None and self.impaired)

    def with_impairment(
        self,
        loss: str | float | None = None,
        delay: str | float | None = None,
        jitter: str | float | None = None,
    ) -> LabSpec:
        """This lab with the lab-wide impairment replaced where given (``ndaa-scan lab up --loss …``)."""
        raw = self.model_dump()
        for key, value in (("loss", loss), ("delay", delay), ("jitter", jitter)):
            if value is not None:
                raw[key] = value
        if self.switch == "kernel" and (loss or delay or jitter):
            raw["switch"] = None
        try:
            return LabSpec(**raw)
        except ValidationError as exc:
            raise UsageError(str(exc)) from None

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

    @property
    def client_ns(self) -> str:
        """The namespace one hop behind the router, in a routed lab."""
        return f"{self.prefix}client"

    @property
    def scan_ns(self) -> str:
        """Where a scan of this lab runs: the scanner namespace, or the client behind the router."""
        return self.client_ns if self.routed else self.scanner_ns

    def device_ns(self, index: int) -> str:
        return f"{self.prefix}{index}"


class _LabFile(BaseModel):
    """A lab file's tables, checked entry by entry before the lab is assembled (errors name the entry)."""

    model_config = ConfigDict(extra="forbid")
    lab: dict[str, Any]
    device: list[LabDevice] = Field(default_factory=list)
    group: list[DeviceGroup] = Field(default_factory=list)


def load_lab(ref: str | Path) -> LabSpec:
    """Load a lab from a path, or a built-in lab by name (``demo``, ``office50``, …).

    A file the user names that does not fit is a ``UsageError`` (exit 2), a broken built-in lab a
    ``DataError``; either way one line, ``FILE[:LINE]: device #N (NAME): FIELD: REASON``."""
    path = Path(ref)
    error: type[NdaaError] = UsageError
    if not path.exists():
        from scanner.datafiles import labs_dir

        builtin = labs_dir() / f"{ref}.toml"
        if not builtin.exists():
            known = ", ".join(sorted(p.stem for p in labs_dir().glob("*.toml")))
            raise UsageError(f"no lab file {str(ref)!r} (built-in labs: {known})")
        path, error = builtin, DataError
    doc = read_toml(path, error=error, what="lab file")
    return parse_lab(doc.data, str(path), doc=doc, error=error)


def parse_lab(
    raw: dict[str, Any],
    origin: str = "<lab>",
    *,
    doc: TomlFile | None = None,
    error: type[NdaaError] = DataError,
) -> LabSpec:
    """A lab from its parsed TOML tables; ``error`` (one line, see ``load_lab``) if it does not fit."""
    doc = doc or TomlFile(Path(origin), "", raw)
    tables = validate(doc, _LabFile, error=error)
    devices = list(tables.device)
    for salt, group in enumerate(tables.group, start=1):
        try:
            devices.extend(group.expand(salt))
        except (ValidationError, ValueError) as exc:
            raise error(doc.entry("group", salt - 1, _reason(exc))) from None
    try:
        return LabSpec(**tables.lab, devices=devices)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        raise error(doc.entry("lab" if field else None, None, _reason(exc), field=field)) from None
    except (ValueError, TypeError) as exc:
        raise error(doc.entry(None, None, str(exc))) from None


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        errors = exc.errors()
        reason = str(errors[0]["msg"]).removeprefix("Value error, ")
        return reason + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")
    return str(exc)


def render_lab(raw: dict[str, Any]) -> str:
    """A lab dict (``{"lab": {...}, "device": [...], "group": [...]}``) as TOML that :func:`parse_lab` reads back."""
    import json

    def val(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(val(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{json.dumps(k)} = {val(x)}" for k, x in v.items()) + " }"
        raise TypeError(f"cannot write {type(v).__name__} to a lab file")

    out = ["[lab]"] + [f"{k} = {val(v)}" for k, v in raw["lab"].items() if v is not None]
    for key in ("device", "group"):
        for item in raw.get(key, []):
            out.append(f"\n[[{key}]]")
            out += [f"{k} = {val(v)}" for k, v in item.items() if v is not None]
    return "\n".join(out) + "\n"
