"""`ndaa-scan fingerprints test|lookup|update|status`: the fingerprint and OUI data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

app = typer.Typer(help="Check, query and update the fingerprint and OUI data.", no_args_is_help=True)


@app.command("test")
def test_cmd() -> None:
    """Run every example string in the fingerprint database (the shipped files and your local ones)
    against its own entry (recog-style self-test); print each failure, then the totals."""
    from scanner.identify.fingerprints import self_test

    report = self_test()
    for failure in report.failures:
        typer.echo(failure)
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


MAX_REPORT_BYTES = 256 * 1024 * 1024


@app.command(
    epilog="Example: ndaa-scan scan 10.0.0.0/24 -f json > scan.json; "
    "ndaa-scan fingerprints suggest scan.json --ip 10.0.0.23 --vendor Hikvision "
    "> ~/.config/ndaa-scanner/fingerprints/my-cameras.toml; ndaa-scan fingerprints test"
)
def suggest(
    source: str = typer.Argument(
        ..., help="A JSON report (scan -f json) or a JSON Lines observations file; - for stdin."
    ),
    ip: str = typer.Option(None, "--ip", help="Draft for this device only (default: every unknown device)."),
    vendor: str = typer.Option(None, "--vendor", help="The maker, as fingerprints/vendors.toml names it."),
) -> None:
    """Print draft fingerprint entries for devices that came out unknown, with their real strings as
    examples. Edit the pattern and vendor, save the file in the local fingerprint directory
    ($NDAA_SCAN_FINGERPRINTS_DIR or ~/.config/ndaa-scanner/fingerprints), check it with
    `fingerprints test`: every later verdict uses it, marked "local" in the evidence."""
    from scanner.cli.common import err
    from scanner.errors import UsageError
    from scanner.identify.fingerprints import load_database, load_vendor_names
    from scanner.identify.suggest import draft

    if vendor is not None and vendor not in load_vendor_names():
        raise UsageError(
            f"--vendor {vendor!r} is not a name in fingerprints/vendors.toml (add it there first)"
        )
    devices = _devices_of(source)
    if ip is not None:
        devices = [d for d in devices if d.ip == ip]
        if not devices:
            raise UsageError(f"no device at {ip} in {source}")
    else:
        devices = [d for d in devices if d.verdict.status.value == "unknown"]
    db = load_database()
    drafts = [draft(d.observations, db, vendor=vendor, where=d.ip or d.mac or "device") for d in devices]
    text = "\n".join(t for t in drafts if t)
    if not text:
        err("nothing to suggest: every string these devices sent is already matched, or they sent none")
        return
    typer.echo(text)


def _devices_of(source: str) -> list[Any]:
    """The devices of a JSON report or a JSON Lines observations file (identified on the way)."""
    from scanner.errors import UsageError
    from scanner.ingest.jsonl import open_input

    with open_input(source) as fh:
        head = fh.read(MAX_REPORT_BYTES + 1)
    if len(head) > MAX_REPORT_BYTES:
        raise UsageError(f"{source}: larger than {MAX_REPORT_BYTES // (1 << 20)} MB")
    if head.lstrip()[:1] == b"{" and b'"devices"' in head[: 1 << 20]:
        from pydantic import ValidationError

        from scanner.results import ScanReport

        try:
            report = ScanReport.model_validate_json(head)
        except ValidationError as exc:
            raise UsageError(
                f"{source}: not an ndaa-scan JSON report ({exc.error_count()} problems)"
            ) from None
        return [*report.devices, *report.heard]
    import io

    from scanner.ingest.stream import device_reports

    problems: list[str] = []
    devices = list(device_reports(io.BytesIO(head), "jsonl", lambda line, msg: problems.append(msg)))
    if not devices:
        raise UsageError(f"{source}: no devices (not a JSON report, and no valid JSON Lines observation)")
    return devices
