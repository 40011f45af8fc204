"""The ``ndaa-scan`` command. Module level imports only typer: every command imports its work lazily,
so ``ndaa-scan --help`` starts fast."""

from __future__ import annotations

import sys

import typer

from scanner.cli import common

HELP = """Find NDAA FY2019 §889 covered equipment (Hikvision, Dahua, Huawei, ZTE, Hytera, their
subsidiaries and rebrands) on networks you name, with the evidence for every verdict.

Start with `ndaa-scan demo` (root): it builds a simulated office network in Linux network
namespaces, scans it and prints the report. Scan a real network with
`ndaa-scan scan 10.0.0.0/24`; nothing is ever scanned that you did not name.
"""

EPILOG = common.EXIT_CODES_HELP

app = typer.Typer(
    help=HELP,
    epilog=EPILOG,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _register() -> None:
    from scanner.cli import (
        collect_cmd,
        fingerprints_cmd,
        history_cmd,
        lab_cmd,
        listen_cmd,
        offline_cmd,
        scan_cmd,
        server_cmd,
    )

    scan_cmd.register(app)
    offline_cmd.register(app)
    collect_cmd.register(app)
    listen_cmd.register(app)
    history_cmd.register(app)
    server_cmd.register(app)
    app.add_typer(lab_cmd.app, name="lab")
    app.add_typer(fingerprints_cmd.app, name="fingerprints")


_register()


@app.callback(invoke_without_command=True)
def _root(version: bool = typer.Option(False, "--version", help="Print the version and exit.")) -> None:
    if version:
        from scanner import __version__

        typer.echo(f"ndaa-scan {__version__}")
        raise typer.Exit(0)


def main() -> None:
    """Console entry point: one clear line and an exit code for every expected failure."""
    sys.exit(common.run_app(app))
