"""Loading data files: one bounded reader, one TOML -> pydantic loader, one error format.

Every data file the scanner reads (fingerprints, entities, rebrands, vendors, waivers, labs) goes
through here, so a broken file always reads the same way::

    FILE[:LINE]: TABLE #N (LABEL): FIELD: REASON      e.g.
    fingerprints/rebrands.toml:41: edge #3 (Amcrest): relation: Input should be 'brand', 'subsidiary', …

LINE is the line of the entry's ``[[TABLE]]`` header when the file writes one; LABEL is the entry's
``id``, ``name`` or ``brand``. The caller chooses the error class: ``DataError`` for shipped data
(exit 3, a bug in the package), ``UsageError`` for a file the user gave (exit 2).

    read_text(path, max_bytes=…, error=…, what=…) -> str          bounded, strict UTF-8
    read_toml(path, error=…, what=…) -> TomlFile                  the text and the parsed tables
    load_toml(path, Model, error=…, what=…) -> Model              read_toml + validate
    validate(doc, Model, error=…) -> Model                        one ValidationError -> one line
    TomlFile.entry(table, index, reason, field=None) -> str       the same line for a cross-check
    TomlFile.where(table, index, field=None) -> str               its FILE:LINE: TABLE #N (LABEL) part
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from scanner.errors import DataError, NdaaError

MAX_TOML_BYTES = 4 << 20  # the largest shipped TOML file is ~100 kB
LABEL_KEYS = ("id", "name", "brand")

ErrorClass = type[NdaaError]
M = TypeVar("M", bound=BaseModel)

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def read_bytes(path: Path, *, max_bytes: int, error: ErrorClass = DataError, what: str = "file") -> bytes:
    """At most ``max_bytes`` of ``path``; ``error`` naming the file if it cannot be read or is larger."""
    try:
        with Path(path).open("rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as exc:
        raise error(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise error(f"{path}: {what} larger than {max_bytes} bytes")
    return data


def decode_utf8(data: bytes, path: Path, *, error: ErrorClass = DataError) -> str:
    """``data`` as UTF-8 (a leading byte-order mark dropped); ``error`` naming the line of a bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise error(f"{path}:{line}: not UTF-8 text") from None


def read_text(path: Path, *, max_bytes: int, error: ErrorClass = DataError, what: str = "file") -> str:
    """The bounded UTF-8 text of ``path``: ``read_bytes`` then ``decode_utf8``."""
    return decode_utf8(read_bytes(path, max_bytes=max_bytes, error=error, what=what), path, error=error)


def toml_error_position(exc: tomllib.TOMLDecodeError, text: str) -> tuple[int, int | None, str]:
    """(line, column or None at the end of the file, reason) of a TOML syntax error in ``text``."""
    message = str(exc)
    position = _TOML_POSITION.search(message)
    if position is None:  # "(at end of document)": the last line
        return text.count("\n") + 1, None, message.removesuffix(" (at end of document)")
    return int(position.group(1)), int(position.group(2)), message[: position.start()]


def parse_toml(text: str, path: Path, *, error: ErrorClass = DataError) -> dict[str, Any]:
    """``text`` parsed as TOML; ``error`` as ``FILE:LINE: not valid TOML: reason (column C)``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, column, reason = toml_error_position(exc, text)
        where = "at end of file" if column is None else f"column {column}"
        raise error(f"{path}:{line}: not valid TOML: {reason} ({where})") from None


@dataclass(frozen=True)
class TomlFile:
    """A parsed TOML file with its text, to point error messages at lines."""

    path: Path
    text: str
    data: dict[str, Any]

    def header_line(self, table: str, index: int) -> int | None:
        """1-based line of the ``index``-th (0-based) ``[[table]]`` header, if the file writes headers."""
        pattern = re.compile(rf"^\s*\[\[\s*[\"']?{re.escape(table)}[\"']?\s*\]\]")
        headers = [n for n, line in enumerate(self.text.splitlines(), 1) if pattern.match(line)]
        rows = self.data.get(table)
        if not isinstance(rows, list) or len(headers) != len(rows) or index >= len(headers):
            return None
        return headers[index]

    def label(self, table: str, index: int) -> str | None:
        """The entry's id, name or brand, as written."""
        rows = self.data.get(table)
        row = rows[index] if isinstance(rows, list) and 0 <= index < len(rows) else None
        if not isinstance(row, dict):
            return None
        return next((str(row[k]) for k in LABEL_KEYS if isinstance(row.get(k), str) and row[k]), None)

    def where(self, table: str | None, index: int | None, field: str | None = None) -> str:
        """``FILE[:LINE]: TABLE #N (LABEL): FIELD``, the parts known (``index`` is 0-based)."""
        parts = [str(self.path)]
        if table is not None and index is not None:
            line = self.header_line(table, index)
            if line is not None:
                parts[0] += f":{line}"
            label = self.label(table, index)
            parts.append(f"{table} #{index + 1}" + (f" ({label})" if label else ""))
        elif table is not None:
            parts.append(table)
        if field:
            parts.append(field)
        return ": ".join(parts)

    def entry(self, table: str | None, index: int | None, reason: str, field: str | None = None) -> str:
        """``FILE[:LINE]: TABLE #N (LABEL): FIELD: REASON``: one line for any problem with an entry."""
        return f"{self.where(table, index, field)}: {reason}"

    def validation_message(self, exc: ValidationError) -> str:
        """The first error of ``exc`` as one ``entry`` line (the count of further errors appended)."""
        errors = exc.errors()
        first = errors[0]
        loc = list(first["loc"])
        table: str | None = None
        index: int | None = None
        if len(loc) >= 2 and isinstance(loc[0], str) and isinstance(loc[1], int):
            table, index, loc = loc[0], loc[1], loc[2:]
        reason = str(first["msg"]).removeprefix("Value error, ")
        if len(errors) > 1:
            reason += f" (and {len(errors) - 1} more)"
        return self.entry(table, index, reason, field=_field_path(loc) or None)


def _field_path(loc: list[int | str]) -> str:
    """['examples', 2, 'value'] -> 'examples[2].value'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def read_toml(
    path: Path, *, max_bytes: int = MAX_TOML_BYTES, error: ErrorClass = DataError, what: str = "data file"
) -> TomlFile:
    """Read and parse one TOML file (bounded, UTF-8); ``error`` naming the file and line."""
    path = Path(path)
    text = read_text(path, max_bytes=max_bytes, error=error, what=what)
    return TomlFile(path, text, parse_toml(text, path, error=error))


def validate(doc: TomlFile, model: type[M], *, error: ErrorClass = DataError) -> M:
    """``doc.data`` as ``model``; ``error`` with ``TomlFile.validation_message`` if it does not fit."""
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        raise error(doc.validation_message(exc)) from None


def load_toml(
    path: Path,
    model: type[M],
    *,
    error: ErrorClass = DataError,
    max_bytes: int = MAX_TOML_BYTES,
    what: str = "data file",
) -> M:
    """Read ``path`` and validate it as ``model``: the one way a TOML data file becomes a model."""
    return validate(read_toml(path, max_bytes=max_bytes, error=error, what=what), model, error=error)
