"""`ndaa-scan scan` and `ndaa-scan demo`: options become a ScanRequest; ``scanner.scan.run_scan`` runs it;
this module checks everything it can before a packet is sent, then renders and picks the exit code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from scanner.cli.common import EXIT_CODES_HELP
from scanner.cli.options import (
    FAIL_ON_HELP,
    FORMAT_HELP,
    OUTPUT_HELP,
    TARGETS_SYNTAX,
    AsOfOpt,
    DbOpt,
    EvidenceOpt,
    ExcludeFileOpt,
    ExcludeOpt,
    FailOnHeardOpt,
    FailOnOpt,
    FormatOpt,
    NoHistoryOpt,
    OutputOpt,
    QuietOpt,
    TargetFileOpt,
    TimeoutOpt,
    VerboseOpt,
    WaiversOpt,
    as_of_date,
    output_specs,
)

if TYPE_CHECKING:
    from scanner.results import ScanReport
    from scanner.scan import ScanRequest
    from scanner.targets import TargetSet

__all__ = ["FAIL_ON_HELP", "FORMAT_HELP", "OUTPUT_HELP", "output_specs", "register"]  # others import these

# The numbers are scanner.discovery.options' DEFAULT_RATE, SWEEP_RATE, DEVICE_RATE, DEFAULT_CONCURRENCY,
# CONNECT_CONCURRENCY and FETCH_CONCURRENCY (not imported here: --help stays fast; a test keeps them equal).
RATE_HELP = (
    "Packets per second for the whole scan, all probes together (default 40000). ARP and the liveness "
    "SYN/ICMP sweep go at up to this rate (20000/s each by default); unicast SADP, DHIP, WS-Discovery, "
    "SSDP and SNMP requests at 5000/s each at most. Lower it for slow links, VPNs and fragile devices."
)
CONCURRENCY_HELP = (
    "Connections open at once per connection probe: banner hosts probed at once by http, tls, rtsp and "
    "onvif (default 128) and connect() attempts of the unprivileged liveness sweep (default 1024). SSDP "
    "description fetches and mDNS resolves stay at 32 or fewer."
)
PROBE_HELP = (
    "Comma list of probes (default: all but ndp, snmp and nmap): arp, wsd, mdns, ssdp, sadp, dhip, "
    "liveness, mdns-unicast, ndp, http, tls, rtsp, onvif, greeting, sip, snmp, nmap. "
    "Example: --probes arp for layer 2 only."
)


def register(app: typer.Typer) -> None:
    app.command(epilog=EXIT_CODES_HELP)(scan)
    app.command(epilog=EXIT_CODES_HELP)(demo)


def scan(
    targets: Annotated[list[str] | None, typer.Argument(help=f"{TARGETS_SYNTAX}.")] = None,
    interface: Annotated[
        str | None,
        typer.Option(
            "--interface", "-i", help="Interface to scan from; with no targets, scan that interface's subnet."
        ),
    ] = None,
    exclude: ExcludeOpt = None,
    targets_file: TargetFileOpt = None,
    exclude_file: ExcludeFileOpt = None,
    probes: Annotated[str | None, typer.Option("--probes", "-p", help=PROBE_HELP)] = None,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    fail_on: FailOnOpt = "likely",
    fail_on_heard: FailOnHeardOpt = False,
    waivers: WaiversOpt = None,
    db: DbOpt = None,
    no_history: NoHistoryOpt = False,
    timeout: TimeoutOpt = 3.0,
    max_hosts: Annotated[
        int, typer.Option("--max-hosts", min=1, help="Refuse target lists larger than this.")
    ] = 65536,
    rate: Annotated[
        float | None, typer.Option("--rate", min=10, metavar="PACKETS/S", help=RATE_HELP, show_default=False)
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option("--concurrency", min=1, metavar="N", help=CONCURRENCY_HELP, show_default=False),
    ] = None,
    snmp_community: Annotated[
        str | None,
        typer.Option(
            "--snmp-community",
            envvar="NDAA_SNMP_COMMUNITY",
            help="SNMPv2c community to read sysDescr/sysObjectID with (never guessed).",
        ),
    ] = None,
    with_nmap: Annotated[
        bool,
        typer.Option(
            "--with-nmap",
            help="Also run nmap -sV on live targets (needs nmap and python-nmap) as an extra evidence source.",
        ),
    ] = False,
    ipv6: Annotated[
        bool,
        typer.Option(
            "--ipv6",
            help="Also discover on the interface's IPv6 link (needs -i, or a zoned target such as "
            "fe80::/64%eth0): ICMPv6 echo to ff02::1, mDNS, WS-Discovery and SSDP on ff02::fb/ff02::c. Hosts "
            "found there are heard unless an IPv6 target names them; named ones get the banner probes over IPv6.",
        ),
    ] = False,
    netns: Annotated[
        str | None,
        typer.Option("--netns", help="Run inside this network namespace (a lab's scanner: nd-demo-scan)."),
    ] = None,
    as_of: AsOfOpt = None,
    evidence: EvidenceOpt = False,
    notify: Annotated[
        list[str] | None,
        typer.Option(
            "--notify",
            metavar="URL",
            help="POST a JSON alert to URL when a covered or likely device is new or changed since the previous "
            "complete scan of the same targets in the history (waived devices never alert). Repeatable.",
        ),
    ] = None,
    notify_cmd: Annotated[
        str | None,
        typer.Option(
            "--notify-cmd",
            metavar="CMD",
            help="Run CMD (no shell) with the same JSON alert on its standard input.",
        ),
    ] = None,
    sample: Annotated[
        int | None,
        typer.Option(
            "--sample",
            min=1,
            max=256,
            help="Off-link targets: ask N addresses of each /24 first (gateways and camera factory "
            "addresses first) and sweep the rest of a /24 only if one answered. Faster on huge sparse "
            "ranges; a /24 whose hosts all sit elsewhere is missed (the report says how many /24s).",
        ),
    ] = None,
    push: Annotated[
        str | None,
        typer.Option(
            "--push",
            metavar="URL",
            help="After the scan, push every stored scan not yet sent to this inventory server "
            "(needs --site; token: $NDAA_PUSH_TOKEN; see docs/SITES.md).",
        ),
    ] = None,
    site: Annotated[str | None, typer.Option("--site", help="This site's name, for --push.")] = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Scan the named targets and report every device with its §889 verdict and evidence.

    Examples:

      ndaa-scan scan 192.168.1.0/24 --exclude 192.168.1.1

      ndaa-scan scan -i eth0 -o sarif=scan.sarif -o junit=junit.xml --fail-on covered

      ndaa-scan scan 10.0.0.0/24 --probes arp,sadp,dhip --format json | jq .

      ndaa-scan scan -iL cameras.txt --exclude-file do-not-touch.txt

      ndaa-scan scan nvr1.example.net 10.0.5.0/24,10.0.6.9 --exclude 10.0.5.1

      grep -v decommissioned assets.txt | ndaa-scan scan -iL -

      ndaa-scan scan -i eth0 2001:db8:0:5::10 fe80::/64%eth0

    Target files (-iL, --exclude-file) hold one or more targets per line, separated by spaces, tabs or
    commas; # starts a comment. Host names are resolved once, before any packet (a name that does not
    resolve stops the scan, exit 2) and shown beside their address in the report. IPv6: addresses, a
    link-local prefix with its interface (fe80::/64%eth0) and prefixes of at most --max-hosts
    addresses; a global /64 only together with hosts named in it (never swept); no IPv6 ranges.

    Only the targets (less --exclude) are probed. Hosts that are not targets but answer multicast or
    broadcast discovery are listed apart as "heard", identified from their own replies, never probed,
    and do not change the exit code unless --fail-on-heard.

    Verdicts: covered (a maker-specific signal names a §889 entity), likely (only an OUI or
    weaker signals), suspected (an unverified rebrand), not-covered, unknown. Credentials are never
    guessed. ONVIF credentials (NDAA_ONVIF_USER / NDAA_ONVIF_PASSWORD from the environment, never
    logged or reported) are sent only to named targets whose ONVIF service answered
    GetSystemDateAndTime at that same address during this scan; hosts only heard on the network,
    and XAddrs on other hosts, never receive them.
    """
    from scanner.cli.common import setup_logging

    setup_logging(verbose, quiet)
    cmd = ScanCommand(
        specs=output_specs(fmt, output),
        fail_on=fail_on,
        fail_on_heard=fail_on_heard,
        db=None if no_history else (db or "default"),
        quiet=quiet,
        notify=tuple(notify or ()),
        notify_cmd=notify_cmd,
        evidence=evidence,
    )
    cmd.check()
    if push is not None:
        from scanner.cli.server_cmd import check_push

        check_push(push, site, cmd.db)
    if netns:
        from scanner.lab.netns import enter_netns

        enter_netns(netns)
    request = build_request(
        targets or [],
        interface=interface,
        exclude=exclude or [],
        target_files=targets_file or [],
        exclude_files=exclude_file or [],
        probes=probes,
        waivers=waivers,
        timeout=timeout,
        max_hosts=max_hosts,
        rate=rate,
        concurrency=concurrency,
        snmp_community=snmp_community,
        with_nmap=with_nmap,
        as_of=as_of_date(as_of),
        ipv6=ipv6,
        sample=sample,
    )
    code = cmd.run(request)
    if push is not None and site is not None and cmd.scan_id is not None:
        from scanner.cli.server_cmd import push_history

        push_history(cmd.db, push, site, attempts=3)  # a scan not sent stays pending for the next push
    raise typer.Exit(code)


def build_request(
    target_texts: list[str],
    *,
    interface: str | None,
    exclude: list[str],
    probes: str | None,
    waivers: Path | None = None,
    timeout: float = 3.0,
    max_hosts: int = 65536,
    rate: float | None = None,
    concurrency: int | None = None,
    snmp_community: str | None = None,
    with_nmap: bool = False,
    notes: tuple[str, ...] = (),
    as_of: date | None = None,
    target_files: list[str] | None = None,
    exclude_files: list[str] | None = None,
    ipv6: bool = False,
    sample: int | None = None,
) -> ScanRequest:
    """The options as a ScanRequest; every usage error is raised here, before anything is sent."""
    from scanner.discovery.options import ProbeOptions
    from scanner.scan import ScanRequest, pick_interface, select_probes

    tset = resolve_targets(
        target_texts, interface, exclude, target_files or [], exclude_files or [], max_hosts
    )
    targets = list(tset.v4)
    chosen = select_probes(probes, snmp_community=snmp_community, with_nmap=with_nmap, ipv6=ipv6)
    waiver_list: list[Any] = []
    if waivers is not None:
        from scanner.policy.waivers import load_waivers

        waiver_list = load_waivers(waivers)
    zones = tset.zones()
    if interface is None and not targets and len(zones) == 1:
        interface = zones.pop()  # fe80::/64%eth0 alone: scan from eth0
    if ipv6:
        from scanner.errors import UsageError

        if not interface:
            raise UsageError("--ipv6 needs --interface NAME (the link whose IPv6 hosts to discover)")
        from scanner.discovery.sockets import link6

        link6(interface)  # TargetError now, before any packet, if the interface has no usable IPv6
    return ScanRequest(
        targets=tuple(targets),
        target_texts=tset.texts,
        probes=chosen,
        interface=pick_interface(targets, interface),
        timeout=timeout,
        options=ProbeOptions(
            rate=rate,
            concurrency=concurrency,
            snmp_community=snmp_community or None,
            onvif_credentials=onvif_credentials(),
            ipv6=ipv6,
            liveness_sample=sample,
        ),
        exclude_texts=tset.exclude_texts,
        waivers=tuple(waiver_list),
        notes=(*notes, *tset.notes),
        ipv6=tset.v6,
        hostnames=dict(tset.names),
        as_of=as_of,
    )


def resolve_targets(
    texts: list[str],
    interface: str | None,
    exclude: list[str],
    target_files: list[str],
    exclude_files: list[str],
    max_hosts: int,
) -> TargetSet:
    """The scan's ``TargetSet``: the arguments and -iL files, host names resolved, less --exclude and
    --exclude-file; with none of them, ``--interface``'s subnet. Every problem is a usage error, raised
    before anything is sent (an IPv6 zone naming no interface too)."""
    import socket

    from scanner.errors import TargetError, UsageError
    from scanner.targets import load_targets

    if not texts and not target_files:
        if not interface:
            raise UsageError(
                "no targets: name the CIDRs, ranges, addresses or host names to scan, -iL FILE, or "
                "--interface NAME to scan that interface's subnet (nothing is scanned implicitly)"
            )
        from scanner.netif import interface as get_interface

        texts = [str(get_interface(interface).network)]
    tset = load_targets(
        texts,
        files=target_files,
        exclude=exclude,
        exclude_files=exclude_files,
        max_hosts=max_hosts,
        default_zone=interface,
    )
    for zone in sorted(tset.zones()):
        try:
            socket.if_nametoindex(zone) if not zone.isdigit() else socket.if_indextoname(int(zone))
        except OSError:
            raise TargetError(f"%{zone}: no interface named {zone!r} (see: ip link)") from None
    return tset


@dataclass
class ScanCommand:
    """What `scan` and `demo` do around ``run_scan``: check outputs and history first, then render the
    report (also a partial one) and choose the exit code."""

    specs: list[str]
    fail_on: str
    fail_on_heard: bool
    db: Path | str | None  # None: no history; "default": the default path
    quiet: bool
    notify: tuple[str, ...] = ()
    notify_cmd: str | None = None
    evidence: bool = False
    stop: str | None = None
    scan_id: str | None = None
    _progress: Any = None

    def check(self) -> None:
        """Usage errors first of all: --fail-on, report specs, that every report path can be written, and
        that --notify has a URL and the history it compares with."""
        from scanner.cli.common import check_outputs
        from scanner.errors import UsageError
        from scanner.policy.fail_on import parse_fail_on

        parse_fail_on(self.fail_on)
        check_outputs(self.specs)
        if self.notify or self.notify_cmd is not None:
            from scanner.notify import Notifier

            Notifier(self.notify, self.notify_cmd)
            if self.db is None:
                raise UsageError("--notify compares with the previous scan in the history: drop --no-history")

    def run(self, request: ScanRequest) -> int:
        """Open the history (a usage error still comes before any packet), scan, report; the exit code."""
        from scanner.cli.common import Progress, err
        from scanner.scan import INTERRUPTED, HistorySink, run_scan

        history = HistorySink(open_history(self.db)) if self.db is not None else None
        with Progress(enabled=not self.quiet) as progress:
            self._progress = progress
            report = run_scan(request, _Sink(self, history), progress.update if progress.enabled else None)
        if self.db is not None and (self.notify or self.notify_cmd) and self.stop is None:
            self._alert(report)
        if self.stop == INTERRUPTED:
            err(f"interrupted: partial report written{self._kept()}")
        elif self.stop is not None:
            err(f"incomplete ({self.stop}): report written, see its notes{self._kept()}")
        return self.exit_code(report)

    def finish(self, report: ScanReport, stop: str | None) -> None:
        from scanner.policy.fail_on import parse_fail_on
        from scanner.report import write_outputs

        self.stop = stop
        if self._progress is not None:
            self._progress.stop()
        policy = parse_fail_on(self.fail_on)
        write_outputs(
            report,
            self.specs,
            fail_statuses=policy.fail_statuses,
            fail_on_heard=self.fail_on_heard,
            evidence=self.evidence,
            trend=self._trend(report),
        )

    def exit_code(self, report: ScanReport) -> int:
        """0/1/3 from the devices; heard hosts count only with --fail-on-heard."""
        from scanner.policy.fail_on import exit_code, parse_fail_on

        return exit_code(report, parse_fail_on(self.fail_on), fail_on_heard=self.fail_on_heard)

    def _trend(self, report: ScanReport) -> list[tuple[str, int]] | None:
        """For an HTML report with a history: the flagged-device counts of the stored scans of these targets."""
        if self.db is None or not any(s.partition("=")[0].strip().lower() == "html" for s in self.specs):
            return None
        from scanner.history.store import flagged_trend

        store = open_history(self.db)
        try:
            return flagged_trend(store, report.targets)
        finally:
            store.close()

    def _alert(self, report: ScanReport) -> None:
        """--notify / --notify-cmd: the alert for a complete scan, against the previous one of its targets."""
        from scanner.cli.common import err
        from scanner.notify import Notifier, alert_message, previous_report

        assert self.db is not None
        store = open_history(self.db)  # the scan's own handle was closed with the scan
        try:
            previous = previous_report(store, report)
        finally:
            store.close()
        message = alert_message(report, previous)
        if message is None:
            return
        for failure in Notifier(self.notify, self.notify_cmd).deliver(message):
            err(failure)

    def _kept(self) -> str:
        return f", scan {self.scan_id} kept in history" if self.scan_id else ""


class _Sink:
    """The CLI's sink: the history (when kept), then the report outputs."""

    def __init__(self, cmd: ScanCommand, history: Any) -> None:
        self.cmd, self.history = cmd, history

    def start(self, request: ScanRequest) -> str | None:
        self.cmd.scan_id = self.history.start(request) if self.history else None
        return self.cmd.scan_id

    def add(self, obs: Any) -> None:
        if self.history:
            self.history.add(obs)

    def finish(self, report: ScanReport, stop: str | None) -> None:
        try:
            if self.history:
                self.history.finish(report, stop)
        finally:
            self.cmd.finish(report, stop)


def open_history(db: Path | str) -> Any:
    """The history store, opened before the scan. A database that cannot be used stops here (exit 2,
    nothing scanned); when it is the default one, the message says how to choose another or none."""
    import sqlite3

    from scanner.errors import NdaaError, UsageError
    from scanner.history.store import HistoryStore, default_db_path

    path = default_db_path() if db == "default" else Path(db)
    hint = " (choose one with --db PATH, or keep no history with --no-history)" if db == "default" else ""
    try:
        return HistoryStore(path)
    except NdaaError as exc:
        if not hint:
            raise
        raise UsageError(f"{exc}{hint}") from None
    except (OSError, sqlite3.Error) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise UsageError(f"{path}: cannot open the scan history: {reason}{hint}") from None


def demo(
    lab: Annotated[str, typer.Option("--lab", help="Built-in lab name or a lab TOML file.")] = "demo",
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    keep: Annotated[
        bool, typer.Option("--keep", help="Leave the lab up afterwards (tear down: ndaa-scan lab down).")
    ] = False,
    db: Annotated[
        Path | None, typer.Option("--db", help="Also store the demo scan in this history database.")
    ] = None,
    quiet: QuietOpt = False,
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
    cmd = ScanCommand(
        specs=output_specs(fmt, output), fail_on="likely", fail_on_heard=False, db=db, quiet=quiet
    )
    cmd.check()
    lab_file = _lab_path(lab)
    if not quiet:
        err(f"bringing up lab {spec.name!r}: {len(spec.devices)} simulated devices on {spec.subnet}")
    lab_up(spec, lab_file)
    try:
        enter_netns(spec.scanner_ns)
        request = build_request(
            [spec.subnet],
            interface="eth0",
            exclude=[],
            probes=None,
            notes=(f"demo lab {spec.name!r}: simulated devices in network namespaces",),
        )
        code = cmd.run(request)
    finally:
        if not keep:
            lab_down(spec.name)
        elif not quiet:
            err(f"lab {spec.name!r} left up: ndaa-scan lab down {spec.name}")
    raise typer.Exit(code)


def _lab_path(ref: str) -> Path:
    """A lab file: ``ref`` itself when it exists, else the built-in lab of that name."""
    p = Path(ref)
    if p.exists():
        return p
    from scanner.datafiles import labs_dir

    return labs_dir() / f"{ref}.toml"


def onvif_credentials() -> Any:
    """ONVIF credentials from ``NDAA_ONVIF_USER`` / ``NDAA_ONVIF_PASSWORD`` (both set), else None."""
    import os

    from scanner.discovery.options import ONVIF_PASSWORD_ENV, ONVIF_USER_ENV, Credentials

    user, password = os.environ.get(ONVIF_USER_ENV, ""), os.environ.get(ONVIF_PASSWORD_ENV, "")
    return Credentials(user, password) if user and password else None
