"""`ndaa-scan identify FILE` and `ndaa-scan import nmap-xml|dhcp-leases|pcap FILE`: verdicts from files, no network."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal

import typer

from scanner.cli.common import EXIT_CODES_HELP
from scanner.cli.options import (
    AsOfOpt,
    EvidenceOpt,
    FailOnOpt,
    FormatOpt,
    OutputOpt,
    as_of_date,
    output_specs,
)

import_app = typer.Typer(help="Turn other tools' results into verdicts.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command(epilog=EXIT_CODES_HELP)(identify)
    app.add_typer(import_app, name="import")


def _command(
    kind: Literal["jsonl", "nmap-xml", "dhcp-leases", "pcap"], file_type: type, file_help: str, doc: str
) -> Callable[..., None]:
    """One offline command: FILE (of ``file_type``, as typer converts it) and the report options every
    offline command shares; ``doc`` is its --help text."""

    def command(
        file: Path,
        fmt: FormatOpt = None,
        output: OutputOpt = None,
        fail_on: FailOnOpt = "likely",
        as_of: AsOfOpt = None,
        evidence: EvidenceOpt = False,
    ) -> None:
        raise typer.Exit(_offline(str(file), kind, output_specs(fmt, output), fail_on, as_of, evidence))

    command.__doc__ = doc
    # typer reads the hints: FILE keeps its own type (identify's is str, so "-" stays "-") and help.
    command.__annotations__["file"] = Annotated[file_type, typer.Argument(..., help=file_help)]
    return command


identify = _command(
    "jsonl",
    str,
    "JSON Lines observations (one per line: ip or mac, signal, value; see docs/OBSERVATIONS.md), or - for stdin.",
    "Identify devices from observations in a file, without touching the network.",
)
identify.__name__ = "identify"
nmap_xml = import_app.command("nmap-xml")(
    _command(
        "nmap-xml",
        Path,
        "An nmap -oX result (MACs, service banners, script output).",
        "Verdicts for the hosts of an nmap XML file.",
    )
)
dhcp_leases = import_app.command("dhcp-leases")(
    _command(
        "dhcp-leases",
        Path,
        "A DHCP server's lease file: ISC dhcpd.leases, dnsmasq leases or Kea memfile CSV "
        "(told apart by content). MACs, addresses, host names, vendor classes and client ids; "
        "ended leases are marked.",
        "Verdicts for the clients of a DHCP server's lease file.",
    )
)
pcap = import_app.command("pcap")(
    _command(
        "pcap",
        Path,
        "A packet capture (pcap or pcapng, also gzip-compressed): ARP, DHCP, mDNS, SSDP, "
        "WS-Discovery, SADP, DHIP, LLDP, CDP, cleartext HTTP/RTSP heads and TLS<=1.2 certificates.",
        "Verdicts for the hosts seen in a packet capture (passive analysis, no packet sent).",
    )
)


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
