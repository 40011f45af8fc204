"""Read observations from JSON Lines: one object a line (schema in docs/OBSERVATIONS.md).

    {"ip": "192.168.1.64", "mac": "58:50:ed:1f:e3:85", "signal": "http.server", "value": "App-webs/",
     "port": 80, "probe": "http", "seen_at": "2026-01-31T12:00:00Z"}

Required: ``signal``, ``value`` and at least one of ``ip``, ``mac``. Blank lines and ``#`` comments
are skipped. A malformed line (bad JSON, a missing or mistyped field, a bad MAC or address, longer
than 64 KiB) is reported to ``problems(line_number, message)`` and skipped; reading goes on.
An unknown signal or field name is accepted (fields are ignored) and reported once per name.
"""

from __future__ import annotations

import ipaddress
import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from scanner.errors import UsageError
from scanner.observations import MAX_VALUE_LEN, PROTOCOL_FIELD_PREFIXES, SIGNALS, Observation, normalise_mac

MAX_LINE_BYTES = 64 * 1024
MAX_PROBE_LEN = 64
DEFAULT_PROBE = "import"
FIELDS = frozenset({"signal", "value", "ip", "mac", "probe", "port", "seen_at"})
_SIGNAL_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]{0,127}")
_CACHE_LIMIT = 65_536  # addresses, names and timestamps remembered (they repeat; a full cache is cleared)
_DECODE = json.JSONDecoder().decode
_FIELDS_SET = set(Observation.model_fields)  # every field is given: one shared set instead of one per line
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


class _LineReader:
    """Validation state for one file: caches of normalised addresses, names already warned about."""

    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        self.now = datetime.now(UTC)  # seen_at of lines that give none: when the file was read
        self.macs: dict[str, str] = {}
        self.ips: dict[str, str] = {}
        self.stamps: dict[str, datetime] = {}
        self.signals: dict[str, str] = {}  # names already checked (and warned about): one string object each
        self.probes: dict[str, str] = {}
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
        lineno = 0
        valid = 0
        while True:
            raw = stream.readline(MAX_LINE_BYTES + 1)
            if not raw:
                break
            lineno += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                _skip_rest_of_line(stream)
                self.problems(lineno, f"line longer than {MAX_LINE_BYTES} bytes: skipped")
                continue
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
            what = f"{lineno} line(s), none a valid observation" if lineno else "empty"
            raise UsageError(f"{name}: not JSON Lines observations ({what}{first})"[:400])

    def parse(self, text: bytes, lineno: int) -> Observation:
        """One line's observation; ValueError (with a short reason) if the line is malformed."""
        try:
            record = _DECODE(text.decode("utf-8"))
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise ValueError(f"not JSON ({_reason(exc)})") from None
        if type(record) is not dict:
            raise ValueError("not a JSON object")
        if len(record) > 7 or not FIELDS.issuperset(record):
            self._warn_fields(record, lineno)
        signal = record.get("signal")
        if type(signal) is not str or not signal:
            raise ValueError("'signal' missing or not a string")
        signal = self.signals.get(signal) or self._check_signal(signal, lineno)
        value = record.get("value")
        if type(value) is not str:
            if type(value) not in (int, float):
                raise ValueError("'value' missing or not a string or number")
            value = str(value)
        if len(value) > MAX_VALUE_LEN:
            value = value[:MAX_VALUE_LEN]
        ip = record.get("ip")
        mac = record.get("mac")
        if ip is not None:
            ip = self._ip(ip)
        if mac is not None:
            mac = self._mac(mac)
        if signal == "mac":  # the value is the host's MAC: normalised, and the host's key when none is given
            value = self._mac(value, "value")
            mac = mac or value
        if ip is None and mac is None:
            raise ValueError("neither 'ip' nor 'mac' given")
        probe = record.get("probe", DEFAULT_PROBE)
        probe = (self.probes.get(probe) if type(probe) is str else None) or self._check_probe(probe)
        port = record.get("port")
        if port is not None and (type(port) is not int or not 0 <= port <= 65535):
            raise ValueError("'port' must be an integer 0-65535")
        seen_at = record.get("seen_at")
        if seen_at is None:
            seen_at = self.now
        else:
            seen_at = (self.stamps.get(seen_at) if type(seen_at) is str else None) or self._timestamp(seen_at)
        return Observation.model_construct(
            _FIELDS_SET, signal=signal, value=value, probe=probe, ip=ip, mac=mac, port=port, seen_at=seen_at
        )

    def _ip(self, raw: object) -> str:
        if type(raw) is not str:
            raise ValueError("'ip' is not a string")
        ip = self.ips.get(raw)
        if ip is None:
            try:
                ip = ipaddress.ip_address(raw).compressed
            except ValueError:
                raise ValueError(f"'ip' is not an IP address: {raw[:64]!r}") from None
            if len(self.ips) >= _CACHE_LIMIT:
                self.ips.clear()
            self.ips[raw] = ip
        return ip

    def _mac(self, raw: object, field: str = "mac") -> str:
        if type(raw) is not str:
            raise ValueError(f"'{field}' is not a string")
        mac = self.macs.get(raw)
        if mac is None:
            try:
                mac = normalise_mac(raw)
            except ValueError:
                raise ValueError(f"'{field}' is not a MAC address: {raw[:64]!r}") from None
            if len(self.macs) >= _CACHE_LIMIT:
                self.macs.clear()
            self.macs[raw] = mac
        return mac

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

    def _check_probe(self, probe: object) -> str:
        if type(probe) is not str or not probe or len(probe) > MAX_PROBE_LEN:
            raise ValueError(f"'probe' must be a non-empty string of at most {MAX_PROBE_LEN} characters")
        if len(self.probes) >= _CACHE_LIMIT:
            self.probes.clear()
        self.probes[probe] = probe
        return probe

    def _timestamp(self, raw: object) -> datetime:
        if type(raw) is not str or len(raw) > 64:
            raise ValueError("'seen_at' is not an ISO 8601 timestamp")
        try:
            stamp = datetime.fromisoformat(raw)
        except ValueError:
            raise ValueError(f"'seen_at' is not an ISO 8601 timestamp: {raw!r}") from None
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        if len(self.stamps) >= _CACHE_LIMIT:
            self.stamps.clear()
        self.stamps[raw] = stamp
        return stamp

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


def _skip_rest_of_line(stream: BinaryIO) -> None:
    while True:
        chunk = stream.readline(MAX_LINE_BYTES)
        if not chunk or chunk.endswith(b"\n"):
            return


def _reason(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at column {exc.colno}"
    return "not UTF-8" if isinstance(exc, UnicodeDecodeError) else str(exc)[:80]
