"""Options several commands share, declared once as ``Annotated`` aliases (typer only: this module is
imported for ``ndaa-scan --help`` and must stay light).

Use: ``def cmd(fmt: FormatOpt = None, fail_on: FailOnOpt = "likely", db: DbOpt = None) -> None``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

FORMAT_HELP = (
    "Report format on stdout: table (default), json, jsonl, csv, markdown, html, sarif, junit, "
    "compliance; exports: ocsf (OCSF Device Inventory Info NDJSON), ecs (Elastic Common Schema NDJSON), "
    "cyclonedx (CycloneDX 1.6 hardware BOM), netbox (NetBox device import CSV). Also FORMAT=PATH to write "
    "a file. Repeatable."
)
OUTPUT_HELP = (
    "Write a report to a file as FORMAT=PATH (e.g. sarif=scan.sarif, junit=junit.xml); the table "
    "still goes to stdout unless --format says otherwise. Checked before anything is scanned. Repeatable."
)
FAIL_ON_HELP = (
    "Weakest verdict that makes the exit code 1: covered, likely (default: covered and likely), "
    "suspected, never."
)
DB_HELP = "History database (default: $NDAA_SCAN_DB or ~/.local/share/ndaa-scanner/history.sqlite3)."
TARGETS_SYNTAX = (
    "IPv4 CIDRs, ranges or addresses (10.0.0.0/24 10.0.1.5-40 10.0.2.1-10.0.2.9 10.0.3.7, nmap's "
    "10.0.0-3.1-254 and 10.0.4.*), IPv6 addresses "
    "or prefixes (2001:db8::5 fe80::1%eth0 fe80::/64%eth0), host names (cam1.example.net, resolved once "
    "before any packet); comma lists too"
)
LIST_FILE_SYNTAX = (
    "one or more per line, separated by spaces, tabs or commas; # starts a comment; - reads stdin"
)

FormatOpt = Annotated[list[str] | None, typer.Option("--format", "-f", help=FORMAT_HELP)]
OutputOpt = Annotated[list[str] | None, typer.Option("--output", "-o", help=OUTPUT_HELP)]
FailOnOpt = Annotated[str, typer.Option("--fail-on", help=FAIL_ON_HELP)]
FailOnHeardOpt = Annotated[
    bool,
    typer.Option(
        "--fail-on-heard",
        help="Let hosts that are not targets but answered multicast/broadcast discovery (the report's "
        "'heard' section) fail the scan too, by the same --fail-on rule. Off by default.",
    ),
]
DbOpt = Annotated[Path | None, typer.Option("--db", help=DB_HELP)]
NoHistoryOpt = Annotated[
    bool, typer.Option("--no-history", help="Do not store this scan in the history database.")
]
WaiversOpt = Annotated[
    Path | None, typer.Option("--waivers", help="TOML file of accepted devices (see examples/waivers.toml).")
]
TimeoutOpt = Annotated[
    float, typer.Option("--timeout", min=0.5, max=600, help="Seconds each discovery probe may take.")
]
ExcludeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude",
        "-x",
        help=f"Never probe these: {TARGETS_SYNTAX}. Repeatable; subtracted from the targets.",
    ),
]
EvidenceOpt = Annotated[
    bool,
    typer.Option(
        "--evidence",
        help="Table: every device with all the evidence behind its verdict (which probe saw what, which "
        "fingerprint matched), its notes and waiver; without it, one line per device.",
    ),
]
AS_OF_HELP = (
    "Judge every verdict by the lists (FAR 52.204-25, FCC Covered List) and ownerships in force on DATE "
    "(YYYY-MM-DD), to reproduce an earlier audit; default: today. The report records the day and the data version."
)
AsOfOpt = Annotated[str | None, typer.Option("--as-of", metavar="DATE", help=AS_OF_HELP)]


def _list_files(*names: str, help: str) -> Any:
    """A repeatable option naming files of targets (``LIST_FILE_SYNTAX``)."""
    return typer.Option(*names, metavar="FILE", help=help)


TargetFileOpt = Annotated[
    list[str] | None,
    _list_files(
        "-iL",
        "--targets-file",
        help=f"Read targets from FILE as nmap -iL does: {LIST_FILE_SYNTAX}. Added to the arguments. Repeatable.",
    ),
]
ExcludeFileOpt = Annotated[
    list[str] | None,
    _list_files(
        "--exclude-file",
        "--excludefile",
        help=f"Never probe the targets listed in FILE ({LIST_FILE_SYNTAX}). Repeatable.",
    ),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or log lines on stderr.")]
VerboseOpt = Annotated[
    int, typer.Option("--verbose", "-v", count=True, help="More log lines on stderr (-vv: debug).")
]


def output_specs(fmt: list[str] | None, output: list[str] | None) -> list[str]:
    """--format specs and --output files; the table goes to stdout unless --format names something else."""
    return [*(fmt or ["table"]), *(output or [])]


def as_of_date(text: str | None) -> date | None:
    """``--as-of`` as a date; a UsageError (exit 2, one line) when it is not YYYY-MM-DD."""
    if text is None:
        return None
    from scanner.errors import UsageError

    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"--as-of {text!r} is not a date: give YYYY-MM-DD, e.g. --as-of 2024-06-30"
        ) from None
