"""`ndaa-scan lab up|down|status|list`: the namespaced lab."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Bring a simulated lab network up or down (Linux network namespaces; needs root).",
    no_args_is_help=True,
)

LAB_ARG = typer.Argument("demo", help="Built-in lab name (see `ndaa-scan lab list`) or a lab TOML file.")


@app.command()
def up(
    lab: str = LAB_ARG,
    loss: str | None = typer.Option(
        None, help="Drop this share of frames on every device link, each way (20%)."
    ),
    delay: str | None = typer.Option(
        None, help="Delay every frame on a device link by this, each way (300ms)."
    ),
    jitter: str | None = typer.Option(None, help="Vary the delay by up to ± this, uniformly (50ms)."),
) -> None:
    """Create the lab's namespaces and start its simulated devices. Scan it with
    `ndaa-scan scan --netns nd-LAB-scan -i eth0`, or a routed lab (`routed = true`) from one hop
    behind its router with `ndaa-scan scan --netns nd-LAB-client SUBNET`."""
    from scanner.cli.scan_cmd import _lab_path
    from scanner.lab.manager import lab_up
    from scanner.lab.spec import load_lab

    spec = load_lab(lab).with_impairment(loss, delay, jitter)
    status = lab_up(spec, _lab_path(lab))
    typer.echo(status.render())
    if spec.routed:
        typer.echo(f"scan it across its router: ndaa-scan scan --netns {spec.scan_ns} {spec.subnet}")
    else:
        typer.echo(f"scan it: ndaa-scan scan --netns {spec.scanner_ns} -i eth0 {spec.subnet}")


@app.command()
def down(lab: str = LAB_ARG) -> None:
    """Stop the simulator and delete the lab's namespaces (only nd-LAB-*)."""
    from scanner.lab.manager import lab_down
    from scanner.lab.spec import load_lab

    name = load_lab(lab).name
    typer.echo(f"lab {name}: removed {lab_down(name)} namespaces")


@app.command()
def status(lab: str = LAB_ARG) -> None:
    """Show whether the lab is up."""
    from scanner.lab.manager import lab_status
    from scanner.lab.spec import load_lab

    typer.echo(lab_status(load_lab(lab).name).render())


@app.command("list")
def list_labs() -> None:
    """List the built-in labs."""
    from scanner.datafiles import labs_dir
    from scanner.lab.spec import load_lab

    for path in sorted(labs_dir().glob("*.toml")):
        spec = load_lab(path)
        typer.echo(f"{path.stem:12} {len(spec.devices):4} devices  {spec.subnet:16} {spec.description}")
