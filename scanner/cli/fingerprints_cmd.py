"""`ndaa-scan fingerprints test|lookup|update|status`: the fingerprint and OUI data."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Check, query and update the fingerprint and OUI data.", no_args_is_help=True)


@app.command("test")
def test_cmd() -> None:
    """Run every example string in the fingerprint database against its own entry (recog-style self-test)."""
    from scanner.identify.fingerprints import self_test

    report = self_test()
    typer.echo(report.render())
    raise typer.Exit(0 if report.ok else 1)


@app.command()
def lookup(
    signal: str = typer.Argument(..., help="Signal name, e.g. http.server, rtsp.server, x509.subject, mac."),
    value: str = typer.Argument(..., help="The value seen, e.g. 'App-webs/' or a MAC address."),
) -> None:
    """Explain what the data makes of one value: which fingerprints match (or which OUI block owns a MAC)."""
    if signal == "mac":
        from scanner.identify.entities import match_organization
        from scanner.identify.oui import is_locally_administered, load_registry
        from scanner.observations import normalise_mac

        try:
            mac = normalise_mac(value)
        except ValueError as exc:
            from scanner.errors import UsageError

            raise UsageError(str(exc)) from None
        if is_locally_administered(mac):
            typer.echo(f"{mac}: locally administered (randomised) address: no OUI evidence")
            return
        match = load_registry().lookup(mac)
        if match is None:
            typer.echo(f"{mac}: not in the IEEE registry ({load_registry().date})")
            return
        typer.echo(f"{mac}: {match.registry} {match.prefix}/{match.bits} {match.organization}")
        ent = match_organization(match.organization)
        if ent:
            typer.echo(
                f"  entity: {ent.entity or '-'}  vendor: {ent.vendor}  relation: {ent.relation}  "
                f"covered: {'review' if ent.covered is None else ent.covered}  confidence: {ent.confidence}"
            )
            typer.echo(f"  source: {ent.source}")
            if ent.note:
                typer.echo(f"  note: {ent.note}")
        return
    from scanner.identify.fingerprints import load_database

    typer.echo(load_database().explain(signal, value))


@app.command(
    epilog="Examples: ndaa-scan fingerprints update --from oui.csv mam.csv oui36.csv iab.csv  "
    "(or --from oui.csv --from mam.csv)"
)
def update(
    files: list[Path] = typer.Option(
        None,
        "--from",
        help="IEEE CSV files you downloaded (oui.csv, mam.csv, oui36.csv, iab.csv); several may follow one "
        "--from. Nothing is downloaded.",
    ),
    more: list[Path] = typer.Argument(
        None, help="More IEEE CSV files (as in --from a b c).", show_default=False
    ),
    dest: Path = typer.Option(
        None,
        "--dest",
        help="Write the registry here instead of the user's data directory "
        "($NDAA_SCAN_DATA_DIR or ~/.local/share/ndaa-scanner/oui/registry.tsv.gz).",
    ),
    force: bool = typer.Option(
        False, "--force", help="Write even if covered-entity blocks or most of a registry would be lost."
    ),
) -> None:
    """Rebuild the OUI registry from IEEE CSV files into your data directory and print what changed for
    covered entities. Lookups use the updated registry from then on (see `fingerprints status`)."""
    from scanner.identify.oui_update import update_registry

    typer.echo(update_registry([*(files or []), *(more or [])], dest, force=force).render())


@app.command()
def status() -> None:
    """Which OUI registry lookups use (shipped or updated), its path, date and block counts."""
    from scanner.identify.oui_update import registry_status

    typer.echo(registry_status().render())
