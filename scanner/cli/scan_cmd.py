"""`ndaa-scan scan` and `ndaa-scan demo`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from scanner.cli.common import EXIT_CODES_HELP

PROBE_HELP = (
    "Comma list of probes (default: all but liveness, snmp and nmap): arp, wsd, mdns, ssdp, sadp, dhip, "
    "liveness, http, tls, rtsp, onvif, snmp, nmap. Example: --probes arp for layer 2 only."
)
FORMAT_HELP = (
    "Report format on stdout: table (default), json, jsonl, csv, markdown, html, sarif, junit, "
    "compliance. Also FORMAT=PATH to write a file. Repeatable."
)
OUTPUT_HELP = (
    "Write a report to a file as FORMAT=PATH (e.g. sarif=scan.sarif, junit=junit.xml); the table "
    "still goes to stdout unless --format says otherwise. Repeatable."
)
FAIL_ON_HELP = (
    "Weakest verdict that makes the exit code 1: covered, likely (default: covered and likely), "
    "suspected, never."
)


def register(app: typer.Typer) -> None:
    app.command(epilog=EXIT_CODES_HELP)(scan)
    app.command(epilog=EXIT_CODES_HELP)(demo)


def scan(
    targets: list[str] = typer.Argument(
        None,
        help="CIDRs, ranges or addresses: 10.0.0.0/24 10.0.1.5-40 "
        "10.0.2.1-10.0.2.9 10.0.3.7 (comma lists too).",
    ),
    interface: str = typer.Option(
        None,
        "--interface",
        "-i",
        help="Interface to scan from; with no targets, scan that interface's subnet.",
    ),
    probes: str = typer.Option(None, "--probes", "-p", help=PROBE_HELP),
    fmt: list[str] = typer.Option(None, "--format", "-f", help=FORMAT_HELP),
    output: list[str] = typer.Option(None, "--output", "-o", help=OUTPUT_HELP),
    fail_on: str = typer.Option("likely", "--fail-on", help=FAIL_ON_HELP),
    waivers: Path = typer.Option(
        None, "--waivers", help="TOML file of accepted devices (see examples/waivers.toml)."
    ),
    db: Path = typer.Option(
        None,
        "--db",
        help="History database (default: $NDAA_SCAN_DB or ~/.local/share/ndaa-scanner/history.sqlite3).",
    ),
    no_history: bool = typer.Option(
        False, "--no-history", help="Do not store this scan in the history database."
    ),
    timeout: float = typer.Option(
        3.0, "--timeout", min=0.5, max=600, help="Seconds each discovery probe may take."
    ),
    max_hosts: int = typer.Option(65536, "--max-hosts", min=1, help="Refuse target lists larger than this."),
    rate: int = typer.Option(20000, "--rate", min=10, help="ARP requests per second."),
    snmp_community: str = typer.Option(
        None,
        "--snmp-community",
        envvar="NDAA_SNMP_COMMUNITY",
        help="SNMPv2c community to read sysDescr/sysObjectID with (never guessed).",
    ),
    with_nmap: bool = typer.Option(
        False,
        "--with-nmap",
        help="Also run nmap -sV on live hosts (needs nmap and python-nmap) as an extra evidence source.",
    ),
    netns: str = typer.Option(
        None, "--netns", help="Run inside this network namespace (a lab's scanner: nd-demo-scan)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or log lines on stderr."),
    verbose: int = typer.Option(
        0, "--verbose", "-v", count=True, help="More log lines on stderr (-vv: debug)."
    ),
) -> None:
    """Scan the named targets and report every device with its §889 verdict and evidence.

    Examples:

      ndaa-scan scan 192.168.1.0/24

      ndaa-scan scan -i eth0 -o sarif=scan.sarif -o junit=junit.xml --fail-on covered

      ndaa-scan scan 10.0.0.0/24 --probes arp,sadp,dhip --format json | jq .

    Verdicts: covered (a maker-specific signal names a §889 entity), likely (only an OUI or
    weaker signals), suspected (an unverified rebrand), not-covered, unknown. Credentials are never
    guessed; ONVIF GetDeviceInformation uses NDAA_ONVIF_USER / NDAA_ONVIF_PASSWORD from the
    environment when set (never logged or reported).
    """
    from scanner.cli.common import setup_logging

    setup_logging(verbose, quiet)
    if netns:
        from scanner.lab.netns import enter_netns

        enter_netns(netns)
    code = run_scan_command(
        targets or [],
        interface=interface,
        probes=probes,
        specs=output_specs(fmt, output),
        fail_on=fail_on,
        waivers=waivers,
        db=None if no_history else (db or "default"),
        timeout=timeout,
        max_hosts=max_hosts,
        rate=rate,
        snmp_community=snmp_community,
        with_nmap=with_nmap,
        quiet=quiet,
    )
    raise typer.Exit(code)


def output_specs(fmt: list[str] | None, output: list[str] | None) -> list[str]:
    """--format specs and --output files; the table goes to stdout unless --format names something else."""
    return [*(fmt or ["table"]), *(output or [])]


def run_scan_command(
    target_texts: list[str],
    *,
    interface: str | None,
    probes: str | None,
    specs: list[str],
    fail_on: str,
    waivers: Path | None,
    db: Path | str | None,
    timeout: float,
    max_hosts: int,
    rate: int,
    snmp_community: str | None,
    with_nmap: bool,
    quiet: bool,
    extra_notes: list[str] | None = None,
) -> int:
    """Everything `scan` does after option parsing; returns the exit code."""
    import asyncio

    from scanner.discovery.base import ProbeStatus
    from scanner.discovery.options import ProbeOptions
    from scanner.discovery.registry import PROBES, select
    from scanner.errors import UsageError
    from scanner.policy.fail_on import exit_code, parse_fail_on
    from scanner.report import parse_spec, write_outputs
    from scanner.scan import ScanConfig, ScanState, build_report, pick_interface, run_probes
    from scanner.targets import parse_targets

    policy = parse_fail_on(fail_on)
    for s in specs:
        parse_spec(s)  # bad formats fail before any packet is sent
    waiver_list = _load_waivers(waivers)
    if not target_texts:
        if not interface:
            raise UsageError(
                "no targets: name the CIDRs, ranges or addresses to scan, or --interface NAME "
                "to scan that interface's subnet (nothing is scanned implicitly)"
            )
        from scanner.netif import interface as get_interface

        target_texts = [str(get_interface(interface).network)]
    targets = parse_targets(target_texts, max_hosts)
    chosen = select(probes)
    if snmp_community and PROBES["snmp"] not in chosen and probes is None:
        chosen.append(PROBES["snmp"])
    if with_nmap and PROBES["nmap"] not in chosen:
        chosen.append(PROBES["nmap"])
    itf = pick_interface(targets, interface)
    options = ProbeOptions(
        arp_rate=rate, snmp_community=snmp_community or None, onvif_credentials=onvif_credentials()
    )
    config = ScanConfig(
        targets=targets,
        target_texts=target_texts,
        probes=chosen,
        interface=itf,
        timeout=timeout,
        options=options,
    )
    notes = list(extra_notes or [])
    if itf is None:
        notes.append(
            "no local interface is on the targets' subnet: ARP and multicast discovery were skipped, "
            "only unicast probes ran"
        )

    store, scan_id = _open_history(db, config)
    sink = (lambda obs: store.add_observation(scan_id, obs)) if store else None
    state = ScanState()
    complete = True
    from scanner.cli.common import Progress

    try:
        with Progress(enabled=not quiet) as progress:
            asyncio.run(run_probes(config, state, sink, progress.update))
    except KeyboardInterrupt:
        complete = False
        notes.append("the scan was interrupted: this report holds what was seen until then")
    failed = [r for r in state.results if r.status == ProbeStatus.ERROR]
    if failed:
        complete = False
        notes.append("incomplete: probe(s) failed: " + "; ".join(f"{r.probe}: {r.error}" for r in failed))
    report = build_report(config, state, complete=complete, notes=notes, scan_id=scan_id)
    if waiver_list:
        from scanner.policy.waivers import apply_waivers

        report = apply_waivers(report, waiver_list)
    if store:
        try:
            store.finish_scan(scan_id, report)
            if not complete:
                store.mark_incomplete(scan_id, "interrupted")
        finally:
            store.close()
    write_outputs(report, specs, fail_statuses=policy.fail_statuses)
    if not complete:
        from scanner.cli.common import err

        err(f"interrupted: partial report written{f', scan {scan_id} kept in history' if scan_id else ''}")
    return exit_code(report, policy)


def _load_waivers(path: Path | None) -> list[Any]:
    if path is None:
        return []
    from scanner.policy.waivers import load_waivers

    return load_waivers(path)


def _open_history(db: Path | str | None, config: Any) -> tuple[Any, str | None]:
    if db is None:
        return None, None
    from scanner import __version__
    from scanner.history.store import HistoryStore

    store = HistoryStore(None if db == "default" else db)
    scan_id = store.start_scan(
        config.target_texts, config.interface, __version__, [p.name for p in config.probes]
    )
    return store, scan_id


def demo(
    lab: str = typer.Option("demo", "--lab", help="Built-in lab name or a lab TOML file."),
    fmt: list[str] = typer.Option(None, "--format", "-f", help=FORMAT_HELP),
    output: list[str] = typer.Option(None, "--output", "-o", help=OUTPUT_HELP),
    keep: bool = typer.Option(
        False, "--keep", help="Leave the lab up afterwards (tear down: ndaa-scan lab down)."
    ),
    db: Path = typer.Option(None, "--db", help="Also store the demo scan in this history database."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress on stderr."),
) -> None:
    """Bring up the built-in lab (simulated devices in network namespaces), scan it from inside, print the
    report and tear the lab down. Needs root on Linux. Nothing leaves the lab's namespaces."""
    from scanner.cli.common import err, setup_logging
    from scanner.lab.manager import lab_down, lab_up
    from scanner.lab.netns import enter_netns, require_root_linux
    from scanner.lab.spec import load_lab

    setup_logging(0, quiet)
    require_root_linux("ndaa-scan demo")
    spec = load_lab(lab)
    lab_file = _lab_path(lab)
    if not quiet:
        err(f"bringing up lab {spec.name!r}: {len(spec.devices)} simulated devices on {spec.subnet}")
    lab_up(spec, lab_file)
    try:
        enter_netns(spec.scanner_ns)
        code = run_scan_command(
            [spec.subnet],
            interface="eth0",
            probes=None,
            specs=output_specs(fmt, output),
            fail_on="likely",
            waivers=None,
            db=db,
            timeout=3.0,
            max_hosts=65536,
            rate=20000,
            snmp_community=None,
            with_nmap=False,
            quiet=quiet,
            extra_notes=[f"demo lab {spec.name!r}: simulated devices in network namespaces"],
        )
    finally:
        if not keep:
            lab_down(spec.name)
        elif not quiet:
            err(f"lab {spec.name!r} left up: ndaa-scan lab down {spec.name}")
    raise typer.Exit(code)


def _lab_path(ref: str) -> Path:
    p = Path(ref)
    if p.exists():
        return p
    from scanner.datafiles import labs_dir

    return labs_dir() / f"{ref}.toml"


def onvif_credentials() -> Any:
    """ONVIF credentials from ``NDAA_ONVIF_USER`` / ``NDAA_ONVIF_PASSWORD`` (both set), else None."""
    import os

    from scanner.discovery.onvif import PASSWORD_ENV, USER_ENV
    from scanner.discovery.options import Credentials

    user, password = os.environ.get(USER_ENV, ""), os.environ.get(PASSWORD_ENV, "")
    return Credentials(user, password) if user and password else None
