"""`ndaa-scan listen -i IFACE [--duration 10m]`: passive listening, nothing sent; Ctrl-C writes the report."""

from __future__ import annotations

import re
from typing import Annotated

import typer

from scanner.cli.common import EXIT_CODES_HELP
from scanner.cli.options import FailOnOpt, FormatOpt, OutputOpt, output_specs

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|)\s*$")
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}
MAX_SECONDS = 7 * 24 * 3600.0


def register(app: typer.Typer) -> None:
    app.command(epilog=EXIT_CODES_HELP)(listen)


def parse_listen_duration(text: str) -> float:
    """Seconds from ``"90"``, ``"30s"``, ``"10m"``, ``"2h"`` (at most a week); UsageError otherwise."""
    from scanner.errors import UsageError

    m = _DURATION.match(text)
    if not m:
        raise UsageError(f"--duration {text!r}: give it like 30s, 10m or 2h")
    seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if not 0 < seconds <= MAX_SECONDS:
        raise UsageError(f"--duration {text!r}: must be more than 0 and at most a week")
    return seconds


def listen(
    interface: Annotated[str, typer.Option("--interface", "-i", help="Interface to listen on (e.g. eth0).")],
    duration: Annotated[
        str | None,
        typer.Option("--duration", "-d", help="How long to listen: 30s, 10m, 2h. Default: until Ctrl-C."),
    ] = None,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    fail_on: FailOnOpt = "likely",
) -> None:
    """Listen passively (sends nothing) and identify what announces itself on the wire.

    Records ARP, DHCP (host name, vendor class, parameter list), mDNS, SSDP NOTIFY, WS-Discovery
    Hello/Bye, SADP/DHIP announcements, LLDP/CDP frames, cleartext HTTP/RTSP server headers and TLS
    <= 1.2 certificates that pass the interface; evidence is marked passive-<protocol>. Memory stays
    bounded however long it runs. Ctrl-C (or SIGTERM) stops listening and writes the report.
    """
    raise typer.Exit(_listen(interface, duration, output_specs(fmt, output), fail_on))


def _listen(interface: str, duration: str | None, specs: list[str], fail_on: str) -> int:
    import signal
    import time
    from datetime import UTC, datetime

    from scanner.cli.common import check_outputs, err
    from scanner.discovery.base import ProbeStatus
    from scanner.discovery.listen import ListenStats, listen, open_capture
    from scanner.discovery.passive import PassiveAnalyzer
    from scanner.ingest.stream import identify_stream
    from scanner.policy.fail_on import exit_code, parse_fail_on
    from scanner.report import write_outputs
    from scanner.results import DeviceReport, ProbeSummary, build_report

    policy = parse_fail_on(fail_on)
    check_outputs(specs)
    seconds = parse_listen_duration(duration) if duration else None
    stopped: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        if stopped:  # a second Ctrl-C while the report is written: stop now
            raise KeyboardInterrupt
        stopped.append(signum)

    sock = open_capture(interface)
    started = datetime.now(UTC)
    stats = ListenStats()
    analyzer = PassiveAnalyzer("passive")
    previous = signal.signal(signal.SIGINT, on_signal)
    until = f"for {seconds:.0f} s" if seconds else "until Ctrl-C"
    err(f"listening on {interface} {until}; nothing is sent; Ctrl-C writes the report")
    try:
        heard = listen(sock, seconds, lambda: bool(stopped), stats, analyzer)
        devices = [DeviceReport.of(device, verdict) for device, verdict in identify_stream(heard)]
    finally:
        signal.signal(signal.SIGINT, previous)
    interrupted = bool(stopped) and seconds is not None and stats.seconds < seconds
    how = f"for {stats.seconds:.0f} s" + (" (stopped early)" if interrupted else "")
    notes = [
        f"passive listening on {interface} {how}: no packet was sent; verdicts rest only on what passed by",
        f"{stats.frames} frames heard ({stats.outgoing_skipped} sent by this host skipped)",
        *analyzer.summary(),
    ]
    summary = ProbeSummary(
        probe="listen",
        status=ProbeStatus.PARTIAL if interrupted else ProbeStatus.SUCCESS,
        duration=time.monotonic() - stats.started,
        notes=[f"listened on {interface}"],
    )
    report = build_report(
        devices,
        started_at=started,
        complete=not interrupted,
        probes=[summary],
        notes=notes,
        interface=interface,
    )
    write_outputs(report, specs, fail_statuses=policy.fail_statuses)
    code = exit_code(report, policy)
    if interrupted:
        err(f"interrupted: stopped after {stats.seconds:.0f} of {seconds:.0f} s; the report covers that time")
        return code if code == 1 else 3
    return code
