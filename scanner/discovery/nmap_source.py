"""Optional nmap service detection (``--with-nmap``): ``nmap -sV`` on the named targets among the live hosts.

Needs the ``nmap`` program and the ``python-nmap`` package (GPL-3.0, the ``nmap`` extra); when either is
missing the probe returns ERROR saying which and how to install it. python-nmap serves where it can:
``nmap.PortScanner`` checks that the program found on PATH is nmap and reads its version (named in a note).
Its ``scan()`` is not used for the run itself: it waits on a ``subprocess.Popen`` it keeps to itself, so a
Ctrl-C or the probe's deadline could not stop nmap. The run is ``asyncio.create_subprocess_exec`` instead:
cancelling the probe, or reaching ``ctx.timeout``, kills the nmap process and waits for it.

Only named targets are ever given to nmap (``ctx.targets`` ∩ the hosts to probe): a host that was merely
heard on the network (multicast replies, ``ScanReport.heard``) is never scanned by it. nmap's XML
(``-oX -``, at most ``MAX_OUTPUT`` bytes read) is read by ``scanner.ingest.nmap_xml``, so a live run gives
exactly what importing the same ``nmap -oX`` file gives: observations (raw headers nmap kept for services
it did not recognise, MACs, …) and host notes (nmap's service labels), which become this probe's notes.
Slow by nature (measured: 35.6 s for 4 hosts with the default ports; ~16 s for one unrecognised HTTP
port), so it scans only ``nmap_ports`` (default: the banner ports) with ``--version-light``, tells nmap to
give up on a host one second before ``ctx.timeout`` and kills it at ``ctx.timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import ipaddress
import logging
import re
import shutil

from scanner.discovery.base import Collector, ProbeContext, ProbeResult, ProbeStatus

log = logging.getLogger("scanner.discovery")

DEFAULT_PORTS = "21,22,23,80,443,554,8000,8080,8443,37777"
MISSING_PACKAGE = "--with-nmap needs the python-nmap package: pip install 'ndaa-scanner[nmap]'"
MISSING_PROGRAM = "--with-nmap needs the nmap program (e.g. apt-get install nmap)"
MAX_NOTES = 200
MAX_OUTPUT = 64 * 1024 * 1024  # bytes of nmap XML read
MAX_ERRORS = 4096  # bytes of nmap's stderr kept for the error message
_PORTS = re.compile(r"^[0-9]{1,5}(-[0-9]{1,5})?(,[0-9]{1,5}(-[0-9]{1,5})?)*$")


class NmapSource:
    name = "nmap"
    description = "nmap -sV service detection on the named targets (optional: needs nmap and python-nmap)"

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        col = Collector(self.name, ctx)
        hosts = named_targets(ctx)
        if not hosts:
            return col.result(ProbeStatus.SKIPPED, notes=["no named targets to probe"])
        try:
            import nmap
        except ImportError:
            return col.result(ProbeStatus.ERROR, error=MISSING_PACKAGE)
        program = shutil.which("nmap")
        if program is None:
            return col.result(ProbeStatus.ERROR, error=MISSING_PROGRAM)
        ports = (ctx.options.nmap_ports or DEFAULT_PORTS).replace(" ", "")
        if not _PORTS.match(ports):
            return col.result(ProbeStatus.ERROR, error=f"bad nmap_ports {ports!r}")
        try:
            checked = await asyncio.to_thread(nmap.PortScanner, (program,))
        except nmap.PortScannerError as exc:
            return col.result(ProbeStatus.ERROR, error=f"{MISSING_PROGRAM}: {exc}")
        version = ".".join(str(n) for n in checked.nmap_version())
        host_budget = max(1, int(ctx.timeout) - 1)
        arguments = ["-oX", "-", "-sV", "--version-light", "-Pn", "-n", "-p", ports]
        if ctx.options.rate:  # nmap is its own process: the user's --rate caps it alone (not shared)
            arguments += ["--max-rate", f"{ctx.options.rate_cap:g}"]
        arguments += ["--host-timeout", f"{host_budget}s", *hosts]
        output, errors, finished = await run_nmap(program, arguments, ctx.timeout)
        if output is None:
            return col.result(ProbeStatus.ERROR, error=f"nmap failed: {errors}")
        notes, answered = read_output(output, col) if finished else ([], set())
        notes.insert(0, f"nmap {version}")
        if not finished:
            notes.append(f"nmap was stopped at the {ctx.timeout:g} s budget")
        status = ProbeStatus.SUCCESS if answered else ProbeStatus.NO_RESPONSE
        return col.result(
            status if finished else ProbeStatus.PARTIAL, notes=notes, sent=len(hosts), received=len(answered)
        )


def named_targets(ctx: ProbeContext) -> list[str]:
    """The hosts to probe that the user named (``ctx.targets``), IPv4 only, in order."""
    targets = {str(t) for t in ctx.targets}
    return [h for h in ctx.hosts_to_probe() if h in targets and _is_ipv4(h)]


async def run_nmap(program: str, arguments: list[str], budget: float) -> tuple[bytes | None, str, bool]:
    """(stdout, stderr text, finished) of nmap run within ``budget`` seconds; stdout None if it could not
    start or failed. Killed (and waited for) at the budget or when the caller is cancelled."""
    try:
        proc = await asyncio.create_subprocess_exec(
            program,
            *arguments,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        return None, str(exc), False
    assert proc.stdout is not None and proc.stderr is not None
    output = errors = b""
    try:
        async with asyncio.timeout(budget):
            output, errors = await asyncio.gather(
                _read_capped(proc.stdout, MAX_OUTPUT), _read_capped(proc.stderr, MAX_ERRORS, drain=True)
            )
            await proc.wait()
    except TimeoutError:
        log.debug("nmap: stopped at the %g s budget", budget)
        return b"", "", False
    finally:
        if proc.returncode is None:  # the budget ended, the probe was cancelled, or too much output
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await asyncio.shield(proc.wait())
    if proc.returncode != 0:
        return None, errors.decode("utf-8", "replace").strip()[:500] or f"exit status {proc.returncode}", True
    return output, "", True


async def _read_capped(stream: asyncio.StreamReader, cap: int, *, drain: bool = False) -> bytes:
    """At most ``cap`` bytes of ``stream`` (to its end); with ``drain``, the rest is read and dropped so
    the writer never blocks, else reading stops at the cap."""
    chunks: list[bytes] = []
    have = 0
    while drain or have <= cap:
        chunk = await stream.read(64 * 1024)
        if not chunk:
            break
        if have < cap:
            chunks.append(chunk[: cap - have])
        have += len(chunk)
    return b"".join(chunks)


def read_output(xml: bytes | str, col: Collector) -> tuple[list[str], set[str]]:
    """Add the observations in nmap's XML to ``col``; (its host notes as "IP: text", hosts it reported)."""
    from scanner.errors import UsageError
    from scanner.ingest.nmap_xml import read_nmap_xml
    from scanner.observations import HostNote

    data = xml.encode() if isinstance(xml, str) else xml
    notes: list[str] = []
    problems: list[str] = []
    answered: set[str] = set()
    try:
        items = read_nmap_xml(io.BytesIO(data), lambda line, text: problems.append(f"line {line}: {text}"))
        for item in items:
            if item.ip:
                answered.add(item.ip)
            if isinstance(item, HostNote):
                if len(notes) < MAX_NOTES:
                    notes.append(f"{item.ip or item.mac}: {item.text}")
            else:
                col.add(item.signal, item.value, ip=item.ip, mac=item.mac, port=item.port)
    except UsageError as exc:
        problems.append(str(exc))
    return notes + [f"nmap output: {p}" for p in problems[:10]], answered


def _is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True
