"""`ndaa-scan collect snmp HOST...`: devices from routers' ARP tables, switches' forwarding tables and LLDP
neighbours, walked over SNMP (``scanner.collect``). Same reports, history and exit codes as `scan`: the
options are the scan's, the report is ``results.build_report``'s, the rendering and exit code are
``ScanCommand``'s."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated, Any

import typer

from scanner.cli.common import EXIT_CODES_HELP
from scanner.cli.options import (
    DbOpt,
    EvidenceOpt,
    FailOnOpt,
    FormatOpt,
    NoHistoryOpt,
    OutputOpt,
    QuietOpt,
    VerboseOpt,
    WaiversOpt,
    output_specs,
)

if TYPE_CHECKING:
    from scanner.collect.snmp_walk import AgentResult, SnmpAuth
    from scanner.results import ScanReport

V3_ENV = {
    "user": "NDAA_SNMP_USER",
    "auth_key": "NDAA_SNMP_AUTH_KEY",
    "priv_key": "NDAA_SNMP_PRIV_KEY",
    "auth_protocol": "NDAA_SNMP_AUTH_PROTOCOL",
    "priv_protocol": "NDAA_SNMP_PRIV_PROTOCOL",
}
COMMUNITY_ENV = "NDAA_SNMP_COMMUNITY"
INCOMPLETE = "an agent did not answer every table"  # the history's reason for an incomplete collection

collect_app = typer.Typer(
    help="Devices from the network's own records (router and switch tables), without probing hosts.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(collect_app, name="collect")


@collect_app.command("snmp", epilog=EXIT_CODES_HELP)
def snmp(
    hosts: Annotated[list[str], typer.Argument(help="SNMP agents (routers, switches): HOST or HOST:PORT.")],
    community: Annotated[
        str | None,
        typer.Option(
            "--community",
            "-c",
            envvar=COMMUNITY_ENV,
            help="SNMPv2c community (never guessed, never logged). For SNMPv3 set NDAA_SNMP_USER, "
            "NDAA_SNMP_AUTH_KEY, NDAA_SNMP_PRIV_KEY (and NDAA_SNMP_AUTH_PROTOCOL md5|sha|sha224|sha256|"
            "sha384|sha512, default sha; NDAA_SNMP_PRIV_PROTOCOL des|aes|aes192|aes256, default aes) instead.",
        ),
    ] = None,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    fail_on: FailOnOpt = "likely",
    waivers: WaiversOpt = None,
    evidence: EvidenceOpt = False,
    db: DbOpt = None,
    no_history: NoHistoryOpt = False,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.2, max=60, help="Seconds to wait for each SNMP answer.")
    ] = 2.0,
    budget: Annotated[
        float,
        typer.Option("--budget", min=1, max=3600, help="Seconds for everything asked of one agent."),
    ] = 60.0,
    uplink_macs: Annotated[
        int,
        typer.Option(
            "--uplink-macs",
            min=2,
            help="A switch port with at least this many MACs is an uplink, not a device's location.",
        ),
    ] = 24,
    max_rows: Annotated[
        int, typer.Option("--max-rows", min=100, help="Most rows read from one table of one agent.")
    ] = 100_000,
    netns: Annotated[
        str | None,
        typer.Option("--netns", help="Run inside this network namespace (a lab's: nd-demo-scan)."),
    ] = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Walk routers' ARP tables, switches' forwarding tables (every VLAN) and LLDP neighbours over SNMP;
    every MAC becomes a device with its verdict, and its switch, port and VLAN are evidence.

    Examples:

      ndaa-scan collect snmp 10.0.0.1 10.0.0.2 --community "$COMMUNITY" -o html=inventory.html

      NDAA_SNMP_USER=audit NDAA_SNMP_AUTH_KEY=… NDAA_SNMP_PRIV_KEY=… ndaa-scan collect snmp core-sw

    Only the named agents are asked; no host is probed. A port with --uplink-macs MACs or more, or with
    a bridge or router as its LLDP neighbour, is an uplink: devices seen there are not located there.
    """
    from scanner.cli.common import setup_logging
    from scanner.cli.scan_cmd import ScanCommand

    setup_logging(verbose, quiet)
    cmd = ScanCommand(
        specs=output_specs(fmt, output),
        fail_on=fail_on,
        fail_on_heard=False,
        db=None if no_history else (db or "default"),
        quiet=quiet,
        evidence=evidence,
    )
    cmd.check()
    agents = _agents(hosts)
    auth = snmp_auth(community)
    waiver_list = _waivers(waivers)
    if netns:
        from scanner.lab.netns import enter_netns

        enter_netns(netns)
    from scanner.collect.snmp_walk import WalkLimits

    limits = WalkLimits(timeout=timeout, agent_budget=budget, max_rows=max_rows)
    raise typer.Exit(_run(cmd, agents, auth, limits, uplink_macs, waiver_list))


def _agents(hosts: list[str]) -> list[tuple[str, int]]:
    from scanner.collect.snmp_walk import parse_agent
    from scanner.errors import UsageError

    try:
        return list(dict.fromkeys(parse_agent(h) for h in hosts))
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _waivers(path: Any) -> list[Any]:
    if path is None:
        return []
    from scanner.policy.waivers import load_waivers

    return list(load_waivers(path))


def snmp_auth(community: str | None, env: dict[str, str] | None = None) -> SnmpAuth:
    """SNMPv3 from ``NDAA_SNMP_*`` when NDAA_SNMP_USER is set, else the community; UsageError if neither,
    or a privacy key without an authentication key, or an unknown protocol name."""
    from scanner.collect.snmp_walk import AUTH_PROTOCOLS, PRIV_PROTOCOLS, SnmpAuth, V3User
    from scanner.errors import UsageError

    environ = os.environ if env is None else env
    v3 = {k: environ.get(name, "") for k, name in V3_ENV.items()}
    if v3["user"]:
        auth_proto = (v3["auth_protocol"] or "sha").lower()
        priv_proto = (v3["priv_protocol"] or "aes").lower()
        if auth_proto not in AUTH_PROTOCOLS:
            raise UsageError(f"{V3_ENV['auth_protocol']}: expected one of {', '.join(AUTH_PROTOCOLS)}")
        if priv_proto not in PRIV_PROTOCOLS:
            raise UsageError(f"{V3_ENV['priv_protocol']}: expected one of {', '.join(PRIV_PROTOCOLS)}")
        if v3["priv_key"] and not v3["auth_key"]:
            raise UsageError(
                f"{V3_ENV['priv_key']} needs {V3_ENV['auth_key']} (SNMPv3 has no privacy without it)"
            )
        for key in ("auth_key", "priv_key"):
            if v3[key] and len(v3[key]) < 8:
                raise UsageError(f"{V3_ENV[key]}: SNMPv3 keys are at least 8 characters (RFC 3414 §11.2)")
        user = V3User(v3["user"], v3["auth_key"] or None, v3["priv_key"] or None, auth_proto, priv_proto)
        return SnmpAuth(v3=user)
    if community:
        return SnmpAuth(community=community)
    raise UsageError(
        f"no SNMP credentials: give --community (or {COMMUNITY_ENV}), or set {V3_ENV['user']} "
        f"and its keys for SNMPv3 (nothing is guessed)"
    )


def _run(
    cmd: Any,
    agents: list[tuple[str, int]],
    auth: SnmpAuth,
    limits: Any,
    uplink_macs: int,
    waivers: list[Any],
) -> int:
    """Open the history, walk, report; the exit code (``ScanCommand``'s rendering and rule)."""
    from datetime import UTC, datetime

    from scanner import __version__
    from scanner.cli.common import Progress, err
    from scanner.cli.scan_cmd import open_history
    from scanner.collect.snmp_walk import collect
    from scanner.scan import INTERRUPTED, HistorySink, run_stoppable

    history = HistorySink(open_history(cmd.db)) if cmd.db is not None else None
    names = [f"{h}:{p}" if p != 161 else h for h, p in agents]
    if history is not None:
        history.scan_id = history.store.start_scan(names, None, __version__, ["snmp-tables"])
        cmd.scan_id = history.scan_id
    started = datetime.now(UTC)
    results: list[AgentResult] = []
    with Progress(enabled=not cmd.quiet) as progress:
        cmd._progress = progress
        progress.update(f"walking {len(agents)} SNMP agent(s)")

        async def main() -> None:
            await collect(agents, auth, limits, results)

        interrupted = run_stoppable(main())
        report = build_collect_report(results, names, auth, started, uplink_macs, interrupted, history)
        if waivers:
            from scanner.policy.waivers import apply_waivers

            report = apply_waivers(report, waivers)
        stop = INTERRUPTED if interrupted else None if report.complete else INCOMPLETE
        try:
            if history is not None:
                history.finish(report, stop)
        finally:
            cmd.finish(report, stop)
    if interrupted:
        err(f"interrupted: partial report written{cmd._kept()}")
    elif stop:
        err(f"incomplete ({INCOMPLETE}): report written, see its notes{cmd._kept()}")
    return int(cmd.exit_code(report))


def build_collect_report(
    results: list[AgentResult],
    names: list[str],
    auth: SnmpAuth,
    started: Any,
    uplink_macs: int,
    interrupted: bool,
    history: Any = None,
) -> ScanReport:
    """The report of a collection: each agent's tables as devices (``results.build_report``)."""
    from scanner.collect import snmp_tables as st
    from scanner.discovery.base import ProbeStatus
    from scanner.ingest.stream import identify_stream
    from scanner.observations import Observation, ip_sort_key
    from scanner.results import DeviceReport, ProbeSummary, build_report

    items: list[Any] = []
    summaries: list[ProbeSummary] = []
    notes = [
        f"collected from SNMP agents' tables ({auth.describe()}): no host was probed; every MAC a "
        "router's ARP table or a switch's forwarding table holds is a device, located by its switch port "
        f"unless that port is an uplink ({uplink_macs}+ MACs, or a bridge/router LLDP neighbour)"
    ]
    for r in results:
        name = f"{r.agent}:{r.port}" if r.port != 161 else r.agent
        found = list(st.observations(r.agent, r.tables, uplink_macs=uplink_macs)) if r.answered else []
        items += found
        if history is not None:
            for item in found:
                if isinstance(item, Observation):
                    history.add(item)
        status = (
            ProbeStatus.NO_RESPONSE
            if not r.answered
            else ProbeStatus.SUCCESS
            if not r.errors
            else ProbeStatus.PARTIAL
        )
        errors = r.errors or (
            [] if r.answered else ["not walked (interrupted)" if interrupted else "not walked"]
        )
        line = st.summary(name, r.tables, uplink_macs) if r.answered else f"{name}: no answer"
        summaries.append(
            ProbeSummary(
                probe=f"snmp-tables {name}",
                status=status,
                duration=round(r.seconds, 3),
                error="; ".join(errors)[:500] or None,
                notes=[line, *r.tables.problems],
            )
        )
        if r.answered:
            notes.append(line)
        notes += [f"{name}: {e}" for e in errors]
        notes += [f"{name}: {p}" for p in r.tables.problems]
    if interrupted:
        notes.append("the collection was interrupted: this report holds what the agents gave until then")
    devices = sorted(
        (DeviceReport.of(d, v) for d, v in identify_stream(items, cap=None, max_hosts=None)),
        key=lambda d: (ip_sort_key(d.ip), d.mac or ""),
    )
    complete = not interrupted and bool(results) and all(r.complete for r in results)
    return build_report(
        devices,
        started_at=started,
        complete=complete,
        probes=summaries,
        notes=notes,
        targets=names,
        scan_id=getattr(history, "scan_id", None),
    )
