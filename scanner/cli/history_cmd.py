"""`ndaa-scan history`, `ndaa-scan diff` and `ndaa-scan report`: stored scans."""

from __future__ import annotations

from pathlib import Path

import typer

from scanner.cli.options import EvidenceOpt
from scanner.cli.scan_cmd import FAIL_ON_HELP, FORMAT_HELP, OUTPUT_HELP, output_specs

DB_OPTION = typer.Option(
    None,
    "--db",
    help="History database (default: $NDAA_SCAN_DB or ~/.local/share/ndaa-scanner/history.sqlite3).",
)


SERVER_OPTION = typer.Option(
    None, "--server", help="Read SITE's scans from this inventory server instead (token: $NDAA_SERVER_TOKEN)."
)
SITE_OPTION = typer.Option(None, "--site", help="The site, with --server.")


def register(app: typer.Typer) -> None:
    app.command()(history)
    app.command()(diff)
    app.command()(report)


def history(
    db: Path = DB_OPTION,
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many scans to list."),
    server: str | None = SERVER_OPTION,
    site: str | None = SITE_OPTION,
) -> None:
    """List stored scans, newest first, with their verdict counts."""
    from scanner.history.store import HistoryStore

    if server is not None:
        from scanner.cli.server_cmd import server_history

        server_history(server, site, limit)
        return

    with HistoryStore(db, readonly=True) as store:
        rows = store.list_scans(limit)
    if not rows:
        typer.echo("no scans stored yet")
        return
    for row in rows:
        typer.echo(row.render())


def diff(
    old: str = typer.Argument("latest~1", help="Older scan: an id, a unique id prefix, latest, latest~1 …"),
    new: str = typer.Argument("latest", help="Newer scan (default: latest)."),
    db: Path = DB_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    server: str | None = SERVER_OPTION,
    site: str | None = SITE_OPTION,
) -> None:
    """Devices that appeared, disappeared or changed verdict between two stored scans, over only what
    both covered: hosts outside either scan's targets are "not scanned", changes that rest on a probe
    only one scan ran are "not comparable", and a warning line says when the scans differ in scope or
    either is incomplete. Exit code 1 when anything changed where both looked, 0 when nothing did."""
    from scanner.history.diff import diff_reports
    from scanner.history.store import HistoryStore
    from scanner.scan import identify_observations

    if server is not None:
        from scanner.cli.server_cmd import server_report

        a, b = server_report(server, site, old), server_report(server, site, new)
    else:
        with HistoryStore(db, readonly=True) as store:
            a = store.load_report(store.resolve(old), identify_observations)
            b = store.load_report(store.resolve(new), identify_observations)
    result = diff_reports(a, b)
    typer.echo(result.to_json() if as_json else result.render_text())
    raise typer.Exit(0 if result.is_empty else 1)


def report(
    scan_id: str = typer.Argument("latest", help="A stored scan: id, unique prefix, latest, latest~1 …"),
    fmt: list[str] = typer.Option(None, "--format", "-f", help=FORMAT_HELP),
    output: list[str] = typer.Option(None, "--output", "-o", help=OUTPUT_HELP),
    fail_on: str = typer.Option("likely", "--fail-on", help=FAIL_ON_HELP),
    fail_on_heard: bool = typer.Option(
        False,
        "--fail-on-heard",
        help="Let hosts heard outside the targets (multicast/broadcast replies) fail the exit code too.",
    ),
    waivers: Path = typer.Option(None, "--waivers", help="Apply this waiver file to the stored verdicts."),
    db: Path = DB_OPTION,
    evidence: EvidenceOpt = False,
) -> None:
    """Produce any report again from a stored scan (also from one that was interrupted)."""
    from scanner.history.store import HistoryStore, flagged_trend
    from scanner.policy.fail_on import exit_code, parse_fail_on
    from scanner.report import parse_spec, write_outputs
    from scanner.scan import identify_observations

    policy = parse_fail_on(fail_on)
    specs = output_specs(fmt, output)
    for s in specs:
        parse_spec(s)
    with HistoryStore(db, readonly=True) as store:
        rep = store.load_report(store.resolve(scan_id), identify_observations)
        trend = (
            flagged_trend(store, rep.targets)
            if any(s.split("=")[0].strip() == "html" for s in specs)
            else None
        )
    if waivers:
        from scanner.policy.waivers import apply_waivers, load_waivers

        rep = apply_waivers(rep, load_waivers(waivers))
    write_outputs(
        rep,
        specs,
        fail_statuses=policy.fail_statuses,
        fail_on_heard=fail_on_heard,
        evidence=evidence,
        trend=trend,
    )
    raise typer.Exit(exit_code(rep, policy, fail_on_heard=fail_on_heard))
