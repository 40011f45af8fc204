"""Report formats: an explicit name -> module registry, imported lazily.

Every format module exposes ``render(report: ScanReport, **options) -> str``. Options a format does
not take are dropped, so callers can pass ``fail_statuses`` (JUnit) or ``color`` (table) to any format.

An output spec is ``FORMAT`` (write to standard output) or ``FORMAT=PATH`` (write to a file;
``FORMAT=-`` is standard output too). Example: ``table json=scan.json sarif=scan.sarif``.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from scanner.errors import UsageError

if TYPE_CHECKING:
    from scanner.results import ScanReport

FORMATS: dict[str, str] = {
    "table": "scanner.report.table",
    "json": "scanner.report.json_format",
    "jsonl": "scanner.report.jsonl",
    "csv": "scanner.report.csv_format",
    "markdown": "scanner.report.markdown",
    "html": "scanner.report.html",
    "sarif": "scanner.report.sarif",
    "junit": "scanner.report.junit",
    "compliance": "scanner.report.compliance",
    "ocsf": "scanner.report.ocsf",
    "ecs": "scanner.report.ecs",
    "cyclonedx": "scanner.report.cyclonedx",
    "netbox": "scanner.report.netbox",
}
DEFAULT_FORMAT = "table"
STDOUT = "-"


@dataclass(frozen=True)
class OutputSpec:
    fmt: str
    path: Path | None  # None: standard output


def parse_spec(spec: str) -> OutputSpec:
    """'json=out.json' -> OutputSpec('json', Path('out.json')); 'table' / 'table=-' -> standard output."""
    fmt, sep, path = spec.partition("=")
    fmt = fmt.strip().lower()
    if fmt not in FORMATS:
        raise UsageError(f"unknown report format {fmt!r} in {spec!r} (choose from {', '.join(FORMATS)})")
    if sep and not path:
        raise UsageError(f"empty path in output {spec!r} (use FORMAT=PATH, or FORMAT alone for stdout)")
    return OutputSpec(fmt, None if not sep or path == STDOUT else Path(path))


def render(report: ScanReport, fmt: str, **options: Any) -> str:
    """The report in one format, as text; options the format does not take are ignored."""
    module_name = FORMATS.get(fmt)
    if module_name is None:
        raise UsageError(f"unknown report format {fmt!r} (choose from {', '.join(FORMATS)})")
    renderer: Callable[..., str] = importlib.import_module(module_name).render
    accepted = inspect.signature(renderer).parameters
    return renderer(report, **{k: v for k, v in options.items() if k in accepted and v is not None})


def write_outputs(
    report: ScanReport, specs: list[str], *, stdout: TextIO | None = None, **options: Any
) -> list[OutputSpec]:
    """Render every spec (default: the table on stdout); all specs are checked before anything is written."""
    outputs = [parse_spec(s) for s in specs] if specs else [OutputSpec(DEFAULT_FORMAT, None)]
    if sum(o.path is None for o in outputs) > 1:
        raise UsageError("only one report format can go to standard output; give the others FORMAT=PATH")
    stream = stdout if stdout is not None else sys.stdout
    for out in outputs:
        if out.path is None:
            stream.write(render(report, out.fmt, **{**_terminal_options(stream), **options}))
        else:
            _write_file(out.path, render(report, out.fmt, **options))
    return outputs


def _terminal_options(stream: TextIO) -> dict[str, Any]:
    """Colour and width for a TTY without NO_COLOR (https://no-color.org); plain, fixed width otherwise."""
    isatty = getattr(stream, "isatty", None)
    if not (isatty and isatty()) or os.environ.get("NO_COLOR"):
        return {}
    try:
        width = os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError):
        width = None
    return {"color": True, "width": width}


def _write_file(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8", newline="")
        tmp.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise UsageError(f"cannot write report {str(path)!r}: {exc.strerror or exc}") from exc
