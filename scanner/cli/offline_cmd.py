"""`ndaa-scan identify FILE` and `ndaa-scan import nmap-xml|dhcp-leases|pcap FILE`: verdicts from files, no network."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer

from scanner.cli.common import EXIT_CODES_HELP
from scanner.cli.options import AsOfOpt, EvidenceOpt, as_of_date
from scanner.cli.scan_cmd import FAIL_ON_HELP, FORMAT_HELP, OUTPUT_HELP, output_specs

import_app = typer.Typer(help="Turn other tools' results into verdicts.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command(epilog=EXIT_CODES_HELP)(identify)
    app.add_typer(import_app, name="import")


def identify(
    file: str = typer.Argument(
        ...,
        help="JSON Lines observations (one per line: ip or mac, signal, value; "
        "see docs/OBSERVATIONS.md), or - for stdin.",
    ),
    fmt: list[str] = typer.Option(None, "--format", "-f", help=FORMAT_HELP),
    output: list[str] = typer.Option(None, "--output", "-o", help=OUTPUT_HELP),
    fail_on: str = typer.Option("likely", "--fail-on", help=FAIL_ON_HELP),
    as_of: AsOfOpt = None,
    evidence: EvidenceOpt = False,
) -> None:
    """Identify devices from observations in a file, without touching the network."""
    raise typer.Exit(_offline(file, "jsonl", output_specs(fmt, output), fail_on, as_of, evidence))


@import_app.command("nmap-xml")
def nmap_xml(
    file: Path = typer.Argument(..., help="An nmap -oX result (MACs, service banners, script output)."),
    fmt: list[str] = typer.Option(None, "--format", "-f", help=FORMAT_HELP),
    output: list[str] = typer.Option(None, "--output", "-o", help=OUTPUT_HELP),
    fail_on: str = typer.Option("likely", "--fail-on", help=FAIL_ON_HELP),
    as_of: AsOfOpt = None,
    evidence: EvidenceOpt = False,
) -> None:
    """Verdicts for the hosts of an nmap XML file."""
    raise typer.Exit(_offline(str(file), "nmap-xml", output_specs(fmt, output), fail_on, as_of, evidence))


@import_app.command("dhcp-leases")
def dhcp_leases(
    file: Path = typer.Argument(
        ...,
        help="A DHCP server's lease file: ISC dhcpd.leases, dnsmasq leases or Kea memfile CSV "
        "(told apart by content). MACs, addresses, host names, vendor classes and client ids; "
        "ended leases are marked.",
    ),
    fmt: list[str] = typer.Option(None, "--format", "-f", help=FORMAT_HELP),
    output: list[str] = typer.Option(None, "--output", "-o", help=OUTPUT_HELP),
    fail_on: str = typer.Option("likely", "--fail-on", help=FAIL_ON_HELP),
    as_of: AsOfOpt = None,
    evidence: EvidenceOpt = False,
) -> None:
    """Verdicts for the clients of a DHCP server's lease file."""
    raise typer.Exit(_offline(str(file), "dhcp-leases", output_specs(fmt, output), fail_on, as_of, evidence))


@import_app.command("pcap")
def pcap(
    file: Path = typer.Argument(
        ...,
        help="A packet capture (pcap or pcapng, also gzip-compressed): ARP, DHCP, mDNS, SSDP, "
        "WS-Discovery, SADP, DHIP, LLDP, CDP, cleartext HTTP/RTSP heads and TLS<=1.2 certificates.",
    ),
    fmt: list[str] = typer.Option(None, "--format", "-f", help=FORMAT_HELP),
    output: list[str] = typer.Option(None, "--output", "-o", help=OUTPUT_HELP),
    fail_on: str = typer.Option("likely", "--fail-on", help=FAIL_ON_HELP),
    as_of: AsOfOpt = None,
    evidence: EvidenceOpt = False,
) -> None:
    """Verdicts for the hosts seen in a packet capture (passive analysis, no packet sent)."""
    raise typer.Exit(_offline(str(file), "pcap", output_specs(fmt, output), fail_on, as_of, evidence))


def _offline(
    path: str,
    kind: Literal["jsonl", "nmap-xml", "dhcp-leases", "pcap"],
    specs: list[str],
    fail_on: str,
    as_of: str | None,
    evidence: bool = False,
) -> int:
    from scanner.cli.common import err
    from scanner.ingest.stream import identify_file
    from scanner.policy.fail_on import exit_code, parse_fail_on
    from scanner.report import parse_spec, write_outputs

    policy = parse_fail_on(fail_on)
    on_date = as_of_date(as_of)
    for s in specs:
        parse_spec(s)
    problems: list[str] = []

    def problem(line: int, message: str) -> None:
        problems.append(f"{path}:{line}: {message}")
        err(f"{path}:{line}: {message}")

    report = identify_file(path, kind, problem, on_date=on_date)
    write_outputs(report, specs, fail_statuses=policy.fail_statuses, evidence=evidence)
    if problems:
        err(f"{len(problems)} input problem(s)")
    return exit_code(report, policy)
