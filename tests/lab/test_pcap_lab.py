"""`import pcap` on real captures: tcpdump records the scanner namespace's interface while a lab scan of the
demo office runs; the capture (and its gzip and pcapng forms) must name, passively, the covered devices
the active scan found, from the same frames."""

from __future__ import annotations

import gzip
import ipaddress
import json
import subprocess
from pathlib import Path
from typing import Any

from clirun import cli, scan_lab_json
from labtools import flush_capture, require_binary, tcpdump_in

FAILING = ("covered", "likely")


def _capture_scan(lab: Any, path: Path) -> dict[str, Any]:
    with tcpdump_in(lab.scanner_ns, "eth0", path) as log:
        report = scan_lab_json(lab)
        # everything the scan sent and heard is in the file before tcpdump stops (its last banners too)
        flush_capture(lab.scanner_ns, str(ipaddress.ip_network(lab.subnet).broadcast_address), path)
    assert "packets captured" in log.read_text()
    return report


def _statuses(report: dict[str, Any]) -> dict[str, str]:
    return {
        d["mac"]: d["verdict"]["status"] for d in [*report["devices"], *report.get("heard", [])] if d["mac"]
    }


def test_capture_of_a_scan_names_the_covered_devices_passively(lab_factory: Any, tmp_path: Path) -> None:
    path = tmp_path / "scan.pcap"
    report = _capture_scan(lab_factory(builtin="demo"), path)
    proc = cli("import", "pcap", str(path), "-f", "json")
    assert proc.returncode == 1, proc.stderr  # covered equipment in the capture
    passive = json.loads(proc.stdout)
    scanned, heard = _statuses(report), _statuses(passive)
    failing = {mac for mac, status in scanned.items() if status in FAILING}
    assert failing, scanned
    assert failing <= {mac for mac, status in heard.items() if status in FAILING}, (scanned, heard)
    probes = {e["probe"] for d in passive["devices"] for e in d["verdict"]["evidence"]}
    # what the scan's replies carried, read off the wire: SADP/DHIP, WS-Discovery, banners
    assert {"passive-arp", "passive-sadp", "passive-dhip", "passive-wsd", "passive-http"} <= probes, probes
    assert "rtsp.server" in json.dumps(passive)  # the scanner's TLS is 1.3: no certificate on the wire here
    _same_from_gzip_and_pcapng(path, tmp_path)


def _same_from_gzip_and_pcapng(path: Path, tmp_path: Path) -> None:
    """The capture gzip-compressed, and rewritten as pcapng by scapy, reads the same."""
    from scapy.utils import PcapNgWriter, PcapReader

    gz = tmp_path / "scan.pcap.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    ng = tmp_path / "scan.pcapng"
    with PcapReader(str(path)) as reader, PcapNgWriter(str(ng)) as writer:
        for packet in reader:
            writer.write(packet)
    results = []
    for p in (path, gz, ng):
        proc = cli("import", "pcap", str(p), "-f", "json")
        assert proc.returncode == 1, proc.stderr
        results.append(_statuses(json.loads(proc.stdout)))
    assert results[0] == results[1] == results[2]


TLS_SCRIPT = r"""
import datetime, socket, ssl, sys, threading
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tls12-lab"),
                  x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ndaa-scanner lab")])
sans = [x509.DNSName(f"camera-{i}.lab.invalid") for i in range(60)]  # a certificate over several segments
now = datetime.datetime.now(datetime.UTC)
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(0x1234ABCD).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False).sign(key, hashes.SHA256()))
open(sys.argv[1] + "/cert.pem", "wb").write(cert.public_bytes(serialization.Encoding.PEM))
open(sys.argv[1] + "/key.pem", "wb").write(key.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
server.maximum_version = ssl.TLSVersion.TLSv1_2
server.load_cert_chain(sys.argv[1] + "/cert.pem", sys.argv[1] + "/key.pem")
listener = socket.create_server(("127.0.0.1", 8443))
def serve():
    conn, _ = listener.accept()
    with server.wrap_socket(conn, server_side=True) as tls:
        tls.recv(100)
threading.Thread(target=serve, daemon=True).start()
client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
client.check_hostname = False
client.verify_mode = ssl.CERT_NONE
with client.wrap_socket(socket.create_connection(("127.0.0.1", 8443))) as tls:
    assert tls.version() == "TLSv1.2", tls.version()
    tls.sendall(b"bye")
print(cert.serial_number)
"""


def test_tls12_certificate_over_several_segments(require_netns: None, tmp_path: Path) -> None:
    """A real TLS 1.2 handshake (Python's ssl, OpenSSL) on a namespace's loopback at MTU 1500, captured by
    tcpdump: the server certificate, split over several TCP segments, is reassembled and read."""
    import os
    import secrets
    import sys

    require_binary("tcpdump")  # before the namespace is made
    ns = f"nd-pc{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", ns], check=True, timeout=30)
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "mtu", "1500", "up"], check=True, timeout=30)
        path = tmp_path / "tls.pcap"
        with tcpdump_in(ns, "lo", path):
            run = subprocess.run(
                ["ip", "netns", "exec", ns, sys.executable, "-c", TLS_SCRIPT, str(tmp_path)],
                capture_output=True, text=True, timeout=120, env={**os.environ},
            )  # fmt: skip
        assert run.returncode == 0, run.stderr
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
    from scanner.ingest.pcap import read_pcap

    found = {(o.signal, o.value) for o in read_pcap(path, lambda n, m: None) if o.probe == "passive-tls"}
    assert ("x509.subject", "O=ndaa-scanner lab,CN=tls12-lab") in found, found
    assert ("x509.serial", format(int(run.stdout), "x")) in found
    assert sum(1 for s, _ in found if s == "x509.san") == 32  # parsers/x509.py keeps MAX_SANS
