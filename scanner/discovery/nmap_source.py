"""Optional nmap service detection (``--with-nmap``): ``nmap -sV`` on the live hosts through python-nmap.

Needs the ``nmap`` program and the ``python-nmap`` package (GPL-3.0, the ``nmap`` extra); when either is
missing the probe returns ERROR saying which and how to install it. nmap's XML is read by
``scanner.ingest.nmap_xml``, so a live run gives exactly what importing the same ``nmap -oX`` file gives:
observations (raw headers nmap kept for services it did not recognise, MACs, …) and host notes (nmap's
service labels), which become this probe's notes. Slow by nature (measured: 35.6 s for 4 hosts with the
default ports; ~16 s for one unrecognised HTTP port), so it scans only ``nmap_ports`` (default: the banner
ports) with ``--version-light`` and stops at ``ctx.timeout``.
"""

from __future__ import annotations

import asyncio
import io
import ipaddress
import re
import shutil

from scanner.discovery.base import Collector, ProbeContext, ProbeResult, ProbeStatus

DEFAULT_PORTS = "21,22,23,80,443,554,8000,8080,8443,37777"
MISSING_PACKAGE = "--with-nmap needs the python-nmap package: pip install 'ndaa-scanner[nmap]'"
MISSING_PROGRAM = "--with-nmap needs the nmap program (e.g. apt-get install nmap)"
MAX_NOTES = 200
_PORTS = re.compile(r"^[0-9]{1,5}(-[0-9]{1,5})?(,[0-9]{1,5}(-[0-9]{1,5})?)*$")


class NmapSource:
    name = "nmap"
    description = "nmap -sV service detection on the live hosts (optional: needs nmap and python-nmap)"

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        col = Collector(self.name, ctx)
        hosts = [h for h in ctx.hosts_to_probe() if _is_ipv4(h)]
        if not hosts:
            return col.result(ProbeStatus.SKIPPED, notes=["no hosts to probe"])
        try:
            import nmap
        except ImportError:
            return col.result(ProbeStatus.ERROR, error=MISSING_PACKAGE)
        if shutil.which("nmap") is None:
            return col.result(ProbeStatus.ERROR, error=MISSING_PROGRAM)
        ports = (ctx.options.nmap_ports or DEFAULT_PORTS).replace(" ", "")
        if not _PORTS.match(ports):
            return col.result(ProbeStatus.ERROR, error=f"bad nmap_ports {ports!r}")
        budget = max(1, int(ctx.timeout))
        arguments = f"-sV --version-light -Pn -n -p {ports} --host-timeout {budget}s"
        scanner = nmap.PortScanner()
        try:
            await asyncio.to_thread(
                scanner.scan, hosts=" ".join(hosts), arguments=arguments, timeout=budget + 5
            )
        except Exception as exc:  # PortScannerError, PortScannerTimeout, OSError
            return col.result(ProbeStatus.ERROR, error=f"nmap failed: {exc}")
        notes, answered = read_output(scanner.get_nmap_last_output(), col)
        return col.result(
            ProbeStatus.SUCCESS if answered else ProbeStatus.NO_RESPONSE,
            notes=notes,
            sent=len(hosts),
            received=len(answered),
        )


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
