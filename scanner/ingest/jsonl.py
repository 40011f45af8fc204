"""Read observations from JSON Lines: one object a line (schema in docs/OBSERVATIONS.md).

    {"ip": "192.168.1.64", "mac": "58:50:ed:1f:e3:85", "signal": "http.server", "value": "App-webs/",
     "port": 80, "probe": "http", "seen_at": "2026-01-31T12:00:00Z"}

Required: ``signal``, ``value`` and at least one of ``ip``, ``mac``. Blank lines and ``#`` comments
are skipped. A malformed line (bad JSON, a missing or mistyped field, a bad MAC or address, longer
than 64 KiB) is reported to ``problems(line_number, message)`` and skipped; reading goes on.
An unknown signal or field name is accepted (fields are ignored) and reported once per name.

Each line is validated from its raw bytes by pydantic-core (``ObservationLine.model_validate_json``),
then turned into an ``Observation``. Addresses and MACs are checked by the reader with caches (they repeat
line after line): 200,000 lines read in 1.9-2.2 s either way, where validating ``ip`` as pydantic's
``IPvAnyAddress`` took 2.9 s (benchmarks/bench_jsonl_validation.py).
"""

from __future__ import annotations

import ipaddress
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, BinaryIO

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationError,
)

from scanner.errors import UsageError
from scanner.ingest.lines import BoundedLines
from scanner.observations import MAX_VALUE_LEN, PROTOCOL_FIELD_PREFIXES, SIGNALS, Observation, normalise_mac

MAX_LINE_BYTES = 64 * 1024
MAX_PROBE_LEN = 64
DEFAULT_PROBE = "import"
FIELDS = frozenset({"signal", "value", "ip", "mac", "probe", "port", "seen_at"})
_SIGNAL_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]{0,127}")
_CACHE_LIMIT = 65_536  # addresses and names remembered (they repeat; a full cache is cleared)
MAX_NAME_WARNINGS = 100  # unknown signal/field names reported per file
MAX_HELD_PROBLEMS = 100  # problems held back until the first valid line shows the input is JSON Lines

Problems = Callable[[int, str], None]


def read_jsonl(source: str | Path | BinaryIO, problems: Problems) -> Iterator[Observation]:
    """Observations from a path, ``-`` (standard input) or a binary file object, in file order.

    UsageError when the input cannot be read or holds no valid observation (empty, random bytes, another
    format): problems found before the first valid line are held back and summed up in that one error.
    """
    with open_input(source) as stream:
        yield from _LineReader(problems).read(stream, source_name(source))


def source_name(source: str | Path | BinaryIO) -> str:
    if isinstance(source, (str, Path)):
        return "standard input" if str(source) == "-" else str(source)
    return str(getattr(source, "name", "input"))


@contextmanager
def open_input(source: str | Path | BinaryIO) -> Iterator[BinaryIO]:
    """A binary stream for a path, ``-`` (standard input, left open) or an open binary file (left open).

    A path that is missing, a directory or unreadable is a UsageError (one line), as is a read error.
    """
    if isinstance(source, (str, Path)):
        if str(source) == "-":
            with _read_errors("standard input"):
                yield sys.stdin.buffer
            return
        try:
            handle = open(source, "rb")  # noqa: SIM115 - closed below; errors need their own message
        except OSError as exc:
            raise UsageError(f"{source}: cannot read: {exc.strerror or exc}") from None
        with handle, _read_errors(str(source)):
            yield handle
        return
    yield source


@contextmanager
def _read_errors(name: str) -> Iterator[None]:
    try:
        yield
    except IsADirectoryError:
        raise UsageError(f"{name}: cannot read: is a directory") from None
    except OSError as exc:
        raise UsageError(f"{name}: cannot read: {exc.strerror or exc}") from None


class ObservationLine(BaseModel):
    """One JSON Lines record as written (docs/OBSERVATIONS.md), validated by pydantic-core from the raw bytes.

    Strict types (a string is not a number, ``true`` is not a port); unknown fields are kept aside
    (``model_extra``) so they can be reported by name. ``to_observation`` applies what JSON Schema cannot say:
    an address or a MAC is required, the ``mac`` signal's value is the host's MAC, naive times are UTC.
    """

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    signal: Annotated[str, StringConstraints(pattern=_SIGNAL_NAME.pattern)]
    value: StrictStr | StrictInt | StrictFloat
    ip: str | None = None  # checked as an address by the reader (cached: addresses repeat)
    mac: str | None = None
    probe: Annotated[str, StringConstraints(min_length=1, max_length=MAX_PROBE_LEN)] = DEFAULT_PROBE
    port: Annotated[int, Field(ge=0, le=65535)] | None = None
    seen_at: datetime | None = None


# The message for the first error in a field: the hand-written validator's wording, kept for users and tests.
_FIELD_MESSAGES = {
    "signal": "'signal' missing or not a string",
    "value": "'value' missing or not a string or number",
    "probe": f"'probe' must be a non-empty string of at most {MAX_PROBE_LEN} characters",
    "port": "'port' must be an integer 0-65535",
    "seen_at": "'seen_at' is not an ISO 8601 timestamp",
}


def _validation_message(exc: ValidationError) -> str:
    """One short reason for a line pydantic refused, in the words of docs/OBSERVATIONS.md."""
    err = exc.errors(include_url=False, include_context=False)[0]
    kind, loc, given = err["type"], err["loc"], err.get("input")
    if kind == "json_invalid":
        return f"not JSON ({err['msg'].removeprefix('Invalid JSON: ')[:80]})"
    if not loc:
        return "not a JSON object"
    field = str(loc[0])
    shown = f": {given[:64]!r}" if isinstance(given, str) else ""
    if field == "signal" and kind == "string_pattern_mismatch":
        return f"'signal' is not a signal name{shown}"
    if field == "ip":
        return f"'ip' is not an IP address{shown}" if isinstance(given, str) else "'ip' is not a string"
    if field == "mac":
        return "'mac' is not a string"
    return _FIELD_MESSAGES.get(field, f"{field!r}: {err['msg'][:80]}")


class _LineReader:
    """Validation state for one file: caches of normalised addresses, names already warned about."""

    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        self.now = datetime.now(UTC)  # seen_at of lines that give none: when the file was read
        self.macs: dict[str, str] = {}
        self.ips: dict[str, str] = {}
        self.signals: dict[str, str] = {}  # names already checked (and warned about): one string object each
        self.warned_fields: set[str] = set()
        self.name_warnings = 0

    def read(self, stream: BinaryIO, name: str = "input") -> Iterator[Observation]:
        """Every valid line's observation; problems before the first one are held (see ``read_jsonl``)."""
        report = self.problems
        held: list[tuple[int, str]] = []
        held_more = 0

        def hold(line: int, message: str) -> None:
            nonlocal held_more
            if len(held) < MAX_HELD_PROBLEMS:
                held.append((line, message))
            else:
                held_more += 1

        self.problems = hold
        valid = 0
        # self.problems changes once a line is valid: the lines report to whichever it is then
        lines = BoundedLines(stream, lambda line, message: self.problems(line, message), MAX_LINE_BYTES)
        for lineno, raw in lines:
            text = raw.strip()
            if not text or text.startswith(b"#"):
                continue
            try:
                obs = self.parse(text, lineno)
            except ValueError as exc:
                self.problems(lineno, f"{exc}: skipped")
                continue
            if not valid:  # the input is JSON Lines after all: report what was held, then report as found
                self.problems = report
                for line, message in held:
                    report(line, message)
                if held_more:
                    report(0, f"{held_more} further problem(s) before line {lineno} not shown")
            valid += 1
            yield obs
        if not valid:
            fatal = [h for h in held if h[1].endswith("skipped")] or held
            first = f"; first problem: line {fatal[0][0]}: {fatal[0][1]}" if fatal else ""
            what = f"{lines.count} line(s), none a valid observation" if lines.count else "empty"
            raise UsageError(f"{name}: not JSON Lines observations ({what}{first})"[:400])

    def parse(self, text: bytes, lineno: int) -> Observation:
        """One line's observation, validated by ``ObservationLine``; ValueError (a short reason) if malformed."""
        try:
            line = ObservationLine.model_validate_json(text)  # 6.8 us a line; via a TypeAdapter 10 us
        except ValidationError as exc:
            raise ValueError(_validation_message(exc)) from None
        if line.model_extra:
            self._warn_fields(line.model_extra, lineno)
        signal = self.signals.get(line.signal) or self._check_signal(line.signal, lineno)
        value = line.value if type(line.value) is str else str(line.value)
        if len(value) > MAX_VALUE_LEN:
            value = value[:MAX_VALUE_LEN]
        ip = self._ip(line.ip) if line.ip is not None else None
        mac = self._mac(line.mac) if line.mac is not None else None
        if signal == "mac":
            value = self._mac(value, "value")
            mac = mac or value
        if ip is None and mac is None:
            raise ValueError("neither 'ip' nor 'mac' given")
        seen_at = line.seen_at or self.now
        if seen_at.tzinfo is None:
            seen_at = seen_at.replace(tzinfo=UTC)
        return Observation.trusted(signal, value, line.probe, ip, mac, line.port, seen_at)

    def _ip(self, raw: object) -> str:
        if type(raw) is str and (ip := self.ips.get(raw)) is not None:  # the common case, without a call
            return ip
        return _normalised(self.ips, raw, "ip", "an IP address", _compressed_ip)

    def _mac(self, raw: object, field: str = "mac") -> str:
        if type(raw) is str and (mac := self.macs.get(raw)) is not None:
            return mac
        return _normalised(self.macs, raw, field, "a MAC address", normalise_mac)

    def _check_signal(self, signal: str, lineno: int) -> str:
        if not _SIGNAL_NAME.fullmatch(signal):
            raise ValueError(f"'signal' is not a signal name: {signal[:64]!r}")
        if len(self.signals) < _CACHE_LIMIT:
            self.signals[signal] = signal
        if signal not in SIGNALS and not signal.startswith(PROTOCOL_FIELD_PREFIXES):
            self._warn(
                lineno,
                f"unknown signal {signal!r}: accepted, but the fingerprint database "
                "may not use it (reported once)",
            )
        return signal

    def _warn_fields(self, record: dict[str, object], lineno: int) -> None:
        if self.name_warnings > MAX_NAME_WARNINGS:
            return
        for name in record:
            if name not in FIELDS and name not in self.warned_fields:
                self.warned_fields.add(name)
                self._warn(lineno, f"unknown field {name[:64]!r}: ignored (reported once)")

    def _warn(self, lineno: int, message: str) -> None:
        self.name_warnings += 1
        if self.name_warnings <= MAX_NAME_WARNINGS:
            self.problems(lineno, message)
        elif self.name_warnings == MAX_NAME_WARNINGS + 1:
            self.problems(lineno, f"more than {MAX_NAME_WARNINGS} unknown names: no further ones reported")


def _compressed_ip(text: str) -> str:
    return ipaddress.ip_address(text).compressed


def _normalised(
    cache: dict[str, str], raw: object, field: str, what: str, normalise: Callable[[str], str]
) -> str:
    """``raw`` (a line's ``field``) in its one written form, remembered in ``cache`` (bounded); ValueError
    (a short reason) if it is not a string or not ``what``."""
    if type(raw) is not str:
        raise ValueError(f"'{field}' is not a string")
    value = cache.get(raw)
    if value is None:
        try:
            value = normalise(raw)
        except ValueError:
            raise ValueError(f"'{field}' is not {what}: {raw[:64]!r}") from None
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[raw] = value
    return value
